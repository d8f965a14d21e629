"""Theorem 2.2 verification grid: every construction, norm and instance, certified by the
proof certificate AND by generic verifiers, attacked at the claimed radius, and probed just
beyond it (issue 4, "Verification").

Instances: synthetic 2ε-separated sets in the unit ℓp ball (:func:`separated_dataset`,
seed 0) for N ∈ {10, 100, 1000} and d ∈ {2, 8, 64} (ε from ``EPS``, halved until the
sampler can place the points), and the digits even/odd task scaled into the unit ℓp ball
(N = 1797, d = 64). For each norm p ∈ {∞, 2, 1} every registered Theorem 2.2 construction of
that norm is run. Per cell:

* ``claimed``: the largest radius the construction claims — δ = 2ε/3 (largest float inside
  the closed condition) for the bump and cube memorizers, δ = 0.9ε for nearest-margin
  (open condition δ < ε; 0.9 keeps ℓ2's m moderate). ε is the exact measured separation.
* the certificate (the construction's own proof check) and its time;
* generic verification: IBP on every point, then complete queries (whose bounds are CROWN on
  the point's cone of influence) under a wall-clock budget per cell (``VERIFY_BUDGET``, see
  :func:`_generic`): the certified fraction, which method
  certified how many points, how many stayed unknown (budget or solver limits), the mean
  time of a complete query and the time deciding all points would take at that rate;
* attacks at the claimed radius: PGD, and the *projection attack* (for each point x_i, the
  projection of its nearest opposite point onto B_p(x_i, δ)); every witness is re-checked
  exactly (``recheck_witness``);
* tightness beyond the claim, at ρ = the smallest radius violating the condition and at
  ρ = ε (and 1.05ε): memorizers are rebuilt with bump width ρ (``check=False``: the
  certificate refuses there), nearest-margin nets are radius-independent for ℓ1/ℓ∞ (for ℓ2
  the net built at the claimed radius is attacked); PGD + projection attack at ρ, re-checked.
  At ρ = ε the closest pair's midpoint lies in both closed balls, so NO classifier is robust
  there; whether an attack *finds* it is what is reported.

Resumable: each cell's result is written atomically to ``results/memorization_grid/<cell>.json``
and skipped when present; the summary goes to ``results/memorization_grid.json``.
``--refresh-generic`` re-runs only the generic verification of cells computed with an older
``GENERIC_VERSION`` of the verifiers.
``quick``: N = 10 and d ∈ {2, 8} only, small budgets, no digits.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import read_json, write_json_atomic

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "memorization_grid.json"
CELLS = HERE / "results" / "memorization_grid"

NS = (10, 100, 1000)
DS = (2, 8, 64)
NORMS = (math.inf, 2.0, 1.0)
#: Requested ε per (d, N); halved (at most 4 times) when the sampler cannot place the points.
EPS = {
    2: {10: 0.1, 100: 0.04, 1000: 0.01},
    8: {10: 0.2, 100: 0.15, 1000: 0.08},
    64: {10: 0.3, 100: 0.25, 1000: 0.2},
}
VERIFY_BUDGET = 1500.0  # seconds of generic verification per cell
MILP_LIMIT = 20.0  # seconds per complete query (``--milp-limit``; recorded per cell)
#: ``--retry-unknown``: points whose recorded verdict is unknown are queried again.
RETRY_UNKNOWN = False
#: ``--reverse``: the complete queries run in the reverse of the seeded order, so that a
#: second process can share a cell (verdicts are merged at every save).
REVERSE_ORDER = False
#: ``--queries-only``: run only the complete queries of the selected unfinished cells into
#: their progress files, without writing cell results (no attacks): an extra process sharing
#: a cell whose first run (which writes the cell) is still going, e.g. in its attacks.
QUERIES_ONLY = False
#: A cell stops its complete queries when the first this-many all end unknown (at the
#: per-query limit); otherwise it runs until its budget, and the next run continues it.
GIVE_UP_AFTER = 3
#: Bumped when the generic verifiers change; ``--refresh-generic`` recomputes older results.
#: 2: lazy IBP for large nets, cone-of-influence pruning in the MILP/MIQCP encoding.
#: 3: the MILP/MIQCP tolerance slack counts only modelled units.
#: 4: complete queries with CROWN on the cone of influence; no whole-net CROWN stage.
#: 5: budget 300 s per cell (was 120 s); a cell gives up after ``GIVE_UP_AFTER`` unknowns.
#: 6: ℓ1 absolute-value-pair cuts (verify/_cuts.py), front-layer CROWN for the cone
#:    (verify/_front.py); budget 1500 s with the projection give-up rule.
#: 7: CROWN by connected components for the cone (verify/_components.py).
#: 8: two-group CROWN (planes of the hull over a pre-activation's positive/negative parts:
#:    exact max trees), look-back interval bounds and separable Lagrangian bounds over
#:    ℓ1/ℓ2 balls for the cone (verify/_lookback.py, verify/_separable.py).
#: 9: the same bounds for nets of every size (8 gave small nets plain CROWN only); cells of
#:    version 8 that are already 100 % certified are kept (9 cannot do better there).
#: 10: two-group planes on the ancestry split (exact min trees), flat lines for neurons
#:    whose separable bound beats their backward pass, sparse backward coefficients on
#:    large nets (CROWN on the whole cone, not only when it holds at most half the units);
#:    per-point progress files, so a cell cut by its budget continues on the next run.
#: 11: tail CROWN after each separable pass (verify/_tail.py: the min trees of a
#:    nearest-margin net bounded exactly over the box of the separable distances); a cell's
#:    certified verdicts of an older version are carried over (each is sound), its unknown
#:    ones queried again.
#: 12: targeted separable rounds after the coarse pass (verify/_milp.py,
#:    ``_refine_where_it_counts``: full bounds first on the distance rows that weigh most
#:    in the tail's output bound), so most queries skip the full separable pass.
#: 13: merge-aware interval bounds (verify/_merge.py: max/min/abs gadgets read exactly as
#:    groups, rows over one-coordinate groups bounded around the centre by Hölder) after the
#:    look-back pass and after each separable pass; credited as ``merge intervals``.
#: 14: separable bounds bound each class of identical 1-D gadgets once (verify/
#:    _shared_pairs.py: exact unit signatures; the digits' 17 grey levels leave ≤ 17 classes
#:    per coordinate of N pairs) and skip the λ search of rows whose box bound already
#:    switches off every unit reading them (verify/_lookback.py, ``settling_bounds``).
#: 15: the coarse separable pass tries a fixed grid of λ for all rows when classes are
#:    shared (each 1-D maximum once per class and λ); the look-back pass after a separable
#:    pass starts at the first separable layer; front CROWN only before the full pass.
#: 16: the coarse λ grid keeps a row's grid bound only where a convexity bound on what the
#:    best λ could gain is small (``_grid_gap``); the other rows (the own distance, whose dual
#:    is V-shaped at λ = 1) get the per-row search.
#: 17: separable bounds over shared classes compute each class's forms once per query,
#:    chunked by classes and refined with the tolerances of every row using the class; only
#:    the λ stage is chunked by rows (before, every chunk of rows recomputed the classes it
#:    used: a hard nearest-margin ℓ2 digits point went from 102 s to 41 s).
GENERIC_VERSION = 17
ATTACK = {"steps": 60, "restarts": 3}
#: Projection-attack candidates with a float margin above this are certainly not witnesses
#: (the float error of a forward pass here is < 1e-9); only the others are re-checked.
PROJECTION_RECHECK_BELOW = 1e-6
#: PGD attacks every point up to this N, else the closest pair plus this many random points,
#: and on large nets fewer: about ``PGD_PARAMETER_POINTS / parameters`` (at least
#: ``PGD_MIN_POINTS``), since one PGD point costs 180 gradient passes through the net.
PGD_MAX_POINTS = 200
PGD_PARAMETER_POINTS = 2e8
PGD_MIN_POINTS = 20


def _norm(p: float) -> str:
    return "inf" if math.isinf(p) else str(int(p))


def _instances(quick: bool, only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The instances, optionally restricted to groups ``d2``, ``d8``, ``d64``, ``digits``
    (so that two processes can share the grid on disjoint groups)."""
    ns, ds = ((10,), (2, 8)) if quick else (NS, DS)
    out = [{"kind": "synthetic", "N": n, "d": d} for d in ds for n in ns]
    if not quick:
        out.append({"kind": "digits", "N": 1797, "d": 64})
    if only:
        out = [i for i in out if ("digits" if i["kind"] == "digits" else f"d{i['d']}") in only]
    return out


