"""Scale benchmark (issue #2, "Done means"): one sparse ReLUNet with ~10^8 nonzero weights,
built and evaluated on a batch of 100 points without densifying, in bounded memory.

The net is ``linf_distance(C)`` for K random centres in d = 784 (``8d − 4 = 6268`` weights per
centre, so K = 16,000 gives 1.003·10^8 nonzero weights, plus 2Kd = 2.5·10^7 nonzero biases).

Measured, each phase in a fresh worker process (``python bench_sparse_scale.py --worker``):

* build time of the net (centres drawn beforehand), and evaluation time of ``net(X)`` for a
  batch X of 100 points, with throughput in points/s and (nonzero weights × points)/s;
* ``net.weight_bytes()`` (data + index arrays of every CSR layer, plus the biases);
* **peak memory**, as the growth of the process's peak resident set size over the resident
  size just before the phase, read from ``/proc/self/status`` (``VmHWM - VmRSS``), with the
  peak reset by writing ``5`` to ``/proc/self/clear_refs`` (Linux ≥ 4.0) at the start of each
  phase. RSS is the physical memory the phase really used: it includes every allocation,
  also those that ``tracemalloc`` cannot see (scipy's C++ sparsetools buffers, BLAS
  workspaces, the allocator's own overhead). ``tracemalloc``'s peak (numpy registers its data
  buffers with it) is recorded alongside as an attribution cross-check. The evaluation phase
  starts with the net already resident, so its peak includes the weights themselves:
  ``ratio = (VmHWM − RSS before the build) / weight_bytes``, the same reference for both
  phases. Target: ratio ≤ 3 in both phases (issue #2).
* correctness: the outputs at 5 points against the exact ℓ∞ distances computed by numpy
  (``max_j |x_j − c_kj|``; the gadget's float rounding is bounded by ``4·depth·u·value``, see
  tests/constructions/test_gadgets_values.py), reported as the largest error.

Also timed: the build for N = 10,000 centres in d = 784 (the Theorem 2.2 memorizer at MNIST
scale; target ≤ 10 s).

Run: ``.venv/bin/python benchmarks/bench_sparse_scale.py [--quick]`` (quick: K = 400, whose
evaluation peak is dominated by the fixed activation budget, so the ratio is reported but only
judged in the full run);
writes ``benchmarks/results/sparse_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from robustexp._jsonio import write_json_atomic
from robustexp._memory import memory_status, reset_peak_memory

RESULTS = Path(__file__).resolve().parent / "results" / "sparse_scale.json"

D = 784
K_FULL = 16_000  # 16,000 x (8 x 784 - 4) = 100,288,000 nonzero weights
K_QUICK = 400
K_MEMORIZER = 10_000  # N = 10,000 memorizer build-time check
BATCH = 100
TARGET_RATIO = 3.0
TARGET_MEMORIZER_BUILD_S = 10.0


def _worker(K: int, evaluate: bool) -> dict[str, Any]:
    """Build (and evaluate) in this fresh process; returns the measurements."""
    import numpy as np

    from robustexp._tolerances import FLOAT64_UNIT_ROUNDOFF
    from robustexp.constructions import linf_distance, linf_distance_size, random_centers

    C = random_centers(K, D, seed=0)
    rng = np.random.default_rng(1)
    X = C[rng.integers(K, size=BATCH)] + rng.uniform(-0.2, 0.2, size=(BATCH, D))
    X[:10] = rng.uniform(-1.5, 1.5, size=(10, D))

    base = memory_status()["VmRSS"]
    reset_peak_memory()
    tracemalloc.start()
    t0 = time.perf_counter()
    net = linf_distance(C, sparse=True)
    build_s = time.perf_counter() - t0
    build_traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    build_hwm = memory_status()["VmHWM"]
    wb = net.weight_bytes()
    size = net.size().as_dict()
    formula = linf_distance_size().evaluate_all(N=K, d=D)
    res: dict[str, Any] = {
        "K": K,
        "d": D,
        "net": repr(net),
        "size": size,
        "size_matches_formula": size == formula,
        "all_layers_sparse": all(layer.is_sparse for layer in net.layers),
        "build_seconds": build_s,
        "weight_bytes": wb,
        "rss_before_build_bytes": base,
        "build_peak_bytes": build_hwm - base,
        "build_peak_ratio": (build_hwm - base) / wb,
        "build_tracemalloc_peak_bytes": build_traced,
    }
    if not evaluate:
        return res

    rows_per_chunk = net.batch_size_for()
    before_eval = memory_status()["VmRSS"]
    reset_peak_memory()
    tracemalloc.start()
    t0 = time.perf_counter()
    Y = net(X)
    eval_s = time.perf_counter() - t0
    eval_traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    eval_hwm = memory_status()["VmHWM"]
    check = [0, 1, 2, 50, 99]
    truth = np.stack([np.abs(X[i] - C).max(axis=1) for i in check])
    err = float(np.max(np.abs(Y[check] - truth)))
    bound = 4 * net.depth * FLOAT64_UNIT_ROUNDOFF * float(truth.max())
    res.update(
        {
            "batch": BATCH,
            "points_per_chunk": rows_per_chunk,
            "eval_seconds": eval_s,
            "points_per_second": BATCH / eval_s,
            "weight_point_products_per_second": net.nonzero_weights * BATCH / eval_s,
            "rss_before_eval_bytes": before_eval,
            "eval_peak_bytes": eval_hwm - base,
            "eval_peak_ratio": (eval_hwm - base) / wb,
            "eval_activation_peak_bytes": eval_hwm - before_eval,
            "eval_tracemalloc_peak_bytes": eval_traced,
            "check_points": len(check),
            "check_max_abs_error": err,
            "check_error_bound": bound,
            "check_ok": err <= bound,
        }
    )
    return res


def _spawn(K: int, evaluate: bool) -> dict[str, Any]:
    args = [sys.executable, __file__, "--worker", str(K)] + ([] if evaluate else ["--build-only"])
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> dict[str, Any]:
    K = K_QUICK if quick else K_FULL
    scale = _spawn(K, evaluate=True)
    memorizer = _spawn(K_QUICK if quick else K_MEMORIZER, evaluate=False)
    ratio = max(scale["build_peak_ratio"], scale["eval_peak_ratio"])
    # The ratio target is about nets whose weights dwarf the fixed activation budget
    # (ACTIVATION_BUDGET_BYTES = 256 MiB); the quick net has 43 MiB of weights, so its
    # evaluation ratio is dominated by that budget and only reported, not judged.
    met = (
        (quick or ratio <= TARGET_RATIO)
        and scale["check_ok"]
        and scale["size_matches_formula"]
        and scale["all_layers_sparse"]
        and memorizer["build_seconds"] <= TARGET_MEMORIZER_BUILD_S
    )
    nnz = scale["size"]["nonzero_weights"]
    summary = (
        f"linf_distance K={K} d={D}: {nnz / 1e6:.1f}M nonzero weights, "
        f"{scale['weight_bytes'] / 2**30:.2f} GiB; build {scale['build_seconds']:.1f} s "
        f"(peak {scale['build_peak_ratio']:.2f}x weights); {BATCH} points in "
        f"{scale['eval_seconds']:.1f} s = {scale['points_per_second']:.1f} points/s, "
        f"{scale['weight_point_products_per_second'] / 1e9:.2f}e9 nnz*points/s "
        f"(peak {scale['eval_peak_ratio']:.2f}x); N={memorizer['K']} build "
        f"{memorizer['build_seconds']:.1f} s"
    )
    result = {
        "summary": summary,
        "quick": quick,
        "target": (
            f"peak memory <= {TARGET_RATIO:g} x weight bytes in build and evaluation; "
            f"N=10,000 d=784 build <= {TARGET_MEMORIZER_BUILD_S:g} s; outputs exact up to "
            "rounding (issue #2)"
        ),
        "met": bool(met),
        "scale": scale,
        "memorizer_build": memorizer,
    }
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    print(summary)
    print(f"target met: {met}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"small K ({K_QUICK})")
    parser.add_argument("--worker", type=int, metavar="K", help=argparse.SUPPRESS)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.worker is not None:
        print(json.dumps(_worker(ns.worker, evaluate=not ns.build_only)))
    else:
        main(quick=ns.quick)
