r"""Merge-aware interval bounds: interval propagation that reads the units of a layer in the
groups through which the next layer sees them, and bounds the max/min/abs gadgets among them
exactly.

**Why.** Interval arithmetic bounds ``max(p, q) = σ(p) + σ(q - p)`` (p >= 0) by
``[l_p, u_p + σ(u_q - l_p)]``: the upper end grows by the width of ``p`` at every level of a
merge tree, so the ℓ∞ distance of a point to its own centre through a tree of 64
coordinates, and then the minimum over a class through a tree of N distances, come out many
radii too large, and a nearest-margin net whose margin is provable by hand needs full CROWN
(seconds per point on digits). Yet on a box ``max(p, q)`` has the exact range
``[max(l_p, l_q), max(u_p, u_q)]``: the loss is only in how the intervals are composed.

**Groups.** Write the next layer as ``z' = W' σ(z) + b'``. Units whose columns of ``W'`` are
proportional, ``W'[:, j] = α_j C`` (``α_j`` a power of two, so that ``C = W'[:, j] / α_j`` is
exact), and which are connected through shared inputs, form a *group* ``g`` with value

    φ_g = Σ_{j ∈ g} α_j σ(z_j),        z' = Σ_g C_g φ_g + b',

an identity of the real-valued net (no rounding is involved in forming it). The *virtual
values* ``φ`` of one level are the inputs of the next level's rows (``z_j = A_j φ + b_j``),
and the first level's inputs are the coordinates of ``x``. Each group is bounded by every
rule that applies, and the intersection is kept:

* any group (interval arithmetic): ``φ_g ∈ Σ_j α_j σ([l_j, u_j])``;
* *one-dimensional* groups (all rows equal up to sign, ``z_j = s_j w`` for one scalar ``w``,
  e.g. ``|t| = σ(t) + σ(-t)``, a pass-through ``v = σ(v) - σ(-v)``, a single unit):
  ``φ = P σ(w) + Q σ(-w)`` with ``P = Σ_{s_j = 1} α_j``, ``Q = Σ_{s_j = -1} α_j``, whose range
  over ``w ∈ [l_w, u_w]`` is attained at ``l_w``, ``u_w`` or ``0``;
* *merges*: a group ``{j, j', k}`` with ``z_{j'} = -z_j`` and ``α_{j'} = -α_j``,
  ``α_k = s α_j`` (s = ±1) computes ``α_j (z_j + s σ(z_k)) = α_j · merge_s(p, q)`` with
  ``p = z_j``, ``q = z_j + s z_k`` and ``merge_{+1} = max``, ``merge_{-1} = min``
  (:func:`robustexp.constructions.max_tree`); a group ``{j, k}`` with ``α_k = s α_j``
  computes the same where ``z_j >= 0`` is proven (the non-negative trees), and, read the
  other way, ``α_j s · merge_s(z_k, z_k + s z_j)`` where ``z_k >= 0`` is proven. The range is
  ``[merge(l_p, l_q), merge(u_p, u_q)]``, exact when the intervals of ``p`` and ``q`` are, with
  ``q`` bounded both from its own row ``A_j + s A_k`` over the virtual values (when that row
  sum is exact in float64, checked by TwoSum) and as ``p + s z_k``.

Through a tree of merges over leaves with exact ranges (the coordinates of a box) the bound
of the root is exact: the ℓ∞ distance over a box, and the margin
``min_neg d - min_pos d`` of a nearest-margin net over an ℓ∞ ball, are bounded as tightly
as by hand, in one pass of sparse products, for a whole batch of points.

**Floating point.** Group sums and affine ranges are computed in float64 with the error of
(E1)/(E2) of :mod:`._numerics` subtracted (added) and the result rounded outward; products by
powers of two and max/min are exact; products by the interval ``P``, ``Q`` use directed
rounding (:func:`._numerics.mul_down`/:func:`._numerics.mul_up`). Every returned bound holds
for the exact real-valued net with the stored weights, and every layer's bounds are
intersected with the (sound) bounds given, so the result is never looser than them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from robustexp._tolerances import LINEAR_BOUNDS_BUDGET_BYTES, MERGE_PLAN_MAX_UNITS
from robustexp.network import ReLUNet
from robustexp.verify._numerics import (
    abs_sum_error_bound,
    add_down,
    add_up,
    mul_down,
    mul_up,
    row_dual_norm_upper,
    sub_down,
    sub_up,
    true_sum_upper,
    two_sum,
)

__all__ = ["batched_margins", "has_merge_trees", "merge_bounds", "worth_batching"]


@dataclass(frozen=True)
class _Affine:
    """Rows ``M v + bias`` over a level's virtual values, with what every range of them needs
    precomputed once (they are evaluated for every point at every level)."""

    M: sp.csr_array
    bias: np.ndarray
    M_pos: sp.csr_array
    M_neg: sp.csr_array
    M_abs: sp.csr_array
    terms: int  # the most products in a row, plus the bias
    exact: np.ndarray  # rows computed without rounding (:func:`_exact_rows`)


def _affine(M: sp.csr_array, bias: np.ndarray) -> _Affine:
    terms = int(np.diff(M.indptr).max(initial=0)) + 1
    return _Affine(M, bias, M.maximum(0), M.minimum(0), abs(M), terms, _exact_rows(M, bias))


@dataclass(frozen=True)
class _Merges:
    """Merges of one orientation: group, unit of ``p``, unit of ``z_k``, ``s``, the factor
    (``α_j`` or ``α_j s``), whether ``z_p >= 0`` must be proven, and the rows of ``q``."""

    group: np.ndarray
    p: np.ndarray
    k: np.ndarray
    s: np.ndarray
    factor: np.ndarray
    needs_nonneg: np.ndarray
    q: _Affine
    q_exact: np.ndarray


@dataclass(frozen=True)
class _Level:
    """The units of one hidden layer read as groups by the layer above."""

    affine: _Affine  # this layer's pre-activations over the level's virtual values
    n_groups: int
    order: np.ndarray  # units sorted by group
    starts: np.ndarray  # first position of each group in ``order``
    alpha: np.ndarray  # per unit
    max_size: int
    sign: np.ndarray  # per unit: ±1 in a one-dimensional group, else 0
    one_d: np.ndarray  # per group
    P: tuple[np.ndarray, np.ndarray]  # per group, sound interval
    Q: tuple[np.ndarray, np.ndarray]
    merges: tuple[_Merges, ...]


@dataclass(frozen=True)
class _Lipschitz:
    """Rows over the first level's groups (the second layer, and the ``q`` rows of its
    merges) as Lipschitz functions of the input: ``|z(x) - z(x')| <= Σ_i M_ri |x_i - x'_i|``;
    ``valid`` marks the rows that read only groups of one input coordinate each."""

    M: sp.csr_array
    valid: np.ndarray
    M_q: tuple[sp.csr_array, ...]
    valid_q: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class _Plan:
    levels: tuple[_Level, ...]
    out: _Affine  # the output layer over the last level's groups
    lipschitz: _Lipschitz | None


#: Live (width x chunk) float64 arrays of one level at its peak, used to size point chunks.
_LIVE_ARRAYS = 16

_PLANS: weakref.WeakKeyDictionary[ReLUNet, _Plan] = weakref.WeakKeyDictionary()


def merge_bounds(net: ReLUNet, ball: Any, prior: Any) -> Any:
    """``prior`` (sound bounds of every layer for the batch ``ball``) intersected with the
    merge-aware interval bounds (module docstring). Sound; never looser than ``prior``.

    >>> from robustexp.constructions import max_tree
    >>> from robustexp.verify import LpBall, interval_bounds
    >>> net = max_tree(8, nonnegative=True)
    >>> ball = LpBall([[0.5] * 8], 0.25, np.inf)         # every coordinate in [0.25, 0.75]
    >>> float(interval_bounds(net, ball).upper[-1][0, 0]) > 1.5   # the tree's width adds up
    True
    >>> b = merge_bounds(net, ball, interval_bounds(net, ball))
    >>> 0.75 <= float(b.upper[-1][0, 0]) < 0.75 + 1e-12        # exactly max = 0.75
    True
    """
    from robustexp.verify._types import LayerBounds

    plan = _plan(net)
    lower = [np.array(v, dtype=np.float64) for v in prior.lower]
    upper = [np.array(v, dtype=np.float64) for v in prior.upper]
    box_lo, box_hi = (np.asarray(v, dtype=np.float64) for v in ball.box())
    n = box_lo.shape[0]
    width = max([net.in_dim, *(layer.out_dim for layer in net.layers)])
    chunk = max(1, int(LINEAR_BOUNDS_BUDGET_BYTES // (_LIVE_ARRAYS * 8 * width)))
    for a in range(0, n, chunk):
        pts = slice(a, min(a + chunk, n))
        v_lo, v_hi = box_lo[pts], box_hi[pts]
        around = _around_centre(plan, ball, pts)
        for k, level in enumerate(plan.levels):
            lo, hi = _affine_range(level.affine, v_lo, v_hi)
            lower[k][pts] = np.maximum(lower[k][pts], lo)
            upper[k][pts] = np.minimum(upper[k][pts], hi)
            q_extra = None
            if k == 1 and around is not None:
                (lo, hi), q_extra = around
                lower[k][pts] = np.maximum(lower[k][pts], lo)
                upper[k][pts] = np.minimum(upper[k][pts], hi)
            v_lo, v_hi = _group_values(level, lower[k][pts], upper[k][pts], v_lo, v_hi, q_extra)
        lo, hi = _affine_range(plan.out, v_lo, v_hi)
        lower[-1][pts] = np.maximum(lower[-1][pts], lo)
        upper[-1][pts] = np.minimum(upper[-1][pts], hi)
        if len(plan.levels) == 1 and around is not None:
            lo, hi = around[0]
            lower[-1][pts] = np.maximum(lower[-1][pts], lo)
            upper[-1][pts] = np.minimum(upper[-1][pts], hi)
    return LayerBounds(tuple(lower), tuple(upper), prior.method)


def has_merge_trees(net: ReLUNet) -> bool:
    """Whether some layer above the first holds merge groups (max/min gadgets): without
    them the pass only repeats what interval arithmetic and the look-back step give. False
    for nets of more than ``MERGE_PLAN_MAX_UNITS`` hidden units (reading their groups would
    cost minutes).

    >>> from robustexp.constructions import abs_net, max_tree
    >>> has_merge_trees(max_tree(4)), has_merge_trees(abs_net(3))
    (True, False)
    """
    if net.hidden_neurons > MERGE_PLAN_MAX_UNITS:
        return False
    return any(level.merges for level in _plan(net).levels[1:])


def worth_batching(net: ReLUNet, p: float) -> bool:
    """Whether a batched merge pass on its own (after interval bounds) can prove points: the
    net has merge trees and the sets are not ℓ2 balls (there the squared-distance leaves need
    the separable bounds of the default bounds first; measured: 0 of 61 nearest-margin ℓ2
    points at N = 1000, d = 64)."""
    return p != 2 and has_merge_trees(net)


def batched_margins(
    net: ReLUNet, ball: Any, y: np.ndarray, out_of_time: Any, batch: int = 16
) -> np.ndarray:
    """Per set of ``ball``, a sound lower bound on ``y f`` from interval bounds followed by
    merge-aware intervals, in batches of ``batch`` sets (the bounds of every layer of a batch
    are held at once); ``-inf`` for the sets not reached before ``out_of_time()``."""
    from robustexp.verify._ibp import interval_bounds

    out = np.full(ball.n, -np.inf)
    for a in range(0, ball.n, batch):
        if out_of_time():
            break
        sub = ball[np.arange(a, min(a + batch, ball.n))]
        b = merge_bounds(net, sub, interval_bounds(net, sub))
        ys = y[a : a + sub.n]
        out[a : a + sub.n] = np.where(ys > 0, b.lower[-1][:, 0], -b.upper[-1][:, 0])
    return out


# --------------------------------------------------------------------------- evaluation
def _around_centre(plan: _Plan, ball: Any, pts: slice) -> Any:
    """Bounds of the second layer's rows (and of its merges' ``q`` rows) as their value at
    the centre ``c`` plus or minus ``r ||M_row||_q``: by Hölder,
    ``|z(x) - z(c)| <= Σ_i M_i |x_i - c_i| <= ||M||_q ||x - c||_p`` (rows that are not
    Lipschitz in this sense get infinite bounds). ``None`` without a plan for it."""
    lip = plan.lipschitz
    if lip is None:
        return None
    c = np.asarray(ball.center, dtype=np.float64)[pts]
    r = np.asarray(ball.radius, dtype=np.float64)[pts][:, None]
    first = plan.levels[0]
    second = plan.levels[1] if len(plan.levels) > 1 else None
    lo0, hi0 = _affine_range(first.affine, c, c)
    g_lo, g_hi = _group_values(first, lo0, hi0, c, c)

    def around(rows: _Affine, M: sp.csr_array, valid: np.ndarray):
        zl, zh = _affine_range(rows, g_lo, g_hi)
        R = mul_up(r, row_dual_norm_upper(M, ball.q)[None, :])
        lo = np.where(valid, sub_down(zl, R), -np.inf)
        hi = np.where(valid, add_up(zh, R), np.inf)
        return lo, hi

    if second is None:
        return around(plan.out, lip.M, lip.valid), []
    rows = around(second.affine, lip.M, lip.valid)
    qs = [around(m.q, M, v) for m, M, v in zip(second.merges, lip.M_q, lip.valid_q)]
    return rows, qs


def _affine_range(A: _Affine, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sound ``[min, max]`` of ``M v + bias`` over the box ``v ∈ [lo, hi]`` (batch rows):
    computed split-form values minus/plus the (E1) bound from ``fl(|M| max(|lo|, |hi|) + |b|)``,
    rounded outward; non-finite inputs give infinite ends."""
    with np.errstate(invalid="ignore"):
        lz = (A.M_pos @ lo.T + A.M_neg @ hi.T).T + A.bias
        hz = (A.M_pos @ hi.T + A.M_neg @ lo.T).T + A.bias
        mag = np.maximum(np.abs(lo), np.abs(hi))
        S = (A.M_abs @ mag.T).T + np.abs(A.bias)
    err = abs_sum_error_bound(S, A.terms)
    lz = np.where(A.exact, lz, sub_down(lz, err))
    hz = np.where(A.exact, hz, add_up(hz, err))
    lz[np.isnan(lz)] = -np.inf
    hz[np.isnan(hz)] = np.inf
    return lz, hz


