"""How a complete query's cost grows with the dimension d (issue 4, "Verification").

A complete query (``milp_margin`` for p ∈ {1, ∞}, ``miqcp_margin`` for p = 2) first computes
its default bounds — look-back interval bounds, separable Lagrangian bounds over ℓ1/ℓ2 balls
and two-group CROWN on the cone of influence (docs/verification.md) — and stops there when
they certify ("bounds certify"); otherwise it solves the MILP/MIQCP on the cone. Before
these bounds (generic version ≤ 7 of the grid) the own bump of the max-tree and ℓ1/ℓ2
memorizers could only be decided by branching, at a cost exponential in d. This benchmark
isolates that core: the construction's ``example(2, d)`` (two points, one of each class),
one complete query at the first point's claimed radius, for d ∈ ``DS``. Per cell: status,
how it was decided (``detail``), certified lower bound, binaries, wall time (limit
``TIME_LIMIT``). A series stops after the first query slower than ``STOP_AFTER`` seconds
(the next d would only be slower).

Writes ``benchmarks/results/own_bump_queries.json`` (``--quick``: d ≤ 8, ``.quick.json``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from robustexp._jsonio import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "own_bump_queries.json"
NAMES = (
    "memorizer-linf",
    "memorizer-l1",
    "nearest-margin-linf",
    "nearest-margin-l1",
    "memorizer-l2",
)
DS = (2, 4, 8, 16, 32, 64)
DS_QUICK = (2, 4, 8)
TIME_LIMIT = 180.0
STOP_AFTER = 60.0


def _query(name: str, d: int) -> dict[str, Any]:

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.verify import LpBall, milp_margin, miqcp_margin

    c = CONSTRUCTIONS[name]
    inst = c.example(2, d, seed=0)
    net = c.build(inst.X, inst.y, inst.radius)
    query = miqcp_margin if c.p == 2 else milp_margin
    t0 = time.perf_counter()
    res = query(net, LpBall(inst.X[:1], inst.radius, c.p), int(inst.y[0]), time_limit=TIME_LIMIT)
    return {
        "construction": name,
        "d": d,
        "parameters": net.parameters,
        "radius": inst.radius,
        "status": res.status,
        "lower_bound": res.lower_bound,
        "binaries": res.stats.get("binaries"),
        "detail": res.detail,
        "seconds": time.perf_counter() - t0,
    }


def main(quick: bool = False) -> dict[str, Any]:
    from robustexp.verify._miqcp import scip_available

    rows: list[dict[str, Any]] = []
    for name in NAMES:
        if name.endswith("l2") and not scip_available():
            rows.append({"construction": name, "skipped": "pyscipopt is not installed"})
            continue
        for d in DS_QUICK if quick else DS:
            row = _query(name, d)
            rows.append(row)
            print(
                f"{name:22s} d={d:3d} {row['status']:9s} lower={row['lower_bound']:.4f} "
                f"binaries={row['binaries']} {row['seconds']:.2f} s ({row['detail']})",
                flush=True,
            )
            if row["seconds"] > STOP_AFTER:
                break
    result = {
        "summary": "; ".join(
            f"{r['construction']} d={r['d']}: {r['seconds']:.2f} s ({r['status']})"
            for r in rows
            if "d" in r
        ),
        "quick": quick,
        "time_limit": TIME_LIMIT,
        "rows": rows,
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(quick=ap.parse_args().quick)
    sys.exit(0)
