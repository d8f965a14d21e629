"""Complete verification by MILP/MIQCP: soundness slack, honesty at the boundary, timeouts."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from _netfactory import random_net

import robustexp.verify._miqcp as miqcp_mod
from robustexp._errors import InvalidInputError
from robustexp.network import ReLUNet
from robustexp.verify import LayerBounds
from robustexp.verify._ibp import interval_bounds
from robustexp.verify._lp import RelaxedLP, lp_tighten
from robustexp.verify._milp import (
    HIGHS_TOLERANCES,
    MilpResult,
    Query,
    SolverOutcome,
    encode,
    milp_margin,
)
from robustexp.verify._miqcp import SCIP_MISSING, miqcp_margin, scip_available
from robustexp.verify._sets import LpBall
from robustexp.verify._witness import ball_arrays, recheck_witness

needs_scip = pytest.mark.skipif(not scip_available(), reason="pyscipopt not installed")


def abs_net(x0: float, r: float) -> ReLUNet:
    """f(x) = r - |x - x0| = r - relu(x - x0) - relu(x0 - x): true margin 0 at radius r."""
    return ReLUNet.from_layers([([[1.0], [-1.0]], [-x0, x0]), ([[-1.0, -1.0]], [r])])


def l1_net(x0: np.ndarray, r: float) -> ReLUNet:
    """f(x) = r - ||x - x0||_1 in d dimensions (2d hidden units)."""
    d = x0.size
    W = np.vstack([np.eye(d), -np.eye(d)])
    return ReLUNet.from_layers([(W, np.r_[-x0, x0]), (-np.ones((1, 2 * d)), [r])])


# ----------------------------------------------------------------- floating-point honesty
@pytest.mark.parametrize("x0, r", [(0.1, 0.2), (0.5, 0.25), (0.3, 0.1), (-1.7, 1e-3), (1e3, 0.7)])
@pytest.mark.parametrize("p", [np.inf, 1.0])
@pytest.mark.parametrize("exact_value", [False, True])
def test_margin_zero_at_the_boundary_is_never_certified(x0, r, p, exact_value) -> None:
    net = abs_net(x0, r)
    ball = LpBall([[x0]], r, p)
    res = milp_margin(net, ball, 1, exact_value=exact_value)
    assert res.status != "certified"
    assert res.lower_bound <= 0
    if res.status == "falsified":  # only when the boundary point is a float: then f = 0 exactly
        assert recheck_witness(net, ball, [1], res.witness[None, :])[0]
        assert Fraction(float(res.witness[0])) - Fraction(x0) in (Fraction(r), -Fraction(r))


@pytest.mark.parametrize("p", [np.inf, 1.0])
def test_margin_zero_in_two_dimensions_is_never_certified(p) -> None:
    x0 = np.array([0.1, 0.7])
    r = 0.3
    net = l1_net(x0, r) if p == 1.0 else ReLUNet.from_layers(abs_net(0.1, r).layers)
    if p != 1.0:  # r - |x_1 - x0_1| embedded in 2-D
        first = net.layers[0]
        net = ReLUNet.from_layers(
            [(np.c_[first.dense_W(), np.zeros(2)], first.b), (net.layers[1].W, net.layers[1].b)]
        )
    ball = LpBall(x0[None, :], r, p)
    for ev in (False, True):
        res = milp_margin(net, ball, 1, exact_value=ev)
        assert res.status != "certified" and res.lower_bound <= 0


def test_slightly_positive_margin_is_certified_and_slightly_negative_falsified() -> None:
    x0, r = 0.5, 0.25
    ball = LpBall([[x0]], r, np.inf)
    good = milp_margin(abs_net(x0, r + 1e-3), ball, 1)
    bad = milp_margin(abs_net(x0, r - 1e-3), ball, 1)
    assert good.status == "certified" and 0 < good.lower_bound <= 1e-3
    assert bad.status == "falsified" and bad.best_margin <= 0


def test_the_model_box_contains_the_exact_ball(rng: np.random.Generator) -> None:
    """The MILP's input box is rounded outward: it contains x0 ± r computed exactly."""
    from robustexp.verify._milp import _outward_box

    c = rng.normal(size=200) * 10.0 ** rng.integers(-3, 4, size=200)
    r = float(rng.uniform(1e-3, 1.0))
    lo, hi = _outward_box(c, r, np.full(200, -np.inf), np.full(200, np.inf))
    for ci, li, hi_i in zip(c, lo, hi):
        assert Fraction(li) <= Fraction(ci) - Fraction(r)
        assert Fraction(hi_i) >= Fraction(ci) + Fraction(r)


