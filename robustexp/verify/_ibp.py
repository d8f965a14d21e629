"""Interval bound propagation (IBP), sparse-aware, batched, with proven rounding bounds.

For a set ``S`` and a ReLUNet with layers ``z_l = W_l h_{l-1} + b_l``, ``h_l = σ(z_l)``
(Gowal et al. 2018, "On the effectiveness of interval bound propagation"):

* layer 0: ``[lo_0, hi_0]`` is the range of ``W_0 x + b_0`` over ``S``, computed by the set
  itself (:meth:`LpBall.affine_range_columns`): for l2 and l1 balls the row-wise dual norm
  ``r ||W_0[j]||_q`` is exact, tighter than pushing the bounding box through ``W_0``;
* hidden layers, from ``h ∈ [a, c] = [σ(lo), σ(hi)]``: for a CSR layer in *split form*

      z_l ∈ [b + W⁺ a + W⁻ c,  b + W⁺ c + W⁻ a]      (W⁺ = max(W, 0), W⁻ = min(W, 0)),

  with ``[W⁺ | W⁻]`` and ``[W⁻ | W⁺]`` applied to the stacked ``[a; c]`` (W's own data with
  shifted column indices: no copy of the weights, no centre/radius passes); for a dense
  layer in centre/radius form ``W m + b ± |W| ρ``, ``m = (a + c)/2``, ``ρ = (c - a)/2``
  (BLAS; the split form would double its flops). Both are the same interval in exact
  arithmetic.

Floating point (see :mod:`robustexp.verify._numerics`; derivations in
:meth:`_SparseStep.__call__` and :meth:`_DenseStep.__call__`). Every rounding error is bounded
by (E1)/(E2) with ``|W| h <= rowsum|W| · max h`` (h >= 0 after the ReLU) and folded into the
initial value of the accumulated products (the bias minus or plus an error vector), so that
the sparse step returns sound bounds and the dense step correctly rounded values of sound
bounds; each step accepts either kind of input (a slack ``2u c + 2η`` per coordinate covers
the missing rounding step), and the layers that are returned are rounded outward by a cheap
proven step (:func:`~robustexp.verify._numerics.outward_lower_inplace`). Thus every returned
interval contains the exact real pre-activation range of the net with the stored weights.

The batch is processed in column layout (like ``ReLUNet.forward_columns``), bounds travel
stacked as ``[lo; hi]`` (2k, n), work buffers are reused (:class:`~._kernels.Workspace`), and
the batch is chunked so that a chunk's work arrays stay within ``LINEAR_BOUNDS_BUDGET_BYTES``;
chunks run on ``BOUND_PROPAGATION_THREADS`` threads (the kernels release the GIL). The
rounding-error terms use maxima over a chunk, so a point's bounds can differ in the last digits
(~1e-13 relative) with the batch it is computed in; every version is sound.
"""

from __future__ import annotations

import os
import weakref
from fractions import Fraction
from typing import Any

import numpy as np

from robustexp._errors import InvalidInputError, ResourceLimitError
from robustexp._tolerances import (
    BOUND_PROPAGATION_THREADS,
    LINEAR_BOUNDS_BUDGET_BYTES,
    MEMORY_LIMIT_BYTES,
)
from robustexp.network import Affine, ReLUNet
from robustexp.verify._kernels import Workspace, accumulate_csr, accumulate_product
from robustexp.verify._numerics import (
    ETA,
    U,
    gamma,
    inflated,
    outward_lower_inplace,
    outward_upper_inplace,
    row_abs_sum_upper,
    slack_constant,
)
from robustexp.verify._sets import LpBall
from robustexp.verify._types import LayerBounds

__all__ = ["interval_bounds", "interval_output_bounds"]

#: Live (width x batch) float64 arrays of one IBP step at its peak (centre, radius, bounds,
#: one temporary), used to size the batch chunks.
_IBP_LIVE_ARRAYS = 6


