r"""Lazy interval bound propagation: IBP that skips what a stably inactive neuron cannot change.

**What it computes.** The interval bounds of plain IBP (:mod:`._ibp`) on the *output* layer:
for every set ``S_i`` and output neuron, a sound enclosure of the output's range over
``S_i``. It evaluates neurons on demand, depth first from the output, memoising each
neuron's interval for the current point, and stops summing a ReLU neuron's row as soon as
its interval is proven to lie in ``(-∞, 0]``:

    **Early exit.** Let ``z = b + Σ_j w_j h_j`` be a hidden neuron of layer ``l ≥ 1``, with
    inputs ``h_j = σ(·) ∈ [a_j, c_j]``, ``0 ≤ a_j ≤ c_j``. Its row lists the positive
    weights first. After all positive terms and some negative ones, the partial upper end
    ``b + Σ_{done, w>0} w c_j + Σ_{done, w<0} w a_j`` is ≥ IBP's upper end, because every
    remaining term ``w a_j`` is ≤ 0. Once the partial end (plus its rounding bound) is
    ≤ 0, ``σ(z) = 0`` on all of ``S_i`` — exactly what IBP would have concluded — and the
    remaining inputs are not needed for this neuron.

So the result is plain IBP's interval wherever a neuron is not proven dead, and ``[0, 0]``
(which is also IBP's) where it is; only the work differs. For networks that are sums of
localised units (the memorizers of Theorem 2.2: one bump per data point), the unit of a far
point dies after a few terms, and certifying all N points costs about N² × (terms until
death) instead of N × parameters: at N = 10,000, d = 784 the cube memorizer's 47 million
parameters are certified for all points in well under two minutes
(``benchmarks/bench_memorizer_scale.py``).

**Rounding (proof).** ``u = 2⁻⁵³``, ``η`` the smallest normal float, ``γ_k = k u/(1 - k u)``.
A row with ``n`` terms ``t_j = w_j v_j`` (``v_j`` one end of input j's interval) and bias
``b`` is summed left to right in float64: ``p = fl(b + t_1 + … + t_k)`` after ``k ≤ n``
terms. With ``A = |b| + Σ_{j≤k} |w_j| m_j`` (``m_j = c_j`` for hidden inputs, ``max(|l_j|,
|u_j|)`` for input coordinates; so ``|t_j| ≤ |w_j| m_j``), Higham's inner-product bound
(Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1) with gradual underflow
(each product off by at most η/2 more) gives

    |p − exact| ≤ γ_{n+1} A + n η,     and the computed  Â = fl(A)  satisfies
    A ≤ (Â + n η)/(1 − γ_{n+1}),

so ``|p − exact| ≤ g Â + 2nη/(1 − g)`` with ``g = γ_{n+2}/(1 − γ_{n+2})``. The kernel
forms ``T = fl(fl(G Â) + K)`` with ``G = g·F`` and ``K = (2n+4)η/(1 − g)·F + 32η``, both
rounded up (:func:`~._numerics.inflated`, :func:`~._numerics.slack_constant`, ``F = 1 +
2⁻⁴⁷``): the two roundings of ``T`` lose a factor ``(1 − u)²`` which ``F`` covers, so ``T``
bounds the error. The ends are ``lo = next_down(fl(p_lo − T))`` and ``hi =
next_up(fl(p_hi + T))`` — one round-to-nearest step then one ulp outward, which is
always ≤ (resp. ≥) the exact difference. The early-exit test ``fl(p_hi + T) ≤ 0`` is sound
because rounding is monotone and an exact nonzero sum of two floats never rounds to 0. For
the centre form of the first layer (ℓp balls, p < ∞: ``z ∈ w·x₀ + b ± r ‖w‖_q``) the radius
term is ``next_up(fl(r q̂))`` with ``q̂ ≥ ‖w‖_q`` (:func:`~._numerics.row_dual_norm_upper`)
and ``S = next_up(fl(T + R))``. With a domain box the box form over ``ball.box()`` (ball ∩
domain, rounded outward) is computed too and the two enclosures are intersected.

**Cost and memory.** One pass builds a global CSR of all layers (positive weights first in
hidden rows), cached per net (weakly); each worker thread keeps three arrays of one entry per
neuron (the memo), reused across calls. Threads: ``BOUND_PROPAGATION_THREADS`` (the kernel
releases the GIL).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError, ResourceLimitError
from robustexp._tolerances import (
    LAZY_IBP_MIN_PARAMETERS,
    MEMORY_LIMIT_BYTES,
)
from robustexp.network import ReLUNet
from robustexp.verify._ibp import _workers
from robustexp.verify._numerics import ETA, gamma, inflated, row_dual_norm_upper, slack_constant
from robustexp.verify._sets import LpBall

__all__ = ["LazyStats", "lazy_ibp_available", "lazy_interval_output_bounds", "use_lazy_ibp"]


def lazy_ibp_available() -> bool:
    """True when numba (the compiler of the lazy kernel) can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def use_lazy_ibp(net: ReLUNet) -> bool:
    """The ``kernel="auto"`` rule: lazy for nets of ≥ ``LAZY_IBP_MIN_PARAMETERS`` parameters
    whose dense layers (``sequential`` stores small layers densely) hold at most as many entries as
    that, when numba is available. For small or dense nets batched BLAS IBP wins."""
    dense = sum(int(np.prod(layer.W.shape)) for layer in net.layers if not layer.is_sparse)
    return (
        net.parameters >= LAZY_IBP_MIN_PARAMETERS
        and dense <= LAZY_IBP_MIN_PARAMETERS
        and lazy_ibp_available()
    )