# ----------------------------------------------------------------- interpretation of outcomes
def _query(net: ReLUNet, ball: LpBall) -> Query:
    return Query.make(net, ball, 1, (1.0, math.inf), "test", "")


def _fake(state: str, beta, x, objective=None):
    def solve(enc, time_limit):
        return SolverOutcome(state, beta, x, objective, "fake", HIGHS_TOLERANCES)

    return solve


def _tiny_case():
    net = abs_net(0.0, 1.0)  # f = 1 - |x|, true min over [-0.5, 0.5] is 0.5
    ball = LpBall([[0.0]], 0.5, np.inf)
    return net, ball


# valid but loose bounds for _tiny_case, so that only the (fake) solver can decide
LOOSE = LayerBounds((np.full((1, 2), -0.5), np.full((1, 1), -10.0)),
                    (np.full((1, 2), 0.5), np.full((1, 1), 10.0)), "ibp")  # fmt: skip


def test_timeout_without_solution_is_unknown_even_with_a_high_dual_bound() -> None:
    net, ball = _tiny_case()
    res = _query(net, ball).run(_fake("timeout", 10.0, None), 1.0, LOOSE, True, False)
    assert res.status == "unknown" and "time limit" in res.detail and res.witness is None


def test_dual_bound_within_the_slack_is_not_certified() -> None:
    net, ball = _tiny_case()
    # the model's objective is min -(a1 + a2) with c0 = 1: a dual bound of -1 means min = 0
    res = _query(net, ball).run(_fake("optimal", -1.0 + 1e-12, None), 1.0, LOOSE, True, False)
    assert res.status == "unknown"
    res = _query(net, ball).run(_fake("optimal", -0.5, None), 1.0, LOOSE, True, False)
    assert res.status == "certified" and 0.49 < res.lower_bound < 0.5


def test_a_bogus_solver_point_is_never_a_witness() -> None:
    net, ball = _tiny_case()
    # the solver "claims" x = 3 (outside the set, f = -2): must not falsify
    res = _query(net, ball).run(
        _fake("timeout", None, np.array([3.0]), -3.0), 1.0, None, True, False
    )
    assert res.status == "unknown"


def test_real_timeout_gives_unknown(rng: np.random.Generator) -> None:
    net = random_net(rng, (10, 40, 40, 40, 1))
    x = rng.normal(size=(1, 10))
    y = 1 if net(x)[0, 0] > 0 else -1
    res = milp_margin(
        net, LpBall(x, 2.0, np.inf), y, time_limit=0.02, exact_value=True, tighten=False
    )
    assert res.status in ("unknown", "falsified")
    if res.status == "unknown":
        assert "time limit" in res.detail


# ----------------------------------------------------------------- LP relaxation and bounds
def test_relaxed_lp_bound_is_a_lower_bound_for_any_multipliers(rng: np.random.Generator) -> None:
    from types import SimpleNamespace

    import scipy.sparse as sp

    A = rng.normal(size=(5, 4))
    enc = SimpleNamespace(
        A=sp.csr_array(A), rl=np.full(5, -np.inf), ru=np.abs(rng.normal(size=5)) + 1,
        lb=-np.ones(4), ub=np.ones(4),
    )  # fmt: skip
    lp = RelaxedLP(enc)
    c = rng.normal(size=4)
    best = lp.minimise(c)
    # brute force: min over many feasible points is >= the bound
    P = rng.uniform(-1, 1, size=(20000, 4))
    feas = np.all(enc.ru >= P @ A.T, axis=1)
    assert best <= (P[feas] @ c).min()
    for _ in range(20):  # any lam <= 0 gives a valid bound
        lam = -np.abs(rng.normal(size=5))
        assert lp.certified_lower(c, lam, np.zeros(0)) <= (P[feas] @ c).min()


