"""Lazy IBP (robustexp.verify._lazy_ibp): sound, as tight as plain IBP, and actually lazy.

The reference is IBP in exact rational arithmetic on the stored float weights: the lazy
kernel must enclose its interval (soundness of the rounding proof, including subnormal and
huge magnitudes) and stay within a tiny relative slack of it (it is IBP, not something
looser). Early exits are checked to occur, and a row whose negative weights come first is
checked not to exit early on a partial sum (the positives-first reordering).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from robustexp import InvalidInputError
from robustexp.constructions import CONSTRUCTIONS
from robustexp.network import Affine, ReLUNet
from robustexp.verify import LpBall, _lazy_ibp, interval_output_bounds, margin_lower_bound
from robustexp.verify._lazy_ibp import LazyStats, lazy_interval_output_bounds

pytest.importorskip("numba")


def _exact_ibp(net: ReLUNet, lo_in: list[Fraction], hi_in: list[Fraction]):
    """Interval bound propagation in exact rationals over the box [lo_in, hi_in]."""
    lo, hi = lo_in, hi_in
    for li, layer in enumerate(net.layers):
        W = layer.W.toarray() if sp.issparse(layer.W) else np.asarray(layer.W)
        b = layer.b
        nlo, nhi = [], []
        for r in range(W.shape[0]):
            a = c = Fraction(float(b[r]))
            for j in np.flatnonzero(W[r]):
                w = Fraction(float(W[r, j]))
                if w > 0:
                    a += w * lo[j]
                    c += w * hi[j]
                else:
                    a += w * hi[j]
                    c += w * lo[j]
            nlo.append(a)
            nhi.append(c)
        if li < len(net.layers) - 1:
            nlo = [max(v, Fraction(0)) for v in nlo]
            nhi = [max(v, Fraction(0)) for v in nhi]
        lo, hi = nlo, nhi
    return lo, hi


def _random_sparse_net(rng: np.random.Generator, widths: list[int], scale: float = 1.0):
    layers = []
    for k_in, k_out in itertools.pairwise(widths):
        W = rng.normal(size=(k_out, k_in)) * scale
        W[rng.random(W.shape) < 0.5] = 0.0
        b = rng.normal(size=k_out) * scale
        b[rng.random(k_out) < 0.3] = 0.0
        layers.append(Affine(sp.csr_array(W), b))
    return ReLUNet(tuple(layers))


def _box(ball: LpBall, i: int) -> tuple[list[Fraction], list[Fraction]]:
    c = [Fraction(float(v)) for v in ball.center[i]]
    r = Fraction(float(ball.radius[i]))
    lo = [v - r for v in c]
    hi = [v + r for v in c]
    if ball.domain is not None:
        lo = [max(v, Fraction(float(t))) for v, t in zip(lo, ball.domain[0])]
        hi = [min(v, Fraction(float(t))) for v, t in zip(hi, ball.domain[1])]
    return lo, hi


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("domain", [None, (-0.5, 0.6)])
def test_lazy_encloses_exact_ibp_and_is_as_tight(seed, domain):
    """p = ∞: the box is the exact first-layer input set, so exact IBP is the reference."""
    rng = np.random.default_rng(seed)
    net = _random_sparse_net(rng, [4, 7, 6, 5, 2])
    ball = LpBall(rng.normal(size=(5, 4)) * 0.5, rng.uniform(0, 0.4, size=5), np.inf, domain)
    lo, hi = lazy_interval_output_bounds(net, ball)
    for i in range(ball.n):
        elo, ehi = _exact_ibp(net, *_box(ball, i))
        for o in range(net.out_dim):
            assert Fraction(float(lo[i, o])) <= elo[o]
            assert Fraction(float(hi[i, o])) >= ehi[o]
            scale = 1 + abs(float(elo[o])) + abs(float(ehi[o]))
            assert float(elo[o]) - lo[i, o] <= 1e-12 * scale
            assert hi[i, o] - float(ehi[o]) <= 1e-12 * scale


@pytest.mark.parametrize("scale", [1e-160, 1e-300, 1e95])
def test_rounding_bound_holds_at_extreme_magnitudes(scale):
    """Subnormal products (1e-300 squared underflows) and huge ones: still an enclosure."""
    rng = np.random.default_rng(7)
    net = _random_sparse_net(rng, [3, 6, 5, 1], scale=scale)
    ball = LpBall(rng.normal(size=(4, 3)), 0.1, np.inf)
    lo, hi = lazy_interval_output_bounds(net, ball)
    for i in range(ball.n):
        elo, ehi = _exact_ibp(net, *_box(ball, i))
        assert Fraction(float(lo[i, 0])) <= elo[0]
        assert Fraction(float(hi[i, 0])) >= ehi[0]


def test_overflow_gives_infinite_bounds_never_nan():
    rng = np.random.default_rng(7)
    net = _random_sparse_net(rng, [3, 6, 5, 1], scale=1e200)
    lo, hi = lazy_interval_output_bounds(net, LpBall(rng.normal(size=(4, 3)), 0.1, np.inf))
    assert not np.isnan(lo).any() and not np.isnan(hi).any()
    assert np.isinf(hi).any() or np.isinf(lo).any()


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_lp_balls_use_the_dual_norm_and_are_sound(p):
    """ℓ1/ℓ2/ℓ3 balls: sampled outputs (boundary included) lie inside the bounds, and the
    bounds are within rounding of eager IBP's (which also uses the exact dual norm)."""
    rng = np.random.default_rng(3)
    net = _random_sparse_net(rng, [5, 12, 8, 1])
    for domain in (None, (-0.3, 0.9)):
        ball = LpBall(rng.uniform(-0.2, 0.7, size=(6, 5)), 0.3, p, domain)
        lo, hi = lazy_interval_output_bounds(net, ball)
        elo, ehi = interval_output_bounds(net, ball, kernel="eager")
        assert np.all(lo <= hi)
        np.testing.assert_allclose(lo, elo, atol=1e-9)
        np.testing.assert_allclose(hi, ehi, atol=1e-9)
        for i in range(ball.n):
            S = ball[i].sample(rng, 400).reshape(-1, ball.dim)
            f = net(S)[:, 0]
            assert np.all(f >= lo[i, 0]) and np.all(f <= hi[i, 0])