def _data(inst: dict[str, Any], p: float) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    from robustexp import ConditionError
    from robustexp.data import digits_task, separated_dataset

    if inst["kind"] == "digits":
        ds = digits_task("even-odd", p, measure=())
        return np.array(ds.X), np.array(ds.y), {"task": "even-odd"}
    eps = EPS[inst["d"]][inst["N"]]
    for _ in range(5):
        try:
            ds = separated_dataset(inst["N"], inst["d"], eps, p, seed=0, measure=False)
            return np.array(ds.X), np.array(ds.y), {"eps_requested": eps}
        except ConditionError:
            eps /= 2
    raise ConditionError(f"could not sample {inst} in ℓ{_norm(p)}")


def _claimed(c: Any, eps_sq: Fraction) -> float:
    """The radius a cell claims for construction ``c`` on data of squared separation
    ``4 eps_sq``: just inside a closed radius condition, else 0.9 ε."""
    rc = c.radius_condition
    if rc.closed:
        return rc.just_inside(eps_sq)
    from robustexp.constructions._construction import sqrt_bounds

    return float(Fraction(9, 10) * sqrt_bounds(eps_sq)[0])


def _claimed_for(c: Any, X: np.ndarray, y: np.ndarray) -> float:
    """:func:`_claimed` on the measured separation of ``(X, y)`` in c's norm."""
    from robustexp.data import separation

    return _claimed(c, separation(X, y, c.p).distance_sq / 4)


