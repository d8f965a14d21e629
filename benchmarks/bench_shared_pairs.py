"""What shared pair classes, settled rows and the coarse λ grid buy (docs/verification.md,
"Shared pair classes"; grid versions 14 and 15).

Instances as in ``bench_memorization_grid.py``: scikit-learn digits (even/odd, N = 1797,
d = 64), for ``memorizer-l2`` and ``nearest-margin-l2`` at the claimed radius. Per case:

- the cost of the exact unit signatures (once per net) and the classes: pairs P of the
  N distance rows against classes Q;
- the coarse separable pass on all N distance rows at ``POINTS`` seeded points, with the
  classes shared and not shared (``SHARE_PAIRS``): seconds, and the largest difference of
  the bounds (the shared pass may use the λ grid, so it can differ; the column
  ``shared_looser_by`` is how much looser it is at worst, relative to the row's range);
- ``QUERIES`` seeded points through ``miqcp_margin`` (what a grid query runs): verdict,
  seconds, and how it ended;
- the grid's mean seconds per query of the same cell per version, from its progress file.

Writes ``benchmarks/results/shared_pairs.json`` (``--quick``: the synthetic grid data of the
tests, N = 60, d = 4, ``shared_pairs.quick.json``).
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
RESULTS = HERE / "results" / "shared_pairs.json"
PROGRESS = HERE / "results" / "memorization_grid" / "full" / "progress"
NAMES = ("memorizer-l2", "nearest-margin-l2")
POINTS = 3
QUERIES = 5


def _quick_data(p: float) -> tuple[np.ndarray, np.ndarray]:
    """60 points of R^4 whose coordinates take 4 values (many identical gadgets)."""
    rng = np.random.default_rng(2)
    X = np.unique(rng.integers(0, 4, size=(180, 4)) / 20.0, axis=0)[:60]
    y = np.where(rng.random(X.shape[0]) < 0.5, -1, 1)
    y[:2] = [-1, 1]
    return X, y


def _distance_layer(net: Any, N: int) -> int:
    return next(i for i in range(1, net.depth) if net.layers[i].out_dim == N)


def _case(name: str, quick: bool, points: int, queries: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import bench_memorization_grid as grid

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.verify import LpBall, miqcp_margin
    from robustexp.verify import _separable as S
    from robustexp.verify._separable import _labels, _top_rows, separable_bounds
    from robustexp.verify._shared_pairs import pair_classes, unit_signatures

    c = CONSTRUCTIONS[name]
    if quick:
        X, y = _quick_data(c.p)
    else:
        X, y, _ = grid._data({"kind": "digits", "N": 1797, "d": 64}, c.p)
    delta = grid._claimed_for(c, X, y)
    net = c.build(X, y, delta)
    layer = _distance_layer(net, X.shape[0])
    t0 = time.perf_counter()
    unit_signatures(net, layer)
    sig_seconds = time.perf_counter() - t0
    rows = np.arange(X.shape[0])
    W = S._cached_patterns(net, layer)[layer]
    pc = pair_classes(net, layer, _top_rows(W, rows), net.layers[layer].b, _labels(net)[layer - 1])
    rng = np.random.default_rng(0)
    pts = rng.choice(X.shape[0], size=min(points, X.shape[0]), replace=False).tolist()
    coarse: list[dict[str, Any]] = []
    for i in pts:
        ball = LpBall(X[[i]], delta, c.p)
        out = {}
        for share in (True, False):
            S.SHARE_PAIRS = share
            separable_bounds(net, ball, layer, rows, coarse=True)  # cones cached first
            t0 = time.perf_counter()
            out[share] = separable_bounds(net, ball, layer, rows, coarse=True)
            out[share, "s"] = time.perf_counter() - t0
        S.SHARE_PAIRS = True
        (slo, shi), (ulo, uhi) = out[True], out[False]
        scale = np.maximum(uhi - ulo, 1e-300)
        coarse.append(
            {
                "point": int(i),
                "seconds_shared": out[True, "s"],
                "seconds_unshared": out[False, "s"],
                "max_abs_difference": float(max(np.abs(slo - ulo).max(), np.abs(shi - uhi).max())),
                "shared_looser_by": float(
                    max(((ulo - slo) / scale).max(), ((shi - uhi) / scale).max())
                ),
                "shared_tighter_by": float(
                    max(((slo - ulo) / scale).max(), ((uhi - shi) / scale).max())
                ),
            }
        )
    order = rng.permutation(X.shape[0])[:queries].tolist()
    runs = []
    for i in order:
        t0 = time.perf_counter()
        res = miqcp_margin(net, LpBall(X[[i]], delta, c.p), int(y[i]), time_limit=60)
        runs.append(
            {
                "point": int(i),
                "status": res.status,
                "detail": res.detail,
                "seconds": time.perf_counter() - t0,
            }
        )
    return {
        "construction": name,
        "N": int(X.shape[0]),
        "d": int(X.shape[1]),
        "radius": delta,
        "hidden_units": int(net.hidden_neurons),
        "signature_seconds": sig_seconds,
        "pairs": int(pc.pair_row.size),
        "classes": int(pc.Q),
        "coarse_pass": coarse,
        "queries": runs,
        "mean_query_seconds": float(np.mean([r["seconds"] for r in runs])),
        "grid_progress": None if quick else _grid_times(name),
    }


def _grid_times(name: str) -> dict[str, Any] | None:
    path = PROGRESS / f"digits-N1797-d64-{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    times = data.get("query_times", [])
    return {
        "version": data["key"]["version"],
        "queries_timed": len(times),
        "mean_query_seconds": float(np.mean(times)) if times else None,
        "carried_over": data.get("carried_over", {}),
    }


def main(quick: bool = False) -> dict[str, Any]:
    points, queries = (2, 3) if quick else (POINTS, QUERIES)
    out = {"cases": [_case(n, quick, points, queries) for n in NAMES], "quick": quick}
    path = RESULTS.with_suffix(".quick.json") if quick else RESULTS
    write_json_atomic(path, out)
    for case in out["cases"]:
        co = case["coarse_pass"]
        print(
            f"{case['construction']}: {case['classes']} classes for {case['pairs']} pairs, "
            f"signatures {case['signature_seconds']:.1f} s; coarse pass "
            f"{np.mean([r['seconds_shared'] for r in co]):.2f} s shared vs "
            f"{np.mean([r['seconds_unshared'] for r in co]):.2f} s; "
            f"query {case['mean_query_seconds']:.1f} s"
        )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
