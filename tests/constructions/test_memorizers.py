"""Theorem 2.2 constructions (robustexp/constructions/_memorizers.py): the exact admissible
radius ranges (closed/open boundaries, tightness), the ℓ2 gadget property the proof uses,
error messages, and the explicit constants."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from robustexp import ConditionError, InvalidInputError, SeparationError
from robustexp.constructions import CONSTRUCTIONS, bump_height, sq_l2_distance
from robustexp.network import ExactNet
from robustexp.network._pwl1d import piecewise_linear_1d

BUMP_NAMES = ("memorizer-linf", "memorizer-l1", "memorizer-l2", "cube-memorizer-linf")

# Two points at exactly representable distance 3/4 on the first axis: D = 3/4 in every
# ℓp, so the memorizer boundary δ = D/3 = 1/4 and the nearest-margin boundary ε = 3/8 are
# floats and the conditions can be tested exactly at, just inside and just outside them.
PAIR_X = np.array([[0.0, 0.0], [0.75, 0.0]])
PAIR_Y = np.array([1, -1])


def _exact_margin(net, x, y) -> Fraction:
    return y * ExactNet.of(net)(list(x))[0]


# ------------------------------------------------------------------ closed boundary 2ε/3
@pytest.mark.parametrize("name", BUMP_NAMES)
def test_bump_memorizers_accept_the_closed_boundary_delta_eq_two_thirds_eps(name):
    """δ = 2ε/3 exactly (D = 3δ) is admissible: build, certificate, and the worst point on
    the segment towards the opposite point keeps y·f > 0 in exact arithmetic."""
    c = CONSTRUCTIONS[name]
    delta = 0.25
    net = c.build(PAIR_X, PAIR_Y, delta)
    cert = c.certificate(PAIR_X, PAIR_Y, delta)
    assert cert.holds, cert.conclusion
    for i, direction in ((0, 1.0), (1, -1.0)):
        x_worst = PAIR_X[i] + np.array([direction * delta, 0.0])  # on the sphere, towards j
        assert _exact_margin(net, x_worst, PAIR_Y[i]) > 0


@pytest.mark.parametrize("name", BUMP_NAMES)
def test_bump_memorizers_refuse_just_outside_the_boundary(name):
    """The next float above D/3 violates δ ≤ 2ε/3: build raises ConditionError naming the
    radius condition and the closest pair; the certificate names the failing condition."""
    c = CONSTRUCTIONS[name]
    delta = float(np.nextafter(0.25, 1.0))
    with pytest.raises(ConditionError, match=r"radius condition.*closest pair: points 0"):
        c.build(PAIR_X, PAIR_Y, delta)
    cert = c.certificate(PAIR_X, PAIR_Y, delta)
    assert not cert.holds
    assert "radius" in [f.name for f in cert.failing]
    assert "no conclusion" in cert.conclusion


def _tightness_instance(delta: float, M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x_0 = 0 (+1) and M opposite points on the faces z_1 = D or z_2 = D of the ℓ∞ cube of
    half-width D − δ around x' = (δ, δ), with D = 3/4 (module docstring of _memorizers); the
    other coordinate stays within δ of x' so that no coordinate but one is far."""
    D = 0.75
    ts = np.linspace(0.0, 2 * delta, M // 2 + 2)[1:-1]
    right = np.stack([np.full_like(ts, D), ts], axis=1)
    top = np.stack([ts, np.full_like(ts, D)], axis=1)
    Z = np.concatenate([right, top])[:M]
    X = np.concatenate([np.zeros((1, 2)), Z])
    y = np.concatenate([[1], -np.ones(len(Z), dtype=int)])
    return X, y, np.array([delta, delta])


@pytest.mark.parametrize("name", ["memorizer-linf", "cube-memorizer-linf"])
def test_two_thirds_is_tight_many_opposite_bumps_flip_the_sign(name):
    """Beyond 2ε/3 the guarantee fails on some data set: with M > 1/(3 − D/δ) opposite
    points in reach, y·f(x') < 0 at x' = (δ, δ) ∈ B∞(x_0, δ), checked exactly. At δ = D/3
    on the same kind of instance the certificate holds and y·f(x') > 0."""
    c = CONSTRUCTIONS[name]
    delta = 0.26  # 3 − D/δ ≈ 0.115, so M = 12 opposite bumps outweigh the own one
    X, y, x_adv = _tightness_instance(delta, 12)
    assert c.certificate(X, y, delta).failing[0].name == "radius"
    net = c.build(X, y, delta, check=False)
    assert _exact_margin(net, x_adv, 1) < 0
    X, y, x_adv = _tightness_instance(0.25, 12)
    assert c.certificate(X, y, 0.25).holds
    assert _exact_margin(c.build(X, y, 0.25), x_adv, 1) > 0


# ------------------------------------------------------------------ nearest margin: δ < ε
@pytest.mark.parametrize("name", ["nearest-margin-linf", "nearest-margin-l1", "nearest-margin-l2"])
def test_nearest_margin_open_boundary_delta_lt_eps(name):
    """δ < ε is open and optimal: just inside certifies with a positive margin; δ = ε is
    refused, and there the midpoint of the closest pair (in both closed balls) has f = 0."""
    c = CONSTRUCTIONS[name]
    eps = 0.375
    inside = float(np.nextafter(eps, 0.0)) if c.p != 2 else 0.37
    cert = c.certificate(PAIR_X, PAIR_Y, inside)
    assert cert.holds and cert.margin > 0
    with pytest.raises(ConditionError, match="radius condition"):
        c.build(PAIR_X, PAIR_Y, eps)
    assert not c.certificate(PAIR_X, PAIR_Y, eps).holds
    if c.p != 2:  # the ℓ1/ℓ∞ network does not depend on δ
        net = c.build(PAIR_X, PAIR_Y, 0.3)
        assert ExactNet.of(net)([0.375, 0.0])[0] == 0


def test_nearest_margin_beats_the_memorizer_between_two_thirds_and_one_eps():
    """At δ = 0.9ε the nearest-margin network is certified while the memorizer's condition
    fails (its certificate refuses)."""
    delta = 0.9 * 0.375
    assert CONSTRUCTIONS["nearest-margin-linf"].certificate(PAIR_X, PAIR_Y, delta).holds
    assert not CONSTRUCTIONS["memorizer-linf"].certificate(PAIR_X, PAIR_Y, delta).holds


# ------------------------------------------------------------------ ℓ2 gadget property
@pytest.mark.parametrize(("m", "scale"), [(1, 0.5), (2, 2.0), (3, 2.5), (4, 0.75)])
def test_yarotsky_coordinate_never_underestimates_min_square_cap(m, scale):
    """The ℓ2 proof needs, per coordinate, φ(t) ≥ min(t², scale²) for all t and
    φ(t) − t² ≤ scale²·4^-(m+1) on |t| ≤ scale; checked exactly on H1's gadget."""
    net = sq_l2_distance([[0.0]], m, scale)
    S = Fraction(scale)
    f = piecewise_linear_1d(net, -3 * S, 3 * S)
    worst_low, worst_high = Fraction(10**9), Fraction(-(10**9))
    for p_, q_, a, b in f.pieces():
        for t in (p_, q_):  # φ − t² is concave per piece: its minimum is at an end
            low = a * t + b - min(t * t, S * S)
            worst_low = min(worst_low, low)
        lo, hi = max(p_, -S), min(q_, S)
        if lo < hi:
            v = min(max(a / 2, lo), hi)
            for t in (lo, hi, v):
                worst_high = max(worst_high, a * t + b - t * t)
    assert worst_low >= 0
    assert worst_high == S * S / 4 ** (m + 1)


def test_l2_tight_scale_gives_m_independent_of_delta():
    """scale='tight' (scale = 2δ) needs only m = ⌈log₄ d⌉ for every δ; 'cover' grows with
    log(1/δ); both certify."""
    c = CONSTRUCTIONS["memorizer-l2"]
    inst = c.example(6, 5, seed=0)
    for delta in (inst.radius, inst.radius / 64):
        tight = c.size_arguments(inst.X, inst.y, delta, scale="tight")["m"]
        assert tight == math.ceil(math.log(5, 4))
        assert c.certificate(inst.X, inst.y, delta, scale="tight").holds
    cover = [c.size_arguments(inst.X, inst.y, r, scale="cover")["m"] for r in (0.1, 0.1 / 64)]
    assert cover[1] == cover[0] + 6  # δ² shrinks by 4^6


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("name", sorted(CONSTRUCTIONS))
def test_touching_classes_name_the_pair(name):
    """Identical points with opposite labels: SeparationError naming both indices."""
    c = CONSTRUCTIONS[name]
    X = np.array([[0.1, 0.2], [0.5, 0.5], [0.1, 0.2]])
    y = np.array([1, 1, -1])
    with pytest.raises(SeparationError, match=r"points 0 \(label \+1\) and 2 \(label -1\)"):
        c.build(X, y, 0.01)
    assert c.certificate(X, y, 0.01).failing[0].name == "separation"


def test_data_outside_the_unit_ball_are_refused():
    X = np.array([[0.0, 0.0], [0.9, 0.9]])  # ‖x_1‖_1 = 1.8, ‖x_1‖_2 ≈ 1.27, ‖x_1‖_∞ = 0.9
    y = np.array([1, -1])
    with pytest.raises(ConditionError, match="unit ball"):
        CONSTRUCTIONS["memorizer-l1"].build(X, y, 0.1)
    assert CONSTRUCTIONS["memorizer-linf"].certificate(X, y, 0.1).holds


def test_nearest_margin_needs_two_classes():
    with pytest.raises(InvalidInputError, match="both classes"):
        CONSTRUCTIONS["nearest-margin-linf"].build(np.array([[0.1, 0.1], [0.2, 0.2]]), [1, 1], 0.1)


def test_one_class_memorizer_is_positive_everywhere():
    """One class: no opposite bump, so f ≥ 0 and y·f(x_i) = h > 0 at every point."""
    c = CONSTRUCTIONS["memorizer-linf"]
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    net = c.build(X, [-1, -1], 0.5)
    assert np.all(net(X).ravel() < 0)
    assert c.certificate(X, [-1, -1], 0.5).holds


def test_claimed_eps_is_verified_and_used():
    """A claimed ε is checked against the data and the radius condition uses it."""
    c = CONSTRUCTIONS["memorizer-linf"]
    with pytest.raises(SeparationError, match="largest admissible"):
        c.build(PAIR_X, PAIR_Y, 0.1, eps=0.4)
    with pytest.raises(ConditionError, match="radius condition"):
        c.build(PAIR_X, PAIR_Y, 0.2, eps=0.25)  # 0.2 > 2/3·0.25
    assert c.certificate(PAIR_X, PAIR_Y, 0.15, eps=0.25).holds


# ------------------------------------------------------------------ margins, sizes, constants
def test_bump_height_is_the_certified_margin():
    c = CONSTRUCTIONS["memorizer-linf"]
    cert = c.certificate(PAIR_X, PAIR_Y, 0.1)
    assert cert.margin == float(bump_height(0.1, 0.2))
    net = c.build(PAIR_X, PAIR_Y, 0.1)
    assert _exact_margin(net, PAIR_X[0], 1) == bump_height(0.1, 0.2)


def _formula_args(c, N_, d_, delta):
    args = {"N": N_, "d": d_, "z": 0, "T": 0, "N_+": max(1, N_ // 2), "N_-": N_ - max(1, N_ // 2)}
    if getattr(c, "metric", None) is not None and c.metric.squared:
        from robustexp.constructions._memorizers import _L2

        D = Fraction(2)  # worst case: two classes at the largest distance (ε = 1)
        r = Fraction(delta)
        target = r * r if c.name.startswith("memorizer") else D * (D - 2 * r) / 2
        args["m"] = _L2.plan(d_, delta, target, "cover").m
    return args


@pytest.mark.parametrize("name", sorted(CONSTRUCTIONS))
def test_explicit_constant_bounds_the_exact_formula_on_a_grid(name):
    """parameters ≤ C · N d ln(d/δ) (hence ≤ C · stated for every polylog exponent r) on a
    grid reaching the worst corner d = 1, δ → the range's largest radius (ε = 1)."""
    c = CONSTRUCTIONS[name]
    C = c.explicit_constant
    ratio = float(C.radius_ratio) if C.radius_ratio is not None else 2 / 3
    F = c.size_formula()
    worst = 0.0
    for d_ in (1, 2, 3, 8, 64, 784):
        for delta in (ratio * (1 - 1e-9), 0.9 * ratio, 0.1, 1e-3, 1e-6):
            for N_ in (2, 5, 1000):
                P = F.evaluate_all(_formula_args(c, N_, d_, delta))["parameters"]
                worst = max(worst, P / (N_ * d_ * math.log(d_ / delta)))
    assert worst <= C.value
    assert worst >= 0.5 * C.value  # the constant is not wildly loose at its worst case


def test_constant_is_checked_against_the_catalogue_form():
    """C·stated (H7's THM22_STATED, with r = 1) dominates a built instance."""
    import sympy as sp

    c = CONSTRUCTIONS["memorizer-l2"]
    inst = c.example(5, 3, seed=2)
    net = c.build(inst.X, inst.y, inst.radius)
    bound = c.stated_bound.subs(sp.Symbol("r", positive=True), 1)
    vals = c.bound_arguments(inst.X, inst.y, inst.radius)
    from robustexp.bounds import N, d, delta

    value = bound.subs({N: vals["N"], d: vals["d"], delta: sp.Rational(vals["delta"])})
    assert net.parameters <= c.explicit_constant.value * float(value)


def test_ibp_certifies_the_cube_memorizer_but_not_the_max_tree_one():
    """The docstring's claim about interval bounds: exact on the cube memorizer's own box,
    too loose for a max tree (d = 4: the own distance is over-estimated by 4x)."""
    from robustexp.verify import LpBall, margin_lower_bound

    inst = CONSTRUCTIONS["cube-memorizer-linf"].example(8, 4, seed=1)
    ball = LpBall(inst.X, inst.radius, np.inf)
    cube = CONSTRUCTIONS["cube-memorizer-linf"].build(inst.X, inst.y, inst.radius)
    tree = CONSTRUCTIONS["memorizer-linf"].build(inst.X, inst.y, inst.radius)
    assert np.all(margin_lower_bound(cube, ball, inst.y, method="ibp") > 0.99)
    assert np.all(margin_lower_bound(tree, ball, inst.y, method="ibp") <= 0)


def test_unit_ball_membership_is_exact_at_the_boundary():
    """‖(1/2, 1/2, 1/2, 1/2)‖₂ = 1 exactly: inside; one ulp more in a coordinate: outside
    (the float sum of squares cannot tell them apart)."""
    from robustexp.constructions import rows_in_unit_ball

    on = np.full((1, 4), 0.5)
    off = on.copy()
    off[0, 0] = np.nextafter(0.5, 1.0)
    assert rows_in_unit_ball(on, 2)[0]
    assert not rows_in_unit_ball(off, 2)[0]
    assert rows_in_unit_ball(np.array([[0.25, -0.75]]), 1)[0]
    assert not rows_in_unit_ball(np.array([[0.25, -0.75]]) * np.nextafter(1.0, 2.0), 1)[0]
