"""Linear bound propagation (CROWN) speed on a dense 784-256-256-1 net (issue 3, performance).

What: ``robustexp.verify.linear_bounds`` on a seeded dense 784-256-256-1 ReLU net with He-like
initialisation (weights N(0, 2/fan_in), biases N(0, 0.01²)), l-inf balls of radius 0.01
around 64 points uniform in [0, 1]^784 (no domain), one call for the whole batch of 64.
Both intermediate settings are timed: ``"crown"`` (full backward CROWN on the hidden layer,
method "crown") and ``"ibp"`` (IBP intermediates, method "crown-ibp"); also
``margin_lower_bound(method="crown")`` (the margin row directly) and IBP for reference.

How: one warm-up call, then ``repeats`` timed calls (5; 2 with ``--quick``); the reported
figure is the median wall time of a batch call divided by 64 (ms per point). BLAS threads:
whatever the environment gives (2 cores on the reference machine).

Target (issue 3): at most 20 ms per point for linear bounds ("a well-known library takes about
that on this machine"); checked on the full-CROWN median.

Run: ``.venv/bin/python benchmarks/bench_crown.py [--quick]``; writes
``benchmarks/results/crown.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import write_json_atomic
from robustexp.network import ReLUNet
from robustexp.verify import LpBall, interval_output_bounds, linear_bounds, margin_lower_bound

RESULTS = Path(__file__).resolve().parent / "results" / "crown.json"

#: The issue's target for linear bounds on this net (ms per point, batch of 64, 2 cores).
TARGET_MS = 20.0
WIDTHS = (784, 256, 256, 1)
BATCH = 64
RADIUS = 0.01


def build_net(seed: int = 0) -> ReLUNet:
    """The seeded He-initialised dense net."""
    rng = np.random.default_rng(seed)
    layers = []
    for a, b in itertools.pairwise(WIDTHS):
        layers.append((rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.01))
    return ReLUNet.from_layers(layers)


def _time(fn: Any, repeats: int) -> list[float]:
    fn()  # warm-up (page faults, BLAS threads)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(quick: bool = False) -> dict[str, Any]:
    repeats = 2 if quick else 5
    net = build_net()
    rng = np.random.default_rng(1)
    X = rng.uniform(0.0, 1.0, size=(BATCH, WIDTHS[0]))
    y = np.where(net(X)[:, 0] >= 0, 1, -1)
    ball = LpBall(X, RADIUS, np.inf)
    runs = {
        "linear_bounds_crown": lambda: linear_bounds(net, ball, intermediate="crown"),
        "linear_bounds_crown_ibp": lambda: linear_bounds(net, ball, intermediate="ibp"),
        "margin_crown": lambda: margin_lower_bound(net, ball, y, method="crown"),
        "margin_crown_ibp": lambda: margin_lower_bound(net, ball, y, method="crown-ibp"),
        "ibp_output": lambda: interval_output_bounds(net, ball),
    }
    timings: dict[str, Any] = {}
    for name, fn in runs.items():
        ts = _time(fn, repeats)
        timings[name] = {
            "median_ms_per_point": 1e3 * statistics.median(ts) / BATCH,
            "min_ms_per_point": 1e3 * min(ts) / BATCH,
            "seconds_per_batch": ts,
        }
    lb = linear_bounds(net, ball, intermediate="crown")
    lb_ibp = linear_bounds(net, ball, intermediate="ibp")
    margins = {m: margin_lower_bound(net, ball, y, method=m) for m in ("ibp", "crown-ibp", "crown")}
    quality = {
        "unstable_fraction_layer2_crown": float(lb.unstable(1).mean()),
        "unstable_fraction_layer2_ibp": float(lb_ibp.unstable(1).mean()),
        "output_width_mean_crown": float(np.mean(lb.upper[-1] - lb.lower[-1])),
        "output_width_mean_crown_ibp": float(np.mean(lb_ibp.upper[-1] - lb_ibp.lower[-1])),
        "certified_fraction": {m: float(np.mean(v > 0)) for m, v in margins.items()},
    }
    crown_ms = timings["linear_bounds_crown"]["median_ms_per_point"]
    met = crown_ms <= TARGET_MS
    result = {
        "net": "-".join(map(str, WIDTHS)),
        "batch": BATCH,
        "radius": RADIUS,
        "p": "inf",
        "repeats": repeats,
        "cpu_count": os.cpu_count(),
        "timings": timings,
        "quality": quality,
        "target": f"linear_bounds (full CROWN) <= {TARGET_MS} ms per point",
        "met": met,
        "summary": (
            f"CROWN {crown_ms:.1f} ms/pt, CROWN-IBP "
            f"{timings['linear_bounds_crown_ibp']['median_ms_per_point']:.1f} ms/pt "
            f"(target <= {TARGET_MS:g}: {'met' if met else 'MISSED'})"
        ),
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"{'run':28s} {'median ms/pt':>13s} {'min ms/pt':>10s}")
    for name, t in result["timings"].items():
        print(f"{name:28s} {t['median_ms_per_point']:13.2f} {t['min_ms_per_point']:10.2f}")
    print(result["quality"])
    print(result["summary"])
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    _print(main(quick=parser.parse_args().quick))
