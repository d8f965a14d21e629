"""Run every ``benchmarks/bench_*.py`` and collect the results (``make bench``).

Each benchmark runs as ``main(quick=...)`` in its own fresh interpreter, one after another, so
its peak memory is measured alone (``ru_maxrss`` of that process; the largest of any
subprocesses it waited for is recorded separately) and a crash, an exception or
a timeout in one does not stop the rest. The summary, written atomically to
``benchmarks/results/summary.json`` (``summary.quick.json`` with ``--quick``; each
benchmark then writes ``<name>.quick.json``, never its full result), has one entry per
benchmark: name, status (``ok``, ``failed``, ``timeout``), wall seconds, peak resident
memory, and the returned result dict or the error. With ``--only`` the entries of the other
benchmarks already in the summary are kept.
Each benchmark's own printed output goes to ``benchmarks/results/logs/<name>.log``.

Usage::

    .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--timeout SECONDS]
                                           [--dir BENCH_DIR] [--results RESULTS_DIR]

``--dir`` and ``--results`` (default ``benchmarks`` and ``benchmarks/results``) let the runner's
own test run a scratch suite without touching the real results.

Exit status: 0 when every benchmark that ran succeeded, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from robustexp._jsonio import write_json_atomic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Runs inside the child: import the script by path, call main(quick), dump result + peak RSS.
_DRIVER = """
import importlib.util, json, resource, sys
path, out, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[-1][:-3], path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
result = module.main(quick=quick)
if not isinstance(result, dict):
    raise TypeError(f"main() must return a dict; got {type(result).__name__}")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
peak_sub = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
with open(out, "w") as fh:
    data = {"result": result, "peak_rss_mib": peak, "peak_subprocess_rss_mib": peak_sub}
    json.dump(data, fh, default=str)
"""


def discover(directory: Path = HERE) -> dict[str, Path]:
    """``{name: path}`` for every ``bench_<name>.py`` in ``directory``, sorted by name."""
    return {p.stem[len("bench_") :]: p for p in sorted(directory.glob("bench_*.py"))}


def _json_safe(obj: Any) -> Any:
    """Replace non-finite floats (not valid JSON) by their string form, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_one(name: str, path: Path, *, quick: bool, timeout: float, logs: Path) -> dict[str, Any]:
    """Run one benchmark in a subprocess; never raises for a failing benchmark."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    entry: dict[str, Any] = {"name": name, "script": _display(path), "quick": quick}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        start = time.perf_counter()
        with open(log_path, "w") as log:
            try:
                proc = subprocess.run(
                    [sys.executable, "-c", _DRIVER, str(path), str(out), "1" if quick else "0"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    cwd=ROOT,
                )
                returncode: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = None
        entry["seconds"] = round(time.perf_counter() - start, 3)
        entry["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        if returncode is None:
            entry.update(status="timeout", error=f"no result after {timeout:g} s")
        elif returncode != 0 or not out.is_file():
            tail = log_path.read_text(errors="replace").strip().splitlines()[-15:]
            entry.update(status="failed", returncode=returncode, error="\n".join(tail))
        else:
            data = json.loads(out.read_text())
            entry.update(
                status="ok",
                peak_rss_mib=round(data["peak_rss_mib"], 1),
                peak_subprocess_rss_mib=round(data["peak_subprocess_rss_mib"], 1),
                result=_json_safe(data["result"]),
            )
    entry["log"] = _display(log_path)
    return entry


def one_line(entry: dict[str, Any]) -> str:
    """``name  status  seconds  peak  summary-or-error`` for the console."""
    peak = f"{entry['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in entry else "-"
    if entry["status"] == "ok":
        result = entry["result"]
        detail = result.get("summary") or ", ".join(
            f"{k}={v}" for k, v in list(result.items())[:4] if isinstance(v, int | float | str)
        )
    else:
        lines = (entry.get("error") or "").strip().splitlines()
        detail = lines[-1] if lines else ""
    head = f"{entry['name']:<18s} {entry['status']:<8s} {entry['seconds']:8.1f} s  {peak:>9s}"
    return f"{head}  {detail}"


def _previous_entries(summary_path: Path) -> dict[str, Any]:
    try:
        data = json.loads(summary_path.read_text())
        return {e["name"]: e for e in data["benchmarks"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--dir", type=Path, default=HERE)
    bench_dir = pre.parse_known_args(argv)[0].dir.resolve()
    available = discover(bench_dir)
    parser = argparse.ArgumentParser(description="Run the robustexp benchmarks.")
    parser.add_argument("--quick", action="store_true", help="pass quick=True to every main()")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable); one of: {', '.join(available) or 'none'}",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds per benchmark (default 3600)"
    )
    parser.add_argument(
        "--dir", type=Path, default=HERE, help="directory holding bench_*.py (default: here)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="directory for summary.json and logs/ (default: <dir>/results)",
    )
    args = parser.parse_args(argv)
    results = (args.results or bench_dir / "results").resolve()
    summary_path = results / ("summary.quick.json" if args.quick else "summary.json")
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive; got {args.timeout}")
    names = list(available)
    if args.only:
        unknown = sorted(set(args.only) - set(available))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {list(available)}")
        names = [n for n in names if n in args.only]
    if not names:
        print("no benchmarks found (benchmarks/bench_*.py)")
        return 1

    entries = _previous_entries(summary_path) if args.only else {}
    ran = []
    for name in names:
        print(f"running {name} ...", flush=True)
        entry = run_one(
            name, available[name], quick=args.quick, timeout=args.timeout, logs=results / "logs"
        )
        entries[name] = entry
        ran.append(entry)
        print(one_line(entry), flush=True)
        summary = {
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "benchmarks": [entries[n] for n in sorted(entries)],
        }
        write_json_atomic(summary_path, summary)  # after each one: survives an interruption
    failed = [e["name"] for e in ran if e["status"] != "ok"]
    print(f"{len(ran) - len(failed)}/{len(ran)} ok; summary in {_display(summary_path)}")
    if failed:
        print(f"not ok: {', '.join(failed)} (logs in {_display(results / 'logs')})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
