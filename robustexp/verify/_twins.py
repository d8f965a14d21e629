r"""Twin-group output bounds: exact interval bounds of the output layer for units that share
their pre-activation up to a bias.

**Twins.** Units j of the last hidden layer whose weight rows are identical are *twins*: their
pre-activations are ``z_j = t + b_j`` for one scalar ``t = w·h`` (h the layer below). An
output row reads a twin group J as

    φ(t) = Σ_{j ∈ J} v_j σ(t + b_j),

a piecewise-linear function of the single scalar t with breakpoints ``-b_j``. Its exact
range over ``t ∈ [L, U]`` is attained at ``L``, ``U`` or a breakpoint inside. A plateau bump
``w σ(f_b - s) - w σ(f_a - s)`` is such a group (``t = -s``): its value is in ``[0, 1]``
whatever ``s`` is, and exactly 1 when ``s`` is known to be inside the plateau. Interval
arithmetic sees two independent units (``w σ(f_b - s) ∈ [0, w(f_b - l_s)]`` minus another
such interval) and linear relaxations a plane of the pair, and both can put the bump below
zero; summed over the many same-class neighbours of a real data point (scikit-learn digits:
seven neighbours within 1.14 ε) that alone hides the margin of a robust point.

**The bound.** Every unit's bounds ``l_j <= t + b_j <= u_j`` (sound bounds of its
pre-activation) give ``L = max_j (l_j - b_j)`` and ``U = min_j (u_j - b_j)`` for the common
``t``. An output row is then bounded by

    c_r + Σ_groups [min, max]_{t ∈ [L_g, U_g]} φ_{r,g}(t),

a sum of per-group ranges: sound whatever the dependence between groups (the minimum of a
sum is at least the sum of the minima). A unit with ``u_j <= 0`` contributes exactly 0 and
a group whose units all have ``u_j <= 0`` is skipped. Everything (the ``L``, ``U``, the
values of φ at the candidate points, the sums) is computed in exact rationals from the
stored float64 weights and the float bounds, then rounded outward once, so the bound is
sound for the real-valued net. A group with ``L > U`` (no common t, possible only if the
given bounds are inconsistent) falls back to per-unit intervals.
"""

from __future__ import annotations

import weakref
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp.network import ReLUNet
from robustexp.verify._numerics import round_down, round_up

__all__ = ["twin_groups", "twin_output_bounds"]

_GROUPS: weakref.WeakKeyDictionary[ReLUNet, list[np.ndarray]] = weakref.WeakKeyDictionary()


def twin_groups(net: ReLUNet) -> list[np.ndarray]:
    """The twin groups of the last hidden layer (units with identical weight rows), each an
    index array of two or more units; cached per net.

    >>> net = ReLUNet.from_layers([([[1.0], [1.0], [2.0]], [0.0, -1.0, 0.0]),
    ...                            ([[1.0, -1.0, 1.0]], [0.0])])
    >>> [g.tolist() for g in twin_groups(net)]
    [[0, 1]]
    """
    cached = _GROUPS.get(net)
    if cached is not None:
        return cached
    groups: list[np.ndarray] = []
    if net.depth >= 2:
        W = sp.csr_array(net.layers[-2].W).copy()  # the net's arrays are read-only
        W.sum_duplicates()
        W.eliminate_zeros()
        W.sort_indices()
        by_row: dict[tuple[bytes, bytes], list[int]] = {}
        for i in range(W.shape[0]):
            a, b = W.indptr[i], W.indptr[i + 1]
            if a == b:
                continue  # a constant unit: nothing to share
            key = (W.indices[a:b].tobytes(), W.data[a:b].tobytes())
            by_row.setdefault(key, []).append(i)
        groups = [np.array(v, dtype=np.int64) for v in by_row.values() if len(v) > 1]
    _GROUPS[net] = groups
    return groups


