"""The verification grid's progress files (``benchmarks/bench_memorization_grid.py``): two
processes sharing a cell (``--reverse``) must not lose each other's verdicts, and verdicts of
another verifier version or radius must never be merged in."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from robustexp._jsonio import read_json, write_json_atomic

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_memorization_grid.py"


def _grid():
    spec = importlib.util.spec_from_file_location("bench_memorization_grid", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_saves_merge_the_other_process_verdicts(tmp_path: Path) -> None:
    grid = _grid()
    path = tmp_path / "cell.json"
    key = {"version": 10, "radius": 0.1, "milp_limit": 20.0}
    write_json_atomic(path, {"key": key, "verdicts": {"1": ["certified", "milp"]}})
    mine = {"key": key, "verdicts": {"2": ["certified", "crown (cone)"]}}
    grid._save_progress(path, mine, [0.5], 3.0)
    assert set(read_json(path)["verdicts"]) == {"1", "2"}
    assert set(mine["verdicts"]) == {"1", "2"}  # in place: the caller skips point 1 now


def test_saves_never_merge_verdicts_of_another_key(tmp_path: Path) -> None:
    grid = _grid()
    path = tmp_path / "cell.json"
    old = {"version": 9, "radius": 0.1, "milp_limit": 20.0}
    write_json_atomic(path, {"key": old, "verdicts": {"1": ["unknown", "milp"]}})
    mine = {"key": {**old, "version": 10}, "verdicts": {"2": ["certified", "milp"]}}
    grid._save_progress(path, mine, [], 0.0)
    assert set(read_json(path)["verdicts"]) == {"2"}


def test_a_newer_version_carries_over_sound_verdicts_only() -> None:
    """Certified and falsified verdicts of an older version stay (each is sound), counted per
    version; unknown ones are dropped (queried again); another radius or query limit, or a
    newer version, carries nothing over."""
    grid = _grid()
    old_key = {"version": 9, "radius": 0.1, "milp_limit": 20.0}
    old = {
        "key": old_key,
        "verdicts": {
            "1": ["certified", "milp"],
            "2": ["unknown", "milp"],
            "3": ["falsified", "milp"],
        },
        "query_times": [4.0, 5.0, 6.0],
        "seconds": 15.0,
        "ibp": {"certified_by": {}, "left": [1, 2, 3], "falsified": [], "seconds": 1.0},
    }
    key = {**old_key, "version": 11}
    assert grid._carries_over(old_key, key)
    for other in ({**key, "radius": 0.2}, {**key, "milp_limit": 5.0}, {**key, "version": 12}):
        assert not grid._carries_over(other, key)
    done = grid._carry_over(old, key)
    assert done["key"] == key and set(done["verdicts"]) == {"1", "3"}
    assert (
        done["carried_over"] == {"9": 2} and done["query_times"] == [] and done["seconds"] == 15.0
    )
    assert done["ibp"] == old["ibp"]
    again = grid._carry_over({**done, "key": {**key, "version": 10}}, {**key, "version": 12})
    assert again["carried_over"] == {"9": 2, "10": 0}


def test_the_merge_stage_certifies_nearest_margin_points_and_nothing_else() -> None:
    """The batched merge stage credits ``merge intervals`` to exactly the points whose label
    its bounds prove (all of a small nearest-margin ℓ∞ instance at 0.9 ε), skips nets without
    merge trees (the ℓ2 memorizer), and gives up (None) when the budget has already run out."""
    import math
    import time

    import numpy as np

    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separation
    from robustexp.verify import BallSpec

    grid = _grid()
    for name, expect in (("nearest-margin-linf", True), ("memorizer-l2", False)):
        c = CONSTRUCTIONS[name]
        inst = c.example(20, 6, seed=2)
        eps = float(separation(inst.X, inst.y, c.p).eps_max)
        delta = 0.9 * eps if expect else 0.4 * eps
        net = c.build(inst.X, inst.y, delta)
        spec = BallSpec(delta, c.p)
        todo = list(range(len(inst.y)))
        verdicts: dict = {"3": ["certified", "crown (cone)"]}
        late = grid._merge_stage(net, inst.X, inst.y, spec, todo, {}, time.perf_counter() - 1)
        assert late is None
        stage = grid._merge_stage(net, inst.X, inst.y, spec, todo, verdicts, math.inf)
        if not expect:
            assert stage is None and len(verdicts) == 1
            continue
        assert stage["proved"] == len(todo) and len(verdicts) == len(todo)
        assert all(v == ["certified", "merge intervals"] for v in verdicts.values())
        assert np.all(net(inst.X)[:, 0] * inst.y > 0)


def test_queries_only_fills_the_progress_file_and_writes_no_cell(tmp_path: Path) -> None:
    """``--queries-only`` (an extra process while the cell's first run is in its attacks):
    the queries of an unfinished cell go into its progress file at the claimed radius that
    ``_cell`` would use (or the one in the cell's result file), and no cell result is
    written."""
    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.data import separation

    grid = _grid()
    grid.VERIFY_BUDGET = 60.0
    c = CONSTRUCTIONS["memorizer-l2"]
    inst = c.example(12, 3, seed=1)
    path, progress = tmp_path / "cell.json", tmp_path / "progress" / "cell.json"
    grid._queries_only(c, inst.X, inst.y, path, progress)
    assert not path.exists()
    done = read_json(progress)
    delta = grid._claimed(c, separation(inst.X, inst.y, c.p).distance_sq / 4)
    assert done["key"]["radius"] == delta
    left = done["ibp"]["left"]
    assert left  # IBP alone does not certify this ℓ2 instance: queries ran
    assert set(done["verdicts"]) == {str(i) for i in left}
    assert all(v[0] == "certified" for v in done["verdicts"].values())
    # with a cell result present, its claimed radius is used (a new key: a fresh progress)
    write_json_atomic(path, {"claimed_radius": delta / 2})
    grid._queries_only(c, inst.X, inst.y, path, progress)
    assert read_json(progress)["key"]["radius"] == delta / 2
