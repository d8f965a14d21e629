"""Tests of look-back interval bounds (:mod:`robustexp.verify._lookback`) and of the cone
pipeline of ``default_bounds`` that uses them with separable bounds: sound by sampling (also
with weights over many orders of magnitude), never looser than the given bounds, tighter
than IBP on max trees, and the ℓ1/ℓ2 memorizers certified by bounds where box-based bounds
cannot (docs/memorization.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from _netfactory import random_net

from robustexp.constructions import CONSTRUCTIONS
from robustexp.constructions._norms import linf_distance
from robustexp.network import Affine, ReLUNet
from robustexp.verify import LpBall, interval_bounds, linear_bounds
from robustexp.verify import _milp as milp_mod
from robustexp.verify._lookback import _interval_step, lookback_bounds

PS = [1.0, 2.0, math.inf]


def _sparse(net: ReLUNet) -> ReLUNet:
    return ReLUNet(tuple(Affine(sp.csr_array(layer.dense_W()), layer.b) for layer in net.layers))


@pytest.mark.parametrize("p", PS)
def test_sound_by_sampling_and_never_looser(rng: np.random.Generator, p: float) -> None:
    """Random sparse nets: sampled pre-activations lie inside the look-back bounds, which lie
    inside IBP's (a sign slip in a lower/upper line, or a wrong input box, fails here)."""
    for _ in range(6):
        net = _sparse(random_net(rng, [5, 9, 8, 7, 3], density=0.5))
        ball = LpBall(rng.normal(size=(1, 5)), float(rng.uniform(0.1, 1.5)), p)
        ibp = interval_bounds(net, ball)
        b = lookback_bounds(net, ball, ibp)
        S = ball.sample(rng, 500).reshape(-1, 5)
        for k, Z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= Z.min(axis=0))
            assert np.all(b.upper[k][0] >= Z.max(axis=0))
            assert np.all(b.lower[k] >= ibp.lower[k]) and np.all(b.upper[k] <= ibp.upper[k])


def test_start_keeps_the_layers_below_and_tightens_the_rest(rng: np.random.Generator) -> None:
    """``start = m``: layers below m keep the given bounds exactly (they are not recomputed),
    layers from m on equal what the full look-back gives from the same base once its layers
    below m are the full look-back's (catches an off-by-one in the first layer stepped)."""
    for _ in range(4):
        net = _sparse(random_net(rng, [4, 8, 8, 8, 2], density=0.6))
        ball = LpBall(rng.normal(size=(1, 4)), float(rng.uniform(0.2, 1.0)), 2.0)
        ibp = interval_bounds(net, ball)
        full = lookback_bounds(net, ball, ibp)
        for m in range(1, net.depth):
            part = lookback_bounds(net, ball, ibp, start=m)
            for j in range(m):
                assert np.array_equal(part.lower[j], ibp.lower[j]), (m, j)
                assert np.array_equal(part.upper[j], ibp.upper[j]), (m, j)
            mixed = type(ibp)(
                tuple(full.lower[:m]) + tuple(ibp.lower[m:]),
                tuple(full.upper[:m]) + tuple(ibp.upper[m:]),
                ibp.method,
            )
            again = lookback_bounds(net, ball, mixed, start=m)
            for j in range(m, net.depth):
                np.testing.assert_array_equal(again.lower[j], full.lower[j])
                np.testing.assert_array_equal(again.upper[j], full.upper[j])


def test_sound_with_weights_over_many_magnitudes(rng: np.random.Generator) -> None:
    """Weights from 1e-6 to 1e6 and a tiny radius: the rounding allowance keeps every sampled
    value (including the ball's centre) inside the bounds."""
    for _ in range(5):
        base = random_net(rng, [4, 6, 6, 2], density=0.7)
        layers = []
        for layer in base.layers:
            scale = 10.0 ** rng.uniform(-6, 6, size=layer.dense_W().shape)
            layers.append(Affine(sp.csr_array(layer.dense_W() * scale), layer.b * 1e3))
        net = ReLUNet(tuple(layers))
        c = rng.normal(size=(1, 4))
        ball = LpBall(c, 1e-9, math.inf)
        b = lookback_bounds(net, ball, interval_bounds(net, ball))
        S = np.vstack([c, ball.sample(rng, 200).reshape(-1, 4)])
        for k, Z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= Z.min(axis=0))
            assert np.all(b.upper[k][0] >= Z.max(axis=0))


def test_interval_step_contains_exact_values(rng: np.random.Generator) -> None:
    """The one-layer interval step (IBP's own step object) encloses ``W σ(z) + b`` for z at
    the corners of its box, for a sparse and a dense layer."""
    from robustexp.verify._ibp import layer_steps
    from robustexp.verify._kernels import Workspace

    W = rng.normal(size=(7, 5)) * (rng.uniform(size=(7, 5)) < 0.6)
    b = rng.normal(size=7)
    for Wl in (sp.csr_array(W), W):
        net = ReLUNet((Affine(np.eye(5), np.zeros(5)), Affine(Wl, b)))
        z_lo = rng.normal(size=5)
        z_hi = z_lo + rng.uniform(0, 1, size=5)
        lo, hi = _interval_step(layer_steps(net)[0], Workspace(), z_lo, z_hi)
        for mask in range(32):
            z = np.where([(mask >> i) & 1 for i in range(5)], z_hi, z_lo)
            out = W @ np.maximum(z, 0.0) + b
            assert np.all(lo <= out) and np.all(out <= hi)