def _exact_rows(M: sp.csr_array, bias: np.ndarray) -> np.ndarray:
    """Rows ``c v_i`` with ``c = ±2^e``, ``e >= 0``, and no bias: computed exactly (a product
    by such ``c`` never rounds or underflows), so their ranges need no error term. This keeps
    an exact 0 lower bound at 0, which the non-negative merges need to apply."""
    single = (np.diff(M.indptr) == 1) & (bias == 0)
    if not M.nnz:
        return single
    first = M.data[np.minimum(M.indptr[:-1], M.nnz - 1)]
    return single & _exact_factor(first)


def _exact_factor(c: np.ndarray) -> np.ndarray:
    """Where ``c = ±2^e`` with ``e >= 0``: a product by ``c`` never rounds or underflows."""
    return _is_power_of_two(c) & (np.abs(c) >= 1.0)


def _times_down(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A float ``<= c x``: exact where :func:`_exact_factor` or ``x = 0``, else the rounded
    product stepped down."""
    return np.where(_exact_factor(c) | (x == 0), c * x, mul_down(c, x))


def _times_up(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A float ``>= c x`` (mirror of :func:`_times_down`)."""
    return np.where(_exact_factor(c) | (x == 0), c * x, mul_up(c, x))


def _group_values(
    level: _Level,
    lo: np.ndarray,
    hi: np.ndarray,
    v_lo: np.ndarray,
    v_hi: np.ndarray,
    q_extra: list | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sound intervals of the group values ``φ_g`` from the units' pre-activation bounds
    ``[lo, hi]`` and the virtual values ``[v_lo, v_hi]`` the units read (``q_extra``: more
    bounds of each merge orientation's ``q``)."""
    # any group: Σ α_j σ([l_j, u_j])
    a = level.alpha
    t1, t2 = a * np.maximum(lo, 0.0), a * np.maximum(hi, 0.0)
    tl, th = np.minimum(t1, t2)[:, level.order], np.maximum(t1, t2)[:, level.order]
    with np.errstate(invalid="ignore"):
        S = np.add.reduceat(np.maximum(np.abs(tl), np.abs(th)), level.starts, axis=1)
        err = abs_sum_error_bound(S, level.max_size)
        g_lo = sub_down(np.add.reduceat(tl, level.starts, axis=1), err)
        g_hi = add_up(np.add.reduceat(th, level.starts, axis=1), err)
    g_lo[np.isnan(g_lo)] = -np.inf
    g_hi[np.isnan(g_hi)] = np.inf
    if level.one_d.any():
        _one_dimensional(level, lo, hi, g_lo, g_hi)
    for i, m in enumerate(level.merges):
        _merge(m, lo, hi, v_lo, v_hi, g_lo, g_hi, None if q_extra is None else q_extra[i])
    return g_lo, g_hi


def _one_dimensional(
    level: _Level, lo: np.ndarray, hi: np.ndarray, g_lo: np.ndarray, g_hi: np.ndarray
) -> None:
    """Intersect the one-dimensional groups with the range of ``P σ(w) + Q σ(-w)``."""
    s = level.sign[level.order]
    lo_o, hi_o = lo[:, level.order], hi[:, level.order]
    w_lo = np.where(s >= 0, lo_o, -hi_o)  # units outside 1-D groups are masked below
    w_hi = np.where(s >= 0, hi_o, -lo_o)
    wl = np.maximum.reduceat(w_lo, level.starts, axis=1)
    wh = np.minimum.reduceat(w_hi, level.starts, axis=1)
    (Pl, Ph), (Ql, Qh) = level.P, level.Q
    c_lo = np.full_like(wl, np.inf)
    c_hi = np.full_like(wl, -np.inf)
    with np.errstate(invalid="ignore", over="ignore"):
        for w in (wl, wh):
            pos = w >= 0
            m = np.where(pos, w, -w)
            lo_c = np.where(pos, _times_down(Pl, m), _times_down(Ql, m))
            hi_c = np.where(pos, _times_up(Ph, m), _times_up(Qh, m))
            c_lo = np.minimum(c_lo, lo_c)
            c_hi = np.maximum(c_hi, hi_c)
        inside = (wl < 0) & (wh > 0)
        c_lo = np.where(inside, np.minimum(c_lo, 0.0), c_lo)
        c_hi = np.where(inside, np.maximum(c_hi, 0.0), c_hi)
    ok = level.one_d[None, :] & (wl <= wh) & np.isfinite(c_lo) & np.isfinite(c_hi)
    g_lo[ok] = np.maximum(g_lo[ok], c_lo[ok])
    g_hi[ok] = np.minimum(g_hi[ok], c_hi[ok])


def _merge(
    m: _Merges,
    lo: np.ndarray,
    hi: np.ndarray,
    v_lo: np.ndarray,
    v_hi: np.ndarray,
    g_lo: np.ndarray,
    g_hi: np.ndarray,
    q_extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Intersect the merge groups of ``m`` (one orientation, each group once) with
    ``factor · [merge(l_p, l_q), merge(u_p, u_q)]``."""
    pl, ph = lo[:, m.p], hi[:, m.p]
    kl, kh = lo[:, m.k], hi[:, m.k]
    plus = m.s > 0
    ql = np.where(plus, add_down(pl, kl), sub_down(pl, kh))
    qh = np.where(plus, add_up(ph, kh), sub_up(ph, kl))
    if m.q_exact.any():
        rl, rh = _affine_range(m.q, v_lo, v_hi)
        ql = np.where(m.q_exact, np.maximum(ql, rl), ql)
        qh = np.where(m.q_exact, np.minimum(qh, rh), qh)
    if q_extra is not None:  # bounds of the row A_j + s A_k: of q only where that sum is exact
        ql = np.where(m.q_exact, np.maximum(ql, q_extra[0]), ql)
        qh = np.where(m.q_exact, np.minimum(qh, q_extra[1]), qh)
    ml = np.where(plus, np.maximum(pl, ql), np.minimum(pl, ql))
    mh = np.where(plus, np.maximum(ph, qh), np.minimum(ph, qh))
    f = m.factor
    with np.errstate(invalid="ignore", over="ignore"):
        r_lo = np.where(f > 0, _times_down(f, ml), _times_down(f, mh))
        r_hi = np.where(f > 0, _times_up(f, mh), _times_up(f, ml))
    ok = ~(m.needs_nonneg & (pl < 0)) & (ml <= mh) & ~np.isnan(r_lo) & ~np.isnan(r_hi)
    cols = np.broadcast_to(m.group, ok.shape)
    rows = np.broadcast_to(np.arange(ok.shape[0])[:, None], ok.shape)
    r, c = rows[ok], cols[ok]
    g_lo[r, c] = np.maximum(g_lo[r, c], r_lo[ok])
    g_hi[r, c] = np.minimum(g_hi[r, c], r_hi[ok])


# --------------------------------------------------------------------------- the plan
def _plan(net: ReLUNet) -> _Plan:
    """The groups of every hidden layer (cached per net)."""
    plan = _PLANS.get(net)
    if plan is not None:
        return plan
    rows, bias = _clean_csr(net.layers[0].W), np.asarray(net.layers[0].b, dtype=np.float64)
    levels = []
    for k in range(net.depth - 1):
        nxt = _clean_csr(net.layers[k + 1].W)
        level, nxt_rows = _level(rows, bias, nxt)
        levels.append(level)
        rows, bias = nxt_rows, np.asarray(net.layers[k + 1].b, dtype=np.float64)
    plan = _Plan(tuple(levels), _affine(rows, bias), _lipschitz(levels, rows, net.in_dim))
    _PLANS[net] = plan
    return plan


def _lipschitz(levels: list[_Level], out_rows: sp.csr_array, d: int) -> _Lipschitz | None:
    """The Lipschitz matrices of the second layer's rows (and its merges' ``q`` rows), the
    output's when there is no second hidden layer, over
    the first level's one-dimensional groups of a single input coordinate: such a group is
    ``P σ(w) + Q σ(-w)``, ``w = β x_i + B``, hence ``|β| max(|P|, |Q|)``-Lipschitz in ``x_i``."""
    if not levels:
        return None
    first = levels[0]
    reps = first.order[first.starts]
    rep_rows = first.affine.M[reps]
    if rep_rows.nnz == 0:
        return None
    single = first.one_d & (np.diff(rep_rows.indptr) == 1)
    at = np.minimum(rep_rows.indptr[:-1], rep_rows.nnz - 1)  # a group's single entry
    coord = np.where(single, rep_rows.indices[at], 0)
    beta = np.abs(rep_rows.data[at])
    slope = np.maximum.reduce([np.abs(v) for v in (*first.P, *first.Q)])
    L = np.where(single, mul_up(beta, slope), 0.0)
    G = sp.csr_array((L, (np.arange(first.n_groups), coord)), shape=(first.n_groups, d))

    def through(A: sp.csr_array) -> tuple[sp.csr_array, np.ndarray]:
        absA = abs(A)
        M = sp.csr_array(absA @ G)
        terms = int(np.diff(absA.indptr).max(initial=0))
        M.data = true_sum_upper(M.data, max(terms, 1))
        bad = absA @ (~single).astype(np.float64)
        return M, bad == 0

    M, valid = through(levels[1].affine.M if len(levels) > 1 else out_rows)
    qs = [through(m.q.M) for m in (levels[1].merges if len(levels) > 1 else ())]
    return _Lipschitz(M, valid, tuple(q[0] for q in qs), tuple(q[1] for q in qs))


def _clean_csr(W: Any) -> sp.csr_array:
    M = sp.csr_array(W, dtype=np.float64).copy()
    M.sum_duplicates()
    M.eliminate_zeros()
    M.sort_indices()
    return M


def _is_power_of_two(x: np.ndarray) -> np.ndarray:
    mant, _ = np.frexp(x)
    return np.abs(mant) == 0.5


def _level(rows: sp.csr_array, bias: np.ndarray, nxt: sp.csr_array) -> tuple[_Level, sp.csr_array]:
    """Group the units (rows of ``rows``) by the proportional columns of ``nxt`` and by shared
    inputs; return the level and ``nxt`` over the groups."""
    units = rows.shape[0]
    alpha, cls = _column_classes(nxt)
    # split each class by connectivity through the inputs the units read
    coo = rows.tocoo()
    key = cls[coo.row].astype(np.int64) * (rows.shape[1] + 1) + coo.col
    _, key_id = np.unique(key, return_inverse=True)
    n_keys = int(key_id.max(initial=-1)) + 1
    graph = sp.coo_array((np.ones(coo.nnz), (coo.row, units + key_id)), shape=(units + n_keys,) * 2)
    _, comp = connected_components(graph, directed=False)
    _, group = np.unique(comp[:units], return_inverse=True)
    n_groups = int(group.max(initial=-1)) + 1
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n_groups))
    sizes = np.diff(np.append(starts, units))
    first = order[starts]  # a representative unit of each group
    # the next layer over the groups: column g = W'[:, first_g] / α_first (exact)
    cols = sp.csc_array(nxt)[:, first]
    nxt_rows = sp.csr_array(cols @ sp.diags_array(1.0 / alpha[first]))
    nxt_rows.sort_indices()
    rid, nid = _row_ids(rows)
    sign, one_d, P, Q = _one_dimensional_groups(
        (rid, nid), bias, alpha, group, first, order, starts, sizes
    )
    merges = _merge_groups(rows, (rid, nid), bias, alpha, order, starts, sizes)
    level = _Level(
        affine=_affine(rows, bias),
        n_groups=n_groups,
        order=order,
        starts=starts,
        alpha=alpha,
        max_size=int(sizes.max(initial=1)),
        sign=sign,
        one_d=one_d,
        P=P,
        Q=Q,
        merges=merges,
    )
    return level, nxt_rows


def _column_classes(nxt: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """``α_j`` and a class id per unit: units in one class have ``W'[:, j] = α_j C`` exactly
    (``α_j`` the first nonzero of the column when it is a power of two, else 1 and a class of
    its own)."""
    W = sp.csc_array(nxt)
    W.sort_indices()
    units = W.shape[1]
    counts = np.diff(W.indptr)
    alpha = np.ones(units)
    nonempty = counts > 0
    f = np.ones(units)
    f[nonempty] = W.data[W.indptr[:-1][nonempty]]
    pow2 = nonempty & _is_power_of_two(f)
    alpha[pow2] = f[pow2]
    norm = W.data / np.repeat(alpha, counts)
    exact = np.repeat(alpha, counts) * norm == W.data
    bad_col = np.zeros(units, dtype=bool)
    np.logical_or.at(bad_col, np.repeat(np.arange(units), counts), ~exact)
    alpha[bad_col] = 1.0
    norm = W.data / np.repeat(alpha, counts)
    classes: dict[tuple[bytes, bytes], int] = {}
    cls = np.empty(units, dtype=np.int64)
    ind, ptr = W.indices, W.indptr
    for j in range(units):
        if not pow2[j] or bad_col[j]:
            cls[j] = len(classes)
            classes[(b"unit", j.to_bytes(8, "little"))] = cls[j]
            continue
        a, b = ptr[j], ptr[j + 1]
        cls[j] = classes.setdefault((ind[a:b].tobytes(), norm[a:b].tobytes()), len(classes))
    return alpha, cls


def _row_ids(rows: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """An id per row (equal rows, equal ids) and the id of its negation (-1 if no row is)."""
    ids: dict[tuple[bytes, bytes], int] = {}
    rid = np.empty(rows.shape[0], dtype=np.int64)
    ind, dat, ptr = rows.indices, rows.data, rows.indptr
    for i in range(rows.shape[0]):
        a, b = ptr[i], ptr[i + 1]
        rid[i] = ids.setdefault((ind[a:b].tobytes(), dat[a:b].tobytes()), len(ids))
    nid = np.empty_like(rid)
    neg = -dat
    for i in range(rows.shape[0]):
        a, b = ptr[i], ptr[i + 1]
        nid[i] = ids.get((ind[a:b].tobytes(), neg[a:b].tobytes()), -1)
    return rid, nid


def _one_dimensional_groups(ids, bias, alpha, group, first, order, starts, sizes):
    """Per unit its sign ``s_j`` with ``z_j = s_j w`` (0 outside one-dimensional groups),
    per group whether it is one-dimensional, and sound intervals of ``P`` and ``Q``
    (``ids``: :func:`_row_ids` of the units' rows)."""
    rid, nid = ids
    ref = first[group]
    same = (rid == rid[ref]) & (bias == bias[ref])
    opp = (rid == nid[ref]) & (bias == -bias[ref])
    sign = np.where(same, 1, np.where(opp, -1, 0)).astype(np.int8)
    one_d = np.logical_and.reduceat((sign != 0)[order], starts) if len(order) else np.zeros(0, bool)
    sign[~one_d[group]] = 0
    so, ao = sign[order], alpha[order]
    size = int(sizes.max(initial=1))

    def interval(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vals = np.where(mask, ao, 0.0)
        if not len(order):
            return np.zeros(0), np.zeros(0)
        total = np.add.reduceat(vals, starts)
        err = abs_sum_error_bound(np.add.reduceat(np.abs(vals), starts), size)
        lo, hi = sub_down(total, err), add_up(total, err)
        # a group of one or two units: its sum is exact when TwoSum's error is 0
        second = np.where(sizes >= 2, vals[np.minimum(starts + 1, len(order) - 1)], 0.0)
        s2, e2 = two_sum(vals[starts], second)
        exact = (sizes <= 2) & (e2 == 0)
        return np.where(exact, s2, lo), np.where(exact, s2, hi)

    return sign, one_d, interval(so > 0), interval(so < 0)


def _merge_groups(rows, ids, bias, alpha, order, starts, sizes) -> tuple[_Merges, ...]:
    """The merge groups (module docstring), as orientations that each hold a group once
    (``ids``: :func:`_row_ids` of the units' rows)."""
    rid, nid = ids
    forward: list[tuple[int, int, int, int, float, bool]] = []
    backward: list[tuple[int, int, int, int, float, bool]] = []
    for g in np.flatnonzero((sizes == 2) | (sizes == 3)):
        u = order[starts[g] : starts[g] + sizes[g]]
        if sizes[g] == 2:
            j, k = int(u[0]), int(u[1])
            if alpha[k] == alpha[j] or alpha[k] == -alpha[j]:
                s = 1 if alpha[k] == alpha[j] else -1
                forward.append((g, j, k, s, float(alpha[j]), True))
                backward.append((g, k, j, s, float(alpha[j] * s), True))
            continue
        for j, jn, k in ((u[0], u[1], u[2]), (u[0], u[2], u[1]), (u[1], u[2], u[0])):
            if rid[jn] == nid[j] and bias[jn] == -bias[j] and alpha[jn] == -alpha[j]:
                if alpha[k] == alpha[j] or alpha[k] == -alpha[j]:
                    s = 1 if alpha[k] == alpha[j] else -1
                    forward.append((int(g), int(j), int(k), s, float(alpha[j]), False))
                break
    return tuple(_merges(rows, bias, t) for t in (forward, backward) if t)


def _merges(rows: sp.csr_array, bias: np.ndarray, items: list) -> _Merges:
    g, p, k, s, factor, nonneg = (np.array(v) for v in zip(*items))
    s = s.astype(np.float64)
    A1 = sp.csr_array(rows[p])
    A2 = sp.csr_array(sp.diags_array(s) @ rows[k])
    Q = sp.csr_array(A1 + A2)
    # TwoSum on every entry (sparse ops act entrywise; absent entries are exact zeros)
    bp = sp.csr_array(Q - A1)
    ap = sp.csr_array(Q - bp)
    E = sp.csr_array((A1 - ap) + (A2 - bp))
    E.eliminate_zeros()
    exact = np.diff(E.indptr) == 0
    qb, eb = two_sum(bias[p], s * bias[k])
    exact &= eb == 0
    Q.eliminate_zeros()
    Q.sort_indices()
    return _Merges(g, p, k, s, factor, nonneg.astype(bool), _affine(Q, qb), exact)
