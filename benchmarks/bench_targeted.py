"""What the targeted separable rounds buy on nearest-margin ℓ2 queries (docs/verification.md,
step 3, "Targeted rounds"; grid version 12).

Instances as in ``bench_memorization_grid.py``: the synthetic N = 1000, d = 64 set (seed 0)
and scikit-learn digits (even/odd, N = 1797), ``nearest-margin-l2`` at its claimed radius.
Per instance, ``POINTS`` points drawn with seed 0 plus one fixed point that needed the full
separable pass in profiling (``EXTRA``); per point, ``default_bounds`` is timed twice:

- ``targeted``: as shipped (coarse pass, tail, targeted rounds, the full pass only if they
  fail), with the rounds' wall time and the number of rows they refined;
- ``full pass``: the rounds switched off (``TARGETED_FIRST_ROWS`` above every candidate
  count), i.e. the default bounds of grid version 11.

Both must prove the point (a bound is sound whatever the route; a point proved by one and
not the other is reported). Writes ``benchmarks/results/targeted.json`` (``--quick``: the
synthetic instance at d = 8 with N = 1000, ``targeted.quick.json``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import write_json_atomic

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "targeted.json"
NAME = "nearest-margin-l2"
#: Points drawn per instance (seed 0), and one fixed point per instance that needed the
#: full separable pass before the rounds existed.
POINTS = 6
EXTRA = {"synthetic-d64": 17, "digits": 500, "synthetic-d8": 206}


def _instance(key: str) -> dict[str, Any]:
    if key == "digits":
        return {"kind": "digits", "N": 1797, "d": 64}
    return {"kind": "synthetic", "N": 1000, "d": int(key.rsplit("d", 1)[1])}


def _case(key: str) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_memorization_grid as grid

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.verify import LpBall
    from robustexp.verify import _milp as M

    c = CONSTRUCTIONS[NAME]
    X, y, _ = grid._data(_instance(key), c.p)
    delta = grid._claimed_for(c, X, y)
    net = c.build(X, y, delta)
    points = np.random.default_rng(0).choice(len(y), POINTS, replace=False).tolist()
    points.append(EXTRA[key])
    rounds: list[tuple[float, int]] = []
    original = M._refine_where_it_counts

    def timed_rounds(*args: Any) -> Any:
        t0 = time.perf_counter()
        b, targeted = original(*args)
        rounds.append((time.perf_counter() - t0, 0 if targeted is None else int(targeted[1].sum())))
        return b, targeted

    def timed_proof(ball: Any, label: int) -> tuple[bool, float]:
        t0 = time.perf_counter()
        proves = M._proves(M.default_bounds(net, ball, label), label)
        return proves, time.perf_counter() - t0

    rows = []
    for i in points:
        ball, label = LpBall(X[[i]], delta, c.p), int(y[i])
        row: dict[str, Any] = {"point": int(i)}
        M._refine_where_it_counts = timed_rounds
        rounds.clear()
        try:
            row["targeted_proves"], row["targeted_seconds"] = timed_proof(ball, label)
        finally:
            M._refine_where_it_counts = original
        row["rounds_seconds"], row["rows_refined"] = rounds[0] if rounds else (0.0, 0)
        saved, M.TARGETED_FIRST_ROWS = M.TARGETED_FIRST_ROWS, 10**9
        try:
            row["full_pass_proves"], row["full_pass_seconds"] = timed_proof(ball, label)
        finally:
            M.TARGETED_FIRST_ROWS = saved
        print(f"{key} point {i}: {row}", flush=True)
        rows.append(row)
    t_new = [r["targeted_seconds"] for r in rows]
    t_old = [r["full_pass_seconds"] for r in rows]
    return {
        "instance": key,
        "construction": NAME,
        "radius": delta,
        "hidden_neurons": net.hidden_neurons,
        "points": rows,
        "mean_targeted_seconds": float(np.mean(t_new)),
        "mean_full_pass_seconds": float(np.mean(t_old)),
        "all_proved_both_ways": all(r["targeted_proves"] and r["full_pass_proves"] for r in rows),
    }


def main(quick: bool = False) -> dict[str, Any]:
    cases = [_case(k) for k in (("synthetic-d8",) if quick else ("synthetic-d64", "digits"))]
    summary = "; ".join(
        f"{c['instance']}: {c['mean_targeted_seconds']:.1f} s per query with the rounds, "
        f"{c['mean_full_pass_seconds']:.1f} s without (all proved both ways: "
        f"{c['all_proved_both_ways']})"
        for c in cases
    )
    result = {"summary": summary, "quick": quick, "cases": cases}
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(quick=ap.parse_args().quick)
