"""Tests of the two-group ReLU relaxation of linear bounds (``linear_bounds(two_group=True)``,
:func:`robustexp.verify._crown._hull_planes`): the planes are sound in exact arithmetic,
the bounds stay sound by sampling and are never looser than plain CROWN, and they make max
trees exact, which plain CROWN cannot (the ℓ∞ memorizer is then certified by bounds alone)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from _netfactory import random_net

from robustexp.constructions import CONSTRUCTIONS
from robustexp.constructions._norms import linf_distance, max_tree
from robustexp.verify import LpBall, linear_bounds, margin_lower_bound
from robustexp.verify._crown import _hull_planes, _lower_slope

PS = [1.0, 2.0, math.inf]


@pytest.mark.parametrize("hi", [True, False])
def test_planes_lie_above_relu_on_the_whole_box_exactly(rng: np.random.Generator, hi) -> None:
    """For random boxes and biases, ``σ(P - Q + b) <= α P - β Q + γ`` at the corners and at
    random points of the box, in exact rational arithmetic (a wrong γ, e.g. taken from three
    corners only with rounded slopes, fails here)."""
    k = 40
    PL = rng.uniform(0, 2, size=(1, k))
    PU = PL + rng.uniform(0, 2, size=(1, k)) * (rng.uniform(size=(1, k)) < 0.9)
    QL = rng.uniform(0, 2, size=(1, k))
    QU = QL + rng.uniform(0, 2, size=(1, k)) * (rng.uniform(size=(1, k)) < 0.9)
    b = rng.normal(size=k) * 1.5
    al, be, ga, _, ok = _hull_planes((PL, PU, QL, QU), b, hi)
    assert ok.all()
    pts = [(PL, QL), (PL, QU), (PU, QL), (PU, QU)]
    for _ in range(20):
        tP, tQ = rng.uniform(size=(1, k)), rng.uniform(size=(1, k))
        pts.append((PL + tP * (PU - PL), QL + tQ * (QU - QL)))
    for P, Q in pts:
        for t in range(k):
            p_, q_ = Fraction(P[0, t]), Fraction(Q[0, t])
            relu = max(p_ - q_ + Fraction(b[t]), Fraction(0))
            plane = Fraction(al[0, t]) * p_ - Fraction(be[0, t]) * q_ + Fraction(ga[0, t])
            assert relu <= plane


def test_the_hi_plane_of_a_max_node_is_exact() -> None:
    """``max(a, b) = a + σ(b - a)`` with a, b ∈ [0, r]: the ``hi`` plane is
    ``σ(b - a) <= r - a``, so the max is bounded by r (the chord gives up to 3r/2); the
    matched lower lines pick the child with the larger lower (max) / smaller upper (min)
    bound."""
    box = (np.array([[0.0]]), np.array([[0.5]]), np.array([[0.0]]), np.array([[0.5]]))
    al, be, ga, _, _ = _hull_planes(box, np.zeros(1), True)
    # φ is evaluated rounded upward, so α may be a subnormal instead of 0
    assert 0.0 <= al[0, 0] < 1e-300 and be[0, 0] == 1.0 and 0.5 <= ga[0, 0] <= 0.5 + 1e-15
    box = (np.array([[0.3]]), np.array([[0.9]]), np.array([[0.1]]), np.array([[0.8]]))
    assert _lower_slope(box, True)[0, 0] == 1.0  # P_l >= Q_l: max >= P
    assert _lower_slope(box, False)[0, 0] == 1.0  # Q_u <= P_u: min(P, Q) <= Q


@pytest.mark.parametrize("d", [2, 5, 16, 33])
def test_max_tree_upper_bound_is_exact(d: int) -> None:
    """The ℓ∞ distance to the centre over the ℓ∞ ball of radius r is at most r: two-group
    bounds give r (up to rounding) at every depth; plain CROWN over-estimates for d >= 4."""
    c = np.linspace(-0.3, 0.4, d)[None, :]
    net = linf_distance(c)
    ball = LpBall(c, 0.25, math.inf)
    up = float(linear_bounds(net, ball).upper[-1][0, 0])
    plain = float(linear_bounds(net, ball, two_group=False).upper[-1][0, 0])
    assert 0.25 <= up <= 0.25 + 1e-12
    if d >= 4:
        assert plain > 0.25 + 1e-3


@pytest.mark.parametrize("p", PS)
def test_sound_by_sampling_and_never_looser_than_plain(rng: np.random.Generator, p) -> None:
    """Random nets (also max trees with a random tail): every sampled pre-activation lies in
    the two-group bounds, which are inside plain CROWN's up to rounding."""
    nets = [random_net(rng, [4, 8, 8, 6, 1]) for _ in range(4)]
    tree = max_tree(6)
    nets.append(random_net(rng, [6, 6]).__class__((*tree.layers[:-1], tree.layers[-1])))
    for net in nets:
        d = net.in_dim
        ball = LpBall(rng.normal(size=(2, d)), float(rng.uniform(0.2, 1.0)), p)
        two = linear_bounds(net, ball)
        plain = linear_bounds(net, ball, two_group=False)
        S = ball.sample(rng, 400)
        for i in range(2):
            Z = net.pre_activations(S[i])
            for k, z in enumerate(Z):
                assert np.all(two.lower[k][i] <= z.min(axis=0) + 0.0)
                assert np.all(two.upper[k][i] >= z.max(axis=0) - 0.0)
                assert np.all(two.lower[k][i] >= plain.lower[k][i] - 1e-9)
                assert np.all(two.upper[k][i] <= plain.upper[k][i] + 1e-9)


def test_max_tree_memorizer_is_certified_by_bounds_alone() -> None:
    """The paper's ℓ∞ memorizer (a max tree per point) at d = 16: two-group CROWN proves the
    own bump is 1 on the ball (margin 1 up to rounding) at every training point; plain CROWN
    proves nothing there (docs/memorization.md: the max tree doubles interval widths)."""
    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(12, 16, seed=1)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X, inst.radius, math.inf)
    m = margin_lower_bound(net, ball, inst.y, method="crown")
    assert np.all(m > 1 - 1e-9) and np.all(m <= 1.0)
    lb = linear_bounds(net, ball, two_group=False)
    plain = np.where(inst.y > 0, lb.lower[-1][:, 0], -lb.upper[-1][:, 0])
    assert np.all(plain < 0.5)
