"""What tail CROWN buys on a nearest-margin query (docs/verification.md, step 3).

One point of the grid's synthetic instance (N = 1000, seeded as in
``bench_memorization_grid.py``) at the claimed radius of ``nearest-margin-l2`` and
``nearest-margin-l1``, for d ∈ ``DS``. The default-bounds stages are run one by one: IBP and
look-back, the coarse separable pass, the full separable pass, each followed by tail CROWN
(:mod:`robustexp.verify._tail`) on the side: the stages chain as the grid's version 10 did
(look-back, coarse, full, then CROWN on the cone), and the tail is applied to each stage's
bounds without feeding them on. Per stage: its wall time and the output bounds without and
with the tail, and, for reference, the *interval minimum* ``[min_- l − min_+ u, min_- u −
min_+ l]`` of the distance bounds of that stage (what exact min trees give over their box).
Then CROWN on the cone after the full pass (the last step of version 10, ``cone_crown``) and
the whole current ``default_bounds`` (version 11 when ``results/tail.json`` was written; it
returns as soon as a stage proves the label) are timed.

Writes ``benchmarks/results/tail.json`` (``--quick``: d = 8 only, ``tail.quick.json``).
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
RESULTS = HERE / "results" / "tail.json"
NAMES = ("nearest-margin-l2", "nearest-margin-l1")
DS = (8, 64)
DS_QUICK = (8,)
N = 1000
#: Index of the point queried (of the seeded instance).
POINT = 206


def _interval_min(b: Any, k: int, y: np.ndarray) -> list[float]:
    """``f``'s bounds from the box of layer k (the distances, negatives first) through exact
    interval minima: ``[min_- l − min_+ u, min_- u − min_+ l]``."""
    lo, hi = np.maximum(b.lower[k][0], 0.0), np.maximum(b.upper[k][0], 0.0)
    n_neg = int(np.count_nonzero(y == -1))
    neg = slice(0, n_neg)
    pos = slice(n_neg, None)
    return [float(lo[neg].min() - hi[pos].min()), float(hi[neg].min() - lo[pos].min())]


def _out(b: Any) -> list[float]:
    return [float(b.lower[-1][0, 0]), float(b.upper[-1][0, 0])]


def _case(name: str, d: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_memorization_grid as grid

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separation
    from robustexp.verify import LpBall, interval_bounds
    from robustexp.verify import _milp as M
    from robustexp.verify._lookback import lookback_bounds
    from robustexp.verify._tail import tail_crown_bounds, tail_layer

    c = CONSTRUCTIONS[name]
    X, y, _ = grid._data({"kind": "synthetic", "N": N, "d": d}, c.p)
    sep = separation(X, y, c.p)
    delta = grid._claimed(c, sep.distance_sq / 4)
    net = c.build(X, y, delta)
    k = tail_layer(net)
    i = POINT
    ball = LpBall(X[[i]], delta, c.p)
    label = int(y[i])
    stages: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    b = M._with_twins(net, lookback_bounds(net, ball, interval_bounds(net, ball)))
    stages.append({"stage": "look-back", "seconds": time.perf_counter() - t0, "output": _out(b)})
    relevant = M._relevant_units(net, [u[0] for u in b.upper])
    for coarse in (True, False):
        t0 = time.perf_counter()
        rows = [*relevant, np.ones(net.out_dim, dtype=bool)]
        b = M._with_twins(net, lookback_bounds(net, ball, b, separable_rows=rows, coarse=coarse))
        sep_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bt = tail_crown_bounds(net, ball, b, label)
        stages.append(
            {
                "stage": "coarse separable" if coarse else "full separable",
                "seconds": sep_s,
                "output": _out(b),
                "tail_seconds": time.perf_counter() - t0,
                "output_with_tail": _out(bt),
                "interval_min_of_distances": _interval_min(b, k, y),
            }
        )
    t0 = time.perf_counter()
    full = M.default_bounds(net, ball, label)
    default_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cone = M._cone_crown_bounds(
        net, ball, b, M._relevant_units(net, [u[0] for u in b.upper]), label, sparse=True
    )
    cone_s = time.perf_counter() - t0
    return {
        "construction": name,
        "N": N,
        "d": d,
        "point": i,
        "label": label,
        "radius": delta,
        "hidden_neurons": net.hidden_neurons,
        "tail_layer": k,
        "tail_hidden_units": sum(layer.out_dim for layer in net.layers[k + 1 : -1]),
        "stages": stages,
        "default_bounds_seconds": default_s,
        "default_bounds_output": _out(full),
        "default_bounds_proves": M._proves(full, label),
        "cone_crown_seconds": cone_s,
        "cone_crown_output": _out(cone),
    }


def main(quick: bool = False) -> dict[str, Any]:
    rows = []
    for name in NAMES:
        for d in DS_QUICK if quick else DS:
            row = _case(name, d)
            rows.append(row)
            last = row["stages"][-1]
            print(
                f"{name:18s} d={d:3d} default bounds {row['default_bounds_seconds']:.1f} s "
                f"(proves: {row['default_bounds_proves']}); full separable + tail "
                f"{last['output_with_tail']} vs look-back {last['output']}; cone CROWN "
                f"{row['cone_crown_seconds']:.1f} s",
                flush=True,
            )
    result = {
        "summary": "; ".join(
            f"{r['construction']} d={r['d']}: default bounds {r['default_bounds_seconds']:.1f} s, "
            f"cone CROWN {r['cone_crown_seconds']:.1f} s"
            for r in rows
        ),
        "quick": quick,
        "rows": rows,
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(quick=ap.parse_args().quick)
    sys.exit(0)
