"""Tests of the Lagrangian bounds on separable pre-activations (verify/_separable.py): support
labels, soundness by exact sampling, tightness where the optimum is known, agreement with the
exact rational variant, brute force in 2-D, and the memorizers' bump rows (ℓ2 and ℓ1)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from robustexp._errors import InvalidInputError
from robustexp.constructions import (
    CONSTRUCTIONS,
    l1_distance,
    sq_l2_distance,
    sq_l2_error_bound,
)
from robustexp.network import Affine, ReLUNet, affine_output, parallel
from robustexp.network._exact import ExactNet
from robustexp.verify import LpBall, interval_bounds
from robustexp.verify import _separable as S
from robustexp.verify._separable import (
    CONSTANT,
    MIXED,
    _labels,
    _separable_bounds_exact,
    separable_bounds,
    separable_rows,
)

F = Fraction
PS = [1.0, 2.0, np.inf]


# --------------------------------------------------------------------------- helpers
def _coord_net(rng: np.random.Generator, d: int, j: int, depth: int, width: int) -> ReLUNet:
    """A random net on R^d reading only x_j, with one constant unit (a zero row) per layer 0."""
    W0 = np.zeros((width, d))
    W0[:, j] = rng.normal(size=width) * 2.0
    W0[0] = 0.0  # a constant unit: support ∅
    layers = [(W0, rng.normal(size=width) * 0.5)]
    for _ in range(depth - 2):
        layers.append(
            (rng.normal(size=(width, width)) / np.sqrt(width), rng.normal(size=width) * 0.3)
        )
    layers.append((rng.normal(size=(1, width)), np.zeros(1)))
    return ReLUNet.from_layers(layers)


def _separable_net(rng: np.random.Generator, d: int, rows: int = 2, width: int = 4) -> ReLUNet:
    """``rows`` random linear combinations of per-coordinate random nets (of depths 2 to 4,
    padded by ``parallel``): every output row is separable."""
    nets = [_coord_net(rng, d, j, int(rng.integers(2, 5)), width) for j in range(d)]
    return affine_output(parallel(*nets), rng.normal(size=(rows, d)), rng.normal(size=rows))


def _exact_layer(net: ReLUNet, layer: int, X: np.ndarray) -> np.ndarray:
    """Exact pre-activations z_layer at the rows of X (Fractions, shape (m, k))."""
    ex = ExactNet.of(ReLUNet(net.layers[: layer + 1]))
    return np.array([ex(list(x)) for x in X], dtype=object)


def _assert_encloses(lo: np.ndarray, hi: np.ndarray, Z: np.ndarray) -> None:
    for k in range(Z.shape[1]):
        assert all(F(float(lo[k])) <= z for z in Z[:, k]), (k, lo[k], min(Z[:, k]))
        assert all(z <= F(float(hi[k])) for z in Z[:, k]), (k, hi[k], max(Z[:, k]))


def _memorizer(name: str, N: int, d: int, eps: float):
    from robustexp.data import separated_dataset

    c = CONSTRUCTIONS[name]
    ds = separated_dataset(N, d, eps, c.p, seed=0, measure=False)
    X, y = np.array(ds.X), np.array(ds.y)
    delta = c.radius_condition.just_inside(ds.separation(c.p).distance_sq / 4)
    net = c.build(X, y, delta)
    values = c.certificate(X, y, delta).values
    # the distance layer: N rows, each a separable Σ_j g(x_j − x_ij) (ŝ_i or ‖x − x_i‖₁)
    layer = next(i for i in range(1, net.depth) if net.layers[i].out_dim == N)
    return net, X, y, delta, values, layer


# --------------------------------------------------------------------------- supports
def test_support_labels_and_separable_rows() -> None:
    """Catches a wrong support propagation: constants counted as coordinates (a row reading a
    constant and x_0 must stay separable), a mixed unit not propagated to the rows reading it,
    and explicitly stored zero weights counted as dependencies."""
    W0 = sp.csr_array(
        (np.array([1.0, 0.0, 1.0, 1.0]), np.array([0, 1, 0, 1]), np.array([0, 2, 2, 4])),
        shape=(3, 2),
    )  # unit 0 reads x_0 (and a stored 0 for x_1), unit 1 is constant, unit 2 reads both
    net = ReLUNet.from_layers(
        [
            Affine(W0, np.array([0.0, 0.5, 0.0])),
            ([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0.0, 0.0, 0.0]),
            ([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0.0, 0.0]),
        ]
    )
    labels = _labels(net)
    assert labels[0].tolist() == [0, CONSTANT, MIXED]
    assert labels[1].tolist() == [0, CONSTANT, MIXED]
    assert separable_rows(net, 0).tolist() == [True, True, True]  # affine rows
    assert separable_rows(net, 1).tolist() == [True, True, False]
    assert separable_rows(net, 2).tolist() == [True, False]
    assert _labels(net) is labels  # cached per net


def test_non_separable_rows_and_unsupported_p_get_infinite_bounds() -> None:
    """Catches bounding a row that reads x_1 + x_2 as if it were separable (unsound), and a
    p outside {1, 2, ∞} silently treated like a supported one."""
    net = ReLUNet.from_layers(
        [([[1.0, 0.0], [1.0, 1.0]], [0.0, 0.0]), ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])]
    )
    lo, hi = separable_bounds(net, LpBall([[0.0, 0.0]], 0.5, 2), 1, np.array([1, 0, 1]))
    assert lo[0, 0] == lo[0, 2] == -np.inf and hi[0, 0] == hi[0, 2] == np.inf
    assert -1e-12 < lo[0, 1] <= 0.0 and 0.5 <= hi[0, 1] < 0.5 + 1e-12
    lo, hi = separable_bounds(net, LpBall([[0.0, 0.0]], 0.5, 3), 1, np.array([0]))
    assert lo[0, 0] == -np.inf and hi[0, 0] == np.inf


def test_argument_validation() -> None:
    """Catches silently wrong indexing: out-of-range layers and rows, non-integer rows, and a
    ball of the wrong dimension must raise."""
    net = ReLUNet.from_layers([([[1.0, 0.0]], [0.0])])
    ball = LpBall([[0.0, 0.0]], 0.5, 2)
    for bad in (
        lambda: separable_bounds(net, ball, 1, np.array([0])),
        lambda: separable_bounds(net, ball, 0, np.array([1])),
        lambda: separable_bounds(net, ball, 0, np.array([0.5])),
        lambda: separable_bounds(net, LpBall([[0.0]], 0.5, 2), 0, np.array([0])),
        lambda: separable_rows(net, -1),
    ):
        with pytest.raises(InvalidInputError):
            bad()
    lo, hi = separable_bounds(net, ball, 0, np.array([], dtype=int))
    assert lo.shape == hi.shape == (1, 0)


# --------------------------------------------------------------------------- soundness
@pytest.mark.parametrize(("p", "with_domain"), list(itertools.product(PS, (False, True))))
def test_sound_on_sampled_points_of_random_separable_nets(p: float, with_domain: bool) -> None:
    """Catches any unsound step (forms, ReLU relaxation, rounding, the Lagrangian sum, the
    domain clipping): exactly evaluated sampled points (boundary and vertices included) of
    the ball never leave the bounds, for the output rows and for a hidden separable layer
    followed by a mixing layer (itself correctly reported as not separable)."""
    rng = np.random.default_rng(int(10 * (p if np.isfinite(p) else 9)) + with_domain)
    d = 3
    sep = _separable_net(rng, d, rows=2)
    net = ReLUNet((*sep.layers, Affine(rng.normal(size=(2, 2)), np.zeros(2))))
    layer = sep.depth - 1
    assert separable_rows(net, layer).all() and not separable_rows(net, layer + 1).any()
    centers = rng.uniform(-0.6, 0.6, size=(3, d))
    domain = (-0.5, 0.7) if with_domain else None
    ball = LpBall(centers, rng.uniform(0.2, 0.6, size=3), p, domain=domain)
    lo, hi = separable_bounds(net, ball, layer, np.arange(2))
    llo, lhi = separable_bounds(net, ball, layer + 1, np.arange(2))
    assert np.all(np.isinf(llo)) and np.all(np.isinf(lhi))
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    pts = ball.sample(np.random.default_rng(1), 120)
    for i in range(ball.n):
        _assert_encloses(lo[i], hi[i], _exact_layer(net, layer, pts[i]))


def test_empty_sets_constants_and_affine_rows() -> None:
    """Catches: a set that misses the domain bounded as if it were not empty (any finite
    answer would be vacuous but the box is inverted: ±inf is required), rows that read only
    constants not evaluated exactly, and layer-0 rows not matching the exact dual-norm
    concretisation."""
    net = ReLUNet.from_layers(
        [
            ([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], [0.7, -0.1, 0.0]),
            ([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]], [0.5, -1.0, 0.0]),
        ]
    )
    for p in PS:
        ball = LpBall([[0.2, 0.3], [3.0, 3.0]], 0.4, p, domain=(0.0, 1.0))
        lo, hi = separable_bounds(net, ball, 1, np.array([0, 1, 2]))
        assert np.all(np.isinf(lo[1])) and np.all(np.isinf(hi[1]))  # empty set
        assert 1.9 - 1e-14 < lo[0, 0] <= 1.9 <= hi[0, 0] < 1.9 + 1e-14  # 2σ(0.7) + 0.5
        assert lo[0, 1] <= -1.0 <= hi[0, 1] and hi[0, 1] - lo[0, 1] < 1e-14
        assert lo[0, 2] <= 0.7 and hi[0, 2] >= F(0.7) + F(0.5)  # x_0 ∈ [0, 0.6]
        lo0, hi0 = separable_bounds(net, ball[0], 0, np.arange(3))
        ib = interval_bounds(net, ball[0])
        np.testing.assert_allclose(lo0[0], ib.lower[0][0], atol=1e-12)
        np.testing.assert_allclose(hi0[0], ib.upper[0][0], atol=1e-12)


# --------------------------------------------------------------------------- tightness
@pytest.mark.parametrize("p", PS)
def test_sum_of_absolute_values_is_tight(p: float) -> None:
    """Catches a loose dual (a box bound d·r over the ℓ1 ball, or a poor λ): for
    ``Σ_j |x_j − c_j|`` the maximum over the ball is r (ℓ1), r√d (ℓ2) or d·r (ℓ∞), and the
    upper bound must be at least the exact value (rounded upward: checked in Fractions)
    and within 1e-12 of it; the minimum 0 (at the centre) likewise."""
    rng = np.random.default_rng(3)
    d, r = 16, 0.1
    c = rng.uniform(-0.5, 0.5, size=d)
    net = l1_distance(c)
    lo, hi = separable_bounds(net, LpBall(c, r, p), 1, np.array([0]))
    exact = F(r) * {1.0: 1, 2.0: 4, np.inf: d}[p]  # √d = 4
    assert F(float(hi[0, 0])) >= exact and hi[0, 0] <= float(exact) + 1e-12
    assert -1e-12 < lo[0, 0] <= 0.0


def test_square_sum_gadget_over_l2_ball_beats_box_bounds() -> None:
    """Catches a box-valid bound for a sum of coordinate squares (what IBP/CROWN give, ≈ d r²):
    over ‖x − c‖₂ ≤ r the Yarotsky ŝ is at most r² + d·scale²·4^-(m+1) (its proven one-sided
    error), and the bound must be below that plus rounding while IBP is above d r²/2."""
    rng = np.random.default_rng(4)
    d, r, m, scale = 16, 0.3, 4, 1.0
    c = rng.uniform(-0.3, 0.3, size=d)
    net = sq_l2_distance(c[None, :], m, scale)
    ball = LpBall(c, r, 2)
    lo, hi = separable_bounds(net, ball, net.depth - 1, np.array([0]))
    bound = F(r) ** 2 + sq_l2_error_bound(d, m, scale)
    assert hi[0, 0] <= float(bound) + 1e-12
    assert -1e-12 < lo[0, 0] <= 0.0
    ibp_hi = interval_bounds(net, ball).upper[-1][0, 0]
    assert ibp_hi > d * r * r / 2 > 6 * hi[0, 0]
    pts = ball.sample(np.random.default_rng(0), 200)[0]
    _assert_encloses(lo[0], hi[0], _exact_layer(net, net.depth - 1, pts))


@pytest.mark.parametrize("p", PS)
def test_fast_bound_matches_the_exact_rational_lagrangian(p: float) -> None:
    """Catches a refinement that stops with large remainders, or a λ search that misses the
    minimum: the float-forms bound must agree with the same dual computed from the exact
    rational pieces (piecewise_linear_1d, Fractions), and both must enclose sampled values."""
    rng = np.random.default_rng(5)
    net = _separable_net(rng, 3, rows=2)
    layer = net.depth - 1
    ball = LpBall(rng.uniform(-0.5, 0.5, size=(2, 3)), 0.45, p, domain=(-0.6, 0.8))
    lo, hi = separable_bounds(net, ball, layer, np.arange(2))
    elo, ehi = _separable_bounds_exact(net, ball, layer, np.arange(2))
    tol = 1e-7 * (1 + np.abs(ehi) + np.abs(elo))
    assert np.all(np.abs(hi - ehi) <= tol) and np.all(np.abs(lo - elo) <= tol)
    pts = ball.sample(np.random.default_rng(2), 60)
    for i in range(ball.n):
        Z = _exact_layer(net, layer, pts[i])
        _assert_encloses(lo[i], hi[i], Z)
        _assert_encloses(elo[i], ehi[i], Z)


def test_float_enclosures_never_undercut_the_exact_dual(monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches a missing rounding term or an unsound relaxation in the float forms, which
    sampling cannot see: at the same fixed λ (and λ = 0, the other candidate) the float bound
    must be ≥ the dual computed exactly in Fractions from the rational pieces (equivalently,
    ≥ its upward rounding), on random nets whose weights span several orders of magnitude."""
    lam_box = [0.0]
    monkeypatch.setattr(
        S,
        "_choose_lambda",
        lambda f, g, Rp, seg, pr, p, bisections=0: np.full((seg[1].size, Rp.size), lam_box[0]),
    )
    for seed in range(24):
        rng = np.random.default_rng(100 + seed)
        d = int(rng.integers(1, 4))
        scale = 10.0 ** int(rng.integers(-3, 4))
        net = _separable_net(rng, d, rows=2, width=int(rng.integers(2, 5)))
        first = net.layers[0]
        rest = [Affine(lay.W * 10.0 ** int(rng.integers(-2, 3)), lay.b) for lay in net.layers[1:]]
        net = ReLUNet((Affine(first.W * scale, first.b * rng.uniform(0.5, 3)), *rest))
        p = PS[seed % 3]
        domain = None if seed % 2 else (-0.3 / scale, 0.5 / scale)
        centers = rng.uniform(-0.5, 0.5, size=(2, d)) / scale
        ball = LpBall(centers, rng.uniform(0, 0.6, size=2) / scale, p, domain=domain)
        lam_box[0] = float(rng.exponential(1.0)) * (scale if p == 1.0 else scale**2)
        layer = net.depth - 1
        lo, hi = separable_bounds(net, ball, layer, np.arange(2))
        exact = []
        for lam in (lam_box[0], 0.0):
            monkeypatch.setattr(S, "_exact_lambda", lambda *a, lam=lam: F(lam))
            exact.append(_separable_bounds_exact(net, ball, layer, np.arange(2)))
        if np.isinf(p):
            elo, ehi = exact[1]
        else:
            elo = np.maximum(exact[0][0], exact[1][0])
            ehi = np.minimum(exact[0][1], exact[1][1])
        assert np.all(hi >= ehi) and np.all(lo <= elo), (seed, hi, ehi, lo, elo)
        assert np.all(np.isfinite(hi)) and np.all(np.isfinite(lo))


