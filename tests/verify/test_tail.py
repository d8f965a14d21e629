"""Tail CROWN (robustexp/verify/_tail.py): sound on sampled points of random nets made of
separable sums followed by min/max trees, as tight as exact interval trees over the sums'
bounds, and the reason a nearest-margin ℓ2 query no longer needs CROWN on the whole net."""

from __future__ import annotations

import math

import numpy as np
import pytest

import robustexp.verify._tail as tail_mod
from robustexp.constructions import CONSTRUCTIONS, min_tree
from robustexp.network import ReLUNet, sequential
from robustexp.verify import LpBall, interval_bounds
from robustexp.verify._lookback import lookback_bounds
from robustexp.verify._tail import tail_crown_bounds, tail_layer, tail_sensitivity


def _sums_then_tree(rng: np.random.Generator, d: int, leaves: int) -> ReLUNet:
    """``min_j Σ_k |x_k - c_jk|`` (j < leaves) minus a random affine part: a layer of
    absolute-value pairs, a layer of per-leaf sums (the separable layer), a min tree."""
    C = rng.uniform(-1, 1, size=(leaves, d))
    eye = np.eye(d)
    W0 = np.concatenate([eye, -eye])  # σ(x_k - c_k), σ(c_k - x_k) for every leaf below
    W0 = np.concatenate([W0] * leaves)
    b0 = np.concatenate([np.concatenate([-c, c]) for c in C])
    W1 = np.kron(np.eye(leaves), np.ones((1, 2 * d)))  # leaf j sums its 2d units
    sums = ReLUNet.from_layers([(W0, b0), (W1, np.zeros(leaves))])
    return sequential(sums, min_tree(leaves, nonnegative=True), assume_nonnegative=True)


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_bounds_contain_sampled_values(rng: np.random.Generator, p: float) -> None:
    """Catches an unsound tail (a wrong box of the separable layer's outputs, a wrong layer
    offset when the bounds are copied back, a prior used beyond where it holds): every
    sampled pre-activation of every layer after the tail layer stays inside the bounds."""
    for _ in range(5):
        d, leaves = int(rng.integers(2, 5)), int(rng.integers(2, 9))
        net = _sums_then_tree(rng, d, leaves)
        k = tail_layer(net)
        assert k == 1
        ball = LpBall(rng.uniform(-1, 1, size=(1, d)), float(rng.uniform(0.05, 0.8)), p)
        base = lookback_bounds(net, ball, interval_bounds(net, ball))
        b = tail_crown_bounds(net, ball, base)
        Z = net.pre_activations(ball.sample(rng, 800).reshape(-1, d))
        for m in range(net.depth):
            assert np.all(b.lower[m][0] <= Z[m].min(axis=0) + 1e-12), m
            assert np.all(b.upper[m][0] >= Z[m].max(axis=0) - 1e-12), m
            assert np.all(b.lower[m] >= base.lower[m]) and np.all(b.upper[m] <= base.upper[m])


def test_min_tree_is_exact_over_the_box_of_the_sums(rng: np.random.Generator) -> None:
    """The tail's output bound equals the exact interval minimum ``[min_j l_j, min_j u_j]``
    of the sums' bounds (CROWN's two-group planes make a min tree exact, the identity layer
    gives the tree's first level its planes too); the look-back bounds alone are looser."""
    net = _sums_then_tree(rng, 3, 16)
    ball = LpBall(np.zeros((1, 3)), 0.6, 2.0)
    base = lookback_bounds(net, ball, interval_bounds(net, ball))
    b = tail_crown_bounds(net, ball, base)
    lo, hi = base.lower[1][0], base.upper[1][0]
    assert b.lower[-1][0, 0] == pytest.approx(lo.min(), abs=1e-9)
    assert b.upper[-1][0, 0] == pytest.approx(hi.min(), abs=1e-9)
    assert base.upper[-1][0, 0] - base.lower[-1][0, 0] > (hi.min() - lo.min()) + 0.1


def test_tail_layer_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """No separable row over two or more coordinates → no tail; a tail with more hidden units
    than ``TAIL_MAX_UNITS`` → no tail (the cache is per net, so fresh nets are built)."""
    per_coordinate = ReLUNet.from_layers([([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.0]),
                                          ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]),
                                          ([[1.0, 1.0]], [0.0])])  # fmt: skip
    assert tail_layer(per_coordinate) is None
    rng = np.random.default_rng(0)
    assert tail_layer(_sums_then_tree(rng, 2, 8)) == 1
    monkeypatch.setattr(tail_mod, "TAIL_MAX_UNITS", 3)
    assert tail_layer(_sums_then_tree(rng, 2, 8)) is None


def test_nearest_margin_l2_points_are_proved_by_the_tail() -> None:
    """On an ℓ2 nearest-margin net the separable bounds and the tail alone prove every
    point's margin at the claimed radius (no CROWN on the whole net): the look-back bounds
    of the min trees without the tail do not."""
    from robustexp.data import separated_dataset, separation
    from robustexp.verify import _milp

    c = CONSTRUCTIONS["nearest-margin-l2"]
    ds = separated_dataset(24, 5, 0.1, 2.0, seed=1, measure=False)
    X, y = np.array(ds.X), np.array(ds.y)
    eps = math.sqrt(float(separation(X, y, 2.0).distance_sq) / 4)
    radius = 0.9 * eps
    net = c.build(X, y, radius)
    assert tail_layer(net) is not None
    loose = 0
    for i in range(len(y)):
        ball = LpBall(X[[i]], radius, 2.0)
        b = lookback_bounds(net, ball, interval_bounds(net, ball))
        rows = [np.ones(layer.out_dim, dtype=bool) for layer in net.layers]
        b = lookback_bounds(net, ball, b, separable_rows=rows)
        loose += not _milp._proves(b, int(y[i]))
        assert _milp._proves(tail_crown_bounds(net, ball, b, int(y[i])), int(y[i])), i
    assert loose > 0