@dataclass
class LazyStats:
    """Work counters of one call: neurons evaluated, early exits, weight terms read."""

    points: int = 0
    neurons_evaluated: int = 0
    early_exits: int = 0
    terms: int = 0
    #: ``points × (nonzero weights)``: what plain IBP reads, for comparison.
    eager_terms: int = 0


@dataclass
class _Plan:
    ptr: np.ndarray
    idx: np.ndarray
    dat: np.ndarray
    bias: np.ndarray
    npos: np.ndarray
    off: np.ndarray
    G: np.ndarray
    K: np.ndarray
    nnz: int
    in_dim: int
    qn: dict[float, np.ndarray] = field(default_factory=dict)
    pool: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    next_stamp: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_PLANS: weakref.WeakKeyDictionary[ReLUNet, _Plan] = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def _rounding_constants(n: int) -> tuple[float, float]:
    """``(G, K)`` of the module docstring for rows of at most ``n`` terms."""
    g = Fraction(gamma(n + 2))
    g = g / (1 - g)
    return inflated(g), slack_constant(Fraction(2 * n + 4) * Fraction(ETA) / (1 - g))


def _positives_first(W: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices, data, npos)`` of W with each row's positive entries first (stable)."""
    pos = W.data > 0
    rows = np.repeat(np.arange(W.shape[0], dtype=np.int64), np.diff(W.indptr))
    npos = np.bincount(rows[pos], minlength=W.shape[0]).astype(np.int64)
    # a row needs reordering iff a positive entry follows a negative one in the same row
    bad = pos[1:] & ~pos[:-1] & (rows[1:] == rows[:-1])
    if not bad.any():
        return W.indices, W.data, npos
    order = np.lexsort((~pos, rows))
    return W.indices[order], W.data[order], npos


def _build_plan(net: ReLUNet) -> _Plan:
    layers = net.layers
    widths = [layer.out_dim for layer in layers]
    off = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    mats = []
    for layer in layers:
        W = sp.csr_array(layer.W if layer.is_sparse else np.asarray(layer.W))
        if np.any(W.data == 0):
            W = sp.csr_array(W, copy=True)
            W.eliminate_zeros()
        mats.append(W)
    nnz = sum(int(W.nnz) for W in mats)
    big = max(int(off[-1]), net.in_dim)
    it = np.int32 if big < 2**31 - 1 else np.int64
    ptr = np.empty(int(off[-1]) + 1, dtype=np.int64)
    idx = np.empty(nnz, dtype=it)
    dat = np.empty(nnz)
    npos = np.zeros(int(off[-1]), dtype=np.int64)
    G = np.empty(len(mats))
    K = np.empty(len(mats))
    pos = 0
    for li, W in enumerate(mats):
        a, b = int(off[li]), int(off[li + 1])
        if li >= 1 and li < len(mats) - 1:
            ind, val, npos[a:b] = _positives_first(W)
        else:
            ind, val = W.indices, W.data
        shift = int(off[li - 1]) if li >= 1 else 0
        ptr[a:b] = W.indptr[:-1] + pos
        idx[pos : pos + W.nnz] = ind.astype(np.int64) + shift if shift else ind
        dat[pos : pos + W.nnz] = val
        pos += int(W.nnz)
        G[li], K[li] = _rounding_constants(int(np.diff(W.indptr).max(initial=0)))
    ptr[-1] = pos
    bias = np.concatenate([np.asarray(layer.b, dtype=np.float64) for layer in layers])
    return _Plan(ptr, idx, dat, bias, npos, off, G, K, nnz, net.in_dim)


