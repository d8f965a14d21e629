"""What the merge-aware interval pass buys (docs/verification.md, "Merge-aware intervals";
grid version 13).

Instances as in ``bench_memorization_grid.py``: scikit-learn digits (even/odd, N = 1797)
and the synthetic N = 1000, d = 64 set (seed 0), for ``nearest-margin-linf`` and
``nearest-margin-l1`` at the claimed radius δ (0.9 ε). Per case:

- the *batched* pass over ``POINTS`` seeded points: interval bounds, then
  :func:`robustexp.verify._merge.merge_bounds` on the whole batch; seconds per point, the
  fraction whose label it proves, and the gap between its margin bound and the margin of
  the two class trees bounded separately, ``(D_i - δ) - δ`` with ``D_i`` the point's
  distance to the other class (0 means the pass is exact there; a negative gap would mean
  the bound is looser, a positive one is impossible for a sound bound);
- ``QUERIES`` seeded points through ``default_bounds`` (what a grid query runs): seconds,
  and which pass proved the point;
- the grid's mean seconds per query of the same cell under version 11/12 (CROWN on the
  cone), read from its progress file when present, for comparison.

Writes ``benchmarks/results/merge.json`` (``--quick``: the synthetic N = 100, d = 8 set,
``merge.quick.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import write_json_atomic

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "merge.json"
PROGRESS = HERE / "results" / "memorization_grid" / "full" / "progress"
NAMES = ("nearest-margin-linf", "nearest-margin-l1")
POINTS = 100
QUERIES = 5


def _case(inst: dict[str, Any], name: str, points: int, queries: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_memorization_grid as grid

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.verify import LpBall, interval_bounds
    from robustexp.verify._merge import _plan, merge_bounds
    from robustexp.verify._milp import default_bounds, margin_from_bounds

    c = CONSTRUCTIONS[name]
    X, y, _ = grid._data(inst, c.p)
    delta = grid._claimed_for(c, X, y)
    net = c.build(X, y, delta)
    t0 = time.perf_counter()
    _plan(net)
    plan_seconds = time.perf_counter() - t0
    idx = np.random.default_rng(0).choice(len(y), min(points, len(y)), replace=False)
    ball = LpBall(X[idx], delta, c.p)
    t0 = time.perf_counter()
    b = merge_bounds(net, ball, interval_bounds(net, ball))
    batch_seconds = time.perf_counter() - t0
    margin = np.where(y[idx] > 0, b.lower[-1][:, 0], -b.upper[-1][:, 0])
    gaps = []
    for k, i in enumerate(idx):
        other = X[y != y[i]]
        D = float(np.min(np.linalg.norm(other - X[i], ord=c.p, axis=1)))
        gaps.append(float(margin[k]) - ((D - delta) - delta))
    rows = []
    for i in idx[:queries].tolist():
        t0 = time.perf_counter()
        q = default_bounds(net, LpBall(X[[i]], delta, c.p), int(y[i]))
        m = margin_from_bounds([v[0] for v in q.lower], [v[0] for v in q.upper], int(y[i]))
        rows.append(
            {"point": i, "seconds": time.perf_counter() - t0, "method": q.method, "margin": m}
        )
    old = None
    key = "digits-N1797-d64" if inst["kind"] == "digits" else f"synthetic-N{inst['N']}-d{inst['d']}"
    progress = PROGRESS / f"{key}-{name}.json"
    if progress.exists():
        record = json.loads(progress.read_text())
        old = {
            "carried_over_verdicts": record.get("carried_over", {}),
            "query_times_recorded": len(record.get("query_times", [])),
        }
    return {
        "instance": inst,
        "construction": name,
        "radius": delta,
        "hidden_neurons": net.hidden_neurons,
        "plan_seconds": plan_seconds,
        "points": len(idx),
        "batch_seconds_per_point": batch_seconds / len(idx),
        "proved_fraction": float(np.mean(margin > 0)),
        "min_margin": float(margin.min()),
        "gap_to_separate_trees": {"min": float(min(gaps)), "max": float(max(gaps))},
        "queries": rows,
        "mean_query_seconds": float(np.mean([r["seconds"] for r in rows])),
        "grid_progress": old,
    }


def main(quick: bool = False) -> dict[str, Any]:
    if quick:
        insts = [{"kind": "synthetic", "N": 100, "d": 8}]
    else:
        insts = [{"kind": "digits", "N": 1797, "d": 64}, {"kind": "synthetic", "N": 1000, "d": 64}]
    points, queries = (30, 2) if quick else (POINTS, QUERIES)
    cases = [_case(i, n, points, queries) for i in insts for n in NAMES]
    for c in cases:
        print(
            f"{c['construction']} {c['instance']}: proved {c['proved_fraction']:.0%} of "
            f"{c['points']} by the batched pass, {c['batch_seconds_per_point']:.2f} s/point; "
            f"gap {c['gap_to_separate_trees']}; query {c['mean_query_seconds']:.2f} s",
            flush=True,
        )
    summary = "; ".join(
        f"{c['construction']} {c['instance']['kind']} d={c['instance']['d']}: "
        f"{c['proved_fraction']:.0%} proved, {c['batch_seconds_per_point']:.2f} s/point "
        f"batched, {c['mean_query_seconds']:.2f} s/query"
        for c in cases
    )
    result = {"summary": summary, "quick": quick, "cases": cases}
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(quick=ap.parse_args().quick)
