"""IBP on a sparse net with ~10^8 nonzero weights, against a plain forward pass (issue 3).

What: the exact l-inf distance network ``robustexp.constructions.linf_distance(C)`` for K
centres in d = 784 (layer 1 computes ``σ(±(x_j - c_kj))``, then one max tree per centre),
stored as CSR. Its size is ``K (8d - 4)`` nonzero weights; K = 15954 gives ~1.0e8 (quick:
K = 1600, ~1.0e7). A batch of 100 points uniform in [0, 1]^784 (quick: 20), l-inf radius
0.01, no domain.

How: ``net(X)`` (the plain sparse forward pass, chunked by ReLUNet itself) and
``interval_output_bounds(net, LpBall(X, 0.01, inf))`` (sound IBP of the output layer,
streaming the hidden layers; the same work as ``margin_lower_bound(method="ibp")`` minus the
label) on the whole batch. A warm-up on 2 points builds the cached ``|W|`` of every layer (the
cold call is reported separately). Then ``repeats`` rounds (2; quick: 3), each timing the
forward pass and IBP back to back (interleaved, so a change in machine load hits both), IBP
with the default 2 worker threads (``BOUND_PROPAGATION_THREADS``; the forward pass is
single-threaded); one more IBP run with 1 thread gives the single-threaded figure. Reported:
seconds per point (minimum and median over rounds), the ratio of the minima, the load average,
and peak resident memory (``ru_maxrss``) after building the net, after the forward passes and
after IBP. The IBP bounds are checked to contain the forward outputs.

Target (issue 3): IBP time at most 3x one forward pass.

Run: ``.venv/bin/python benchmarks/bench_ibp_sparse.py [--quick]``; writes
``benchmarks/results/ibp_sparse.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from robustexp._jsonio import write_json_atomic
from robustexp._tolerances import BOUND_PROPAGATION_THREADS
from robustexp.constructions import linf_distance
from robustexp.verify import LpBall, _ibp, interval_output_bounds

RESULTS = Path(__file__).resolve().parent / "results" / "ibp_sparse.json"

#: The issue's target: IBP at most this many times a plain sparse forward pass.
TARGET_RATIO = 3.0
DIM = 784
RADIUS = 0.01


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(quick: bool = False) -> dict[str, Any]:
    target_nnz = 1e7 if quick else 1e8
    K = round(target_nnz / (8 * DIM - 4))
    batch = 20 if quick else 100
    repeats = 3 if quick else 2
    rng = np.random.default_rng(0)
    centers = rng.uniform(0.0, 1.0, size=(K, DIM))
    t0 = time.perf_counter()
    net = linf_distance(centers)
    build_s = time.perf_counter() - t0
    del centers
    mem_net = _peak_mib()
    X = rng.uniform(0.0, 1.0, size=(batch, DIM))
    ball = LpBall(X, RADIUS, np.inf)

    t0 = time.perf_counter()
    interval_output_bounds(net, ball[:2])  # cold: builds |W| caches
    cold_ibp_2 = time.perf_counter() - t0
    net(X[:2])  # warm-up
    load_before = os.getloadavg()

    fwd, ibp = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        F = net(X)
        fwd.append(time.perf_counter() - t0)
        mem_fwd = _peak_mib()
        t0 = time.perf_counter()
        lo, hi = interval_output_bounds(net, ball)
        ibp.append(time.perf_counter() - t0)
    mem_ibp = _peak_mib()
    _ibp.BOUND_PROPAGATION_THREADS = 1
    try:
        t0 = time.perf_counter()
        interval_output_bounds(net, ball)
        ibp_1thread = time.perf_counter() - t0
        t0 = time.perf_counter()
        net(X)
        fwd.append(time.perf_counter() - t0)
    finally:
        _ibp.BOUND_PROPAGATION_THREADS = BOUND_PROPAGATION_THREADS
    load_after = os.getloadavg()

    sound = bool(np.all(lo <= F) and np.all(hi >= F))
    fwd_s, ibp_s = min(fwd), min(ibp)
    ratio = ibp_s / fwd_s
    ratio_1 = ibp_1thread / fwd_s
    met = ratio <= TARGET_RATIO
    result = {
        "construction": "linf_distance",
        "centers": K,
        "dim": DIM,
        "nonzero_weights": net.nonzero_weights,
        "parameters": net.parameters,
        "layer_widths": list(net.layer_widths),
        "depth": net.depth,
        "weight_bytes": net.weight_bytes(),
        "batch": batch,
        "radius": RADIUS,
        "build_seconds": build_s,
        "repeats": repeats,
        "forward_seconds_per_point": fwd_s / batch,
        "forward_seconds_per_point_median": statistics.median(fwd) / batch,
        "ibp_seconds_per_point": ibp_s / batch,
        "ibp_seconds_per_point_median": statistics.median(ibp) / batch,
        "ibp_threads": BOUND_PROPAGATION_THREADS,
        "ibp_seconds_per_point_1_thread": ibp_1thread / batch,
        "ibp_cold_seconds_per_point_first_2": cold_ibp_2 / 2,
        "ratio_ibp_to_forward": ratio,
        "ratio_ibp_1_thread_to_forward": ratio_1,
        "load_average_before_after": [list(load_before), list(load_after)],
        "peak_rss_mib_after_build": mem_net,
        "peak_rss_mib_after_forward": mem_fwd,
        "peak_rss_mib_after_ibp": mem_ibp,
        "ibp_contains_forward_outputs": sound,
        "mean_output_interval_width": float(np.mean(hi - lo)),
        "target": f"IBP <= {TARGET_RATIO:g} x forward pass",
        "met": met,
        "summary": (
            f"{net.nonzero_weights:.3g} nnz, batch {batch}: forward {fwd_s / batch:.3f} s/pt, "
            f"IBP {ibp_s / batch:.3f} s/pt, ratio {ratio:.2f} (1 thread: {ratio_1:.2f}; target "
            f"<= {TARGET_RATIO:g}: {'met' if met else 'MISSED'}), peak {mem_ibp / 1024:.1f} GiB"
        ),
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~1e7 weights, 20 points")
    res = main(quick=parser.parse_args().quick)
    for key, val in res.items():
        if key not in ("layer_widths", "summary"):
            print(f"{key:40s} {val}")
    print(res["summary"])
    print(f"wrote {RESULTS}")