@pytest.mark.parametrize("p", [np.inf, 1.0, 2.0])
def test_lp_tightening_is_sound_and_never_looser(rng: np.random.Generator, p: float) -> None:
    net = random_net(rng, (4, 12, 12, 1))
    ball = LpBall(rng.normal(size=(1, 4)), 0.3, p)
    b = interval_bounds(net, ball)
    bl = [v[0] for v in b.lower]
    bu = [v[0] for v in b.upper]
    c, r, pp, lo, hi = ball_arrays(ball)
    tl, tu, _ = lp_tighten(net, c[0], r[0], pp, lo[0], hi[0], 1, bl, bu)
    for k in range(net.depth):
        assert np.all(tl[k] >= bl[k]) and np.all(tu[k] <= bu[k])
    Z = net.pre_activations(ball.sample(rng, 400)[0])
    for k in range(net.depth):
        assert np.all(Z[k] >= tl[k] - 1e-12) and np.all(Z[k] <= tu[k] + 1e-12)
    assert sum(np.sum(tu[k] - tl[k]) for k in range(1, 3)) < sum(
        np.sum(bu[k] - bl[k]) for k in range(1, 3)
    )


def test_encoding_slack_grows_with_the_tolerances(rng: np.random.Generator) -> None:
    from dataclasses import replace

    net = random_net(rng, (3, 6, 6, 1))
    ball = LpBall(rng.normal(size=(1, 3)), 0.5, np.inf)
    b = interval_bounds(net, ball)
    c, r, p, lo, hi = ball_arrays(ball)
    enc = encode(
        net, c[0], r[0], p, lo[0], hi[0], 1, [v[0] for v in b.lower], [v[0] for v in b.upper]
    )
    s1 = enc.slack(0.0, HIGHS_TOLERANCES)
    s2 = enc.slack(0.0, replace(HIGHS_TOLERANCES, primal=1e-6))
    s3 = enc.slack(0.0, replace(HIGHS_TOLERANCES, dual=1e-6))
    assert 0 < s1 < s2 and s1 < s3


# ----------------------------------------------------------------- validation and results
def test_milp_rejects_bad_queries(rng: np.random.Generator) -> None:
    net = random_net(rng, (2, 3, 1))
    with pytest.raises(InvalidInputError):
        milp_margin(net, LpBall(np.zeros((2, 2)), 0.1, np.inf), 1)  # a batch of two
    with pytest.raises(InvalidInputError):
        milp_margin(net, LpBall(np.zeros((1, 2)), 0.1, 2), 1)  # p = 2 needs the MIQCP
    with pytest.raises(InvalidInputError):
        milp_margin(net, LpBall(np.zeros((1, 2)), 0.1, np.inf), 0)
    with pytest.raises(InvalidInputError):
        milp_margin(random_net(rng, (2, 3, 2)), LpBall(np.zeros((1, 2)), 0.1, np.inf), 1)


def test_milp_result_refuses_inconsistent_verdicts() -> None:
    with pytest.raises(InvalidInputError):
        MilpResult("certified", 0.0, None, math.inf, 0.0, "")
    with pytest.raises(InvalidInputError):
        MilpResult("falsified", -1.0, None, math.inf, 0.0, "")
    with pytest.raises(InvalidInputError):
        MilpResult("maybe", -1.0, None, math.inf, 0.0, "")