def _attack(
    net: Any, X: np.ndarray, y: np.ndarray, radius: float, p: float, seed: int, pair: Any
) -> dict:
    """PGD and the projection attack at ``radius``; counts of re-checked witnesses.

    The projection attack (one forward pass) runs on every point. PGD runs on every point
    when N is at most the cap, else on the closest pair plus cap random points; the cap is
    ``PGD_MAX_POINTS``, lowered on large nets (a PGD pass over a deep ℓ2 net with 10^6
    parameters costs minutes per 1000 points).
    """
    from robustexp.verify import LpBall, pgd_attack, recheck_witness

    ball = LpBall(X, radius, p)
    t0 = time.perf_counter()
    n = len(y)
    cap = int(min(PGD_MAX_POINTS, max(PGD_MIN_POINTS, PGD_PARAMETER_POINTS / net.parameters)))
    if n <= cap:
        idx = np.arange(n)
    else:
        rnd = np.random.default_rng(seed).choice(n, cap, replace=False)
        idx = np.unique(np.concatenate([rnd, np.asarray(pair, dtype=int)]))
    res = pgd_attack(net, ball[idx], y[idx], seed=seed, **ATTACK)
    pgd_ok = np.zeros(n, dtype=bool)
    pgd_ok[idx] = np.asarray(res.success, bool)
    # projection attack: nearest opposite point (in ℓp) projected onto each ball
    cand = np.empty_like(X)
    for i in range(len(y)):
        opp = np.flatnonzero(y != y[i])
        if opp.size == 0:
            cand[i] = X[i]
            continue
        dist = np.linalg.norm(X[opp] - X[i], ord=p, axis=1)
        cand[i] = X[opp[int(np.argmin(dist))]]
    proj = ball.project(cand)
    margins = y * net(proj)[:, 0]
    # Only candidates whose float margin is ≤ PROJECTION_RECHECK_BELOW can be witnesses
    # (ties at the midpoint evaluate to ±a few ulps); each is re-checked exactly.
    proj_ok = np.zeros(len(y), dtype=bool)
    near = np.flatnonzero(margins <= PROJECTION_RECHECK_BELOW)
    if near.size:
        proj_ok[near] = recheck_witness(net, ball[near], y[near], proj[near])
    return {
        "radius": radius,
        "pgd_points": len(idx),
        "pgd_falsified": int(pgd_ok.sum()),
        "pgd_min_margin": float(np.min(res.margin)),
        "projection_falsified": int(proj_ok.sum()),
        "projection_min_margin": float(np.min(margins)),
        "falsified_any": int((pgd_ok | proj_ok).sum()),
        "time": time.perf_counter() - t0,
    }


