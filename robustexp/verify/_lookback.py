r"""Look-back interval bounds: interval bounds of one set tightened by one step of linear
back-substitution per layer, fully sparse (used by :func:`._milp.default_bounds` to find the
cone of influence of one query).

**Why.** Interval arithmetic loses every dependency: for ``max(a, b) = σ(a) + σ(b - a)`` it
gives the lower bound ``l_a + σ(l_b - u_a)``, usually just ``l_a``, so the ℓ∞ distance of a
far point through a max tree is bounded below by one coordinate's distance and most bumps of
a memorizer look alive (the cone of influence keeps 67 % of the units at N = 1000, d = 64).
One step of back-substitution writes each pre-activation ``z_m = W_m σ(z_{m-1}) + b_m`` with
the ReLU lines of layer m - 1 as an affine function of ``h_{m-2}`` and concretises it over
the box of ``h_{m-2}``: ``σ(a) + σ(b - a) >= a + (b - a) = b`` when the lower line of the
second unit has slope 1. It costs two sparse matrix products per layer, no dense
coefficients, so it runs on nets of 10⁶ units in well under a second.

**The bound.** With ReLU lines ``a_j z <= σ(z_j) <= s_j z + τ_j`` on ``[l, u]`` of layer m - 1
(:func:`._crown._relaxation`: exact for stable units), the lower bound of row i is

    b_i + Σ_j W⁺_ij a_j z_j + Σ_j W⁻_ij (s_j z_j + τ_j),   z_{m-1} = W_{m-1} h_{m-2} + b_{m-1},

i.e. ``c + A W_{m-1} h + A b_{m-1}`` with ``A = W⁺ diag(a) + W⁻ diag(s)``, minimised over the box
``h_{m-2} ∈ [H_l, H_u]`` (the post-activation bounds of layer m - 2, or the set's box for the
input). Upper bounds mirror it. Each row is intersected with the given bound.

**Floating point.** The computed value is a sum of at most ``T = K_m (K_{m-1} + 2) + 2``
products of at most four factors (``W``, a slope ``<= 1``, ``W``, ``h``; or ``W, τ``; or ``b``),
``K`` the most nonzeros in a row, summed in some order; by Higham's bound (E1 of
:mod:`._numerics`) its error is at most ``γ_{T+4} S`` with ``S = |W_m| (|W_{m-1}| H + |b_{m-1}|
+ τ) + |b_m|`` and ``H = max(|H_l|, |H_u|)`` (slopes are in [0, 1]), plus an underflow term
``(T + 4) η`` per product and sum. ``S`` is itself a computed non-negative sum
(:func:`._numerics.true_sum_upper`), and the error is folded in with
:func:`._numerics.upper_combination`; the result is rounded outward.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp.network import ReLUNet
from robustexp.verify._numerics import (
    ETA,
    add_up,
    gamma,
    sub_down,
    true_sum_upper,
    upper_combination,
)

__all__ = ["lookback_bounds", "settling_bounds"]

#: A layer pair whose product ``W_m W_{m-1}`` would have more nonzeros than this keeps the
#: given bounds (dense layers: the product is dense; this module is for sparse nets).
LOOKBACK_MAX_PRODUCT_NNZ = 20_000_000


def lookback_bounds(
    net: ReLUNet,
    ball: Any,
    base: Any,
    separable_rows: list[np.ndarray] | None = None,
    *,
    coarse: bool = False,
    start: int = 0,
) -> Any:
    """``base`` (sound bounds of every layer for a ball of ONE point, e.g. IBP's) tightened
    layer by layer: an interval step from the (tightened) box of the layer below, one step of
    back-substitution (module docstring), and, where ``separable_rows[m]`` marks rows of layer
    m (p ∈ {1, 2}), the Lagrangian bounds of :func:`._separable.separable_bounds`, which see
    the ℓ1/ℓ2 ball where every other bound here sees its box (``coarse``: their cheap first
    pass). Each layer uses the tightened bounds of the layers below. Sound; never looser
    than ``base``. ``start``: the layers below it keep ``base``'s bounds (when only layers from
    ``start`` on can have changed).

    >>> from robustexp.verify import LpBall, interval_bounds
    >>> net = ReLUNet.from_layers([([[1.0], [0.0]], [0.0, 0.5]),        # a = x, b = 0.5
    ...                            ([[1.0, 0.0], [-1.0, 1.0]], [0.0, 0.0]),   # σ(a), σ(b - a)
    ...                            ([[1.0, 1.0]], [0.0])])               # max(a, b)
    >>> ball = LpBall([[0.3]], 0.3, np.inf)                          # a ∈ [0, 0.6]
    >>> ibp = interval_bounds(net, ball)
    >>> float(ibp.lower[2][0, 0]) < 0.01        # interval arithmetic: only max >= a >= 0
    True
    >>> b = lookback_bounds(net, ball, ibp)
    >>> 0.5 - 1e-12 < float(b.lower[2][0, 0]) <= 0.5   # max(a, b) >= b = 0.5
    True
    """
    from robustexp.verify._crown import _relaxation
    from robustexp.verify._ibp import layer_steps
    from robustexp.verify._kernels import Workspace
    from robustexp.verify._types import LayerBounds

    lower = [np.array(v, dtype=np.float64) for v in base.lower]
    upper = [np.array(v, dtype=np.float64) for v in base.upper]
    if lower[0].shape[0] != 1 or net.depth < 2:
        return base
    box_lo, box_hi = (np.asarray(v, dtype=np.float64)[0] for v in ball.box())
    steps, ws = layer_steps(net), Workspace()
    for m in range(start, net.depth):
        if separable_rows is not None and m < len(separable_rows):
            _separable_step(net, ball, m, separable_rows[m], lower, upper, coarse)
        if m == 0:
            continue
        lo_i, hi_i = _interval_step(steps[m - 1], ws, lower[m - 1][0], upper[m - 1][0])
        lower[m][0] = np.maximum(lower[m][0], lo_i)
        upper[m][0] = np.minimum(upper[m][0], hi_i)
        Wm, Wp = _csr(net.layers[m].W), _csr(net.layers[m - 1].W)
        if _product_nnz(Wm, Wp) > LOOKBACK_MAX_PRODUCT_NNZ:
            continue
        a, s, tau, _ = _relaxation(lower[m - 1], upper[m - 1])
        a, s, tau = a[0], s[0], tau[0]
        if m >= 2:
            H_lo, H_hi = np.maximum(lower[m - 2][0], 0.0), np.maximum(upper[m - 2][0], 0.0)
        else:
            H_lo, H_hi = box_lo, box_hi
        a_max, a_min = _lower_slopes(
            net.layers[m - 1], a, lower[m - 1][0], upper[m - 1][0], H_lo, H_hi
        )
        lo, hi = _one_step(net, m, Wm, Wp, (a_max, a_min), s, tau, H_lo, H_hi)
        lower[m][0] = np.maximum(lower[m][0], lo)
        upper[m][0] = np.minimum(upper[m][0], hi)
    return LayerBounds(tuple(lower), tuple(upper), base.method)


def _separable_step(
    net: ReLUNet,
    ball: Any,
    m: int,
    rows: np.ndarray,
    lower: list,
    upper: list,
    coarse: bool = False,
) -> None:
    """Intersect the rows ``rows`` (bool mask) of layer m with their separable bounds, where
    they are separable sums over two or more coordinates (a row of one coordinate is bounded
    on its coordinate interval by the other passes well enough, and costs as much)."""
    from robustexp.verify._separable import multi_coordinate_rows, separable_bounds

    if math.isinf(ball.p) or m == 0 or rows is None or not rows.any():
        return
    idx = np.flatnonzero(rows & multi_coordinate_rows(net, m))
    if idx.size == 0:
        return
    lo, hi = separable_bounds(net, ball, m, idx, coarse=coarse, enough=settling_bounds(net, m))
    lower[m][0, idx] = np.maximum(lower[m][0, idx], lo[0])
    upper[m][0, idx] = np.minimum(upper[m][0, idx], hi[0])


def settling_bounds(net: ReLUNet, m: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Bounds ``(lower, upper)`` per row t of layer m beyond which tightening z_t changes
    nothing: every hidden unit of layer m + 1 reading ``σ(z_t)`` is then stably inactive.

    Only units that read ``σ(z_t)`` alone, ``z_v = w σ(z_t) + b``, are analysed: with
    ``w < 0`` the unit is inactive once ``z_t >= b/|w|`` (always if b <= 0); with ``w > 0``
    once ``z_t <= -b/w`` (never if b > 0). A row read by any other unit (or by the output
    layer) is never settled: ``(+inf, -inf)``. (The memorizers' plateau units ``A - σ(ŝ_i)``,
    ``B - σ(ŝ_i)``: a far ŝ_i is settled at ``max(A, B)``.) Only a choice of work: any bounds
    are sound. None when layer m + 1 is the output layer.

    >>> net = ReLUNet.from_layers([([[1.0], [2.0]], [0.0, 0.0]),
    ...                            ([[-1.0, 0.0], [-2.0, 0.0], [0.0, 1.0]], [0.5, 3.0, -0.5]),
    ...                            ([[1.0, 1.0, 1.0]], [0.0])])
    >>> [v.tolist() for v in settling_bounds(net, 0)]   # row 0: z >= 1.5; row 1: z <= 0.5
    [[1.5, -inf], [inf, 0.5]]
    >>> net2 = ReLUNet.from_layers([net.layers[0], ([[1.0, 1.0]], [0.0]), ([[1.0]], [0.0])])
    >>> [v.tolist() for v in settling_bounds(net2, 0)]  # read by a sum: never settled
    [[inf, inf], [-inf, -inf]]
    """
    if m + 1 >= net.depth - 1:
        return None
    W = _csr(net.layers[m + 1].W)
    b = np.asarray(net.layers[m + 1].b, dtype=np.float64)
    v = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    live = W.data != 0
    v, t, w = v[live], W.indices[live], W.data[live]
    alone = (np.bincount(v, minlength=W.shape[0]) == 1)[v]
    k = W.shape[1]
    need_lo, need_hi = np.full(k, -np.inf), np.full(k, np.inf)
    bv = b[v]
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_bar = np.where(~alone | ((w > 0) & (bv > 0)), np.inf, np.where(w < 0, bv / -w, -np.inf))
        hi_bar = np.where(alone & (w > 0), -bv / w, np.inf)
    lo_bar = np.where((w < 0) & (bv <= 0) & alone, -np.inf, lo_bar)
    np.maximum.at(need_lo, t, lo_bar)
    np.minimum.at(need_hi, t, hi_bar)
    never = np.isinf(need_lo) & (need_lo > 0)
    need_hi[never] = -np.inf
    return need_lo, need_hi


