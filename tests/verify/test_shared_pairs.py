"""Tests of the exact unit signatures and pair classes (verify/_shared_pairs.py) and of their
use by the separable bounds (verify/_separable.py): equal signature must mean equal function,
shared classes must give exactly the bounds of the unshared computation, and the λ search
skipped by ``enough`` must leave only box bounds that settle the rows' consumers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from robustexp._errors import InvalidInputError
from robustexp.constructions import CONSTRUCTIONS
from robustexp.data import separation
from robustexp.network import ReLUNet
from robustexp.verify import LpBall
from robustexp.verify import _separable as S
from robustexp.verify import _shared_pairs as SP
from robustexp.verify._lookback import settling_bounds
from robustexp.verify._separable import _labels, separable_bounds
from robustexp.verify._shared_pairs import pair_classes, unit_signatures


def _twin_net(rng: np.random.Generator) -> tuple[ReLUNet, list[tuple[int, int, int]]]:
    """A 3-layer net on R^3 with exact copies of units (reading copies of the units below,
    entries in another order) and a unit one ulp away from another; also the list of
    ``(layer, unit, unit)`` that must share a signature."""
    W0, b0 = rng.normal(size=(6, 3)), rng.normal(size=6)
    W0[3], b0[3] = W0[0], b0[0]  # unit 3 copies unit 0
    W0[4], b0[4] = W0[1], np.nextafter(b0[1], np.inf)  # unit 4: one ulp above unit 1
    W1, b1 = rng.normal(size=(4, 6)), rng.normal(size=4)
    w = rng.normal(size=3)
    W1[0] = [w[0], w[1], w[2], 0, 0, 0]  # reads units 0, 1, 2
    W1[1] = [0, w[1], w[2], w[0], 0, 0]  # the same through the copy of unit 0
    b1[1] = b1[0]
    w1, w2, v = rng.normal(size=3)
    W2 = np.array([[w1, w2, v, 0.0], [w2, w1, v, 0.0]])  # twins 0, 1 of layer 1 swapped
    net = ReLUNet.from_layers([(W0, b0), (W1, b1), (W2, np.array([0.5, 0.5]))])
    return net, [(0, 0, 3), (1, 0, 1), (2, 0, 1)]


@pytest.mark.parametrize("collide", [False, True])
def test_equal_signatures_are_equal_functions_and_exact(
    collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches a signature that merges different units (a lost weight or bias, an ulp
    ignored, keys trusted to their hash) or misses an exact copy stored in another order: the
    expected twins share a signature, units one ulp apart do not, and every two units sharing
    one agree on sampled inputs (up to the float evaluation order). ``collide``: every key
    hashes to 0, so only the exact comparison keeps different keys apart."""
    if collide:
        monkeypatch.setattr(SP, "_row_hash", lambda key: np.zeros(key.shape[0], np.uint64))
    net, twins = _twin_net(np.random.default_rng(0))
    sig = unit_signatures(net, 3)
    if not collide:
        for layer, a, b in twins:
            assert sig[layer][a] == sig[layer][b], (layer, a, b)
        assert len(set(sig[1].tolist())) == 3 and len(set(sig[0].tolist())) == 5
    assert sig[0][1] != sig[0][4]
    Z = net.pre_activations(np.random.default_rng(1).normal(size=(200, 3)))
    for layer in range(3):
        for a in range(sig[layer].size):
            for b in range(a + 1, sig[layer].size):
                if sig[layer][a] == sig[layer][b]:
                    np.testing.assert_allclose(Z[layer][:, a], Z[layer][:, b], rtol=1e-14)