def _generic(
    net: Any,
    X: np.ndarray,
    y: np.ndarray,
    spec: Any,
    budget: float,
    progress: Path | None = None,
) -> dict:
    """IBP on every point (``robust_accuracy``), then one complete query per remaining point
    (MILP for p ∈ {1, ∞}, MIQCP for p = 2) in a seeded random order until ``budget`` seconds
    are spent (one query may overrun it), or until the first ``GIVE_UP_AFTER`` queries all
    end unknown (``gave_up``).

    On a net with merge trees (nearest-margin), the points not queried yet first go through
    batched merge-aware interval bounds (``_merge_stage``), once per progress file; a point
    they prove is credited to ``merge intervals``.

    A complete query starts from its default bounds — CROWN on the point's cone of
    influence — and stops early when they certify; it is credited to ``merge intervals`` when
    the merge-aware interval pass proved it, to ``crown (cone)`` for the other passes then,
    to ``lp`` when the LP relaxation certifies, else to ``milp``/``miqcp`` (solver optimal).
    Every verdict is sound on its own. The certified count is a sound lower bound for the
    whole set; untried points count as unknown.

    ``progress``: a file holding the verdicts of queries already run (same version, radius
    and query limit); they are not run again, and every new verdict is added to it
    atomically, so a cell interrupted or cut by its budget continues where it stopped.
    ``complete`` says whether every point got its query (or the cell gave up)."""
    from robustexp import ResourceLimitError
    from robustexp.verify import LpBall, milp_margin, miqcp_margin, robust_accuracy

    t0 = time.perf_counter()
    key = {"version": GENERIC_VERSION, "radius": spec.radius, "milp_limit": MILP_LIMIT}
    done: dict[str, Any] = {"key": key, "verdicts": {}, "query_times": [], "seconds": 0.0}
    if progress is not None and progress.exists():
        old = read_json(progress)
        if old.get("key") == key:
            done = old
            if RETRY_UNKNOWN:  # sound verdicts stay; unknown ones get the current verifier
                done["verdicts"] = {k: v for k, v in done["verdicts"].items() if v[0] != "unknown"}
        elif _carries_over(old.get("key", {}), key):
            done = _carry_over(old, key)
    if "ibp" not in done:
        # the IBP stage of a large cell can cost minutes: kept with the verdicts
        rep = robust_accuracy(net, X, y, spec, methods=("ibp",))
        done["ibp"] = {
            "certified_by": dict(rep.method_counts().get("certified", {})),
            "left": [int(r.index) for r in rep.results if r.verdict.value != "certified"],
            "falsified": [int(r.index) for r in rep.results if r.verdict.value == "falsified"],
            "seconds": time.perf_counter() - t0,
        }
    by: dict[str, int] = dict(done["ibp"]["certified_by"])
    left = list(done["ibp"]["left"])
    falsified = list(done["ibp"]["falsified"])
    order = np.random.default_rng(0).permutation(left).tolist()
    if REVERSE_ORDER:  # a second process on the same cell starts from the other end
        order.reverse()
    if "merge_stage" not in done:
        todo = [i for i in order if str(i) not in done["verdicts"]]
        stage = _merge_stage(net, X, y, spec, todo, done["verdicts"], t0 + budget)
        if stage is not None:
            done["merge_stage"] = stage
            if progress is not None:
                _save_progress(progress, done, list(done["query_times"]), float(done["seconds"]))
    query, complete = (miqcp_margin, "miqcp") if spec.p == 2 else (milp_margin, "milp")
    credit = {"bounds certify": "crown (cone)", "LP relaxation certifies": "lp"}
    ibp_time = float(done["ibp"]["seconds"])
    verdicts: dict[str, list[str]] = done["verdicts"]
    query_times: list[float] = list(done["query_times"])
    earlier = float(done["seconds"])
    gave_up: str | None = None
    last_save = time.perf_counter()
    for i in order:
        if str(i) in verdicts:
            continue
        remaining = budget - (time.perf_counter() - t0)
        if remaining <= 0:
            break
        if len(verdicts) >= GIVE_UP_AFTER and all(v[0] == "unknown" for v in verdicts.values()):
            gave_up = "the first queries all ended unknown"
            break
        tq = time.perf_counter()
        try:
            res = query(
                net,
                LpBall(X[[i]], spec.radius, spec.p, spec.domain),
                int(y[i]),
                time_limit=min(MILP_LIMIT, max(remaining, 1.0)),
            )
        except ResourceLimitError as exc:  # the model would not fit: no query can run
            gave_up = f"resource limit: {exc}"
            break
        query_times.append(time.perf_counter() - tq)
        method = credit.get(res.detail, complete)
        if res.detail == "bounds certify" and res.stats.get("bounds_method") == "merge":
            method = "merge intervals"
        verdicts[str(i)] = [res.status, method]
        if progress is not None and time.perf_counter() - last_save > 30:
            _save_progress(progress, done, query_times, earlier + time.perf_counter() - t0)
            last_save = time.perf_counter()
    if progress is not None:
        _save_progress(progress, done, query_times, earlier + time.perf_counter() - t0)
    for status, method in verdicts.values():
        if status == "certified":
            by[method] = by.get(method, 0) + 1
    falsified += [int(i) for i, v in verdicts.items() if v[0] == "falsified"]
    certified = sum(by.values())
    mean_q = float(np.mean(query_times)) if query_times else None
    untried = len(left) - len(verdicts)
    return {
        "version": GENERIC_VERSION,
        "certified_fraction": certified / len(y),
        "certified_by": by,
        "ibp_certified": by.get("ibp", 0),
        "tried_after_ibp": len(verdicts),
        "left_after_ibp": len(left),
        "unknown": len(y) - certified - len(falsified),
        "falsified": len(falsified),
        "complete": untried == 0 or gave_up is not None,
        "time": earlier + time.perf_counter() - t0,
        "budget": budget,
        "milp_limit": MILP_LIMIT,
        "gave_up": gave_up,
        "ibp_time": ibp_time,
        "mean_query_time": mean_q,
        "estimated_seconds_for_all": None if mean_q is None else ibp_time + mean_q * len(left),
        "carried_over": dict(done.get("carried_over", {})),
    }