def test_domain_clips_the_ball() -> None:
    # f = x - 0.05 on [0, 1]: the ball [-0.2, 0.2] meets the domain in [0, 0.2], min = -0.05
    net = ReLUNet.from_layers([([[1.0]], [-0.05])])
    res = milp_margin(net, LpBall([[0.0]], 0.2, np.inf, domain=(0.0, 1.0)), 1, exact_value=True)
    assert res.status == "falsified" and res.witness[0] >= 0.0
    assert abs(res.lower_bound + 0.05) < 1e-6
    res = milp_margin(net, LpBall([[0.1]], 0.2, np.inf, domain=(0.06, 1.0)), 1)
    assert res.status == "certified"


# ----------------------------------------------------------------- MIQCP (p = 2)
def test_miqcp_without_scip_says_so(monkeypatch) -> None:
    monkeypatch.setattr(miqcp_mod, "scip_available", lambda: False)
    net = ReLUNet.from_layers([([[1.0, 1.0]], [0.0])])
    res = miqcp_margin(net, LpBall([[1.0, 1.0]], 1.0, 2), 1)
    assert res.status == "unknown" and res.detail == SCIP_MISSING


@needs_scip
def test_miqcp_linear_net_exact_minimum() -> None:
    net = ReLUNet.from_layers([([[1.0, 1.0]], [0.0])])  # min over B_2((1,1), 1) is 2 - √2
    res = miqcp_margin(net, LpBall([[1.0, 1.0]], 1.0, 2), 1, exact_value=True)
    assert res.status == "certified"
    assert res.lower_bound <= 2 - math.sqrt(2) <= res.upper_bound + 1e-12
    assert res.upper_bound - res.lower_bound < 1e-5
    res = miqcp_margin(net, LpBall([[1.0, 1.0]], 1.5, 2), 1)  # min = 2 - 1.5√2 < 0
    assert res.status == "falsified"
    assert recheck_witness(net, LpBall([[1.0, 1.0]], 1.5, 2), [1], res.witness[None, :])[0]


@needs_scip
def test_miqcp_margin_zero_at_the_boundary_is_never_certified() -> None:
    for x0, r in [(0.1, 0.2), (0.5, 0.25)]:
        first = abs_net(x0, r).layers
        net = ReLUNet.from_layers(
            [(np.c_[first[0].dense_W(), np.zeros(2)], first[0].b), (first[1].W, first[1].b)]
        )
        ball = LpBall([[x0, 0.3]], r, 2)
        for ev in (False, True):
            res = miqcp_margin(net, ball, 1, exact_value=ev)
            assert res.status != "certified" and res.lower_bound <= 0


@needs_scip
def test_miqcp_timeout_gives_unknown(rng: np.random.Generator) -> None:
    net = random_net(rng, (10, 40, 40, 40, 1))
    x = rng.normal(size=(1, 10))
    y = 1 if net(x)[0, 0] > 0 else -1
    res = miqcp_margin(net, LpBall(x, 3.0, 2), y, time_limit=0.05, exact_value=True)
    assert res.status in ("unknown", "falsified")
    if res.status == "unknown":
        assert "time limit" in res.detail or "stopped" in res.detail


@needs_scip
def test_miqcp_solver_failure_gives_unknown(monkeypatch) -> None:
    """SCIP can abort inside optimize() ("error in LP solver", seen on the d = 8 grid); the
    query must then say unknown, not crash and not certify."""
    import pyscipopt

    class Failing(pyscipopt.Model):
        def optimize(self):
            raise Exception("SCIP: error in LP solver!")

    monkeypatch.setattr(pyscipopt, "Model", Failing)
    net = ReLUNet.from_layers([([[1.0, 1.0]], [0.0])])
    res = miqcp_margin(net, LpBall([[1.0, 1.0]], 1.0, 2), 1, exact_value=True)
    assert res.status == "unknown" and "SCIP failed" in res.detail


