"""Twin-group output bounds (robustexp/verify/_twins.py): sound on sampled points of random
nets with twins, exact for one group over an exactly bounded pre-activation, and the reason
the default bounds certify memorizer points with overlapping same-class bumps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

import robustexp.verify._milp as milp_mod
from robustexp.network import Affine, ReLUNet
from robustexp.verify import LpBall, interval_bounds
from robustexp.verify._lookback import lookback_bounds
from robustexp.verify._twins import twin_groups, twin_output_bounds


def _twin_net(rng: np.random.Generator, d: int, groups: int, singles: int) -> ReLUNet:
    """A 3-layer net whose last hidden layer holds ``groups`` twin groups (one random weight
    row repeated 2-3 times with different biases) and ``singles`` ordinary units."""
    W0 = rng.normal(size=(6, d))
    b0 = rng.normal(size=6) * 0.3
    rows, biases = [], []
    for _ in range(groups):
        w = rng.normal(size=6)
        for _ in range(int(rng.integers(2, 4))):
            rows.append(w)
            biases.append(rng.normal())
    for _ in range(singles):
        rows.append(rng.normal(size=6))
        biases.append(rng.normal())
    W1 = np.array(rows)
    V = rng.normal(size=(2, W1.shape[0]))
    return ReLUNet.from_layers([(W0, b0), (W1, np.array(biases)), (V, rng.normal(size=2))])


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_bounds_contain_sampled_outputs(rng: np.random.Generator, p: float) -> None:
    """Catches any unsound step (the common t's range, the candidate points, the per-unit
    fallback, the rounding): sampled outputs of random nets with twins never leave the
    bounds, from interval bounds and from the tighter look-back bounds."""
    for _ in range(6):
        net = _twin_net(rng, 3, groups=3, singles=2)
        assert len(twin_groups(net)) == 3
        ball = LpBall(rng.normal(size=(1, 3)), float(rng.uniform(0.1, 0.8)), p)
        Y = net(ball.sample(rng, 600).reshape(-1, 3))
        for base in (interval_bounds(net, ball), None):
            b = base if base is not None else lookback_bounds(net, ball, interval_bounds(net, ball))
            lo, hi = twin_output_bounds(net, b)
            assert np.all(lo <= Y.min(axis=0)) and np.all(hi >= Y.max(axis=0))


def test_one_group_over_an_exact_pre_activation_is_exact() -> None:
    """Output ``Σ v_j σ(t + b_j)`` with ``t = w·x`` over an ℓ∞ ball (whose range interval
    bounds give exactly): the twin bound equals the true range (brute force over the
    breakpoints and ends), where interval arithmetic is loose. Soundness is the sampled
    test's job; this one catches a missed breakpoint or a wrong common range of t."""
    rng = np.random.default_rng(3)
    for _ in range(10):
        w = rng.normal(size=2)
        k = 4
        b = np.sort(rng.normal(size=k))
        v = rng.normal(size=k)
        net = ReLUNet.from_layers([(np.tile(w, (k, 1)), b), (v[None, :], np.zeros(1))])
        ball = LpBall(rng.normal(size=(1, 2)), 0.7, math.inf)
        t_lo = float(w @ ball.center[0] - 0.7 * np.abs(w).sum())
        t_hi = float(w @ ball.center[0] + 0.7 * np.abs(w).sum())
        ts = np.concatenate([[t_lo, t_hi], -b[(-b > t_lo) & (-b < t_hi)]])
        vals = (np.maximum(ts[:, None] + b[None, :], 0.0) * v).sum(axis=1)
        lo, hi = twin_output_bounds(net, interval_bounds(net, ball))
        # the reference is float (±1e-12); the bound must be within 1e-9 of it
        assert lo[0] - 1e-12 <= vals.min() <= lo[0] + 1e-9
        assert hi[0] - 1e-9 <= vals.max() <= hi[0] + 1e-12


def test_groups_ignore_stored_zeros_and_constant_units() -> None:
    """Rows equal up to explicitly stored zeros are twins; all-zero rows (constants) are not."""
    W = sp.csr_array(
        (
            np.array([1.0, 2.0, 0.0, 1.0, 2.0]),
            np.array([0, 1, 2, 0, 1]),
            np.array([0, 3, 5, 5, 5]),
        ),
        shape=(4, 3),
    )
    net = ReLUNet((Affine(W, np.array([0.0, 1.0, 2.0, 3.0])), Affine(np.ones((1, 4)), [0.0])))
    assert [g.tolist() for g in twin_groups(net)] == [[0, 1]]


def test_default_bounds_certify_overlapping_same_class_bumps(monkeypatch) -> None:
    """Nine +1 points 1.04 ε apart (digits: 1.14 ε) and three -1 points: every
    ball of the ℓ∞ memorizer's claimed radius around a +1 point meets several same-class
    bumps. Linear bounds let each of those bumps dip below 0 and cannot prove any point;
    with the twin groups the default bounds give exactly the certificate's margin 1."""
    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separation

    c = CONSTRUCTIONS["memorizer-linf"]
    grid = np.array([[i, j] for i in range(3) for j in range(3)], dtype=float) * 0.293 - 0.2
    X = np.vstack([grid, [[0.95, 0.95], [0.95, -0.9], [-0.9, 0.95]]])
    y = np.array([1] * 9 + [-1] * 3)
    sep = separation(X, y, math.inf)
    assert 1.0 < 0.293 / float(sep.eps_max) < 1.1
    delta = c.radius_condition.just_inside(sep.distance_sq / 4)
    net = c.build(X, y, delta)

    def lowers() -> list[float]:
        balls = [LpBall(X[[i]], delta, math.inf) for i in range(9)]
        return [float(milp_mod.default_bounds(net, b, 1).lower[-1][0, 0]) for b in balls]

    assert all(abs(v - 1.0) < 1e-9 for v in lowers())
    monkeypatch.setattr(milp_mod, "_with_twins", lambda net, b: b)
    assert all(v < 0 for v in lowers())


def test_unbounded_units_leave_the_row_unbounded() -> None:
    """An alive unit with an infinite upper bound (a vacuous prior) must not be turned into
    a finite output bound: the row stays (-inf, inf)."""
    from robustexp.verify._types import LayerBounds

    net = ReLUNet.from_layers([([[1.0], [1.0]], [0.0, -1.0]), ([[1.0, -1.0]], [0.0])])
    ball = LpBall([[0.5]], 0.5, math.inf)
    ib = interval_bounds(net, ball)
    lo0, hi0 = list(ib.lower), list(ib.upper)
    hi0[0] = np.array([[np.inf, 0.5]])
    lo, hi = twin_output_bounds(net, LayerBounds(tuple(lo0), tuple(hi0), "ibp"))
    assert lo[0] == -np.inf and hi[0] == np.inf
    lo, hi = twin_output_bounds(net, ib)
    assert np.isfinite(lo[0]) and np.isfinite(hi[0])