def _merge_stage(
    net: Any, X: np.ndarray, y: np.ndarray, spec: Any, todo: list[int], verdicts: dict, end: float
) -> dict[str, Any] | None:
    """Where a batched merge pass can prove points (``_merge.worth_batching``: merge trees,
    not an ℓ2 ball), merge-aware interval bounds (verify/_merge.py, after interval bounds)
    for the points not queried yet: a point whose label they prove gets the verdict
    ``certified`` credited to ``merge intervals`` (sound: the bounds are); the others are left
    to the complete queries. Returns the stage's record, or None (not worth running, or the
    budget ran out first: the next run does the stage again, skipping the points certified
    meanwhile)."""
    from robustexp.verify import LpBall
    from robustexp.verify._merge import batched_margins, worth_batching

    if not todo or not worth_batching(net, spec.p):
        return None
    t0 = time.perf_counter()
    ball = LpBall(X[todo], spec.radius, spec.p, spec.domain)
    margin = batched_margins(net, ball, y[todo], lambda: time.perf_counter() > end)
    for i in np.array(todo)[margin > 0].tolist():
        verdicts[str(i)] = ["certified", "merge intervals"]
    if time.perf_counter() > end:
        return None
    return {
        "points": len(todo),
        "proved": int((margin > 0).sum()),
        "seconds": time.perf_counter() - t0,
    }


