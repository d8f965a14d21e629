"""Import-time benchmark (issue §1): ``import robustexp`` must take < 0.5 s and load no torch.

Method: each statement runs in a fresh interpreter (the venv's ``sys.executable``) ``runs``
times (15, or 5 with ``--quick``). Inside the child, ``time.perf_counter`` brackets only the
import statement, so interpreter start-up is excluded; the parent also records the wall time
of the whole child process (start-up included) for context. Median and minimum are reported;
the target is checked on the median. One extra run with ``python -X importtime`` lists the
slowest modules (cumulative microseconds) behind ``import robustexp.network``.

Run: ``.venv/bin/python benchmarks/bench_import.py [--quick]``; writes
``benchmarks/results/import.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from robustexp._jsonio import write_json_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "import.json"

#: The issue's requirement for ``import robustexp`` (seconds, median of fresh interpreters).
TARGET_S = 0.5

HEAVY = ("torch", "matplotlib", "onnx", "pyscipopt", "scipy.optimize", "sympy")

STATEMENTS = {
    "robustexp": "import robustexp",
    "robustexp.network": "import robustexp.network",
    "robustexp.bounds": "import robustexp.bounds",
    "robustexp.cli (build parser)": "import robustexp.cli as c; c.build_parser()",
}

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
{stmt}
t1 = time.perf_counter()
print(json.dumps({{"seconds": t1 - t0, "modules": sorted(sys.modules)}}))
"""


def _run_once(stmt: str) -> tuple[float, float, list[str]]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=stmt)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["seconds"], wall, data["modules"]


def _importtime_top(stmt: str, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` modules with the largest cumulative import time under ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", stmt], capture_output=True, text=True, check=True
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line[len("import time:") :].split("|")
        rows.append(
            {"module": parts[2].strip(), "self_us": int(parts[0]), "cumulative_us": int(parts[1])}
        )
    rows.sort(key=lambda r: r["cumulative_us"], reverse=True)
    return rows[:top]


def main(quick: bool = False) -> dict[str, Any]:
    runs = 5 if quick else 15
    measurements: dict[str, Any] = {}
    for label, stmt in STATEMENTS.items():
        secs, walls, modules = [], [], []
        for _ in range(runs):
            s, w, modules = _run_once(stmt)
            secs.append(s)
            walls.append(w)
        measurements[label] = {
            "statement": stmt,
            "runs": runs,
            "import_median_s": statistics.median(secs),
            "import_min_s": min(secs),
            "process_wall_median_s": statistics.median(walls),
            "process_wall_min_s": min(walls),
            "heavy_modules_loaded": [
                h for h in HEAVY if h in modules or any(m.startswith(h + ".") for m in modules)
            ],
        }
    core = measurements["robustexp"]
    result = {
        "target": {"import robustexp median_s": f"< {TARGET_S}", "loads": "no torch"},
        "met": core["import_median_s"] < TARGET_S and "torch" not in core["heavy_modules_loaded"],
        "python": sys.version.split()[0],
        "measurements": measurements,
        "importtime_top_robustexp.network": _importtime_top("import robustexp.network"),
    }
    result["summary"] = (
        f"import robustexp: median {1e3 * core['import_median_s']:.1f} ms "
        f"(min {1e3 * core['import_min_s']:.1f} ms, target < {1e3 * TARGET_S:.0f} ms, "
        f"{'met' if result['met'] else 'NOT met'}); robustexp.network median "
        f"{1e3 * measurements['robustexp.network']['import_median_s']:.0f} ms"
    )
    write_json_atomic(RESULTS.with_suffix(".quick.json") if quick else RESULTS, result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"{'statement':32s} {'median ms':>10s} {'min ms':>8s} {'process ms':>11s}  heavy")
    for label, m in result["measurements"].items():
        heavy = ",".join(m["heavy_modules_loaded"]) or "-"
        print(
            f"{label:32s} {1e3 * m['import_median_s']:10.1f} {1e3 * m['import_min_s']:8.1f} "
            f"{1e3 * m['process_wall_median_s']:11.1f}  {heavy}"
        )
    print(result["summary"])
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs per statement instead of 15")
    _print(main(quick=parser.parse_args().quick))
