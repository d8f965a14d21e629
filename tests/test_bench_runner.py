"""The benchmark runner (``benchmarks/run_all.py``) on a scratch suite: a failing, crashing or
hanging benchmark is recorded and does not stop the others; the summary is complete JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"

SCRIPTS = {
    "bench_a_ok.py": (
        "def main(quick=False):\n"
        "    print('hello from a')\n"
        "    return {'summary': 'fine', 'quick': quick, 'ratio': float('nan'), 'xs': (1, 2)}\n"
    ),
    "bench_b_raises.py": "def main(quick=False):\n    raise RuntimeError('boom in b')\n",
    "bench_c_not_dict.py": "def main(quick=False):\n    return [1, 2]\n",
    "bench_d_hangs.py": "import time\n\ndef main(quick=False):\n    time.sleep(60)\n",
    "bench_e_ok.py": "def main(quick=False):\n    return {'n': 3}\n",
    "helper.py": "raise SystemExit('not a benchmark: must not be run')\n",
}


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), "--dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_runner_isolates_failures_and_writes_summary(tmp_path: Path) -> None:
    for name, text in SCRIPTS.items():
        (tmp_path / name).write_text(text)
    proc = _run(tmp_path, "--quick", "--timeout", "3")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((tmp_path / "results" / "summary.quick.json").read_text())
    entries = {e["name"]: e for e in summary["benchmarks"]}
    assert list(entries) == ["a_ok", "b_raises", "c_not_dict", "d_hangs", "e_ok"]
    status = {n: e["status"] for n, e in entries.items()}
    assert status == {
        "a_ok": "ok",
        "b_raises": "failed",
        "c_not_dict": "failed",
        "d_hangs": "timeout",
        "e_ok": "ok",
    }
    a = entries["a_ok"]
    assert a["result"] == {"summary": "fine", "quick": True, "ratio": "nan", "xs": [1, 2]}
    assert a["peak_rss_mib"] > 1 and a["seconds"] > 0 and a["quick"] is True
    assert "hello from a" in (tmp_path / "results" / "logs" / "a_ok.log").read_text()
    assert "boom in b" in entries["b_raises"]["error"]
    assert "must return a dict" in entries["c_not_dict"]["error"]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("a_ok") and "fine" in line for line in lines)
    assert any(line.startswith("b_raises") and "boom in b" in line for line in lines)
    assert "2/5 ok" in proc.stdout

    # --only reruns one benchmark and keeps the other entries
    (tmp_path / "bench_b_raises.py").write_text("def main(quick=False):\n    return {'k': 1}\n")
    proc = _run(tmp_path, "--quick", "--only", "b_raises")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "results" / "summary.quick.json").read_text())
    entries = {e["name"]: e for e in summary["benchmarks"]}
    assert entries["b_raises"]["status"] == "ok" and entries["b_raises"]["quick"] is True
    assert entries["d_hangs"]["status"] == "timeout"
    # quick runs never touch the full summary
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "logs",
        "summary.quick.json",
    ]


def test_runner_rejects_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "bench_x.py").write_text("def main(quick=False):\n    return {}\n")
    proc = _run(tmp_path, "--only", "nope")
    assert proc.returncode == 2
    assert "unknown benchmark(s) ['nope']; available: ['x']" in proc.stderr
    assert not (tmp_path / "results").exists()