def _carries_over(old_key: dict, key: dict) -> bool:
    """Whether a progress file of an older verifier version holds verdicts for this cell
    (same radius and query limit)."""
    same = all(old_key.get(f) == key[f] for f in ("radius", "milp_limit"))
    return same and (old_key.get("version") or 0) < key["version"]


def _carry_over(old: dict, key: dict) -> dict:
    """The progress of an older version under the current ``key``: its certified and
    falsified verdicts stay (each is sound whatever verifier proved it; counted per version
    in ``carried_over``), its unknown ones are dropped so that the current verifier queries
    them again; the query times restart (they estimate the current verifier's cost), the
    seconds spent keep adding up."""
    kept = {k: v for k, v in old.get("verdicts", {}).items() if v[0] != "unknown"}
    carried = dict(old.get("carried_over", {}))
    version = str(old["key"].get("version"))
    carried[version] = carried.get(version, 0) + len(kept) - sum(carried.values())
    out = {
        "key": key,
        "verdicts": kept,
        "query_times": [],
        "seconds": float(old.get("seconds", 0.0)),
        "carried_over": carried,
    }
    if "ibp" in old:
        out["ibp"] = old["ibp"]
    return out


def _save_progress(path: Path, done: dict, query_times: list[float], seconds: float) -> None:
    """Write the verdicts atomically, first merging in those another process working on the
    same cell (``--reverse``) saved meanwhile: ``done["verdicts"]`` grows in place, so the
    caller skips the points the other process has finished. Every verdict is sound on its
    own; a verdict lost in a write race is only queried again by the next run."""
    if path.exists():
        try:
            other = read_json(path)
        except (OSError, ValueError):
            other = {}
        if other.get("key") == done.get("key"):
            for k, v in other.get("verdicts", {}).items():
                done["verdicts"].setdefault(k, v)
    done["query_times"] = query_times
    done["seconds"] = seconds
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, done)


def _cell(
    c: Any, X: np.ndarray, y: np.ndarray, quick: bool, progress: Path | None = None
) -> dict[str, Any]:
    from robustexp.data import separation
    from robustexp.verify import BallSpec

    p = c.p
    sep = separation(X, y, p)
    eps_sq = sep.distance_sq / 4
    eps = float(sep.eps_max)
    delta = _claimed(c, eps_sq)
    out: dict[str, Any] = {
        "construction": c.name,
        "p": _norm(p),
        "N": len(y),
        "d": int(X.shape[1]),
        "eps": eps,
        "closest_pair": list(sep.pair),
        "claimed_radius": delta,
        "radius_over_eps": delta / eps,
        "condition": c.radius_condition.guarantee,
    }
    t0 = time.perf_counter()
    net = c.build(X, y, delta)
    out["build_time"] = time.perf_counter() - t0
    size = net.size().as_dict()
    formula = c.size_formula().evaluate_all(c.size_arguments(X, y, delta))
    out["size"] = size
    out["size_equals_formula"] = size == formula
    v = c.bound_arguments(X, y, delta)
    out["params_over_Nd_ln"] = size["parameters"] / (v["N"] * v["d"] * math.log(v["d"] / delta))
    t0 = time.perf_counter()
    cert = c.certificate(X, y, delta)
    out["certificate"] = {"holds": cert.holds, "margin": cert.margin}
    out["certificate_time"] = time.perf_counter() - t0
    budget = 8.0 if quick else VERIFY_BUDGET
    out["generic"] = _generic(net, X, y, BallSpec(delta, p), budget, progress)
    out["attack_at_claimed"] = _attack(net, X, y, delta, p, seed=0, pair=sep.pair)
    beyond: list[dict[str, Any]] = []
    rc = c.radius_condition
    radii = [
        ("just_outside", rc.just_outside(eps_sq)),
        ("eps_max", eps),  # the largest float <= ε: inside an open condition δ < ε
        ("1.05eps", 1.05 * eps),
    ]
    for label, rho in radii:
        if rho <= delta:
            continue
        try:
            net_rho = c.build(X, y, rho, check=False)
            how = "rebuilt at rho (check=False)"
        except Exception as exc:
            net_rho, how = net, f"net of the claimed radius ({type(exc).__name__})"
        row = _attack(net_rho, X, y, rho, p, seed=1, pair=sep.pair)
        row.update(label=label, net=how, certificate_holds=c.certificate(X, y, rho).holds)
        beyond.append(row)
    out["beyond"] = beyond
    return out