def test_chunking_over_rows_and_points_gives_the_same_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Catches index mix-ups when the work is split: with a tiny memory budget (one row per
    chunk, one point per chunk, fewer pieces) every bound is sound and as tight as before."""
    net, X, _, delta, _, layer = _memorizer("memorizer-l2", 6, 4, 0.2)
    ball = LpBall(X, delta, 2)
    rows = np.array([5, 0, 3, 3, 1])
    lo, hi = separable_bounds(net, ball, layer, rows)
    monkeypatch.setattr(S, "WORK_BUDGET_BYTES", 2**19)
    lo2, hi2 = separable_bounds(net, ball, layer, rows)
    np.testing.assert_allclose(lo2, lo, rtol=0, atol=1e-9)
    np.testing.assert_allclose(hi2, hi, rtol=0, atol=1e-9)
    assert np.all(lo[:, 2] == lo[:, 3])  # a repeated row gets the same bounds
    Z = net.pre_activations(ball.sample(np.random.default_rng(0), 50)[2])[layer][:, rows]
    assert np.all(lo[2] - 1e-12 <= Z) and np.all(hi[2] + 1e-12 >= Z)


@pytest.mark.parametrize("p", PS)
def test_brute_force_grid_in_two_dimensions(p: float) -> None:
    """Catches invalid or very loose bounds on a tiny case checked by exhaustion: a 2-D square
    gadget plus |x_1 − 0.1| / 2 (one separable row) against a dense grid of the ball. The bounds
    enclose every grid value; the gap to the grid's range is at most the grid's resolution
    effect plus the gadget's error for the upper end (the Lagrangian is tight here)."""
    c = np.array([0.1, -0.2])
    sq = sq_l2_distance(c[None, :], 3, 1.0)
    ab = ReLUNet.from_layers([([[1.0, 0.0], [-1.0, 0.0]], [-0.1, 0.1]), ([[1.0, 1.0]], [0.0])])
    net = affine_output(parallel(sq, ab), [[1.0, 0.5]])  # ŝ(x) + |x_1 − 0.1| / 2
    ball = LpBall(c, 0.4, p)
    lo, hi = separable_bounds(net, ball, net.depth - 1, np.array([0]))
    g = np.linspace(-0.4, 0.4, 161)
    G = c + np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    inside = _inside(G, c, 0.4, p)
    vals = net(G[inside])[:, 0]
    assert lo[0, 0] <= vals.min() + 1e-12 and vals.max() <= hi[0, 0] + 1e-12
    slack = 0.02 + 2 * float(sq_l2_error_bound(2, 3, 1.0))
    assert hi[0, 0] - vals.max() < slack and vals.min() - lo[0, 0] < slack