def test_far_bumps_of_a_max_tree_memorizer_leave_the_cone() -> None:
    """IBP bounds a max tree below by its first leaf only, so most far bumps of an ℓ∞
    memorizer look alive; one step of look-back keeps far fewer units in the cone."""
    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(60, 16, seed=4)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, math.inf)
    ibp = interval_bounds(net, ball)
    look = lookback_bounds(net, ball, ibp)

    def kept(b) -> int:
        return sum(int(r.sum()) for r in milp_mod._relevant_units(net, [u[0] for u in b.upper]))

    assert kept(look) < kept(ibp) / 2


def test_max_tree_lower_bound_is_the_largest_leaf_lower_bound() -> None:
    """ℓ∞ distance from a far centre (true minimum 1.95, at the last coordinate): intervals
    lose the widths of the other leaves on the way up the max tree; look-back, which keeps
    ``max(a, b) >= b`` one level at a time, loses much less (not all: the levels above use
    the interval boxes of the parts)."""
    c = np.zeros((1, 8))
    net = linf_distance(c)
    x0 = np.array([[0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]])
    ball = LpBall(x0, 0.05, math.inf)
    ibp = interval_bounds(net, ball)
    look = lookback_bounds(net, ball, ibp)
    lo_ibp, lo_look = float(ibp.lower[-1][0, 0]), float(look.lower[-1][0, 0])
    assert lo_ibp < 1.4 and lo_ibp + 0.4 < lo_look <= 1.95


@pytest.mark.parametrize("name, p", [("memorizer-l2", 2.0), ("memorizer-l1", 1.0)])
def test_l1_l2_memorizers_certified_by_default_bounds(name: str, p: float, monkeypatch) -> None:
    """At d = 16 the own bump of the ℓ2 (Yarotsky squares) and ℓ1 memorizers is proven to be
    1 over the ball by the cone pipeline (separable Lagrangian bounds of the distance rows):
    margin 1 up to rounding; plain CROWN on the whole net proves nothing (it sees the box, so
    the own squared distance is over-estimated about d times)."""
    c = CONSTRUCTIONS[name]
    inst = c.example(20, 16, seed=5)
    net = c.build(inst.X, inst.y, inst.radius)
    monkeypatch.setattr(milp_mod, "CONE_BOUNDS_MIN_NEURONS", 10)
    for i in range(3):
        ball = LpBall(inst.X[[i]], inst.radius, p)
        b = milp_mod.default_bounds(net, ball)
        margin = float(b.lower[-1][0, 0]) if inst.y[i] > 0 else -float(b.upper[-1][0, 0])
        assert 1 - 1e-9 < margin <= 1.0
    lb = linear_bounds(net, LpBall(inst.X[[0]], inst.radius, p), two_group=False)
    plain = float(lb.lower[-1][0, 0]) if inst.y[0] > 0 else -float(lb.upper[-1][0, 0])
    assert plain < 0.5


@pytest.mark.parametrize("p", PS)
def test_default_bounds_sound_by_sampling_on_separable_nets(rng: np.random.Generator, p) -> None:
    """The whole one-point pipeline (look-back, separable rows, two-group CROWN with prior,
    plain-first with a label) on random nets whose first two layers are per-coordinate
    blocks (so layer 2 has separable rows): every sampled pre-activation lies in the bounds."""
    for _ in range(6):
        d, k = int(rng.integers(2, 6)), int(rng.integers(2, 5))
        W0 = np.zeros((d * k, d))
        W1 = np.zeros((d * k, d * k))
        for j in range(d):
            W0[j * k : (j + 1) * k, j] = rng.normal(size=k)
            W1[j * k : (j + 1) * k, j * k : (j + 1) * k] = rng.normal(size=(k, k))
        W2 = rng.normal(size=(3, d * k)) * (rng.uniform(size=(3, d * k)) < 0.7)
        net = ReLUNet.from_layers(
            [
                (W0, rng.normal(size=d * k) * 0.5),
                (W1, rng.normal(size=d * k) * 0.5),
                (W2, rng.normal(size=3)),
                (rng.normal(size=(1, 3)), rng.normal(size=1)),
            ]
        )
        ball = LpBall(rng.normal(size=(1, d)), float(rng.uniform(0.1, 1.5)), p)
        S = ball.sample(rng, 1000).reshape(-1, d)
        Z = net.pre_activations(S)
        for y in (None, 1, -1):
            b = milp_mod.default_bounds(net, ball, y)
            for k_, z in enumerate(Z):
                assert np.all(b.lower[k_][0] <= z.min(axis=0))
                assert np.all(b.upper[k_][0] >= z.max(axis=0))