def test_negative_weights_first_do_not_cause_a_false_early_exit():
    """Row (−1, +1) on h1 ∈ [5, 15], h2 ∈ [0, 15]: after the negative term alone the partial
    upper end is −5, but the exact upper end is 10; the kernel must not stop there."""
    W1 = sp.csr_array(np.array([[0.0, 1.0], [3.0, 0.0]]))
    net = ReLUNet(
        (
            Affine(W1, np.array([5.0, 0.0])),
            Affine(sp.csr_array(np.array([[-1.0, 1.0]])), np.zeros(1)),
            Affine(sp.csr_array(np.array([[1.0]])), np.zeros(1)),
        )
    )
    ball = LpBall([[0.0, 5.0]], 5.0, np.inf)  # x1 ∈ [−5, 5], x2 ∈ [0, 10]
    lo, hi = lazy_interval_output_bounds(net, ball)
    elo, ehi = _exact_ibp(net, *_box(ball, 0))
    assert Fraction(float(hi[0, 0])) >= ehi[0] == 10
    assert Fraction(float(lo[0, 0])) <= elo[0]


def test_memorizer_far_bumps_exit_early_and_bounds_match_eager():
    c = CONSTRUCTIONS["cube-memorizer-linf"]
    inst = c.example(60, 6, seed=2)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X, inst.radius, np.inf)
    st = LazyStats()
    lo, hi = lazy_interval_output_bounds(net, ball, stats=st)
    elo, ehi = interval_output_bounds(net, ball, kernel="eager")
    assert st.points == 60 and st.early_exits > 0 and st.terms < st.eager_terms
    assert np.all(lo >= elo - 1e-9) and np.all(hi <= ehi + 1e-9)
    assert np.all(np.where(inst.y > 0, lo[:, 0], -hi[:, 0]) > 0.99)  # IBP certifies all


def test_repeated_calls_and_one_or_two_threads_agree(monkeypatch):
    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(30, 4, seed=5)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X, inst.radius, np.inf)
    a = lazy_interval_output_bounds(net, ball)
    b = lazy_interval_output_bounds(net, ball)  # memo reused: stamps must separate calls
    monkeypatch.setattr(_lazy_ibp, "_workers", lambda: 1)
    c1 = lazy_interval_output_bounds(net, ball)
    for x, y in ((a, b), (a, c1)):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])


def test_auto_kernel_rule_and_bad_kernel(monkeypatch):
    rng = np.random.default_rng(0)
    net = _random_sparse_net(rng, [3, 5, 1])
    dense = ReLUNet.from_layers([(np.ones((2, 3)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1))])
    assert not _lazy_ibp.use_lazy_ibp(net)  # below LAZY_IBP_MIN_PARAMETERS
    monkeypatch.setattr(_lazy_ibp, "LAZY_IBP_MIN_PARAMETERS", 0)
    assert _lazy_ibp.use_lazy_ibp(net) and not _lazy_ibp.use_lazy_ibp(dense)
    ball = LpBall(np.zeros((2, 3)), 0.5, np.inf)
    with pytest.raises(InvalidInputError, match="kernel"):
        interval_output_bounds(net, ball, kernel="fast")
    # margin_lower_bound goes through the auto rule: now lazy, still the same certificate
    m = margin_lower_bound(net, ball, [1, -1], method="ibp")
    lo, hi = interval_output_bounds(net, ball, kernel="eager")
    np.testing.assert_allclose(m, [lo[0, 0], -hi[1, 0]], atol=1e-12)