def plan_for(net: ReLUNet) -> _Plan:
    """The cached kernel layout of ``net`` (built on first use; dropped with the net)."""
    with _PLANS_LOCK:
        plan = _PLANS.get(net)
        if plan is None:
            plan = _build_plan(net)
            _PLANS[net] = plan
        return plan


def _first_layer_norms(plan: _Plan, net: ReLUNet, q: float) -> np.ndarray:
    with plan.lock:
        if q not in plan.qn:
            W = net.layers[0].W
            W = W if sp.issparse(W) else np.asarray(W)
            plan.qn[q] = np.asarray(row_dual_norm_upper(W, q), dtype=np.float64)
        return plan.qn[q]


def _take_state(plan: _Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with plan.lock:
        if plan.pool:
            return plan.pool.pop()
    n = int(plan.off[-1])
    return np.zeros(n), np.zeros(n), np.full(n, -1, dtype=np.int64)


def lazy_interval_output_bounds(
    net: ReLUNet, ball: LpBall, *, stats: LazyStats | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sound IBP bounds ``(lower, upper)`` (n, out_dim) of the output, computed lazily.

    Same enclosure as :func:`~robustexp.verify.interval_output_bounds` (module docstring);
    ``stats`` (optional) receives the work counters.

    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    >>> lo, hi = lazy_interval_output_bounds(net, LpBall([[0.5]], 0.25, np.inf))  # |x|
    >>> bool(0.25 - 1e-12 < lo[0, 0] <= 0.25), bool(0.75 <= hi[0, 0] < 0.75 + 1e-12)
    (True, True)
    """
    from robustexp.verify._ibp import check_net_ball

    check_net_ball(net, ball)
    try:
        from robustexp.verify._lazy_kernel import lazy_chunk
    except ImportError as exc:
        raise InvalidInputError(
            "the lazy IBP kernel needs numba (pip install numba); use kernel='eager'"
        ) from exc
    n_neurons = net.hidden_neurons + net.out_dim
    state_bytes = 24 * n_neurons * _workers()
    if state_bytes > MEMORY_LIMIT_BYTES:
        raise ResourceLimitError(
            f"lazy IBP needs ~{state_bytes / 2**30:.1f} GiB of per-thread memo for "
            f"{n_neurons} neurons (limit {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB)"
        )
    plan = plan_for(net)
    n, d = ball.n, ball.dim
    # first-layer input mode (see _lazy_kernel): 0 box, 1 centre + dual norm, 2 both
    mode = 0 if np.isinf(ball.p) else (2 if ball.domain is not None else 1)
    dummy = np.zeros((1, d))
    if mode != 1:
        LOIN, HIIN = ball.box()
        LOIN = np.ascontiguousarray(LOIN)
        HIIN = np.ascontiguousarray(HIIN)
    else:
        LOIN = HIIN = dummy
    CEN = np.ascontiguousarray(ball.center) if mode != 0 else dummy
    qn = _first_layer_norms(plan, net, ball.q) if mode != 0 else np.zeros(1)
    RAD = np.ascontiguousarray(ball.radius, dtype=np.float64)
    with plan.lock:
        stamp0 = plan.next_stamp
        plan.next_stamp += n
    out_lo = np.empty((n, net.out_dim))
    out_hi = np.empty((n, net.out_dim))
    counters = np.zeros((max(1, _workers()), 3), dtype=np.int64)

    def work(a: int, b: int, slot: int) -> None:
        LO, HI, STAMP = _take_state(plan)
        try:
            lazy_chunk(
                a,
                b,
                stamp0,
                mode,
                LOIN[a:b] if mode != 1 else LOIN,
                HIIN[a:b] if mode != 1 else HIIN,
                CEN[a:b] if mode != 0 else CEN,
                RAD[a:b],
                qn,
                plan.ptr,
                plan.idx,
                plan.dat,
                plan.bias,
                plan.npos,
                plan.off,
                plan.G,
                plan.K,
                out_lo[a:b],
                out_hi[a:b],
                LO,
                HI,
                STAMP,
                counters[slot],
            )
        finally:
            with plan.lock:
                plan.pool.append((LO, HI, STAMP))

    workers = min(_workers(), n)
    bounds = np.linspace(0, n, workers + 1).astype(int)
    if workers <= 1:
        work(0, n, 0)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers) as ex:
            futs = [ex.submit(work, int(bounds[k]), int(bounds[k + 1]), k) for k in range(workers)]
            for f in futs:
                f.result()
    if stats is not None:
        tot = counters.sum(axis=0)
        stats.points += n
        stats.neurons_evaluated += int(tot[0])
        stats.early_exits += int(tot[1])
        stats.terms += int(tot[2])
        stats.eager_terms += n * plan.nnz
    return out_lo, out_hi