def check_net_ball(net: Any, ball: Any) -> None:
    """Raise InvalidInputError unless ``net`` is a ReLUNet and ``ball`` an LpBall that fit."""
    if not isinstance(net, ReLUNet):
        raise InvalidInputError(f"net must be a ReLUNet; got {type(net).__name__}")
    if not isinstance(ball, LpBall):
        raise InvalidInputError(f"ball must be an LpBall; got {type(ball).__name__}")
    if ball.dim != net.in_dim:
        raise InvalidInputError(
            f"the ball has dimension {ball.dim} but the net expects {net.in_dim} inputs"
        )


def batch_chunks(n: int, per_item_bytes: int, parts: int = 1) -> list[tuple[int, int]]:
    """Split ``range(n)`` into chunks whose work memory stays within the budget.

    With ``parts > 1`` the number of chunks is a multiple of ``parts`` when possible (chunks
    of similar size for that many worker threads, each within the budget divided by parts).
    """
    if per_item_bytes > MEMORY_LIMIT_BYTES:
        raise ResourceLimitError(
            f"one point needs ~{per_item_bytes / 2**30:.1f} GiB of work memory, above "
            f"MEMORY_LIMIT_BYTES = {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB"
        )
    step = max(1, int(LINEAR_BOUNDS_BUDGET_BYTES // max(per_item_bytes * parts, 1)))
    count = -(-n // step)
    if parts > 1 and n >= parts:
        count = -(-count // parts) * parts
    step = -(-n // max(count, 1))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _workers() -> int:
    return max(1, min(BOUND_PROPAGATION_THREADS, os.cpu_count() or 1))


def _run_chunks(
    net: ReLUNet, chunks: list[tuple[int, int]], work: Any, first_abs: bool = False
) -> None:
    """Call ``work(a, b, workspace)`` for every chunk, on up to ``_workers()`` threads.

    The cached ``|W|`` that IBP reads (dense layers; the first layer when a domain box is
    concretised) is built first, in this thread, so workers only read it.
    """
    for i, layer in enumerate(net.layers):
        if not layer.is_sparse or (i == 0 and first_abs):
            _ = layer.abs_W
    workers = _workers()
    if workers == 1 or len(chunks) == 1:
        ws = Workspace()
        for a, b in chunks:
            work(a, b, ws)
        return
    from concurrent.futures import ThreadPoolExecutor
    from queue import SimpleQueue

    pool: SimpleQueue[Workspace] = SimpleQueue()
    for _ in range(workers):
        pool.put(Workspace())

    def run(chunk: tuple[int, int]) -> None:
        ws = pool.get()
        try:
            work(chunk[0], chunk[1], ws)
        finally:
            pool.put(ws)

    with ThreadPoolExecutor(max_workers=workers) as ex:
        list(ex.map(run, chunks))


class _DenseStep:
    """One IBP step through a dense layer, in centre/radius form (see :meth:`__call__`)."""

    def __init__(self, layer: Affine) -> None:
        W = layer.W
        nt = int(W.shape[1])
        g = Fraction(gamma(nt + 1))
        eta = Fraction(ETA)
        self.layer = layer
        self.k = layer.out_dim
        self.rowabs = row_abs_sum_upper(W, layer.abs_W)
        self.bias2 = layer.b * 2.0  # exact: a power of two
        # T = fl(v + |W| R), v = rowabs (h1 max M) + base, base = rowabs h0 + g1 2|b| + K
        self.h1 = inflated((2 * g + 8 * Fraction(U)) / (1 - g))
        h0 = inflated(12 * eta / (1 - g))
        g1 = inflated(g / (1 - g))
        K = slack_constant(4 * (nt + 1) * eta / (1 - g))
        self.base = self.rowabs * h0
        self.base += np.abs(layer.b) * (g1 * 2.0) + K

    def __call__(self, S: np.ndarray, ws: Workspace) -> np.ndarray:
        """Bounds ``[lo'; hi']`` (2k, n) of ``z = W σ(z_prev) + b`` from ``S = [lo; hi]``.

        ``S`` (2 k_in, n) is overwritten. Its entries are sound bounds on ``z_prev`` or the
        correctly rounded values of sound bounds; the results are the correctly rounded
        values of sound bounds (callers round outward before returning them).

        Let ``a = σ(lo)``, ``c = σ(hi)``, ``M = fl(a + c)``, ``R = fl(c - a)`` (twice the
        centre and radius). A correctly rounded ``lo > 0`` is at most ``(1 + 2u)`` times its
        sound value plus ``η``, a computed ``hi <= 0`` means a sound value ``<= 0`` (a
        nonzero exact sum of floats never rounds to 0), so ``σ(z_prev) ∈ [a(1 - 2u) - 2η,
        c(1 + 2u) + 2η] ⊆ [(M - R)/2 - s, (M + R)/2 + s]`` with ``s = 4u M + 6η`` (``M ± R``
        are within ``u(a + c)`` of ``2c``, ``2a``). Then ``2z = W (2σ) + 2b ∈ W M + 2b ± |W|
        (R + 2s)``. We compute

            C = fl(2b + W M):   |C - (W M + 2b)| <= γ (rowabs max M + 2|b|) + 2(n+1)η   (E1)
            T = fl(v + |W| R):  T >= (1 - γ)(v + |W| R) - 2(n+1)η                     (E2)

        (``n`` the row length, ``γ = γ_{n+1}``, ``max M`` over the chunk, ``R <= M``), and
        ``T >= |W| R + |W| 2s + [error of C]`` once ``v (1 - γ) >= γ rowabs max M + rowabs
        (8u max M + 12η) + γ (rowabs max M + 2|b|) + 4(n+1)η``: that is ``v = rowabs (h1 max M
        + h0) + g1 2|b| + K`` with the constants above (item 4 inflation included; ``T``
        starts as ``v`` and the products are accumulated onto it). So ``fl(C ∓ T)`` are
        correctly rounded sound ends of ``2z``, and halving (exact but for subnormals, which
        the ``η`` terms of the next step and of the final outward rounding cover) gives z's.
        """
        kin = S.shape[0] // 2
        np.maximum(S, 0.0, out=S)
        lo, hi = S[:kin], S[kin:]
        M = np.add(lo, hi, out=ws.take(lo.shape))
        R = np.subtract(hi, lo, out=hi)
        mx = float(M.max()) if M.size else 0.0
        k, n = self.k, S.shape[1]
        C = ws.take((k, n))
        C[...] = self.bias2[:, None]
        accumulate_product(self.layer.W, M, C)
        ws.give(M)
        T = ws.take((k, n))
        np.multiply(self.rowabs[:, None], mx * self.h1, out=T)
        T += self.base[:, None]
        accumulate_product(self.layer.abs_W, R, T)
        O = ws.take((2 * k, n))
        np.subtract(C, T, out=O[:k])
        np.add(C, T, out=O[k:])
        ws.give(C)
        ws.give(T)
        O *= 0.5
        return O


class _SparseStep:
    """One IBP step through a CSR layer, in split form (see :meth:`__call__`).

    ``[W⁺ | W⁻]`` and ``[W⁻ | W⁺]`` are W itself with column indices shifted by ``k_in`` for
    the negative (resp. positive) entries: two index arrays sharing W's data and row pointers.
    """

    def __init__(self, layer: Affine) -> None:
        W = layer.W
        kin = W.shape[1]
        neg = W.data < 0
        dt = W.indptr.dtype
        self.layer = layer
        self.k = layer.out_dim
        self.shape = (W.shape[0], 2 * kin)
        self.idx_lo = W.indices.astype(dt) + (neg * kin).astype(dt)
        self.idx_hi = W.indices.astype(dt) + ((~neg) * kin).astype(dt)
        nt = int(np.diff(W.indptr).max(initial=0))
        g2 = Fraction(gamma(nt + 4))
        eta = Fraction(ETA)
        self.rowabs = row_abs_sum_upper(W)
        # ε = rowabs (h1 max c) + base; base = rowabs h0 + g1 |b| + K   (see __call__)
        self.h1 = inflated((2 * Fraction(U) + g2) / (1 - g2))
        base = self.rowabs * inflated(2 * eta / (1 - g2))
        base += np.abs(layer.b) * inflated(g2 / (1 - g2))
        base += slack_constant((2 * nt + 3) * eta / (1 - g2))
        self.b_lo = layer.b - base
        self.b_hi = layer.b + base

    def __call__(self, S: np.ndarray, ws: Workspace) -> np.ndarray:
        """Sound bounds ``[lo'; hi']`` (2k, n) of ``z = W σ(z_prev) + b`` from ``S = [lo; hi]``.

        ``S`` (2 k_in, n) is overwritten (ReLU in place). With ``a = σ(lo)``, ``c = σ(hi)``
        and ``σ(z_prev) ∈ [a(1 - 2u) - 2η, c(1 + 2u) + 2η]`` (as for the dense step),

            z >= b + W⁺ a + W⁻ c - rowabs (2u max c + 2η),   z <= b + W⁺ c + W⁻ a + (same).

        We compute ``lo' = fl(t + Σ_j W⁺_ij a_j + W⁻_ij c_j)`` with the initial value
        ``t = fl(fl(b - base) - fl(rowabs h1 max c))``: an inner product of ``n + 1`` terms
        (E1), the initial value itself within ``2u(|b| + ε) + 2η`` of ``b - ε``. So
        ``lo' <= z`` once ``ε (1 - g) >= rowabs ((2u + g) max c + 2η) + g |b| + (2n + 3)η``
        with ``g = γ_{n+4}``: that is ``ε = rowabs (h1 max c + h0) + g1 |b| + K`` with the
        constants above (item 4 inflation included). The upper end is symmetric. The results
        are sound bounds (no final rounding step needed).
        """
        kin = self.shape[1] // 2
        np.maximum(S, 0.0, out=S)
        mx = float(S[kin:].max()) if S.size else 0.0
        k, n = self.k, S.shape[1]
        tmp = ws.take((k, 1))
        np.multiply(self.rowabs[:, None], mx * self.h1, out=tmp)
        O = ws.take((2 * k, n))
        np.subtract(self.b_lo[:, None], tmp, out=O[:k])
        np.add(self.b_hi[:, None], tmp, out=O[k:])
        ws.give(tmp)
        W = self.layer.W
        accumulate_csr(W.indptr, self.idx_lo, W.data, self.shape, S, O[:k])
        accumulate_csr(W.indptr, self.idx_hi, W.data, self.shape, S, O[k:])
        return O


#: The steps of a net, built once: they hold per-layer constants only (index arrays, row
#: sums, error terms), which a query of a large net would otherwise rebuild (about 1 s of a
#: 15 s query on a 2.65 M-unit digits memorizer).
_STEPS: weakref.WeakKeyDictionary[ReLUNet, list[_DenseStep | _SparseStep]] = (
    weakref.WeakKeyDictionary()
)


def layer_steps(net: ReLUNet) -> list[_DenseStep | _SparseStep]:
    """The IBP steps of layers 1..L-1 (cached per net; a step is read-only once built)."""
    steps = _STEPS.get(net)
    if steps is None:
        steps = [
            _SparseStep(layer) if layer.is_sparse else _DenseStep(layer) for layer in net.layers[1:]
        ]
        _STEPS[net] = steps
    return steps


def _outward(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round correctly rounded values of sound ends outward, in place: sound bounds."""
    outward_lower_inplace(lo)
    outward_upper_inplace(hi)
    return lo, hi


def _ibp_stream(
    net: ReLUNet,
    ball: LpBall,
    steps: list[Any],
    keep: bool,
    prep0: Any = None,
    ws: Workspace | None = None,
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """IBP over one chunk: sound ``(lo, hi)`` (k, n) of every layer (``keep``) or only of
    the output layer (the others ``None``; hidden layers then skip the outward rounding,
    which the next step's slack covers). Bounds travel stacked as ``[lo; hi]`` (2k, n)."""
    first = net.layers[0]
    ws = ws if ws is not None else Workspace()
    k0, n = first.out_dim, ball.n
    S = ws.take((2 * k0, n))
    ball._affine_range_shared(
        first.W,
        first.b,
        want_upper=True,
        abs_W=first.abs_W if first.is_sparse and ball.domain is not None else None,
        prep=prep0,
        outward=False,
        ws=ws,
        stack_out=S,
    )
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for i, step in enumerate([None, *steps]):
        if step is not None:
            O = step(S, ws)
            ws.give(S)
            S = O
        k = S.shape[0] // 2
        if i == len(steps):
            out.append(_outward(S[:k].copy(), S[k:].copy()))
            ws.give(S)
        elif keep:
            out.append(_outward(S[:k].copy(), S[k:].copy()))
        else:
            out.append(None)
    return out


def _per_point_bytes(net: ReLUNet) -> int:
    return _IBP_LIVE_ARRAYS * 8 * max(net.layer_widths)


def interval_bounds(net: ReLUNet, ball: LpBall) -> LayerBounds:
    """Sound interval bounds on every layer's pre-activation over every set of ``ball``.

    Returns :class:`LayerBounds` with ``method="ibp"``: ``lower[l]``, ``upper[l]`` of shape
    (n, out_dim_l). Raises ResourceLimitError when the bounds of all layers would not fit in
    ``MEMORY_LIMIT_BYTES`` (use :func:`interval_output_bounds` or ``margin_lower_bound``,
    which keep only the output layer).

    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0])])
    >>> b = interval_bounds(net, LpBall([[0.5]], 0.25, np.inf))   # |x| on [0.25, 0.75]
    >>> float(b.lower[-1][0, 0]) <= 0.25, float(b.upper[-1][0, 0]) >= 0.75
    (True, True)
    """
    check_net_ball(net, ball)
    n = ball.n
    total = 16 * n * sum(layer.out_dim for layer in net.layers)
    if total > MEMORY_LIMIT_BYTES:
        raise ResourceLimitError(
            f"bounds on all {net.hidden_neurons + net.out_dim} neurons for {n} points need "
            f"~{total / 2**30:.1f} GiB (limit {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB); use "
            f"interval_output_bounds or margin_lower_bound (output layer only) or fewer points"
        )
    lows = [np.empty((n, layer.out_dim)) for layer in net.layers]
    ups = [np.empty((n, layer.out_dim)) for layer in net.layers]
    steps = layer_steps(net)
    prep0 = ball.affine_prep(net.layers[0].W, net.layers[0].b)

    def work(a: int, b: int, ws: Workspace) -> None:
        res = _ibp_stream(net, ball[a:b], steps, keep=True, prep0=prep0, ws=ws)
        for i, item in enumerate(res):
            assert item is not None
            lows[i][a:b] = item[0].T
            ups[i][a:b] = item[1].T

    _run_chunks(
        net, batch_chunks(n, _per_point_bytes(net), _workers()), work, ball.domain is not None
    )
    return LayerBounds(tuple(lows), tuple(ups), "ibp")


def interval_output_bounds(
    net: ReLUNet, ball: LpBall, *, kernel: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Sound IBP bounds ``(lower, upper)`` (n, out_dim) of the output only (streams layers).

    Memory stays at a few (widest layer x chunk) arrays, so this works on nets whose
    per-layer bounds for the whole batch would not fit. ``kernel``: ``"eager"`` (batched,
    layer by layer), ``"lazy"`` (:mod:`robustexp.verify._lazy_ibp`: depth first, skips the
    inputs of ReLUs proven dead; the same enclosure up to rounding), or ``"auto"`` (lazy for
    large sparse nets when numba is installed, see ``LAZY_IBP_MIN_PARAMETERS``).
    """
    check_net_ball(net, ball)
    if kernel not in ("auto", "eager", "lazy"):
        raise InvalidInputError(f"kernel must be 'auto', 'eager' or 'lazy'; got {kernel!r}")
    from robustexp.verify._lazy_ibp import lazy_interval_output_bounds, use_lazy_ibp

    if kernel == "lazy" or (kernel == "auto" and use_lazy_ibp(net)):
        return lazy_interval_output_bounds(net, ball)
    n = ball.n
    lo_out = np.empty((n, net.out_dim))
    hi_out = np.empty((n, net.out_dim))
    steps = layer_steps(net)
    prep0 = ball.affine_prep(net.layers[0].W, net.layers[0].b)

    def work(a: int, b: int, ws: Workspace) -> None:
        res = _ibp_stream(net, ball[a:b], steps, keep=False, prep0=prep0, ws=ws)
        last = res[-1]
        assert last is not None
        lo_out[a:b] = last[0].T
        hi_out[a:b] = last[1].T

    _run_chunks(
        net, batch_chunks(n, _per_point_bytes(net), _workers()), work, ball.domain is not None
    )
    return lo_out, hi_out
