"""The robust-accuracy cascade: cheap certificates, then attacks, then complete MILP.

For a single-output ReLUNet ``f``, points ``X`` (n, d) with labels ``y ∈ {±1}`` and a
:class:`BallSpec` ``S_i = B_p(x_i, r) ∩ domain``, :func:`robust_accuracy` decides each point
with the cheapest method that can, in this fixed order (a method absent from ``methods`` is
skipped; the order of ``methods`` does not matter):

0. **clean** (always): ``y_i f(x_i)`` at the centre. If the centre lies in ``S_i`` (it always
   does unless a domain excludes it) and the margin is ≤ 0, the centre is a counterexample;
   it is re-checked like any witness.
1. **ibp**: interval bounds on every remaining point, batched (sparse-aware); a sound lower
   bound on ``min_{S_i} y_i f`` that is > 0 certifies.
2. **crown**: linear (CROWN-style) bounds on the points IBP left. If the net is too large for
   them (:class:`~robustexp.ResourceLimitError`) the stage is skipped and a note says why.
3. **pgd**: PGD attacks on what remains; every success is re-checked (membership and sign,
   exactly when the net has ≤ ``EXACT_RECHECK_MAX_PARAMETERS`` parameters) and falsifies.
4. **milp**: one complete query per remaining point: MILP for p = ∞ and p = 1 (polytopes),
   MIQCP (SCIP) for p = 2 when ``pyscipopt`` is installed (recorded as method ``"miqcp"``);
   each query gets ``min(milp_time_limit, budget left)`` seconds; a timeout stays unknown.

Every point records the best certified lower bound and the smallest attacked margin from
*all* methods run on it, the method that decided it, and its time (its even share of each
batched chunk plus its own complete query). Every witness in the report has been re-checked
by :func:`robustexp.verify._witness.recheck_witness` inside this function, whatever the
method that produced it.

``time_budget`` (seconds, wall clock) is checked before each batch and each complete query:
once it is spent no new work starts, and the points not yet decided stay unknown with the
detail "time budget exhausted". Results are deterministic given ``seed`` (PGD restarts draw
from ``SeedSequence([seed, stage chunk])``), except where a solver time limit is hit.

A point whose ball does not meet the domain (an empty set; or a set too thin for
``LpBall.project`` to produce a certified member) raises :class:`~robustexp.InvalidInputError`
instead of being reported as vacuously robust.

The progress bar (tqdm, on stderr) shows with ``progress=True``, never with ``False``, and
with ``None`` (auto) only when stderr is a terminal and a stage runs longer than a second.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from robustexp._errors import InvalidInputError, ResourceLimitError
from robustexp._tolerances import (
    CASCADE_BATCH_POINTS,
    CONE_BOUNDS_MIN_NEURONS,
    MILP_DEFAULT_TIME_LIMIT,
)
from robustexp._validate import as_finite_matrix, as_labels
from robustexp.network import ReLUNet
from robustexp.verify._report import (
    BallSpec,
    PointResult,
    RobustReport,
    Verdict,
    net_summary,
)

__all__ = ["DEFAULT_METHODS", "KNOWN_METHODS", "BallSpec", "robust_accuracy"]

#: The full default cascade.
DEFAULT_METHODS: tuple[str, ...] = ("ibp", "crown", "pgd", "milp")
#: Method names ``robust_accuracy`` understands, in the order they run.
KNOWN_METHODS: tuple[str, ...] = DEFAULT_METHODS

_ATTACK_KEYS = ("steps", "restarts", "step_size", "schedule")


class _State:
    """Mutable per-point bookkeeping of one run (local to one call; never shared)."""

    def __init__(self, n: int) -> None:
        self.verdict = [Verdict.UNKNOWN] * n
        self.method: list[str | None] = [None] * n
        self.lower = np.full(n, -np.inf)
        self.attack = np.full(n, np.inf)
        self.witness: list[np.ndarray | None] = [None] * n
        self.time = np.zeros(n)
        self.detail = [""] * n

    def remaining(self) -> np.ndarray:
        return np.array([i for i, v in enumerate(self.verdict) if v is Verdict.UNKNOWN], int)

    def certify(self, i: int, method: str) -> None:
        self.verdict[i] = Verdict.CERTIFIED
        self.method[i] = method
        self.detail[i] = ""

    def falsify(self, i: int, method: str, x: np.ndarray) -> None:
        self.verdict[i] = Verdict.FALSIFIED
        self.method[i] = method
        self.witness[i] = np.array(x, dtype=np.float64)
        self.detail[i] = ""


def _validate(
    net: Any,
    X: Any,
    y: Any,
    ball_spec: Any,
    methods: Any,
    time_budget: Any,
    seed: Any,
    attack_kwargs: Any,
    milp_time_limit: Any,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], dict[str, Any]]:
    if not isinstance(net, ReLUNet):
        raise InvalidInputError(f"net must be a ReLUNet; got {type(net).__name__}")
    if net.out_dim != 1:
        raise InvalidInputError(
            f"robust_accuracy needs a single-output net (classifier sign f); got {net.out_dim} "
            "outputs"
        )
    if not isinstance(ball_spec, BallSpec):
        raise InvalidInputError(f"ball_spec must be a BallSpec; got {type(ball_spec).__name__}")
    Xa = as_finite_matrix(X, "X", cols=net.in_dim)
    ya = as_labels(y, Xa.shape[0])
    ball_spec.check_dim(net.in_dim)
    if isinstance(methods, str):
        methods = tuple(m for m in methods.split(",") if m)
    try:
        ms = tuple(str(m).strip().lower() for m in methods)
    except TypeError as exc:
        raise InvalidInputError(f"methods must be a sequence of names; got {methods!r}") from exc
    bad = [m for m in ms if m not in KNOWN_METHODS]
    if bad:
        raise InvalidInputError(f"unknown method(s) {bad}; choose from {list(KNOWN_METHODS)}")
    if time_budget is not None:
        tb = float(time_budget)
        if not (math.isfinite(tb) and tb > 0):
            raise InvalidInputError(f"time_budget must be None or > 0 seconds; got {time_budget}")
    tl = float(milp_time_limit)
    if not (math.isfinite(tl) and tl > 0):
        raise InvalidInputError(f"milp_time_limit must be > 0 seconds; got {milp_time_limit}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer; got {seed!r}")
    ak = dict(attack_kwargs or {})
    extra = sorted(set(ak) - set(_ATTACK_KEYS))
    if extra:
        raise InvalidInputError(
            f"attack_kwargs accepts {list(_ATTACK_KEYS)}; got {extra} (the seed is an argument "
            "of robust_accuracy)"
        )
    return Xa, ya, tuple(dict.fromkeys(ms)), ak


@contextmanager
def _bar(total: int, desc: str, progress: bool | None) -> Iterator[Any]:
    from tqdm.auto import tqdm

    if progress is None:
        enabled, delay = bool(getattr(sys.stderr, "isatty", lambda: False)()), 1.0
    else:
        enabled, delay = bool(progress), 0.0
    bar = tqdm(
        total=total,
        desc=f"robust_accuracy: {desc}",
        unit="pt",
        disable=not enabled,
        leave=False,
        delay=delay,
        file=sys.stderr,
    )
    try:
        yield bar
    finally:
        bar.close()


def _chunks(idx: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for k, lo in enumerate(range(0, idx.size, CASCADE_BATCH_POINTS)):
        yield k, idx[lo : lo + CASCADE_BATCH_POINTS]


def robust_accuracy(
    net: ReLUNet,
    X: Any,
    y: Any,
    ball_spec: BallSpec,
    methods: Sequence[str] = DEFAULT_METHODS,
    time_budget: float | None = None,
    seed: int = 0,
    progress: bool | None = None,
    attack_kwargs: dict[str, Any] | None = None,
    milp_time_limit: float = MILP_DEFAULT_TIME_LIMIT,
) -> RobustReport:
    """Decide robustness of every point (module docstring) and return a :class:`RobustReport`.

    ``attack_kwargs`` are passed to ``pgd_attack`` (``steps``, ``restarts``, ``step_size``,
    ``schedule``). The report's ``certified_accuracy`` is a lower bound and
    ``attacked_accuracy`` an upper bound on the robust accuracy; ``exact`` when they meet.

    >>> from robustexp.network import ReLUNet
    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0, 0]), ([[-1.0, -1.0]], [0.5])])
    >>> rep = robust_accuracy(net, [[0.0], [0.4]], [1, 1], BallSpec(0.25, "inf"),
    ...                       methods=("ibp", "crown", "pgd"))    # f(x) = 0.5 - |x|
    >>> rep.verdicts, [r.method for r in rep.results], rep.exact
    (['certified', 'falsified'], ['crown', 'pgd'], True)
    """
    t_start = time.perf_counter()
    Xa, ya, ms, ak = _validate(
        net, X, y, ball_spec, methods, time_budget, seed, attack_kwargs, milp_time_limit
    )
    n = Xa.shape[0]
    ball = ball_spec.ball(Xa)
    if ball_spec.domain is not None:
        # A point whose ball misses the domain has an empty set: refuse rather than call it
        # (vacuously) robust; attacks need a point of every set anyway.
        try:
            ball.project(Xa)
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"{exc} (set i is row i of X; every ball must meet the domain)"
            ) from exc
    st = _State(n)
    notes: list[str] = []
    deadline = math.inf if time_budget is None else t_start + float(time_budget)

    def out_of_time() -> bool:
        return time.perf_counter() >= deadline

    clean = _clean_stage(net, ball, ball_spec, Xa, ya, st)
    stages = [(m, partial(_bound_stage, m)) for m in ("ibp", "crown") if m in ms]
    stopped = False
    for name, fn in stages + ([("pgd", _pgd_stage)] if "pgd" in ms else []):
        rem = st.remaining()
        if rem.size == 0:
            break
        with _bar(int(rem.size), name, progress) as bar:
            stopped = fn(net, ball, ya, rem, st, notes, bar, out_of_time, seed, ak)
        if stopped:
            break
    if "milp" in ms and not stopped:
        stopped = _milp_stage(
            net, ball, ball_spec, ya, st, notes, progress, deadline, float(milp_time_limit)
        )
    if stopped:
        for i in st.remaining():
            st.detail[i] = st.detail[i] or "time budget exhausted"
        notes.append(f"time budget of {float(time_budget):g} s exhausted")
    results = tuple(
        PointResult(
            index=i,
            verdict=st.verdict[i],
            method=st.method[i],
            lower_bound=float(st.lower[i]),
            attack_margin=float(st.attack[i]),
            witness=st.witness[i],
            time=float(st.time[i]),
            clean_margin=float(clean[i]),
            detail=st.detail[i],
        )
        for i in range(n)
    )
    return RobustReport(
        ball=ball_spec,
        net=net_summary(net),
        results=results,
        methods=ms,
        total_time=time.perf_counter() - t_start,
        notes=tuple(notes),
        seed=int(seed),
        time_budget=None if time_budget is None else float(time_budget),
    )


# --------------------------------------------------------------------------- stages
def _recheck(net: ReLUNet, ball: Any, y: np.ndarray, idx: np.ndarray, W: np.ndarray) -> np.ndarray:
    from robustexp.verify._witness import recheck_witness

    return recheck_witness(net, ball[idx], y[idx], W)


def _clean_stage(
    net: ReLUNet, ball: Any, spec: BallSpec, X: np.ndarray, y: np.ndarray, st: _State
) -> np.ndarray:
    t0 = time.perf_counter()
    clean = y * net(X)[:, 0]
    inside = np.ones(X.shape[0], dtype=bool)
    dom = spec.domain_arrays()
    if dom is not None:
        inside = np.all((dom[0] <= X) & (dom[1] >= X), axis=1)
    st.attack[inside] = clean[inside]
    cand = np.flatnonzero(inside & (clean <= 0))
    if cand.size:
        ok = _recheck(net, ball, y, cand, X[cand])
        for i in cand[ok]:
            st.falsify(int(i), "clean", X[i])
    st.time += (time.perf_counter() - t0) / X.shape[0]
    return clean


def _cone_margins(
    net: ReLUNet, ball: Any, y: np.ndarray, idx: np.ndarray, out_of_time: Callable[[], bool]
) -> np.ndarray:
    """Per point of ``idx``, the sound margin lower bound of :func:`._milp.default_bounds`
    (look-back, separable and two-group CROWN bounds on the point's cone of influence);
    -inf for points not reached before the time budget runs out."""
    from robustexp.verify._milp import default_bounds, margin_from_bounds

    out = np.full(idx.size, -np.inf)
    for k, i in enumerate(idx.tolist()):
        if out_of_time():
            break
        b = default_bounds(net, ball[[i]], int(y[i]))
        out[k] = margin_from_bounds(
            [np.asarray(v)[0] for v in b.lower], [np.asarray(v)[0] for v in b.upper], int(y[i])
        )
    return out


def _merged_margins(
    net: ReLUNet, ball: Any, y: np.ndarray, idx: np.ndarray, out_of_time: Callable[[], bool]
) -> np.ndarray:
    """Per point of ``idx``, the margin lower bound of batched merge-aware interval bounds
    (:mod:`._merge`), or -inf where they are not worth running
    (:func:`._merge.worth_batching`) and for the points not reached in time."""
    from robustexp.verify._merge import batched_margins, worth_batching

    if not worth_batching(net, ball.p):
        return np.full(idx.size, -np.inf)
    return batched_margins(net, ball[idx], y[idx], out_of_time)


def _bound_stage(
    method: str,
    net: ReLUNet,
    ball: Any,
    y: np.ndarray,
    rem: np.ndarray,
    st: _State,
    notes: list[str],
    bar: Any,
    out_of_time: Callable[[], bool],
    seed: int = 0,
    ak: dict[str, Any] | None = None,
) -> bool:
    """IBP or CROWN (``method``) on the remaining points, chunk by chunk (CROWN on a net of
    more than ``CONE_BOUNDS_MIN_NEURONS`` hidden units: per point, on its cone of influence);
    the trailing arguments complete the common stage signature (bounds need no seed or
    attack options)."""
    from robustexp.verify import margin_lower_bound

    large = net.hidden_neurons > CONE_BOUNDS_MIN_NEURONS
    for _, idx in _chunks(rem):
        if out_of_time():
            return True
        t0 = time.perf_counter()
        merged = np.zeros(idx.size, dtype=bool)
        try:
            if method == "crown" and large:
                # whole-net CROWN costs (units)² per point: on a large net, merge-aware
                # intervals batched first (nets with max/min trees), then each point left on
                # its cone of influence (the complete stage's default bounds)
                lb = _merged_margins(net, ball, y, idx, out_of_time)
                merged = lb > 0
                rest = np.flatnonzero(~merged)
                lb[rest] = np.maximum(lb[rest], _cone_margins(net, ball, y, idx[rest], out_of_time))
            else:
                lb = margin_lower_bound(net, ball[idx], y[idx], method=method)
            lb = np.asarray(lb, float)
        except ResourceLimitError as exc:
            notes.append(f"{method} skipped for this net: {exc}")
            return False
        st.lower[idx] = np.maximum(st.lower[idx], lb)
        for i in idx[merged]:
            st.certify(int(i), "merge")
        for i in idx[(lb > 0) & ~merged]:
            st.certify(int(i), method)
        st.time[idx] += (time.perf_counter() - t0) / idx.size
        bar.update(idx.size)
    return False


def _pgd_stage(
    net: ReLUNet,
    ball: Any,
    y: np.ndarray,
    rem: np.ndarray,
    st: _State,
    notes: list[str],
    bar: Any,
    out_of_time: Callable[[], bool],
    seed: int,
    ak: dict[str, Any],
) -> bool:
    from robustexp.verify._attacks import pgd_attack

    for k, idx in _chunks(rem):
        if out_of_time():
            return True
        t0 = time.perf_counter()
        chunk_seed = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
        res = pgd_attack(net, ball[idx], y[idx], seed=chunk_seed, **ak)
        st.attack[idx] = np.minimum(st.attack[idx], res.margin)
        hit = idx[np.asarray(res.success, bool)]
        if hit.size:
            Xh = np.asarray(res.X)[np.asarray(res.success, bool)]
            ok = _recheck(net, ball, y, hit, Xh)
            for i, x in zip(hit[ok], Xh[ok]):
                st.falsify(int(i), "pgd", x)
            if not ok.all():
                notes.append(f"pgd: {int((~ok).sum())} reported successes failed the re-check")
        st.time[idx] += (time.perf_counter() - t0) / idx.size
        bar.update(idx.size)
    return False


def _explain(st: _State, idx: np.ndarray, why: str) -> None:
    for i in idx:
        st.detail[i] = st.detail[i] or why


def _milp_stage(
    net: ReLUNet,
    ball: Any,
    spec: BallSpec,
    y: np.ndarray,
    st: _State,
    notes: list[str],
    progress: bool | None,
    deadline: float,
    time_limit: float,
) -> bool:
    rem = st.remaining()
    if rem.size == 0:
        return False
    if spec.p in (1.0, math.inf):
        from robustexp.verify._milp import milp_margin as query

        name = "milp"
    elif spec.p == 2.0:
        try:
            from robustexp.verify._miqcp import miqcp_margin as query
        except ImportError as exc:  # the module itself is missing: report, do not fail
            notes.append(f"milp: no MIQCP for p = 2 available ({exc}); points left unknown")
            _explain(st, rem, "no complete method available for p = 2")
            return False
        name = "miqcp"
    else:
        notes.append(f"milp: no complete method for p = {spec.p:g}; points left unknown")
        _explain(st, rem, f"no complete method for p = {spec.p:g}")
        return False
    with _bar(int(rem.size), name, progress) as bar:
        for i in rem:
            left = deadline - time.perf_counter()
            if left <= 0:
                return True
            t0 = time.perf_counter()
            sl = np.array([i])
            try:
                res = query(net, ball[sl], int(y[i]), time_limit=min(time_limit, left))
            except ResourceLimitError as exc:
                notes.append(f"{name} skipped for this net: {exc}")
                return False
            st.lower[i] = max(st.lower[i], float(res.lower_bound))
            st.attack[i] = min(st.attack[i], float(getattr(res, "upper_bound", math.inf)))
            if res.status == "certified" and res.lower_bound > 0:
                st.certify(int(i), name)
            elif res.status == "falsified" and res.witness is not None:
                w = np.asarray(res.witness, dtype=np.float64).reshape(1, -1)
                if _recheck(net, ball, y, sl, w)[0]:
                    st.falsify(int(i), name, w[0])
                    st.attack[i] = min(st.attack[i], float(res.best_margin))
                else:
                    st.detail[i] = f"{name}: witness failed the re-check"
                    notes.append(f"{name}: the witness for point {int(i)} failed the re-check")
            else:
                st.detail[i] = f"{name}: {res.detail}" if res.detail else f"{name}: unknown"
            st.time[i] += time.perf_counter() - t0
            bar.update(1)
    return False
