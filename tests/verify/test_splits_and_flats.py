"""Tests of the two refinements of two-group CROWN that make min trees, and so the
nearest-margin networks, certifiable by bounds alone:

* the *ancestry split* (:mod:`robustexp.verify._splits`): a pre-activation is split into the
  two groups of disjoint ancestry it reads (``min(c, d) - min(a, b)`` into its two minima),
  not by the signs of its weights; rows whose inputs are coupled get no plane;
* *flat lines* (``_flat_masks``): a neuron whose bound came from something tighter than its
  own backward pass (the separable bound of an own ℓ1/ℓ2 distance) is relaxed by
  ``σ(l) <= σ(z) <= σ(u)`` in later passes instead of being substituted back.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from _netfactory import random_net

from robustexp.constructions import CONSTRUCTIONS
from robustexp.constructions._norms import linf_distance, max_tree, min_tree
from robustexp.network import ReLUNet, sequential
from robustexp.verify import LpBall, linear_bounds
from robustexp.verify._milp import default_bounds
from robustexp.verify._splits import two_group_split

PS = [1.0, 2.0, math.inf]


def _dense(W) -> np.ndarray:
    return W.toarray() if sp.issparse(W) else np.asarray(W)


def _nets(rng: np.random.Generator) -> list[ReLUNet]:
    c = CONSTRUCTIONS["nearest-margin-linf"]
    inst = c.example(7, 3, seed=2)
    return [
        random_net(rng, [4, 8, 8, 6, 1]),
        min_tree(7, nonnegative=True),
        min_tree(6),
        max_tree(9, nonnegative=True),
        linf_distance(rng.normal(size=(2, 5))),
        c.build(inst.X, inst.y, inst.radius),
    ]


def test_every_weight_goes_to_exactly_one_group(rng: np.random.Generator) -> None:
    """``W = W_A - W_B`` exactly and ``|W_A| + |W_B| = |W|`` (the rounding analysis of the
    backward step needs each weight in one group); sign-split rows have parts >= 0."""
    for net in _nets(rng):
        for m in range(1, net.depth):
            s = two_group_split(net, m)
            W, WA, WB = (_dense(M) for M in (net.layers[m].W, s.WA, s.WB))
            assert np.array_equal(WA - WB, W)
            assert np.array_equal(np.abs(WA) + np.abs(WB), np.abs(W))
            assert np.all(WA[s.nonneg] >= 0) and np.all(WB[s.nonneg] >= 0)


def test_max_trees_keep_the_sign_split() -> None:
    """In ``max(c, d) - max(a, b)`` each group has one sign: the split is the sign split, so
    max trees (and the ℓ∞ memorizer) are bounded as before."""
    for net in (max_tree(9, nonnegative=True), linf_distance(np.zeros((3, 6)))):
        for m in range(1, net.depth):
            s = two_group_split(net, m)
            assert s.ancestry_rows == 0
            assert np.array_equal(_dense(s.WA), np.maximum(_dense(net.layers[m].W), 0))


@pytest.mark.parametrize("n", [4, 5, 8])
def test_min_tree_rows_split_into_independent_children(n: int) -> None:
    """Every row of a min tree above its first level that reads two sub-trees is split by
    ancestry, and its part A does not move when only the inputs of the other part move (the
    independence the two-group plane relies on); with the sign split it would."""
    net = min_tree(n, nonnegative=True)
    rng = np.random.default_rng(0)
    checked = 0
    for m in range(1, net.depth - 1):
        s = two_group_split(net, m)
        WA = _dense(s.WA)
        for r in np.flatnonzero(~s.nonneg):
            x = rng.uniform(0.5, 2.0, size=(1, n))
            A0 = WA[r] @ np.maximum(net.pre_activations(x)[m - 1][0], 0.0)
            moved = 0
            for t in range(n):  # move one input at a time: A changes for one side only
                x2 = x.copy()
                x2[0, t] += 0.37
                if WA[r] @ np.maximum(net.pre_activations(x2)[m - 1][0], 0.0) != A0:
                    moved += 1
            assert 0 < moved < n
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("n", [3, 4, 7, 16])
def test_min_tree_lower_bound_is_exact(n: int) -> None:
    """min(x) over the box ``[c - r, c + r]`` is ``min(c) - r``: two-group bounds give it up
    to rounding at every depth; plain CROWN (chords) under-estimates it for n >= 4. (The
    planes act from the second hidden layer on, so the tree reads ``σ(x)``, as a min tree in
    a network reads distances.)"""
    c = np.linspace(1.0, 2.0, n)[None, ::-1].copy()
    relu_x = ReLUNet.from_layers([(np.eye(n), np.zeros(n)), (np.eye(n), np.zeros(n))])
    net = sequential(relu_x, min_tree(n, nonnegative=True), assume_nonnegative=True)
    ball = LpBall(c, 0.3, math.inf)
    lo = float(linear_bounds(net, ball).lower[-1][0, 0])
    plain = float(linear_bounds(net, ball, two_group=False).lower[-1][0, 0])
    assert 0.7 - 1e-12 <= lo <= 0.7
    if n >= 4:
        assert plain < 0.7 - 1e-3


@pytest.mark.parametrize("p", PS)
def test_nearest_margin_certified_by_bounds_with_the_exact_margin(p: float) -> None:
    """At every training point of a small nearest-margin instance (δ = 0.9 ε), the one-point
    bounds certify the label, and the margin bound is at least the margin of the separate
    extremes ``φ(D_i - δ) - (φ(δ) + e)``, with ``D_i`` the point's distance to the other
    class: exactly what the two min trees give when each is bounded on its own (for ℓ1/ℓ2 the
    own distance's δ needs the flat lines; the per-coordinate chords give d δ)."""
    name = {1.0: "nearest-margin-l1", 2.0: "nearest-margin-l2", math.inf: "nearest-margin-linf"}
    c = CONSTRUCTIONS[name[p]]
    inst = c.example(8, 6, seed=3)
    from robustexp.data import separation

    eps = float(separation(inst.X, inst.y, p).eps_max)
    delta = 0.9 * eps
    net = c.build(inst.X, inst.y, delta)
    cert = c.certificate(inst.X, inst.y, delta)
    assert cert.holds
    for i in range(len(inst.y)):
        ball = LpBall(inst.X[[i]], delta, p)
        b = default_bounds(net, ball, int(inst.y[i]))
        m = float(b.lower[-1][0, 0]) if inst.y[i] > 0 else -float(b.upper[-1][0, 0])
        value = float(net(inst.X[[i]]).item()) * inst.y[i]
        assert 0 < m <= value
        if p != 2.0:  # φ = identity, e = 0
            other = inst.X[inst.y != inst.y[i]]
            D = np.min(np.linalg.norm(other - inst.X[i], ord=p, axis=1))
            assert m >= (D - delta) - delta - 1e-9


@pytest.mark.parametrize("p", PS)
def test_flat_and_split_bounds_are_sound_by_sampling(rng: np.random.Generator, p: float) -> None:
    """Balls at random centres near the data (not training points): every sampled
    pre-activation of a nearest-margin net lies inside the one-point bounds (which now use
    split planes and flat lines on every layer)."""
    name = {1.0: "nearest-margin-l1", 2.0: "nearest-margin-l2", math.inf: "nearest-margin-linf"}
    c = CONSTRUCTIONS[name[p]]
    inst = c.example(6, 4, seed=5)
    net = c.build(inst.X, inst.y, inst.radius)
    for _ in range(3):
        centre = inst.X[[rng.integers(len(inst.y))]] + rng.normal(scale=0.05, size=(1, 4))
        ball = LpBall(centre, float(rng.uniform(0.05, 0.3)), p)
        b = default_bounds(net, ball, None)
        S = ball.sample(rng, 3000)[0]
        for k, z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= z.min(axis=0))
            assert np.all(b.upper[k][0] >= z.max(axis=0))