def _inside(G: np.ndarray, c: np.ndarray, r: float, p: float) -> np.ndarray:
    return np.linalg.norm(G - c, ord=p, axis=1) <= r


# --------------------------------------------------------------------------- memorizers
def test_l2_memorizer_own_bump_is_certified() -> None:
    """Catches the failure this module exists for: over the own ℓ2 ball (δ = 2ε/3) the bound
    of the own ŝ_i must be below the support threshold B (in fact ≈ A = δ² + e, the proof's
    own bound), where IBP gives ≈ d δ²; every opposite ŝ_j must be proven ≥ B. Cross-checked
    by sampling the ball."""
    net, X, y, delta, values, layer = _memorizer("memorizer-l2", 10, 8, 0.2)
    A, B = values["A"], values["B"]
    ball = LpBall(X, delta, 2)
    lo, hi = separable_bounds(net, ball, layer, np.arange(X.shape[0]))
    own = hi[np.arange(len(y)), np.arange(len(y))]
    assert np.all(own < B) and np.all(own <= A + 1e-9)
    opposite = y[:, None] != y[None, :]
    assert np.all(lo[opposite] >= B)
    assert interval_bounds(net, ball[0]).upper[layer][0, 0] > B
    pts = ball.sample(np.random.default_rng(0), 200)
    for i in (0, 1):
        Z = net.pre_activations(pts[i])[layer]
        assert np.all(hi[i] + 1e-12 >= Z) and np.all(lo[i] - 1e-12 <= Z)