def _queries_only(c: Any, X: np.ndarray, y: np.ndarray, path: Path, progress: Path) -> None:
    """``--queries-only``: the complete queries of one unfinished cell into ``progress``,
    at the cell's claimed radius (from its result file, else computed as :func:`_cell`
    does); prints the generic summary, writes no cell result."""
    from robustexp.verify import BallSpec

    delta = read_json(path)["claimed_radius"] if path.exists() else _claimed_for(c, X, y)
    g = _generic(c.build(X, y, delta), X, y, BallSpec(delta, c.p), VERIFY_BUDGET, progress)
    print(
        f"{c.name:22s} queries only: generic={g['certified_fraction']:.3f} "
        f"tried={g['tried_after_ibp']}/{g['left_after_ibp']} complete={g['complete']}",
        flush=True,
    )


def _cell_name(inst: dict[str, Any], name: str) -> str:
    return f"{inst['kind']}-N{inst['N']}-d{inst['d']}-{name}"


def _refresh_generic(
    row: dict[str, Any], c: Any, X: np.ndarray, y: np.ndarray, progress: Path
) -> dict:
    """Recompute only the generic-verification part of a finished cell (continuing from
    ``progress`` when it holds verdicts of the same version)."""
    from robustexp.verify import BallSpec

    delta = row["claimed_radius"]
    net = c.build(X, y, delta)
    row["generic"] = _generic(net, X, y, BallSpec(delta, c.p), VERIFY_BUDGET, progress)
    return row


def _stale(path: Path, refresh: bool) -> bool:
    """With ``refresh``: the cell's generic part is from an older version or query limit
    (cells already at 100 % are kept: no version can do better), or it was cut by its budget
    before every point got its query."""
    if not refresh or not path.exists():
        return False
    row = read_json(path)
    generic = row.get("generic", {})
    if "error" in row or generic.get("certified_fraction") == 1.0:
        return False
    version = generic.get("version") or 0
    old = version != GENERIC_VERSION or generic.get("milp_limit", 20.0) != MILP_LIMIT
    return old or not generic.get("complete", True)