def _instances() -> list[tuple[ReLUNet, LpBall]]:
    rng = np.random.default_rng(7)
    out = []
    for name, p in (("memorizer-linf", math.inf), ("nearest-margin-l1", 1.0)):
        c = CONSTRUCTIONS[name]
        inst = c.example(9, 5, seed=4)
        out.append((c.build(inst.X, inst.y, inst.radius), LpBall(inst.X[[2]], inst.radius, p)))
    net = random_net(rng, [4, 8, 8, 6, 2])
    out.append((net, LpBall(rng.normal(size=(1, 4)), 0.4, 2.0)))
    return out


@pytest.mark.parametrize("two_group", [True, False])
def test_sparse_coefficients_give_the_dense_bounds(two_group: bool) -> None:
    """CROWN with sparse backward coefficients (one point) computes the same bounds as the
    dense form, on constructions and on a dense random net, up to the order of float sums
    (a dropped entry, a wrong row selection or a stale cached layer would differ by far
    more than 1e-12)."""
    for net, ball in _instances():
        dense = linear_bounds(net, ball, two_group=two_group)
        sparse = linear_bounds(net, ball, two_group=two_group, sparse=True)
        for k in range(net.depth):
            for a, b in ((dense.lower[k], sparse.lower[k]), (dense.upper[k], sparse.upper[k])):
                fin = np.isfinite(a)
                assert np.array_equal(fin, np.isfinite(b))
                assert np.allclose(a[fin], b[fin], rtol=1e-12, atol=1e-12)


def test_sparse_bounds_are_sound_by_sampling(rng: np.random.Generator) -> None:
    """Sampled pre-activations lie inside the sparse bounds (with a prior from look-back)."""
    from robustexp.verify._ibp import interval_bounds
    from robustexp.verify._lookback import lookback_bounds

    for net, ball in _instances():
        prior = lookback_bounds(net, ball, interval_bounds(net, ball))
        b = linear_bounds(net, ball, sparse=True, prior=prior)
        S = ball.sample(rng, 2000)[0]
        for k, z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= z.min(axis=0))
            assert np.all(b.upper[k][0] >= z.max(axis=0))


def test_sparse_coefficients_take_one_point_only() -> None:
    net, ball = _instances()[0]
    from robustexp import InvalidInputError

    two = LpBall(np.repeat(ball.center, 2, axis=0), 0.1, ball.p)
    with pytest.raises(InvalidInputError, match="one point"):
        linear_bounds(net, two, sparse=True)