def test_l1_memorizer_distance_units() -> None:
    """Catches the ℓ1 analogue: ‖x − x_i‖₁ over the own ℓ1 ball is at most δ (= A, exact
    gadget), where a box bound gives d·δ; opposite distances get the exact minimum
    ‖x_i − x_j‖₁ − δ ≥ B = 2δ (up to rounding)."""
    net, X, y, delta, values, layer = _memorizer("memorizer-l1", 10, 16, 0.3)
    A, B = values["A"], values["B"]
    ball = LpBall(X, delta, 1)
    lo, hi = separable_bounds(net, ball, layer, np.arange(X.shape[0]))
    own = hi[np.arange(len(y)), np.arange(len(y))]
    assert np.all(own >= delta) and np.all(own <= A + 1e-12)
    # the exact minimum D − δ over the closest pair is B = 2δ up to the float choice of δ
    # (δ is the largest float with D ≥ 3δ), so the bound may sit rounding errors below it
    opposite = y[:, None] != y[None, :]
    assert np.all(lo[opposite] >= B - 1e-12)
    dist = np.abs(X[:, None, :] - X[None, :, :]).sum(-1)
    np.testing.assert_allclose(lo[opposite], dist[opposite] - delta, atol=1e-12)  # exact
    pts = ball.sample(np.random.default_rng(0), 200)
    Z = net.pre_activations(pts[0])[layer]
    assert np.all(hi[0] + 1e-12 >= Z) and np.all(lo[0] - 1e-12 <= Z)


