"""Merge-aware interval bounds (robustexp/verify/_merge.py): exact on merge trees over a box,
exact for ℓ1 distances over an ℓ1 ball (the Lipschitz step), sound on sampled points of the
paper's constructions and of random integer-weight nets built to trip the group recognition,
never looser than the bounds given, and what lets the default bounds of a nearest-margin net
prove its points in one pass."""

from __future__ import annotations

import math

import numpy as np
import pytest

from robustexp.constructions import CONSTRUCTIONS, l1_distance, max_tree, min_tree
from robustexp.data import separation
from robustexp.network import ReLUNet
from robustexp.verify import LpBall, interval_bounds, linear_bounds
from robustexp.verify._merge import _plan, merge_bounds
from robustexp.verify._milp import default_bounds, margin_from_bounds


def _points_in(ball: LpBall, rng: np.random.Generator, k: int) -> np.ndarray:
    """``k`` points of the (one-point) ball: random directions scaled to random radii, half of
    them on the sphere, plus box corners projected into the ball."""
    c, r, d = ball.center[0], float(ball.radius[0]), ball.dim
    u = rng.normal(size=(k, d))
    norms = np.linalg.norm(u, ord=ball.p, axis=1)[:, None]
    scale = np.where(rng.random((k, 1)) < 0.5, 1.0, rng.random((k, 1)))
    pts = c + r * scale * u / norms
    corners = c + r * rng.choice([-1.0, 1.0], size=(k // 4 + 1, d))
    X = np.vstack([pts, corners])
    return LpBall(np.repeat(ball.center, len(X), axis=0), r, ball.p).project(X)


def _assert_contains(net: ReLUNet, b, X: np.ndarray, i: int = 0) -> None:
    for k, z in enumerate(net.pre_activations(X)):
        assert np.all(z >= b.lower[k][i] - 1e-12), f"layer {k} below its lower bound"
        assert np.all(z <= b.upper[k][i] + 1e-12), f"layer {k} above its upper bound"


@pytest.mark.parametrize("nonnegative", [False, True])
@pytest.mark.parametrize("n", [2, 3, 5, 8, 13])
@pytest.mark.parametrize("tree", [max_tree, min_tree])
def test_merge_trees_are_bounded_exactly_over_a_box(
    rng: np.random.Generator, tree, n: int, nonnegative: bool
) -> None:
    """The range of max/min over a box is [merge of the lows, merge of the highs]; interval
    arithmetic is wider by the widths of the tree's inputs, merge-aware intervals are exact
    (to the last few ulps)."""
    net = tree(n, nonnegative=nonnegative)
    c = rng.uniform(0.3, 1.0, size=(1, n)) if nonnegative else rng.normal(size=(1, n))
    ball = LpBall(c, 0.25, math.inf)
    lo, hi = c[0] - 0.25, c[0] + 0.25
    f = np.max if tree is max_tree else np.min
    b = merge_bounds(net, ball, interval_bounds(net, ball))
    assert f(lo) - 1e-12 <= b.lower[-1][0, 0] <= f(lo)
    assert f(hi) <= b.upper[-1][0, 0] <= f(hi) + 1e-12


def test_an_exact_zero_lower_bound_stays_zero() -> None:
    """A non-negative merge applies only where ``p >= 0`` is proven: the bounds must keep an
    exact 0 at 0 (no downward rounding step on exact rows), else the rule is lost and the
    own-centre distance of a nearest-margin net doubles."""
    net = max_tree(4, nonnegative=True)
    ball = LpBall([[0.0, 0.0, 0.5, 0.5]], 0.0, math.inf)
    b = merge_bounds(net, ball, interval_bounds(net, ball))
    assert b.lower[-1][0, 0] == 0.5 == b.upper[-1][0, 0]


def test_l1_distance_over_an_l1_ball_is_exact(rng: np.random.Generator) -> None:
    """Rows over one-coordinate groups are bounded as value at the centre ± r ||M||_q
    (Hölder): for ℓ1 distances over an ℓ1 ball that is the exact range [d0 - r, d0 + r]; the
    ball's box alone gives d0 + d·r."""
    d, K = 12, 5
    centres = rng.normal(size=(K, d))
    net = l1_distance(centres)
    x0 = rng.normal(size=(1, d))
    r = 0.3
    ball = LpBall(x0, r, 1.0)
    d0 = np.abs(centres - x0).sum(axis=1)
    assert np.all(d0 > r)
    ibp = interval_bounds(net, ball)
    b = merge_bounds(net, ball, ibp)
    assert np.allclose(b.lower[-1][0], d0 - r, rtol=0, atol=1e-12)
    assert np.allclose(b.upper[-1][0], d0 + r, rtol=0, atol=1e-12)
    assert np.all(b.lower[-1][0] <= d0 - r) and np.all(b.upper[-1][0] >= d0 + r)


CONSTRUCTION_NAMES = [
    "nearest-margin-linf",
    "nearest-margin-l1",
    "nearest-margin-l2",
    "memorizer-linf",
    "memorizer-l1",
    "memorizer-l2",
]


@pytest.mark.parametrize("name", CONSTRUCTION_NAMES)
def test_sound_on_sampled_points_of_the_constructions(rng: np.random.Generator, name: str) -> None:
    """Every layer of every construction stays inside its merge-aware bounds at points
    sampled in balls around training points and around random points (radius up to 2δ, so
    that many units are unstable), and the bounds are never looser than the ones given."""
    c = CONSTRUCTIONS[name]
    inst = c.example(10, 5, seed=int(rng.integers(1000)))
    eps = float(separation(inst.X, inst.y, c.p).eps_max)
    net = c.build(inst.X, inst.y, 0.45 * eps)
    centres = np.vstack([inst.X[:3], rng.uniform(-0.5, 0.5, size=(2, inst.X.shape[1]))])
    for x0 in centres:
        ball = LpBall(x0[None, :], float(rng.uniform(0.2, 2.0)) * eps, c.p)
        prior = interval_bounds(net, ball)
        b = merge_bounds(net, ball, prior)
        _assert_contains(net, b, _points_in(ball, rng, 300))
        for k in range(net.depth):
            assert np.all(b.lower[k] >= prior.lower[k]) and np.all(b.upper[k] <= prior.upper[k])


def _integer_net(rng: np.random.Generator, d: int, widths: list[int]) -> ReLUNet:
    """A random net with weights in {-2, -1, 0, 1, 2} (mostly 0, ±1) and biases in {-1, 0,
    1}, with repeated, negated and proportional rows and columns, so that one-dimensional,
    merge and fallback groups all occur, also where the merge identities do NOT hold."""
    layers = []
    prev = d
    for w in [*widths, 1]:
        base = rng.choice([-2.0, -1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0], size=(max(1, w // 2), prev))
        rows = base[rng.integers(0, base.shape[0], size=w)]
        rows *= rng.choice([-1.0, 1.0, 1.0], size=(w, 1))  # negated copies
        b = rng.choice([-1.0, 0.0, 0.0, 1.0], size=w)
        layers.append((rows, b))
        prev = w
    return ReLUNet.from_layers(layers)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_sound_on_random_integer_nets(rng: np.random.Generator, p: float) -> None:
    """Brute force on tiny nets built to trip the recognition: every sampled point of the
    ball stays inside every layer's bounds, the bounds are never looser than IBP's, and they
    overlap CROWN's (two independent sound methods)."""
    for _ in range(40):
        d = int(rng.integers(1, 4))
        widths = [int(rng.integers(2, 7)) for _ in range(int(rng.integers(1, 4)))]
        net = _integer_net(rng, d, widths)
        ball = LpBall(rng.normal(size=(1, d)), float(rng.uniform(0.1, 1.5)), p)
        prior = interval_bounds(net, ball)
        b = merge_bounds(net, ball, prior)
        _assert_contains(net, b, _points_in(ball, rng, 400))
        crown = linear_bounds(net, ball)
        for k in range(net.depth):
            assert np.all(b.lower[k] >= prior.lower[k]) and np.all(b.upper[k] <= prior.upper[k])
            assert np.all(b.lower[k] <= crown.upper[k] + 1e-12)
            assert np.all(crown.lower[k] <= b.upper[k] + 1e-12)


def test_a_batch_gets_the_bounds_of_its_points_one_by_one(rng: np.random.Generator) -> None:
    """Bounds of a batch equal the bounds of each point alone (chunking and broadcasting do
    not mix points up)."""
    c = CONSTRUCTIONS["nearest-margin-linf"]
    inst = c.example(12, 4, seed=1)
    net = c.build(inst.X, inst.y, 0.01)
    ball = LpBall(inst.X, 0.01, math.inf)
    batch = merge_bounds(net, ball, interval_bounds(net, ball))
    for i in range(len(inst.y)):
        one = merge_bounds(net, ball[[i]], interval_bounds(net, ball[[i]]))
        for k in range(net.depth):
            assert np.allclose(batch.lower[k][i], one.lower[k][0], rtol=1e-12, atol=1e-14)
            assert np.allclose(batch.upper[k][i], one.upper[k][0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["nearest-margin-linf", "nearest-margin-l1"])
def test_default_bounds_prove_nearest_margin_points_by_merge(name: str) -> None:
    """On nearest-margin nets over ℓ∞ and ℓ1 balls (δ = 0.9 ε) the merge pass alone proves
    every point, credited to it, with the exact margin of the two separately bounded trees
    (D - δ) - δ, D the distance to the other class."""
    c = CONSTRUCTIONS[name]
    inst = c.example(16, 8, seed=5)
    eps = float(separation(inst.X, inst.y, c.p).eps_max)
    delta = 0.9 * eps
    net = c.build(inst.X, inst.y, delta)
    merged = sum(len(level.merges[0].group) for level in _plan(net).levels if level.merges)
    assert merged >= len(inst.y) - 2  # every merge of the two class trees is recognised
    for i in range(len(inst.y)):
        yi = int(inst.y[i])
        b = default_bounds(net, LpBall(inst.X[[i]], delta, c.p), yi)
        assert b.method == "merge"
        m = margin_from_bounds([v[0] for v in b.lower], [v[0] for v in b.upper], yi)
        other = inst.X[inst.y != inst.y[i]]
        D = np.min(np.linalg.norm(other - inst.X[i], ord=c.p, axis=1))
        assert (D - delta) - delta - 1e-9 <= m <= float(net(inst.X[[i]]).item()) * yi