def main(
    quick: bool = False,
    refresh: bool = False,
    only: tuple[str, ...] = (),
    constructions: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run every missing cell (and with ``refresh`` re-verify cells of older versions); with
    ``only``, just those instance groups, with ``constructions`` just those constructions
    (the summary then covers only them)."""
    from robustexp.constructions import CONSTRUCTIONS

    cells_dir = CELLS / ("quick" if quick else "full")
    rows: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for inst in _instances(quick, only):
        for p in NORMS:
            cons = [
                c
                for c in CONSTRUCTIONS.for_theorem("Thm 2.2")
                if c.p == p and (not constructions or c.name in constructions)
            ]
            paths = {c.name: cells_dir / f"{_cell_name(inst, c.name)}.json" for c in cons}
            refresh = refresh or QUERIES_ONLY
            pending = [
                c for c in cons if not paths[c.name].exists() or _stale(paths[c.name], refresh)
            ]
            data = _data(inst, p) if pending else None
            for c in cons:
                path = paths[c.name]
                progress = cells_dir / "progress" / path.name
                if QUERIES_ONLY:
                    if c in pending:
                        _queries_only(c, data[0], data[1], path, progress)  # type: ignore[index]
                    continue
                if _stale(path, refresh):
                    X, y, _meta = data  # type: ignore[misc]
                    row = _refresh_generic(read_json(path), c, X, y, progress)
                    write_json_atomic(path, row)
                    rows.append(row)
                    _print_row(row)
                    continue
                if path.exists():
                    rows.append(read_json(path))
                    continue
                X, y, meta = data  # type: ignore[misc]
                try:
                    row = {"instance": inst, **meta, **_cell(c, X, y, quick, progress)}
                except Exception as exc:
                    row = {"instance": inst, "construction": c.name, "error": repr(exc)}
                write_json_atomic(path, row)
                rows.append(row)
                _print_row(row)
    ok = [r for r in rows if "error" not in r]
    full_cert = [r for r in ok if r["generic"]["certified_fraction"] == 1.0]
    attacked = [r for r in ok if r["attack_at_claimed"]["falsified_any"] > 0]
    result = {
        "summary": (
            f"{len(ok)}/{len(rows)} cells ran; generic verifiers certified 100% in "
            f"{len(full_cert)}; certificates held in {sum(r['certificate']['holds'] for r in ok)}; "
            f"attacks at the claimed radius succeeded in {len(attacked)}"
        ),
        "quick": quick,
        "cells": rows,
        "time": time.perf_counter() - t_all,
    }
    if not quick and not only and not constructions:
        write_json_atomic(RESULTS, result)
    print(result["summary"])
    return result


def _print_row(r: dict[str, Any]) -> None:
    if "error" in r:
        print(f"{r['construction']:22s} {r['instance']}: ERROR {r['error']}", flush=True)
        return
    g = r["generic"]
    beyond = "; ".join(f"{b['label']}: {b['falsified_any']}/{r['N']}" for b in r["beyond"])
    print(
        f"{r['construction']:22s} N={r['N']:5d} d={r['d']:3d} δ/ε={r['radius_over_eps']:.3f} "
        f"cert={r['certificate']['holds']} generic={g['certified_fraction']:.3f} "
        f"{g['certified_by']} unknown={g['unknown']} "
        f"attacked={r['attack_at_claimed']['falsified_any']} "
        f"beyond[{beyond}]",
        flush=True,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--refresh-generic",
        action="store_true",
        help="also re-run the generic verification of cells from older verifier versions",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        default=(),
        choices=("d2", "d8", "d64", "digits"),
        help="run only these instance groups",
    )
    ap.add_argument("--constructions", nargs="+", default=(), help="run only these")
    ap.add_argument(
        "--budget",
        type=float,
        default=VERIFY_BUDGET,
        help="seconds of generic verification per cell (recorded per cell)",
    )
    ap.add_argument(
        "--milp-limit",
        type=float,
        default=MILP_LIMIT,
        help="seconds per complete query; cells verified with another limit are re-verified",
    )
    ap.add_argument(
        "--retry-unknown",
        action="store_true",
        help="query again the points of a progress file whose verdict was unknown",
    )
    ap.add_argument(
        "--reverse",
        action="store_true",
        help="query in the reverse order (a second process sharing a cell)",
    )
    ap.add_argument(
        "--queries-only",
        action="store_true",
        help="only the complete queries of unfinished cells, into their progress files",
    )
    ns = ap.parse_args()
    QUERIES_ONLY = ns.queries_only
    RETRY_UNKNOWN = ns.retry_unknown
    REVERSE_ORDER = ns.reverse
    MILP_LIMIT = ns.milp_limit
    VERIFY_BUDGET = ns.budget
    res = main(ns.quick, ns.refresh_generic, tuple(ns.only), tuple(ns.constructions))
    sys.exit(0 if res else 1)
