"""Markdown table of the Theorem 2.2 verification grid (the per-cell JSON written by
``bench_memorization_grid.py``), for docs/memorization.md.

One row per instance, one column per construction: the fraction certified by a generic
verifier, the verifier version (and how many verdicts were carried over from older
versions: each is sound on its own), and (when not 100 %) why the cell stopped and the estimated
time to decide every point at the measured query rate. ``attacks`` counts cells where an
attack at the claimed radius succeeded (it should be 0).

    .venv/bin/python benchmarks/memorization_grid_table.py [--cells DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from robustexp._jsonio import read_json

HERE = Path(__file__).resolve().parent
CELLS = HERE / "results" / "memorization_grid" / "full"
ORDER = (
    "memorizer-linf",
    "cube-memorizer-linf",
    "memorizer-l1",
    "memorizer-l2",
    "nearest-margin-linf",
    "nearest-margin-l1",
    "nearest-margin-l2",
)


def _cell_text(row: dict[str, Any]) -> str:
    if "error" in row:
        return "error"
    g = row["generic"]
    frac = g["certified_fraction"]
    text = f"{100 * frac:.0f} %" if frac in (0.0, 1.0) else f"{100 * frac:.1f} %"
    carried = {v: n for v, n in g.get("carried_over", {}).items() if n}
    older = "".join(f", {n} from v{v}" for v, n in sorted(carried.items()))
    text += f" (v{g.get('version', '?')}{older})"
    if frac < 1.0 and "tried_after_ibp" in g and g.get("version", 0) >= 10:
        # how many of the points left after IBP had their query, and how many of those
        # were certified (the rest of the cell is untried, not failed)
        tried = g["tried_after_ibp"]
        cert = sum(g["certified_by"].values()) - g.get("ibp_certified", 0)
        text += f", {cert}/{tried} tried certified"
    if frac < 1.0 and g.get("estimated_seconds_for_all"):
        text += f", ~{g['estimated_seconds_for_all'] / 3600:.1f} h for all"
    return text


def table(cells: Path = CELLS) -> str:
    """The Markdown table (a string)."""
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    attacked = 0
    for path in sorted(cells.glob("*.json")):
        row = read_json(path)
        inst = row.get("instance", {})
        key = f"{inst.get('kind', '?')} N={inst.get('N', '?')} d={inst.get('d', '?')}"
        rows.setdefault(key, {})[row["construction"]] = row
        if "error" not in row and row["attack_at_claimed"]["falsified_any"] > 0:
            attacked += 1

    def order(key: str) -> tuple:
        kind, n, d = key.split()
        return (kind != "synthetic", int(d[2:]), int(n[2:]))

    head = "| instance | " + " | ".join(f"`{c}`" for c in ORDER) + " |"
    lines = [head, "|" + "---|" * (len(ORDER) + 1)]
    for key in sorted(rows, key=order):
        cols = [_cell_text(rows[key][c]) if c in rows[key] else "—" for c in ORDER]
        lines.append(f"| {key} | " + " | ".join(cols) + " |")
    lines.append("")
    lines.append(f"Cells where an attack at the claimed radius succeeded: {attacked}.")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=Path, default=CELLS)
    print(table(ap.parse_args().cells))