def test_cone_of_influence_drops_units_that_only_feed_dead_ones() -> None:
    """Unit h2 = σ(x) is active on [1, 2] but feeds only g = σ(h2 − 10), which is dead
    there; h1 = σ(−x + 3) feeds the output. The model leaves h2 and g out (no variables)
    and its exact optimum is still min f = min(−x + 3) = 1 at x = 2."""
    from robustexp.verify._milp import _relevant_units

    net = ReLUNet.from_layers(
        [
            ([[-1.0], [1.0]], [3.0, 0.0]),  # h1 = σ(3 − x), h2 = σ(x)
            ([[1.0, 0.0], [0.0, 1.0]], [0.0, -10.0]),  # g1 = σ(h1), g2 = σ(h2 − 10)
            ([[1.0, 5.0]], [0.0]),
        ]
    )
    ball = LpBall([[1.5]], 0.5, math.inf)
    b = interval_bounds(net, ball)
    bu = [u[0] for u in b.upper]
    rel = _relevant_units(net, bu)
    assert rel[1].tolist() == [True, False]  # g2 is dead
    assert rel[0].tolist() == [True, False]  # h2 is active but feeds only g2
    res = milp_margin(net, ball, 1, exact_value=True)
    assert res.status == "certified"
    assert abs(res.lower_bound - 1.0) < 1e-6 <= 1.0 - res.lower_bound + 1e-6


def test_cone_pruning_keeps_memorizer_queries_small_and_exact() -> None:
    """At a memorizer's training point only its own bump (and near ones) are modelled:
    the encoding has far fewer variables than the net has neurons, and the certified bound
    is the plateau value 1 up to the solver slack."""
    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(40, 4, seed=3)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, math.inf)
    # exact_value: build and solve the model even though the bounds already certify
    res = milp_margin(net, ball, int(inst.y[0]), exact_value=True)
    assert res.status == "certified" and 0.9 < res.lower_bound <= 1.0
    assert res.stats["variables"] < net.hidden_neurons / 5


def test_slack_ignores_the_weights_of_dead_units() -> None:
    """A unit dead on the set (σ(10⁶ x − 10⁹) on [0.5, 1]) read with weight 10⁶ is not in the
    model, so its 10¹² input sensitivity must not enter the tolerance slack: the certified
    bound stays ≈ min f = 0.5 (with it, the slack would be ~10⁴ and nothing certified)."""
    net = ReLUNet.from_layers(
        [([[1.0], [1e6]], [0.0, -1e9]), ([[1.0, 1e6]], [0.0])]  # f = σ(x) + 10⁶ σ(10⁶x − 10⁹)
    )
    res = milp_margin(net, LpBall([[0.75]], 0.25, math.inf), 1, exact_value=True)
    assert res.status == "certified"
    assert 0.5 - 1e-4 < res.lower_bound <= 0.5
    assert res.stats["slack"] < 1e-4


def test_default_bounds_on_the_cone_match_full_crown(monkeypatch) -> None:
    """On a large net CROWN runs on the cone of influence only: for every modelled unit the
    bounds equal full CROWN's up to rounding, and all bounds contain sampled values."""
    import robustexp.verify._milp as milp_mod
    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.verify import linear_bounds

    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(30, 3, seed=1)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, math.inf)
    full = linear_bounds(net, ball, intermediate="crown")
    monkeypatch.setattr(milp_mod, "CONE_BOUNDS_MIN_NEURONS", 10)
    cone = milp_mod.default_bounds(net, ball)
    rel = milp_mod._relevant_units(net, [u[0] for u in cone.upper])
    assert 0 < sum(int(r.sum()) for r in rel) < net.hidden_neurons // 4
    for k in range(net.depth):
        cols = np.flatnonzero(rel[k]) if k < net.depth - 1 else slice(None)
        np.testing.assert_allclose(cone.lower[k][0, cols], full.lower[k][0, cols], atol=1e-9)
        np.testing.assert_allclose(cone.upper[k][0, cols], full.upper[k][0, cols], atol=1e-9)
    S = ball.sample(np.random.default_rng(0), 300).reshape(-1, net.in_dim)
    for k, Z in enumerate(net.pre_activations(S)):
        assert np.all(cone.lower[k][0] - 1e-12 <= Z) and np.all(cone.upper[k][0] + 1e-12 >= Z)