# --------------------------------------------------------------------------- coarse, caches
@pytest.mark.parametrize("p", [1.0, 2.0])
def test_coarse_pass_is_sound_and_proves_far_distance_rows(p: float) -> None:
    """The coarse pass (few pieces, few λ steps) must stay sound: exactly evaluated sampled
    points never leave its bounds. On a memorizer's distance rows it must still prove the
    far centres far (its lower bound within 10 % of the full pass's), which is what makes
    the two-pass default bounds cheap."""
    rng = np.random.default_rng(7 + int(p))
    sep = _separable_net(rng, 3, rows=3)
    ball = LpBall(rng.uniform(-0.5, 0.5, size=(2, 3)), 0.4, p)
    lo, hi = separable_bounds(sep, ball, sep.depth - 1, np.arange(3), coarse=True)
    pts = ball.sample(np.random.default_rng(1), 120)
    for i in range(ball.n):
        _assert_encloses(lo[i], hi[i], _exact_layer(sep, sep.depth - 1, pts[i]))
    name = "memorizer-l1" if p == 1.0 else "memorizer-l2"
    net, X, _, delta, _, layer = _memorizer(name, 12, 6, 0.15)
    mball = LpBall(X[:1], delta, p)
    rows = np.arange(12)
    c_lo, c_hi = separable_bounds(net, mball, layer, rows, coarse=True)
    f_lo, _ = separable_bounds(net, mball, layer, rows)
    Z = net.pre_activations(mball.sample(np.random.default_rng(2), 200)[0])[layer]
    assert np.all(c_lo[0] - 1e-12 <= Z) and np.all(c_hi[0] + 1e-12 >= Z)
    far = f_lo[0] > 0
    assert far.sum() >= 10
    assert np.all(c_lo[0][far] >= 0.9 * f_lo[0][far]), (c_lo[0][far], f_lo[0][far])


