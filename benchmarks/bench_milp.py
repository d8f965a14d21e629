"""Complete verification by MILP: median time per query on a random 20-50-50-1 net (issue §Perf).

Setup (the issue's): dense random ReLU nets 20-50-50-1 with i.i.d. standard-normal weights and
biases (the test suite's ``random_net`` law), one net per seed; query points uniform in
[0, 1]^20, labels ``y = sign f(x)`` (every point correctly classified, so each query asks a
real robustness question); ℓ∞ radius 0.05, no domain. Seeds 0, 1, 2 with 10 points each (30
queries; ``quick``: seed 0, 10 queries). Every query runs with a 60 s time limit, one thread.

Modes (the same queries in each; times include computing the bounds):

* ``plain``: the textbook big-M encoding with interval (IBP) bounds, MILP always solved
  (``bounds=interval_bounds``, ``tighten=False``, ``exact_value=True``). The issue's reference:
  1.8 s median on this machine.
* ``ibp+lp``: IBP bounds tightened layer by layer with rigorous LP bounds
  (``robustexp.verify._lp``), MILP always solved.
* ``crown``: full-backward CROWN bounds for big-M, MILP always solved: what ``milp_margin``
  encodes by default.
* ``crown+lp``: CROWN bounds, then LP tightening (the tightest bounds we have), MILP always
  solved.
* ``default``: ``milp_margin`` as the cascade calls it: CROWN bounds and early exits (stop as
  soon as the bounds certify or the centre falsifies).

Target: median per query ≤ 1 s with tight bounds (checked on ``crown``, ``crown+lp`` and
``default``). The ``lp`` modes answer whether LP tightening pays. Verdict distributions are
reported per mode; the modes must never disagree (one certifies, another falsifies), which is
checked.

Run: ``.venv/bin/python benchmarks/bench_milp.py [--quick]``; writes
``benchmarks/results/milp.json``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import write_json_atomic
from robustexp.network import ReLUNet
from robustexp.verify import LpBall, interval_bounds, linear_bounds, milp_margin

RESULTS = Path(__file__).resolve().parent / "results" / "milp.json"

#: The issue's target (seconds, median per query) and reference (plain big-M with IBP bounds).
TARGET_S = 1.0
REFERENCE_PLAIN_S = 1.8

WIDTHS = (20, 50, 50, 1)
RADIUS = 0.05
TIME_LIMIT = 60.0
MODES = ("plain", "ibp+lp", "crown", "crown+lp", "default")


def random_net(seed: int) -> ReLUNet:
    """A dense 20-50-50-1 net with standard-normal weights and biases."""
    rng = np.random.default_rng(seed)
    layers = [
        (rng.standard_normal((o, i)), rng.standard_normal(o)) for i, o in itertools.pairwise(WIDTHS)
    ]
    return ReLUNet.from_layers(layers)


def _query(mode: str, net: ReLUNet, ball: LpBall, y: int):
    if mode == "default":
        return milp_margin(net, ball, y, time_limit=TIME_LIMIT)
    if mode in ("plain", "ibp+lp"):
        b = interval_bounds(net, ball)
    else:
        b = linear_bounds(net, ball, intermediate="crown")
    tighten = mode.endswith("+lp")
    return milp_margin(
        net, ball, y, bounds=b, tighten=tighten, exact_value=True, time_limit=TIME_LIMIT
    )


def main(quick: bool = False) -> dict[str, Any]:
    seeds = [0] if quick else [0, 1, 2]
    points = 10
    per_mode: dict[str, dict[str, Any]] = {m: {"times": [], "verdicts": []} for m in MODES}
    binaries: dict[str, list[int]] = {m: [] for m in MODES}
    for seed in seeds:
        net = random_net(seed)
        rng = np.random.default_rng(10_000 + seed)
        X = rng.random((points, WIDTHS[0]))
        y = np.where(net(X)[:, 0] > 0, 1, -1)
        for i in range(points):
            ball = LpBall(X[[i]], RADIUS, np.inf)
            for mode in MODES:
                t0 = time.perf_counter()
                res = _query(mode, net, ball, int(y[i]))
                per_mode[mode]["times"].append(time.perf_counter() - t0)
                per_mode[mode]["verdicts"].append(res.status)
                binaries[mode].append(int(res.stats.get("binaries", -1)))
    n = len(per_mode["plain"]["times"])
    consistent = all(
        not ({"certified", "falsified"} <= {per_mode[m]["verdicts"][q] for m in MODES})
        for q in range(n)
    )
    modes_out = {}
    for mode in MODES:
        ts = per_mode[mode]["times"]
        modes_out[mode] = {
            "median_s": statistics.median(ts),
            "mean_s": statistics.fmean(ts),
            "max_s": max(ts),
            "verdicts": dict(Counter(per_mode[mode]["verdicts"])),
            "median_binaries": statistics.median([b for b in binaries[mode] if b >= 0] or [0]),
        }
    med = {m: modes_out[m]["median_s"] for m in MODES}
    tight_modes = ("crown", "crown+lp", "default")
    met = bool(all(med[m] <= TARGET_S for m in tight_modes) and consistent)
    summary = (
        f"MILP 20-50-50-1, l_inf r={RADIUS}, {n} queries, median s/query: plain(IBP) "
        f"{med['plain']:.3f}, ibp+lp {med['ibp+lp']:.3f}, crown {med['crown']:.3f}, "
        f"crown+lp {med['crown+lp']:.3f}, default {med['default']:.3f} "
        f"(target <= {TARGET_S} s; reference plain {REFERENCE_PLAIN_S} s); "
        f"verdicts {modes_out['default']['verdicts']}"
    )
    result = {
        "benchmark": "milp",
        "quick": quick,
        "net": "-".join(map(str, WIDTHS)) + " dense, N(0,1) weights and biases",
        "radius": RADIUS,
        "p": "inf",
        "queries": n,
        "seeds": seeds,
        "time_limit_s": TIME_LIMIT,
        "modes": modes_out,
        "consistent_verdicts": consistent,
        "target": f"median per query <= {TARGET_S} s with tight bounds ({', '.join(tight_modes)})",
        "reference_plain_s": REFERENCE_PLAIN_S,
        "met": met,
        "summary": summary,
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    print(summary)
    for mode in MODES:
        m = modes_out[mode]
        print(
            f"  {mode:9s} median {m['median_s']:.3f} s  mean {m['mean_s']:.3f} s  "
            f"max {m['max_s']:.3f} s  binaries~{m['median_binaries']}  {m['verdicts']}"
        )
    print(f"target met: {met}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 10 queries")
    main(quick=parser.parse_args().quick)