def twin_output_bounds(net: ReLUNet, bounds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Sound (lower, upper), each (out_dim,), of the output pre-activations for a set of ONE
    point, from ``bounds`` (sound bounds of every layer over the set; the last hidden
    layer's are used), with twin groups bounded exactly (module docstring); None when the
    last hidden layer has no twins.

    >>> from robustexp.verify import LpBall, interval_bounds
    >>> bump = ReLUNet.from_layers([([[-1.0], [-1.0]], [2.0, 1.0]),   # σ(2 - s), σ(1 - s)
    ...                             ([[1.0, -1.0]], [0.0])])       # 1 on s <= 1, 0 on s >= 2
    >>> ib = interval_bounds(bump, LpBall([[1.5]], 1.0, np.inf))   # s in [0.5, 2.5]
    >>> float(ib.lower[-1][0, 0]) < 0                     # intervals: σ(·) - σ(·) may be < 0
    True
    >>> lo, hi = twin_output_bounds(bump, ib)
    >>> float(lo[0]) == 0.0, float(hi[0])
    (True, 1.0)
    """
    groups = twin_groups(net)
    if not groups or net.depth < 2:
        return None
    lo_z = np.asarray(bounds.lower[-2], dtype=np.float64)[0]
    hi_z = np.asarray(bounds.upper[-2], dtype=np.float64)[0]
    prev = net.layers[-2]
    bias = np.asarray(prev.b, dtype=np.float64)
    out = net.layers[-1]
    V = sp.csr_array(out.W)
    alive = hi_z > 0.0  # a unit with u <= 0 is exactly 0 on the set
    in_group = np.zeros(lo_z.size, dtype=bool)
    in_group[np.concatenate(groups)] = True
    lower = np.full(out.out_dim, -np.inf)
    upper = np.full(out.out_dim, np.inf)
    for r in range(out.out_dim):
        cols = V.indices[V.indptr[r] : V.indptr[r + 1]]
        if not np.all(np.isfinite(hi_z[cols[alive[cols]]])):
            continue  # an alive unit without a finite upper bound: the row stays unbounded
        lower[r], upper[r] = _row_bounds(V, out.b, r, groups, in_group, alive, lo_z, hi_z, bias)
    return lower, upper


def _row_bounds(
    V: sp.csr_array,
    out_b: Any,
    r: int,
    groups: list[np.ndarray],
    in_group: np.ndarray,
    alive: np.ndarray,
    lo_z: np.ndarray,
    hi_z: np.ndarray,
    bias: np.ndarray,
) -> tuple[float, float]:
    """Outward-rounded bounds of output row r (module docstring)."""
    cols = V.indices[V.indptr[r] : V.indptr[r + 1]]
    vals = V.data[V.indptr[r] : V.indptr[r + 1]]
    weight = {int(j): Fraction(float(v)) for j, v in zip(cols, vals, strict=True) if v != 0.0}
    lo_sum = hi_sum = Fraction(float(out_b[r]))
    for j, v in weight.items():  # alive units outside twin groups: their own intervals
        if in_group[j] or not alive[j]:
            continue
        a, b = _relu_range(lo_z[j], hi_z[j])
        lo_sum += min(v * a, v * b)
        hi_sum += max(v * a, v * b)
    for g in groups:
        members = [int(j) for j in g[alive[g]] if int(j) in weight]
        if members:
            lo_g, hi_g = _group_range(members, weight, lo_z, hi_z, bias)
            lo_sum += lo_g
            hi_sum += hi_g
    return round_down(lo_sum), round_up(hi_sum)


def _relu_range(lo: float, hi: float) -> tuple[Fraction, Fraction]:
    """``[σ(l), σ(u)]`` as exact rationals (``-inf`` lower ends count as 0; ``u`` finite)."""
    a = Fraction(0) if not np.isfinite(lo) or lo <= 0 else Fraction(float(lo))
    return a, Fraction(float(max(hi, 0.0)))


def _group_range(
    members: list[int],
    weight: dict[int, Fraction],
    lo_z: np.ndarray,
    hi_z: np.ndarray,
    bias: np.ndarray,
) -> tuple[Fraction, Fraction]:
    """Exact range of ``Σ_j v_j σ(t + b_j)`` over the common ``t`` of a twin group (only its
    members that can be positive and are read; the others are 0 or unread)."""
    finite = [j for j in members if np.isfinite(lo_z[j]) and np.isfinite(hi_z[j])]
    L = max((Fraction(float(lo_z[j])) - Fraction(float(bias[j])) for j in finite), default=None)
    U = min((Fraction(float(hi_z[j])) - Fraction(float(bias[j])) for j in finite), default=None)
    if L is None or U is None or L > U:
        lo_s = hi_s = Fraction(0)
        for j in members:  # per-unit intervals
            a, b = _relu_range(lo_z[j], hi_z[j])
            v = weight[j]
            lo_s += min(v * a, v * b)
            hi_s += max(v * a, v * b)
        return lo_s, hi_s
    terms = [(weight[j], Fraction(float(bias[j]))) for j in members]
    points = {L, U} | {-b for _, b in terms if L < -b < U}

    def phi(t: Fraction) -> Fraction:
        return sum((v * max(t + b, Fraction(0)) for v, b in terms), Fraction(0))

    values = [phi(t) for t in points]
    return min(values), max(values)