def test_cone_cache_reuses_cones_and_restarts_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cones are ball-independent and cached per net and rows: a second query reuses the
    same object; a cache over its unit cap restarts, and the bounds never change."""
    net, X, _, delta, _, layer = _memorizer("memorizer-l2", 6, 4, 0.2)
    rows = np.arange(6)
    b1 = separable_bounds(net, LpBall(X[:1], delta, 2), layer, rows)
    cache = S._CONES[net]
    (key,) = [k for k in cache.cones if k[0] == layer and "run" in k]
    cone = cache.cones[key]
    b2 = separable_bounds(net, LpBall(X[1:2], delta, 2), layer, rows)
    assert cache.cones[key] is cone
    monkeypatch.setattr(S, "CONE_CACHE_UNITS", 1)
    S._CONES[net].cones.clear()
    S._CONES[net].units = 0
    b2_again = separable_bounds(net, LpBall(X[1:2], delta, 2), layer, rows)
    b1_again = separable_bounds(net, LpBall(X[:1], delta, 2), layer, rows)
    assert len(S._CONES[net].cones) == 1  # each new cone restarted the full cache
    for new, old in ((b1_again, b1), (b2_again, b2)):
        np.testing.assert_array_equal(new[0], old[0])
        np.testing.assert_array_equal(new[1], old[1])
