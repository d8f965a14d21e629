"""ℓ∞ robust memorizer at MNIST scale, and how build and verification cost grow (issue 4,
"Scale and performance").

**Full scale** (N = 10,000 points, d = 784, synthetic data in the unit ℓ∞ ball whose classes
are 2ε-separated with the claimed ε = 0.25; radius δ = the largest float ≤ 2ε/3), for the
max-tree memorizer ``memorizer-linf`` and the IBP-friendly ``cube-memorizer-linf``, each
phase in a fresh worker process (``--worker PHASE``):

* ``build``: wall time of ``build`` (including its validation: unit ball, and the radius
  condition proven by H6's screened ``is_separated``), peak memory as the growth of the
  process's peak RSS over the RSS before the build (``/proc/self/clear_refs`` reset, then
  ``VmHWM``), the parameter count against the exact formula. Targets: ≤ 10 s, ≤ 4 GB,
  parameters == formula.
* ``certificate``: the construction's own proof check (exact separation, thresholds).
* ``ibp``: the GENERIC verifier — interval bound propagation, exactly what
  ``margin_lower_bound(method="ibp")`` runs (``kernel="auto"``: the lazy kernel of
  :mod:`robustexp.verify._lazy_ibp` for these nets) — on ALL N points of the cube memorizer:
  wall time (target ≤ 2 min), certified fraction, and the work counters (weight terms read
  against the N × nonzeros that plain IBP reads). For comparison the batched layer-by-layer
  kernel (``kernel="eager"``) on a sample of ``EAGER_SAMPLE`` points, and IBP on a sample of
  the max-tree memorizer, which IBP cannot certify (the docstring of ``_memorizers`` says why).

**Grid**: N ∈ {500, 1000, 2000, 4000} × d ∈ {16, 64, 256, 784}, both memorizers: the
network assembly time (``build(check=False)``, min of 3), the validation time (the rest of
``build``: unit ball and the screened separation check, O(N²d) BLAS), the eager IBP time per
point (sample of 16, after a warm-up) and, for the cube memorizer, the lazy IBP time for all
N points, against the nonzero count P = parameters. Least-squares slopes of log(time) on
log(P) (1 = linear in the nonzeros), over the cells with P ≥ 10^6 (smaller ones measure
fixed overheads). Eager IBP of the whole set costs N × (per-point cost) ∝ N·P; lazy IBP of
the whole set costs about N² × (terms until a far bump dies) — less than N·P by the factor
the counters show.

Writes ``benchmarks/results/memorizer_scale.json`` (``--quick``: ``memorizer_scale.quick.json``;
N = 1000 at full scale, grid N ∈ {250, 500} × d ∈ {16, 64}).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from robustexp._jsonio import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "memorizer_scale.json"
RESULTS_QUICK = RESULTS.with_name("memorizer_scale.quick.json")

N_FULL, N_QUICK, D_FULL = 10_000, 1_000, 784
EPS = 0.25
EAGER_SAMPLE, TREE_SAMPLE = 16, 4
GRID_N, GRID_D = (500, 1000, 2000, 4000), (16, 64, 256, 784)
GRID_N_QUICK, GRID_D_QUICK = (250, 500), (16, 64)
GRID_IBP_SAMPLE = 16
#: Cells with fewer parameters are dominated by fixed overheads; the slopes use the others.
FIT_MIN_PARAMETERS = 10**6
TARGETS = {"build_seconds": 10.0, "build_peak_gib": 4.0, "ibp_all_points_seconds": 120.0}
NAMES = ("memorizer-linf", "cube-memorizer-linf")


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, val, _unit = line.split()
                out[key[:-1]] = int(val) * 1024
    return out


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _data(N: int, d: int) -> tuple[Any, Any, float]:
    import numpy as np

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separated_dataset

    ds = separated_dataset(N, d, EPS, "inf", seed=0, measure=False)
    rc = CONSTRUCTIONS["memorizer-linf"].radius_condition
    from fractions import Fraction

    delta = rc.just_inside(Fraction(EPS) ** 2)
    return np.array(ds.X), np.array(ds.y), delta


def _ibp(net: Any, X: Any, y: Any, delta: float, kernel: str) -> dict[str, Any]:
    """IBP margins of every row of X: wall time, certified fraction, work counters."""
    import numpy as np

    from robustexp.verify import LpBall, interval_output_bounds
    from robustexp.verify._lazy_ibp import LazyStats, lazy_interval_output_bounds, use_lazy_ibp

    ball = LpBall(X, delta, np.inf)
    lazy = kernel == "lazy" or (kernel == "auto" and use_lazy_ibp(net))
    st = LazyStats()
    t0 = time.perf_counter()
    if lazy:
        lo, hi = lazy_interval_output_bounds(net, ball, stats=st)
    else:
        lo, hi = interval_output_bounds(net, ball, kernel="eager")
    dt = time.perf_counter() - t0
    lb = np.where(np.asarray(y) > 0, lo[:, 0], -hi[:, 0])
    out = {
        "kernel": "lazy" if lazy else "eager",
        "points": len(y),
        "seconds": dt,
        "seconds_per_point": dt / len(y),
        "certified_fraction": float(np.mean(lb > 0)),
        "min_lower_bound": float(lb.min()),
    }
    if lazy:
        out.update(
            terms_read=st.terms,
            eager_terms=st.eager_terms,
            terms_fraction=st.terms / st.eager_terms,
            neurons_evaluated=st.neurons_evaluated,
            early_exits=st.early_exits,
        )
    return out


def _worker(phase: str, N: int, name: str) -> dict[str, Any]:
    import numpy as np

    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS[name]
    X, y, delta = _data(N, D_FULL)
    res: dict[str, Any] = {"construction": name, "N": N, "d": D_FULL, "eps": EPS, "delta": delta}
    if phase == "certificate":
        t0 = time.perf_counter()
        cert = c.certificate(X, y, delta, eps=EPS)
        res.update(certificate_seconds=time.perf_counter() - t0, holds=cert.holds)
        res["conclusion"] = cert.conclusion
        return res
    base = _status()["VmRSS"]
    _reset_peak()
    t0 = time.perf_counter()
    net = c.build(X, y, delta, eps=EPS)
    build_s = time.perf_counter() - t0
    peak = _status()["VmHWM"] - base
    size = net.size().as_dict()
    formula = c.size_formula().evaluate_all(c.size_arguments(X, y, delta))
    res.update(
        build_seconds=build_s,
        build_peak_bytes=peak,
        build_peak_gib=peak / 2**30,
        weight_bytes=net.weight_bytes(),
        size=size,
        size_equals_formula=size == formula,
    )
    if phase == "build":
        return res
    rng = np.random.default_rng(0)
    if name == "memorizer-linf":  # IBP cannot certify the max tree: a sample shows it
        idx = np.sort(rng.choice(N, size=min(TREE_SAMPLE, N), replace=False))
        res["ibp"] = _ibp(net, X[idx], y[idx], delta, "auto")
        return res
    base = _status()["VmRSS"]
    _reset_peak()
    res["ibp_all_points"] = _ibp(net, X, y, delta, "auto")
    res["ibp_all_points"]["peak_gib_over_net"] = (_status()["VmHWM"] - base) / 2**30
    idx = np.sort(rng.choice(N, size=min(EAGER_SAMPLE, N), replace=False))
    eager = _ibp(net, X[idx], y[idx], delta, "eager")
    eager["extrapolated_all_points_seconds"] = eager["seconds_per_point"] * N
    res["ibp_eager_sample"] = eager
    return res


def _grid_worker(N: int, d: int) -> dict[str, Any]:
    """Assembly time (``check=False``, min of 3), validation time, eager IBP time per point
    (sample of ``GRID_IBP_SAMPLE``, after a warm-up) for both memorizers at (N, d), and lazy
    IBP on all N points for the cube memorizer (a max tree has no dead units to skip)."""
    import numpy as np

    from robustexp.constructions import CONSTRUCTIONS

    X, y, delta = _data(N, d)
    out: dict[str, Any] = {"N": N, "d": d}
    idx = np.arange(min(GRID_IBP_SAMPLE, N))
    for name in NAMES:
        c = CONSTRUCTIONS[name]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            net = c.build(X, y, delta, check=False)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c.build(X, y, delta, eps=EPS)
        checked = time.perf_counter() - t0
        _ibp(net, X[:2], y[:2], delta, "eager")  # warm-up
        eager = _ibp(net, X[idx], y[idx], delta, "eager")
        out[name] = {
            "parameters": net.parameters,
            "assembly_seconds": min(times),
            "validation_seconds": max(checked - min(times), 0.0),
            "ibp_seconds_per_point": eager["seconds_per_point"],
            "ibp_certified_fraction": eager["certified_fraction"],
            "ibp_eager_all_points_estimate": eager["seconds_per_point"] * N,
        }
        if name == "cube-memorizer-linf":  # a max tree has no dead units to skip: no gain
            _ibp(net, X[:2], y[:2], delta, "lazy")  # warm-up (compiled kernel from the cache)
            lazy = _ibp(net, X, y, delta, "lazy")
            out[name].update(
                lazy_ibp_all_points_seconds=lazy["seconds"],
                lazy_ibp_certified_fraction=lazy["certified_fraction"],
                lazy_terms_fraction=lazy["terms_fraction"],
            )
    return out


def _run_worker(args: list[str], timeout: float = 7200) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) on log(x)."""
    lx = [math.log(v) for v in xs]
    ly = [math.log(v) for v in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den


def main(quick: bool = False) -> dict[str, Any]:
    N = N_QUICK if quick else N_FULL
    full: dict[str, Any] = {}
    for name in NAMES:
        full[name] = {
            "build": _run_worker(["build", str(N), name]),
            "certificate": _run_worker(["certificate", str(N), name]),
            "ibp": _run_worker(["ibp", str(N), name]),
        }
    grid_n, grid_d = (GRID_N_QUICK, GRID_D_QUICK) if quick else (GRID_N, GRID_D)
    grid = [_run_worker(["grid", str(n), str(d)]) for d in grid_d for n in grid_n]
    ok = [g for g in grid if "error" not in g]
    big = [g for g in ok if g["cube-memorizer-linf"]["parameters"] >= FIT_MIN_PARAMETERS] or ok
    fits: dict[str, float] = {}
    for name in NAMES:
        P = [g[name]["parameters"] for g in big]
        fits[f"{name}: assembly time vs P"] = _slope(P, [g[name]["assembly_seconds"] for g in big])
        fits[f"{name}: eager IBP time per point vs P"] = _slope(
            P, [g[name]["ibp_seconds_per_point"] for g in big]
        )
        if name == "cube-memorizer-linf":
            fits[f"{name}: lazy IBP time (all points) vs N"] = _slope(
                [g["N"] for g in big], [g[name]["lazy_ibp_all_points_seconds"] for g in big]
            )
        fits[f"{name}: validation time vs N·P"] = _slope(
            [g["N"] * g[name]["parameters"] for g in big],
            [max(g[name]["validation_seconds"], 1e-4) for g in big],
        )
    b = full["cube-memorizer-linf"]["build"]
    t = full["memorizer-linf"]["build"]
    ibp = full["cube-memorizer-linf"]["ibp"].get("ibp_all_points", {})
    eager = full["cube-memorizer-linf"]["ibp"].get("ibp_eager_sample", {})
    met = {
        "memorizer-linf build ≤ 10 s": t.get("build_seconds", math.inf) <= 10,
        "memorizer-linf peak ≤ 4 GiB": t.get("build_peak_gib", math.inf) <= 4,
        "memorizer-linf parameters == formula": bool(t.get("size_equals_formula")),
        "cube build ≤ 10 s": b.get("build_seconds", math.inf) <= 10,
        "cube peak ≤ 4 GiB": b.get("build_peak_gib", math.inf) <= 4,
        "cube parameters == formula": bool(b.get("size_equals_formula")),
        "IBP certifies all N points (cube)": ibp.get("certified_fraction") == 1.0
        and ibp.get("points") == N,
        "IBP for all N points ≤ 2 min (cube)": ibp.get("seconds", math.inf) <= 120,
    }
    result = {
        "summary": (
            f"N={N}, d={D_FULL}: memorizer-linf build {t.get('build_seconds', math.nan):.1f} s, "
            f"peak {t.get('build_peak_gib', math.nan):.2f} GiB; cube build "
            f"{b.get('build_seconds', math.nan):.1f} s; IBP ({ibp.get('kernel')}) certified "
            f"{ibp.get('certified_fraction', math.nan):.3f} of all {ibp.get('points')} points in "
            f"{ibp.get('seconds', math.nan):.1f} s (target 120 s; reading "
            f"{ibp.get('terms_fraction', math.nan):.2%} of plain IBP's terms; eager kernel "
            f"≈ {eager.get('extrapolated_all_points_seconds', math.nan):.0f} s); slopes "
            f"{', '.join(f'{k}: {v:.2f}' for k, v in fits.items())}"
        ),
        "quick": quick,
        "targets": TARGETS,
        "met": met,
        "full_scale": full,
        "grid": grid,
        "slopes": fits,
    }
    write_json_atomic(RESULTS_QUICK if quick else RESULTS, result)
    print(result["summary"])
    for k, v in met.items():
        print(f"  {'yes' if v else 'NO '}  {k}")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.worker:
        kind = ns.worker[0]
        if kind == "grid":
            print(json.dumps(_grid_worker(int(ns.worker[1]), int(ns.worker[2]))))
        else:
            print(json.dumps(_worker(kind, int(ns.worker[1]), ns.worker[2])))
        sys.exit(0)
    main(quick=ns.quick)