def test_sensitivity_ranks_the_leaves_that_can_be_the_minimum(rng: np.random.Generator) -> None:
    """Catches a ranking that ignores the tail (e.g. plain box widths): in ``min_j s_j`` with
    ``s_j = ‖x − c_j‖₁``, over a small ball at ``c_0`` only leaf 0 can be the minimum, so it
    alone scores (the others' boxes are as wide, but the tree stably discards them); over a
    ball at the midpoint of ``c_0`` and ``c_1`` both may be the minimum and they score most."""
    checked = 0
    for _ in range(60):
        d = int(rng.integers(2, 5))
        net = _sums_then_tree(rng, d, 8)
        C = -net.layers[0].b.reshape(8, 2 * d)[:, :d]
        gaps = np.abs(C[:, None, :] - C[None, :, :]).sum(axis=2)
        if np.sort(gaps[0])[1] < 0.3 or np.sort(gaps[1])[1] < 0.3:
            continue  # a random centre too close to c_0 or c_1
        mid = (C[0] + C[1]) / 2
        if np.sort(np.abs(C - mid).sum(axis=1))[2] < np.abs(C[0] - mid).sum() + 0.3:
            continue  # a third centre about as close to the midpoint
        checked += 1
        ball = LpBall(C[[0]], 0.02, 2.0)
        score = tail_sensitivity(net, tail_crown_bounds(net, ball, interval_bounds(net, ball)))
        assert score[0] > 0.0 and np.all(score[1:] <= 1e-12), score
        ball = LpBall(mid[None, :], 0.02, 2.0)
        score = tail_sensitivity(net, tail_crown_bounds(net, ball, interval_bounds(net, ball)))
        assert np.all(score[:2] > 0.0) and score[:2].min() > score[2:].max(), score
    assert checked >= 3
    no_tail = ReLUNet.from_layers([([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    flat = LpBall(np.zeros((1, 2)), 0.1, 2.0)
    assert tail_sensitivity(no_tail, interval_bounds(no_tail, flat)) is None


def _after_coarse_pass(net: ReLUNet, ball: LpBall, label: int) -> tuple:
    from robustexp.verify import _milp

    b = lookback_bounds(net, ball, interval_bounds(net, ball))
    relevant = _milp._relevant_units(net, [u[0] for u in b.upper])
    rows = [*relevant, np.ones(net.out_dim, dtype=bool)]
    b = lookback_bounds(net, ball, b, separable_rows=rows, coarse=True)
    b = tail_crown_bounds(net, ball, b, label)
    return b, _milp._relevant_units(net, [u[0] for u in b.upper])


def test_targeted_rows_prove_what_the_coarse_pass_does_not(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On nearest-margin ℓ2 (N = 40, d = 8, δ = 0.99ε) the coarse separable pass and the tail
    leave some points unproved; full separable bounds on the few distance rows ranked first
    by :func:`tail_sensitivity` prove them, refining at most a quarter of the candidate rows,
    while as many rows taken from the other end of the ranking do not (catches a ranking
    that does not find the rows that matter). The targeted bounds contain sampled values."""
    from robustexp.data import separated_dataset, separation
    from robustexp.verify import _milp

    c = CONSTRUCTIONS["nearest-margin-l2"]
    ds = separated_dataset(40, 8, 0.1, 2.0, seed=1, measure=False)
    X, y = np.array(ds.X), np.array(ds.y)
    radius = 0.99 * math.sqrt(float(separation(X, y, 2.0).distance_sq) / 4)
    net = c.build(X, y, radius)
    monkeypatch.setattr(_milp, "TARGETED_FIRST_ROWS", 2)
    monkeypatch.setattr(_milp, "TARGETED_GROWTH", 2)
    hard = 0
    for i in range(len(y)):
        ball, label = LpBall(X[[i]], radius, 2.0), int(y[i])
        b, relevant = _after_coarse_pass(net, ball, label)
        if _milp._proves(b, label):
            continue
        hard += 1
        targeted, (k, done) = _milp._refine_where_it_counts(net, ball, b, relevant, label)
        assert _milp._proves(targeted, label), i
        assert 0 < done.sum() <= relevant[k].sum() // 4, i
        Z = net.pre_activations(ball.sample(rng, 400).reshape(-1, X.shape[1]))
        for m in range(net.depth):
            assert np.all(targeted.lower[m][0] <= Z[m].min(axis=0) + 1e-9), (i, m)
            assert np.all(targeted.upper[m][0] >= Z[m].max(axis=0) - 1e-9), (i, m)
        with monkeypatch.context() as reverse:
            reverse.setattr(tail_mod, "tail_sensitivity", _reversed_score)
            reverse.setattr(_milp, "TARGETED_GROWTH", 1_000_000)  # one round only
            worst, _ = _milp._refine_where_it_counts(net, ball, b, relevant, label)
        assert not _milp._proves(worst, label), i
    assert hard >= 1


def _reversed_score(net: ReLUNet, bounds: object) -> np.ndarray:
    """The ranking of :func:`tail_sensitivity` turned upside down (all scores positive)."""
    return 1.0 / (1.0 + tail_sensitivity(net, bounds))
