"""The ℓ1 absolute-value-pair cuts of the MILP encoding (robustexp/verify/_cuts.py): found
only for exact pairs, valid on the whole ℓ1 ball, leaving exact minima unchanged, and making
the ℓ1 memorizer's own bump a root-node solve."""

from __future__ import annotations

import math

import numpy as np
import pytest

import robustexp.verify._milp as milp_mod
from robustexp.network import ReLUNet
from robustexp.verify._crown import linear_bounds
from robustexp.verify._cuts import abs_pair_cuts
from robustexp.verify._milp import milp_margin
from robustexp.verify._sets import LpBall


def pair_net(rng: np.random.Generator, d: int, pairs: int, groups: int) -> ReLUNet:
    """First layer: ``pairs`` random rows w, each followed by -w (same bias negated);
    second layer: ``groups`` units, each summing a random subset of pairs with one weight;
    output: a random mix of the second layer."""
    W = rng.normal(size=(pairs, d))
    b = rng.normal(size=pairs) * 0.3
    W0 = np.empty((2 * pairs, d))
    W0[0::2], W0[1::2] = W, -W
    b0 = np.empty(2 * pairs)
    b0[0::2], b0[1::2] = b, -b
    W1 = np.zeros((groups, 2 * pairs))
    for g in range(groups):
        chosen = rng.choice(pairs, size=max(2, pairs // 2), replace=False)
        w = rng.uniform(0.5, 2.0) * rng.choice([-1.0, 1.0])
        W1[g, 2 * chosen] = w
        W1[g, 2 * chosen + 1] = w
    b1 = rng.normal(size=groups)
    W2 = rng.normal(size=(1, groups))
    return ReLUNet.from_layers([(W0, b0), (W1, b1), (W2, [0.1])])


def test_cuts_hold_on_sampled_points_and_vertices(rng: np.random.Generator) -> None:
    """Every cut Σ σ(z_i) ≤ rhs holds at sampled points of the ℓ1 ball, its vertices and
    boundary included (the cut is an upper bound over the whole ball)."""
    for _ in range(5):
        d, r = int(rng.integers(2, 6)), float(rng.uniform(0.05, 1.0))
        net = pair_net(rng, d, pairs=6, groups=3)
        c = rng.normal(size=d)
        cuts = abs_pair_cuts(net, c, r, np.arange(net.layers[0].out_dim))
        assert cuts, "every group of this net reads at least two exact pairs"
        P = LpBall(c[None, :], r, 1.0).sample(rng, 400)[0]
        P = np.vstack([P, c + r * np.eye(d), c - r * np.eye(d)])
        A = np.maximum(net.pre_activations(P)[0], 0.0)
        for units, rhs in cuts:
            assert np.all(A[:, units].sum(axis=1) <= rhs)


def test_cut_is_tight_for_an_axis_aligned_distance() -> None:
    """For Σ_j |x_j − c_j| around its own centre the right side is r (plus rounding)."""
    d, r = 5, 0.3
    c = np.linspace(-0.4, 0.4, d)
    W0 = np.vstack([np.eye(d), -np.eye(d)])
    net = ReLUNet.from_layers([(W0, np.r_[-c, c]), (np.ones((1, 2 * d)), [0.0]), ([[1.0]], [0])])
    (units, rhs), *rest = abs_pair_cuts(net, c, r, np.arange(2 * d))
    assert not rest and sorted(units.tolist()) == list(range(2 * d))
    assert r <= rhs <= r * (1 + 1e-12)


def test_only_exact_negations_pair_up() -> None:
    """A row that is −w up to one ulp, or with a bias that is not −b, forms no pair."""
    w = np.array([0.3, -1.7])
    near = -np.nextafter(w, np.inf)
    for W0, b0 in [
        (np.vstack([w, near, w * 2, -w * 2]), [0.1, -0.1, 0.2, -0.2]),
        (np.vstack([w, -w, w * 2, -w * 2]), [0.1, -0.1000001, 0.2, -0.2]),
    ]:
        net = ReLUNet.from_layers([(W0, b0), (np.ones((1, 4)), [0.0]), ([[1.0]], [0.0])])
        assert abs_pair_cuts(net, np.zeros(2), 0.5, np.arange(4)) == []  # one pair left


@pytest.mark.parametrize("seed", range(4))
def test_exact_minima_agree_with_and_without_cuts(seed: int, monkeypatch) -> None:
    """The cuts remove no point of the net's graph: the exact MILP minimum over an ℓ1 ball
    is the same with and without them (an invalid cut would raise it)."""
    rng = np.random.default_rng(100 + seed)
    net = pair_net(rng, 3, pairs=5, groups=3)
    ball = LpBall(rng.normal(size=(1, 3)), 0.4, 1.0)
    with_cuts = milp_margin(net, ball, 1, exact_value=True)
    monkeypatch.setattr(milp_mod, "abs_pair_cuts", lambda *a: [])
    without = milp_margin(net, ball, 1, exact_value=True)
    assert with_cuts.lower_bound <= without.upper_bound + 1e-9
    assert without.lower_bound <= with_cuts.upper_bound + 1e-9
    assert abs(with_cuts.lower_bound - without.lower_bound) < 1e-5


def test_l1_memorizer_own_bump_solves_at_the_root(monkeypatch) -> None:
    """At d = 16 the ℓ1 memorizer's query closes at the root with the cuts; without them
    the solver must branch (hundreds of nodes), which is what made d = 64 infeasible."""
    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS["memorizer-l1"]
    inst = c.example(6, 16, seed=0)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, 1.0)
    # plain CROWN bounds (box-based: they cannot certify the own ℓ1 bump, so the MILP runs;
    # the default bounds' separable pass would certify it without a model)
    plain = linear_bounds(net, ball, two_group=False)
    res = milp_margin(net, ball, int(inst.y[0]), time_limit=60, bounds=plain)
    assert res.status == "certified" and res.stats["nodes"] <= 1
    monkeypatch.setattr(milp_mod, "abs_pair_cuts", lambda *a: [])
    slow = milp_margin(net, ball, int(inst.y[0]), time_limit=60, bounds=plain)
    assert slow.status == "certified" and slow.stats["nodes"] > 10
    assert math.isclose(res.lower_bound, slow.lower_bound, abs_tol=1e-4)