def test_units_above_the_fan_in_cap_get_their_own_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Catches a cap that still merges (or crashes on) wide rows: two identical rows wider
    than the cap must get different signatures, narrow identical rows the same one."""
    monkeypatch.setattr(SP, "SIGNATURE_MAX_FANIN", 2)
    W = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    net = ReLUNet.from_layers([(W, np.zeros(4)), (np.ones((1, 4)), np.zeros(1))])
    sig = unit_signatures(net, 1)[0]
    assert sig[0] != sig[1] and sig[2] == sig[3]
    assert len(set(sig.tolist())) == 3


def _grid_memorizer(name: str, N: int = 14, d: int = 5, seed: int = 0):
    """A memorizer on data whose coordinates take 4 values (many identical gadgets), with
    its distance layer (the layer of N separable rows)."""
    c = CONSTRUCTIONS[name]
    rng = np.random.default_rng(seed)
    X = np.unique(rng.integers(0, 4, size=(3 * N, d)) / 20.0, axis=0)[:N]  # in the unit l1 ball
    y = np.where(rng.random(X.shape[0]) < 0.5, -1, 1)
    y[:2] = [-1, 1]
    sep = separation(X, y, c.p)
    delta = c.radius_condition.just_inside(sep.distance_sq / 4)
    net = c.build(X, y, delta)
    layer = next(i for i in range(1, net.depth) if net.layers[i].out_dim == X.shape[0])
    return net, X, y, delta, layer


@pytest.mark.parametrize("name", ["memorizer-l2", "memorizer-l1"])
def test_pair_classes_group_identical_gadgets(name: str) -> None:
    """Catches classes that mix coordinates or functions: on grid data every class holds
    pairs of one coordinate and one grid value (the gadget's shift), there are at most
    4 classes per coordinate, and the pairs of a class evaluate identically."""
    net, X, _, _, layer = _grid_memorizer(name)
    rows = np.arange(X.shape[0])
    top = sp.csr_array(net.layers[layer].W)
    pc = pair_classes(net, layer, top, net.layers[layer].b, _labels(net)[layer - 1])
    assert pc.pair_row.size == X.size and X.shape[0] == pc.R
    assert pc.Q <= 4 * X.shape[1] < pc.pair_row.size
    shift = X[pc.pair_row, pc.pair_coord]
    for q in range(pc.Q):
        mine = pc.pair_class == q
        assert np.unique(pc.pair_coord[mine]).size == 1
        assert np.unique(shift[mine]).size == 1
    # distinct (coordinate, value) pairs are distinct classes
    assert np.unique(np.stack([pc.pair_coord, shift]), axis=1).shape[1] == pc.Q
    assert rows.size == pc.R


@pytest.mark.parametrize(("name", "p"), [("memorizer-l2", 2.0), ("memorizer-l1", 1.0)])
def test_shared_classes_give_the_unshared_bounds(
    name: str, p: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches index mix-ups between classes, pairs and rows (a class's forms given to the
    wrong row, κ taken from the wrong constant): the bounds with shared classes equal the
    unshared ones to the bit, for the full and the coarse pass, over several points; and
    they enclose sampled values."""
    net, X, _, delta, layer = _grid_memorizer(name)
    ball = LpBall(X[:3], delta, p)
    rows = np.array([4, 0, 2, 2, 7, 13, 1])
    out = {}
    for share in (True, False):
        monkeypatch.setattr(S, "SHARE_PAIRS", share)
        for coarse in (False, True):
            out[share, coarse] = separable_bounds(net, ball, layer, rows, coarse=coarse)
    for coarse in (False, True):
        for a, b in zip(out[True, coarse], out[False, coarse]):
            np.testing.assert_array_equal(a, b)
    lo, hi = out[True, False]
    pts = ball.sample(np.random.default_rng(3), 100)
    for i in range(ball.n):
        Z = net.pre_activations(pts[i])[layer][:, rows]
        assert np.all(lo[i] - 1e-12 <= Z) and np.all(hi[i] + 1e-12 >= Z)


def _class_work(net, layer: int, rows: np.ndarray) -> tuple[int, int]:
    """(Q, the forward units of one class) of the shared bounds of ``rows``."""
    classes, units = S._cached_classes(net, layer, np.unique(rows))
    return classes.Q, int(2 * units[: classes.Q].max() + 2)


@pytest.mark.parametrize(("name", "p"), [("memorizer-l2", 2.0), ("memorizer-l1", 1.0)])
def test_shared_bounds_split_into_runs_chunks_and_blocks(
    name: str, p: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches index mix-ups when the shared work is split: with room for one class's
    forward at the full pieces and three classes' forms per run, the rows go in several runs
    and each run's classes in several chunks, points one at a time, and the bounds agree with
    the unsplit ones (the tolerances now come from fewer rows); with a budget below one
    class's forward every row is left unbounded (±inf), never given a wrong finite value."""
    net, X, _, delta, layer = _grid_memorizer(name)
    ball = LpBall(X[:3], delta, p)
    rows = np.array([4, 0, 2, 2, 7, 13, 1])
    whole = separable_bounds(net, ball, layer, rows)
    Q, class_units = _class_work(net, layer, rows)
    half = class_units * (S.MAX_PIECES + 2) * 8 * S._LIVE_ARRAYS
    monkeypatch.setattr(S, "WORK_BUDGET_BYTES", 2 * half)
    monkeypatch.setattr(S, "_STORED_ARRAYS", half // (3 * (S.MAX_PIECES + 2) * 8))
    S._CONES.pop(net, None)
    split = separable_bounds(net, ball, layer, rows)
    classes, _ = S._cached_classes(net, layer, np.unique(rows))
    runs = S._class_runs(classes, 3)
    assert len(runs) > 1 and Q > 3
    run = S._cached_run(net, layer, np.unique(rows), *runs[0], S.MAX_PIECES)
    assert len(run.chunks) > 1 and all(pieces == S.MAX_PIECES for *_, pieces in run.chunks)
    for a, b in zip(split, whole):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    pts = ball.sample(np.random.default_rng(4), 100)
    for i in range(ball.n):
        Z = net.pre_activations(pts[i])[layer][:, rows]
        assert np.all(split[0][i] - 1e-12 <= Z) and np.all(split[1][i] + 1e-12 >= Z)
    monkeypatch.setattr(S, "WORK_BUDGET_BYTES", class_units * (S.INITIAL_PIECES + 2) * 8)
    S._CONES.pop(net, None)
    lo, hi = separable_bounds(net, ball, layer, rows)
    assert np.all(lo == -np.inf) and np.all(hi == np.inf)


def test_settled_rows_keep_box_bounds_that_settle_their_consumers() -> None:
    """Catches ``enough`` read the wrong way round, or a skipped row left without bounds:
    with the memorizer's settling bounds, every row either has box bounds beyond them (its
    plateau units provably off) or got the λ search (its bounds equal those without
    ``enough``); the own row is never skipped (it keeps the tight bound ≤ A); and the box
    bounds of skipped rows still enclose sampled values."""
    net, X, _, delta, layer = _grid_memorizer("memorizer-l2", N=20, d=6, seed=1)
    need_lo, need_hi = settling_bounds(net, layer)
    rows = np.arange(X.shape[0])
    assert np.all(np.isfinite(need_lo[rows])) and np.all(np.isinf(need_hi[rows]))
    ball = LpBall(X[:1], delta, 2)
    lo_s, hi_s = separable_bounds(net, ball, layer, rows, enough=(need_lo, need_hi))
    lo_f, hi_f = separable_bounds(net, ball, layer, rows)
    skipped = (lo_s[0] != lo_f[0]) | (hi_s[0] != hi_f[0])
    assert skipped.any() and not skipped[0]
    assert np.all(lo_s[0][skipped] >= need_lo[skipped])  # their plateau units are off
    assert np.all(lo_s[0] <= lo_f[0]) and np.all(hi_s[0] >= hi_f[0])  # never tighter
    Z = net.pre_activations(ball.sample(np.random.default_rng(4), 300)[0])[layer]
    assert np.all(lo_s[0] - 1e-12 <= Z) and np.all(hi_s[0] + 1e-12 >= Z)
    # nothing is settled by (+inf, -inf); everything by (-inf, +inf) (box bounds only)
    k = net.layers[layer].out_dim
    never = separable_bounds(net, ball, layer, rows, enough=(np.full(k, np.inf), -np.inf))
    for a, b in zip(never, (lo_f, hi_f)):
        np.testing.assert_array_equal(a, b)
    box = separable_bounds(net, ball, layer, rows, enough=(-np.inf, np.inf))
    assert np.all(box[0] <= lo_f) and np.all(box[1] >= hi_f)
    assert np.any(box[1][0] > hi_f[0])  # the box bound is looser than the Lagrangian


def test_enough_is_validated() -> None:
    """Catches a malformed ``enough`` silently ignored or broadcast wrongly: a wrong length,
    a single array and NaN are clear errors."""
    net, X, _, delta, layer = _grid_memorizer("memorizer-l2")
    ball = LpBall(X[:1], delta, 2)
    rows = np.arange(3)
    for bad in ((np.zeros(2), np.zeros(2)), np.zeros(3), (np.nan, 1.0)):
        with pytest.raises(InvalidInputError, match="enough"):
            separable_bounds(net, ball, layer, rows, enough=bad)


def test_coarse_lambda_grid_is_sound_and_close_to_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Catches a wrong grid dual (a λ r^p term missing or a class maximum given to the wrong
    pair) and a grid kept where it is far from the best λ: on grid data with few classes the
    coarse pass takes the λ grid, and the per-row search runs only on the rows the grid's gap
    bound flags (the own rows at least: their dual is V-shaped at λ = 1); the bounds enclose
    sampled values and are within 2 % of the per-row search's (relative to the distance's
    range) on every row."""
    net, X, _, delta, layer = _grid_memorizer("memorizer-l2", N=60, d=4, seed=2)
    ball = LpBall(X[[0, 5]], delta, 2)
    rows = np.arange(X.shape[0])
    searched = []
    search = S._choose_lambda

    def spy(forms, geo, Rp, seg, pair_row, p, bisections=S._BISECTIONS):
        searched.append(seg[1].size)
        return search(forms, geo, Rp, seg, pair_row, p, bisections)

    monkeypatch.setattr(S, "_choose_lambda", spy)
    g_lo, g_hi = separable_bounds(net, ball, layer, rows, coarse=True)
    assert 0 < sum(searched) <= rows.size  # the flagged rows only (both signs: ≤ 2 calls)
    monkeypatch.setattr(S, "COARSE_GRID_RATIO", 0)  # the per-row search everywhere
    s_lo, s_hi = separable_bounds(net, ball, layer, rows, coarse=True)
    pts = ball.sample(np.random.default_rng(5), 200)
    for i in range(ball.n):
        Z = net.pre_activations(pts[i])[layer]
        assert np.all(g_lo[i] - 1e-12 <= Z) and np.all(g_hi[i] + 1e-12 >= Z)
    scale = s_hi - s_lo
    assert np.all(np.abs(g_lo - s_lo) <= 0.02 * scale + 1e-12)
    assert np.all(np.abs(g_hi - s_hi) <= 0.02 * scale + 1e-12)
    own = (np.arange(2), np.array([0, 5]))
    assert np.all(g_hi[own] <= s_hi[own] + 1e-3 * scale[own])  # not the grid's √2 λ r²


def test_grid_gap_bounds_the_minimum_of_convex_functions() -> None:
    """Catches a gap bound that is not a bound (the heuristic would keep a grid value far
    from the minimum): for convex functions sampled on the grid — smooth, V-shaped with the
    kink between grid points, and piecewise linear — the true minimum is never below the
    grid's best value minus the gap; an edge minimum gives inf."""
    lam = S.COARSE_LAMBDAS
    rng = np.random.default_rng(0)
    fine = np.exp(np.linspace(np.log(lam[2]), np.log(lam[-3]), 20001))
    for _ in range(50):
        k = rng.uniform(np.log(lam[4]), np.log(lam[-5]))
        kink, a, b = np.exp(k), rng.uniform(0.1, 50), rng.uniform(0.01, 5)
        for f in (
            lambda x, k=k, b=b: (np.log(x) - k) ** 2 + b,
            lambda x, t=kink, a=a, b=b: np.where(x < t, a * (t - x), b * (x - t)) + 1.0,
            lambda x, t=kink, a=a, b=b: np.maximum(np.maximum(a * (t - x), b * (x - t)), b / 2),
        ):
            gap = S._grid_gap(f(lam)[None])[0]
            assert f(fine).min() >= f(lam).min() - gap - 1e-9 * (1 + abs(f(lam).min()))
    edge = S._grid_gap((lam - lam[0] + 1.0)[None])[0]
    assert np.isinf(edge)