def _interval_step(
    step: Any, ws: Any, lo_prev: np.ndarray, hi_prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sound interval of ``W σ(z_prev) + b`` from bounds on ``z_prev``: IBP's own step for
    the layer (:func:`._ibp.layer_steps`, with its rounding analysis), rounded outward."""
    from robustexp.verify._ibp import _outward

    S = np.concatenate([lo_prev, hi_prev])[:, None]
    O = step(S, ws)
    k = O.shape[0] // 2
    lo, hi = _outward(O[:k, 0].copy(), O[k:, 0].copy())
    ws.give(O)
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    lo[bad], hi[bad] = -np.inf, np.inf
    return lo, hi


def _csr(W: Any) -> sp.csr_array:
    """``W`` as CSR (a view of a CSR layer's arrays; dense layers are converted)."""
    return W if isinstance(W, sp.csr_array) else sp.csr_array(W)


def _product_nnz(Wm: sp.csr_array, Wp: sp.csr_array) -> int:
    """An upper bound on the nonzeros of ``Wm @ Wp`` (sum over Wm's entries of the row
    lengths of Wp they select)."""
    row_nnz = np.diff(Wp.indptr).astype(np.float64)
    return int(np.sum(row_nnz[Wm.indices]))


def _lower_slopes(
    layer: Any,
    a: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    H_lo: np.ndarray,
    H_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower-line slopes (0 or 1) of the unstable units of layer m - 1, chosen from the
    interval boxes of their parts ``P = W⁺ h``, ``Q = W⁻ h`` (only a choice; any slope in
    [0, 1] is sound): for a lower bound, ``σ(P - Q) >= P - Q`` (slope 1) keeps ``P`` when
    ``P_l >= Q_l`` — ``Q + σ(P - Q) = max(P, Q) >= P`` —, for an upper bound slope 1 when
    ``Q_u <= P_u`` (``P - σ(P - Q) = min(P, Q) <= Q``)."""
    if np.any(H_lo < 0):  # the input layer: the parts' boxes are not needed there
        return a, a
    Wpos, Wneg = layer.signed_parts
    PL, PU = Wpos @ np.maximum(H_lo, 0.0), Wpos @ H_hi
    QL, QU = Wneg @ np.maximum(H_lo, 0.0), Wneg @ H_hi
    unstable = (lo < 0) & (hi > 0)
    a_max = np.where(unstable, np.where(PL >= QL, 1.0, 0.0), a)
    a_min = np.where(unstable, np.where(QU <= PU, 1.0, 0.0), a)
    return a_max, a_min


def _one_step(
    net: ReLUNet,
    m: int,
    Wm: sp.csr_array,
    Wp: sp.csr_array,
    a: tuple[np.ndarray, np.ndarray],
    s: np.ndarray,
    tau: np.ndarray,
    H_lo: np.ndarray,
    H_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    bm = np.asarray(net.layers[m].b, dtype=np.float64)
    bp = np.asarray(net.layers[m - 1].b, dtype=np.float64)
    Wpos, Wneg = (_csr(P) for P in net.layers[m].signed_parts)  # W = W⁺ - W⁻, both >= 0
    out = []
    for is_lower in (True, False):
        # lower: W⁺ takes the lower line a, W⁻ the upper line (s, τ); upper: the mirror
        pos_slope, neg_slope = (a[0], s) if is_lower else (s, a[1])
        A = sp.csr_array(Wpos @ sp.diags_array(pos_slope) - Wneg @ sp.diags_array(neg_slope))
        c = bm + (-(Wneg @ tau) if is_lower else Wpos @ tau)
        A2 = sp.csr_array(A @ Wp)
        c2 = c + A @ bp
        A2pos, A2neg = A2.maximum(0), A2.minimum(0)
        h_for_pos, h_for_neg = (H_lo, H_hi) if is_lower else (H_hi, H_lo)
        val = c2 + A2pos @ h_for_pos + A2neg @ h_for_neg
        out.append(np.asarray(val, dtype=np.float64))
    E = _error(net, m, Wm, Wp, bm, bp, tau, np.maximum(np.abs(H_lo), np.abs(H_hi)))
    lo = sub_down(out[0], E)
    hi = add_up(out[1], E)
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    lo[bad], hi[bad] = -np.inf, np.inf
    return lo, hi


def _error(
    net: ReLUNet,
    m: int,
    Wm: sp.csr_array,
    Wp: sp.csr_array,
    bm: np.ndarray,
    bp: np.ndarray,
    tau: np.ndarray,
    H: np.ndarray,
) -> np.ndarray:
    """Upper bound (k_m,) on the rounding error of one row's computed bound (module docstring)."""
    Km = int(np.diff(Wm.indptr).max(initial=0))
    Kp = int(np.diff(Wp.indptr).max(initial=0))
    T = Km * (Kp + 2) + 2
    absWm, absWp = net.layers[m].abs_W, net.layers[m - 1].abs_W
    inner = true_sum_upper(np.asarray(absWp @ H, dtype=np.float64) + np.abs(bp), Kp + 1)
    inner = upper_combination([(1, inner), (1, tau)])
    S_hat = np.asarray(absWm @ inner, dtype=np.float64) + np.abs(bm)
    S = true_sum_upper(S_hat, Km + 1)
    return upper_combination([(gamma(T + 4), S)], 2 * (T + 4) * Fraction(ETA))
