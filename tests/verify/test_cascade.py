"""robust_accuracy: verdicts on nets with known answers, the method order, budgets, determinism."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

import robustexp.verify as V
from robustexp import InvalidInputError, ResourceLimitError
from robustexp.network import ReLUNet
from robustexp.verify._cascade import BallSpec, robust_accuracy
from robustexp.verify._report import Verdict
from robustexp.verify._witness import exact_outputs

# f(x) = 0.5 - |x| on R: with y = +1 the margin over [x - r, x + r] is 0.5 - max|x'|.
ABS_NET = ReLUNet.from_layers([([[1.0], [-1.0]], [0.0, 0.0]), ([[-1.0, -1.0]], [0.5])])

# f(x) = relu(x) - relu(x) + 0.1 = 0.1 everywhere. IBP and CROWN both lose the cancellation
# (each ReLU is bounded separately), so at r = 0.2 only the complete method certifies.
CANCEL_NET = ReLUNet.from_layers([([[1.0], [1.0]], [0.0, 0.0]), ([[1.0, -1.0]], [0.1])])

FAST_PGD = {"steps": 30, "restarts": 3}


def in_linf_ball_exactly(w, c, r) -> bool:
    return max(abs(Fraction(a) - Fraction(b)) for a, b in zip(w, c)) <= Fraction(r)


def test_known_answers_certified_and_falsified_with_witness_in_the_set():
    X = np.array([[0.0], [0.4], [-0.1], [0.7]])
    y = np.array([1, 1, 1, -1])
    r = 0.25
    rep = robust_accuracy(ABS_NET, X, y, BallSpec(r, np.inf), attack_kwargs=FAST_PGD)
    # x=0: min margin 0.25 > 0 (certified). x=0.4: |x'| reaches 0.65 > 0.5 (falsified).
    # x=-0.1: min margin 0.5 - 0.35 = 0.15 (certified). x=0.7, y=-1: y f = |x'| - 0.5 and
    # |x'| >= 0.45 on the ball, so x'=0.45 is a counterexample (falsified).
    assert rep.verdicts == ["certified", "falsified", "certified", "falsified"]
    assert rep.exact and rep.certified_accuracy == rep.attacked_accuracy == 0.5
    for i in (0, 2):
        res = rep.results[i]
        true_min = 0.5 - (abs(X[i, 0]) + r)
        assert 0 < res.lower_bound <= true_min + 1e-15
        assert res.witness is None and res.method in ("ibp", "crown")
    for i in (1, 3):
        res = rep.results[i]
        assert res.witness is not None and res.method in ("pgd", "milp")
        assert in_linf_ball_exactly(res.witness, X[i], r)
        assert y[i] * exact_outputs(ABS_NET, [res.witness])[0][0] <= 0
        assert res.lower_bound <= res.attack_margin <= 0
    assert rep.certified + rep.falsified + rep.unknown == rep.n == 4
    assert sum(sum(v.values()) for v in rep.method_counts().values()) == 4


def test_misclassified_centre_is_falsified_by_the_clean_check():
    rep = robust_accuracy(ABS_NET, [[2.0]], [1], BallSpec(0.1, np.inf), methods=())
    res = rep.results[0]
    assert res.verdict is Verdict.FALSIFIED and res.method == "clean"
    assert res.witness == (2.0,) and res.clean_margin == -1.5


def test_only_the_complete_method_certifies_the_cancelling_net():
    X, y, spec = [[0.0]], [1], BallSpec(0.2, np.inf)
    partial = robust_accuracy(CANCEL_NET, X, y, spec, methods=("ibp", "crown", "pgd"))
    assert partial.verdicts == ["unknown"] and not partial.exact
    assert partial.results[0].lower_bound <= 0 < partial.results[0].attack_margin
    full = robust_accuracy(CANCEL_NET, X, y, spec, attack_kwargs=FAST_PGD, milp_time_limit=20)
    res = full.results[0]
    assert full.verdicts == ["certified"] and res.method == "milp"
    assert 0 < res.lower_bound <= 0.1 + 1e-12
    assert full.exact


@pytest.mark.parametrize("p,method", [(1.0, "milp"), (2.0, "miqcp")])
def test_complete_method_for_l1_and_l2(p, method):
    if p == 2.0:
        pytest.importorskip("pyscipopt")
    rep = robust_accuracy(
        CANCEL_NET, [[0.0]], [1], BallSpec(0.2, p), attack_kwargs=FAST_PGD, milp_time_limit=20
    )
    assert rep.verdicts == ["certified"] and rep.results[0].method == method
    assert 0 < rep.results[0].lower_bound <= 0.1 + 1e-12


def test_no_complete_method_for_other_p_leaves_unknown_with_reason():
    rep = robust_accuracy(CANCEL_NET, [[0.0]], [1], BallSpec(0.2, 3.0), attack_kwargs=FAST_PGD)
    assert rep.verdicts == ["unknown"]
    assert rep.results[0].detail == "no complete method for p = 3"
    assert any("no complete method" in s for s in rep.notes)


def test_method_subset_skips_the_rest():
    X = np.array([[0.0], [0.4]])
    # IBP alone bounds 0.5 - relu(x) - relu(-x) by 0 at x = 0 (it loses the correlation).
    rep = robust_accuracy(ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), methods=("ibp",))
    assert rep.verdicts == ["unknown", "unknown"]
    assert rep.results[0].lower_bound == pytest.approx(0.0, abs=1e-12)
    assert rep.results[1].attack_margin == pytest.approx(0.1)  # only the centre was evaluated
    rep = robust_accuracy(ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), methods=("crown",))
    assert rep.verdicts == ["certified", "unknown"]
    assert [r.method for r in rep.results] == ["crown", None]
    assert rep.methods == ("crown",)
    rep = robust_accuracy(ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), methods=("pgd",))
    assert rep.verdicts == ["unknown", "falsified"]
    assert rep.results[0].lower_bound == -math.inf


def test_domain_is_respected():
    """f(x) = x - 0.05 at x = 0.1, r = 0.1: x' = 0 is a counterexample unless the domain
    [0.08, 1] excludes it; then the minimum is 0.03 > 0."""
    net = ReLUNet.from_layers([([[1.0]], [-0.05])])
    free = robust_accuracy(net, [[0.1]], [1], BallSpec(0.1, np.inf), attack_kwargs=FAST_PGD)
    assert free.verdicts == ["falsified"]
    boxed = robust_accuracy(net, [[0.1]], [1], BallSpec(0.1, np.inf, domain=(0.08, 1.0)))
    assert boxed.verdicts == ["certified"]
    assert boxed.results[0].lower_bound <= 0.03 + 1e-15


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_other_norms(p):
    """On R^2 with f(x) = 0.5 - |x_1|, the lp balls all reach |x_1| = |c_1| + r."""
    net = ReLUNet.from_layers([([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0]), ([[-1.0, -1.0]], [0.5])])
    X = np.array([[0.0, 3.0], [0.4, -1.0]])
    rep = robust_accuracy(
        net, X, [1, 1], BallSpec(0.25, p), methods=("ibp", "crown", "pgd"), attack_kwargs=FAST_PGD
    )
    assert rep.verdicts == ["certified", "falsified"]
    w = np.array(rep.results[1].witness)
    assert np.sum(np.abs(w - X[1]) ** p) ** (1 / p) <= 0.25 + 1e-12


def test_deterministic_under_the_seed():
    rng = np.random.default_rng(3)
    net = ReLUNet.from_layers(
        [(rng.normal(size=(8, 4)), rng.normal(size=8)), (rng.normal(size=(1, 8)), [0.1])]
    )
    X = rng.normal(size=(12, 4))
    y = np.where(net(X)[:, 0] >= 0, 1, -1)
    spec = BallSpec(0.3, np.inf)

    def run():
        d = robust_accuracy(net, X, y, spec, attack_kwargs=FAST_PGD, seed=5).to_dict()
        for pt in d["points"]:
            pt.pop("time")
        d.pop("total_time")
        return d

    assert run() == run()


def test_time_budget_leaves_points_unknown_with_a_reason():
    X = np.array([[0.0], [0.4]])
    rep = robust_accuracy(ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), time_budget=1e-9)
    assert rep.verdicts == ["unknown", "unknown"]
    assert all(r.detail == "time budget exhausted" for r in rep.results)
    assert any("time budget" in s for s in rep.notes)


def test_crown_refusal_is_skipped_and_recorded(monkeypatch):
    real = V.margin_lower_bound

    def refusing(net, ball, y, *, method="ibp"):
        if method == "crown":
            raise ResourceLimitError("CROWN would need 99 GiB")
        return real(net, ball, y, method=method)

    monkeypatch.setattr(V, "margin_lower_bound", refusing)
    rep = robust_accuracy(
        CANCEL_NET, [[0.0]], [1], BallSpec(0.2, np.inf), methods=("ibp", "crown", "pgd")
    )
    assert rep.verdicts == ["unknown"]
    assert any("crown skipped" in s and "99 GiB" in s for s in rep.notes)


def test_sparse_net_runs_through_the_cascade():
    net = ReLUNet.from_layers(
        [
            (sp.csr_array(np.array([[1.0], [-1.0]])), [0.0, 0.0]),
            (sp.csr_array(np.array([[-1.0, -1.0]])), [0.5]),
        ]
    )
    rep = robust_accuracy(
        net, [[0.0], [0.4]], [1, 1], BallSpec(0.25, np.inf), attack_kwargs=FAST_PGD
    )
    assert rep.verdicts == ["certified", "falsified"] and rep.net["sparse"] is True


def test_verdicts_are_consistent_with_sampling_on_random_nets():
    """No certified point has a sampled counterexample; every lower bound is below every
    sampled margin, and every witness is inside its ball."""
    rng = np.random.default_rng(9)
    for trial in range(3):
        net = ReLUNet.from_layers(
            [
                (rng.normal(size=(6, 2)), rng.normal(size=6)),
                (rng.normal(size=(5, 6)), rng.normal(size=5)),
                (rng.normal(size=(1, 5)), rng.normal(size=1)),
            ]
        )
        X = rng.uniform(-1, 1, size=(6, 2))
        y = np.where(rng.random(6) < 0.5, 1, -1)
        spec = BallSpec(0.15, np.inf)
        rep = robust_accuracy(net, X, y, spec, attack_kwargs=FAST_PGD, seed=trial)
        samples = X[:, None, :] + rng.uniform(-0.15, 0.15, size=(6, 400, 2))
        for i, res in enumerate(rep.results):
            m = y[i] * net(samples[i])[:, 0]
            assert res.lower_bound <= m.min() + 1e-12
            if res.verdict is Verdict.CERTIFIED:
                assert m.min() > 0
            if res.witness is not None:
                assert in_linf_ball_exactly(res.witness, X[i], 0.15)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"X": [[0.0, 1.0]]}, "must have 1 columns"),
        ({"y": [0]}, r"\{-1, \+1\}"),
        ({"X": [[np.nan]]}, "NaN"),
        ({"X": np.zeros((0, 1)), "y": []}, "empty"),
        ({"methods": ("ibp", "magic")}, "unknown method"),
        ({"net": ReLUNet.from_layers([([[1.0], [2.0]], [0.0, 0.0])])}, "single-output"),
        ({"ball_spec": (0.1, 2)}, "BallSpec"),
        ({"time_budget": -1}, "time_budget"),
        ({"attack_kwargs": {"seed": 3}}, "attack_kwargs"),
        ({"X": [[2.0]], "ball_spec": BallSpec(0.3, np.inf, domain=(-1, 0.45))}, "set 0 is empty"),
    ],
)
def test_input_validation(kwargs, match):
    args = {"net": ABS_NET, "X": [[0.0]], "y": [1], "ball_spec": BallSpec(0.1, np.inf)}
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        robust_accuracy(**args)


def test_progress_bar_silent_when_not_a_tty_and_shown_when_forced(capsys):
    X = np.array([[0.0], [0.4]])
    robust_accuracy(ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), attack_kwargs=FAST_PGD)
    assert capsys.readouterr().err == ""  # pytest's stderr is not a TTY: auto means silent
    robust_accuracy(
        ABS_NET, X, [1, 1], BallSpec(0.25, np.inf), attack_kwargs=FAST_PGD, progress=True
    )
    assert "robust_accuracy" in capsys.readouterr().err


def test_crown_stage_bounds_large_nets_point_by_point_on_the_cone():
    """On a net of more than CONE_BOUNDS_MIN_NEURONS hidden units the CROWN stage bounds each
    point on its cone of influence (the complete stage's default bounds), not with CROWN on
    the whole net: the ℓ1 memorizer in d = 32 is certified at every point by "crown" alone,
    which whole-net box-based CROWN cannot do (its own ℓ1 distance bound is d·δ)."""
    from robustexp._tolerances import CONE_BOUNDS_MIN_NEURONS
    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS["memorizer-l1"]
    inst = c.example(40, 32, seed=1)
    net = c.build(inst.X, inst.y, inst.radius)
    assert net.hidden_neurons > CONE_BOUNDS_MIN_NEURONS
    rep = robust_accuracy(net, inst.X, inst.y, BallSpec(inst.radius, 1), methods=("crown",))
    assert all(r.verdict == Verdict.CERTIFIED and r.method == "crown" for r in rep.results)
    whole = V.margin_lower_bound(net, V.LpBall(inst.X[:2], inst.radius, 1.0), inst.y[:2])
    assert np.all(whole < 0.5)


def test_crown_stage_credits_merge_intervals_on_large_nearest_margin_nets():
    """On a large nearest-margin ℓ∞ net the CROWN stage first runs the batched merge-aware
    interval bounds, which certify every point at 0.9 ε; each is credited to ``merge``
    (not to CROWN, which did not run for it), and the network's own margins agree."""
    from robustexp._tolerances import CONE_BOUNDS_MIN_NEURONS
    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separation

    c = CONSTRUCTIONS["nearest-margin-linf"]
    inst = c.example(40, 16, seed=2)
    delta = 0.9 * float(separation(inst.X, inst.y, math.inf).eps_max)
    net = c.build(inst.X, inst.y, delta)
    assert net.hidden_neurons > CONE_BOUNDS_MIN_NEURONS
    rep = robust_accuracy(net, inst.X, inst.y, BallSpec(delta, math.inf), methods=("crown",))
    assert all(r.verdict == Verdict.CERTIFIED and r.method == "merge" for r in rep.results)
    assert np.all(net(inst.X)[:, 0] * inst.y > 0)
