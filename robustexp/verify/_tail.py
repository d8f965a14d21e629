r"""Tail CROWN: linear bounds on the layers after the last *separable* layer of a net, over
the box of that layer's outputs, for one set (used by :func:`._milp.default_bounds`).

**Why.** Over an ℓ1/ℓ2 ball the separable Lagrangian bounds (:mod:`._separable`) make sums
of per-coordinate gadgets (distances) nearly exact; what comes after them in a nearest-margin
net is a pair of min trees over those distances. Interval arithmetic and the one-step look-back
of :mod:`._lookback` do not compute a min tree exactly (``a - σ(a - b)`` loses the link between
``a`` and ``b``: on a tree of 500 leaves the bound of the minimum drifts by several times the
leaves' widths), while CROWN with the two-group planes of :func:`._crown.linear_bounds` does.
CROWN on the whole net does it too, but pays for every gadget unit of every layer (one
ℓ2 nearest-margin query at N = 1000, d = 64: about 70 s). Here CROWN runs on the *tail* only,
a net of about N units whose inputs are the N distances, so the exact-tree bound costs a
fraction of a second.

**The bound.** Let ``k`` be the deepest hidden layer that has separable rows over two or
more coordinates (:func:`tail_layer`) and ``R`` the set of values of ``h_k = σ(z_k)`` on the
ball. Sound bounds ``l_k <= z_k <= u_k`` give ``R ⊆ B = [σ(l_k), σ(u_k)]``. The tail
``layers[k+1:]`` maps ``h_k`` to the output exactly as the whole net does, and the given bounds
of the later layers hold on ``R``; CROWN (sound, with its own rounding analysis) with those
bounds as prior bounds every later layer on ``R`` — its relaxations hold wherever the prior
bounds hold, and it minimises its linear functions over ``B ⊇ R``. The result is intersected
with the given bounds. What is lost is the link between different units of ``h_k`` (all are
functions of the same x), not the ball's geometry, which the separable bounds of layer k
already used.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import ResourceLimitError
from robustexp.network import Affine, ReLUNet

__all__ = ["tail_crown_bounds", "tail_layer", "tail_sensitivity"]

#: The tail must have at most this many hidden units (CROWN's cost grows with its size);
#: a larger tail keeps the given bounds.
TAIL_MAX_UNITS = 20_000

#: Per net: the tail layer k and the tail net (identity layer first), or None. The tail net
#: is built once so that CROWN's per-net caches (two-group splits) serve every query.
_TAIL: weakref.WeakKeyDictionary[ReLUNet, tuple[int, ReLUNet] | None] = weakref.WeakKeyDictionary()


def tail_layer(net: ReLUNet) -> int | None:
    """The deepest hidden layer with a separable row over two or more input coordinates
    (:func:`._separable.separable_rows`), when the hidden layers after it hold at most
    ``TAIL_MAX_UNITS`` units; else None. Cached per net.

    >>> net = ReLUNet.from_layers([([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]),   # σ(x1), σ(x2)
    ...                            ([[1.0, 1.0]], [0.0]),                   # x1 + x2: layer 1
    ...                            ([[2.0]], [0.0]), ([[1.0]], [0.0])])
    >>> tail_layer(net)
    1
    """
    found = _tail(net)
    return None if found is None else found[0]


def _tail(net: ReLUNet) -> tuple[int, ReLUNet] | None:
    """(k, the layers after k with an identity layer first: σ(h) = h on the box of h_k >= 0,
    its units stably active, so that the tail's first layer gets the two-group planes CROWN
    gives layers after the first), or None; cached per net."""
    if net in _TAIL:
        return _TAIL[net]
    from robustexp.verify._separable import MIXED, _labels, separable_rows

    labels = _labels(net)
    found: int | None = None
    for m in range(net.depth - 2, 0, -1):
        if np.any((labels[m] == MIXED) & separable_rows(net, m)):
            found = m
            break
    if found is not None:
        later = sum(layer.out_dim for layer in net.layers[found + 1 : -1])
        if later > TAIL_MAX_UNITS:
            found = None
    if found is None:
        _TAIL[net] = None
        return None
    width = net.layers[found].out_dim
    identity = Affine(sp.identity(width, format="csr"), np.zeros(width))
    _TAIL[net] = (found, ReLUNet((identity, *net.layers[found + 1 :])))
    return _TAIL[net]


def tail_crown_bounds(net: ReLUNet, ball: Any, bounds: Any, y: int | None = None) -> Any:
    """``bounds`` (sound bounds of every layer for a ball of ONE point) with the layers after
    :func:`tail_layer` intersected with CROWN's bounds over the box of that layer's outputs
    (module docstring); ``bounds`` itself when the net has no such layer, a bound of layer k
    is infinite, or CROWN does not fit in memory. With the label ``y``, plain CROWN first
    and the two-group pass only when it does not prove the label.

    >>> from robustexp.verify import LpBall, interval_bounds
    >>> net = ReLUNet.from_layers([
    ...     ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]),          # σ(x1), σ(x2)
    ...     ([[1.0, 1.0], [1.0, 0.0]], [0.0, 0.0]),          # a = x1 + x2, b = x1 (layer 1)
    ...     ([[1.0, 0.0], [1.0, -1.0]], [0.0, 0.0]),         # σ(a), σ(a - b)
    ...     ([[1.0, -1.0]], [0.0])])                        # a - σ(a - b) = min(a, b) = b
    >>> ball = LpBall([[1.0, 1.0]], 0.5, 2)
    >>> ibp = interval_bounds(net, ball)
    >>> b = tail_crown_bounds(net, ball, ibp)
    >>> float(ibp.lower[-1][0, 0]) < 0      # intervals: a - σ(a - b) >= 1 - 2.5
    True
    >>> 0.5 - 1e-9 < float(b.lower[-1][0, 0]) <= 0.5     # min(a, b) >= min(1, 0.5)
    True
    """
    from robustexp.verify._front import box_of_outputs
    from robustexp.verify._milp import _crown_plain_first
    from robustexp.verify._types import LayerBounds

    found = _tail(net)
    if found is None:
        return bounds
    k, tail = found
    lower = [np.array(v, dtype=np.float64) for v in bounds.lower]
    upper = [np.array(v, dtype=np.float64) for v in bounds.upper]
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.all(np.isfinite(upper[k] - lower[k])):  # no finite box (or no float radius)
            return bounds
    box = box_of_outputs(lower[k][0], upper[k][0])
    lo, hi = box.box()
    prior = LayerBounds((lo, *lower[k + 1 :]), (hi, *upper[k + 1 :]), bounds.method)
    try:
        lb = _crown_plain_first(tail, box, prior, y, sparse=tail.is_sparse)
    except ResourceLimitError:
        return bounds
    for j in range(k + 1, net.depth):
        lower[j] = np.maximum(lower[j], lb.lower[j - k])
        upper[j] = np.minimum(upper[j], lb.upper[j - k])
    return LayerBounds(tuple(lower), tuple(upper), bounds.method)


def tail_sensitivity(net: ReLUNet, bounds: Any) -> np.ndarray | None:
    r"""How much each unit of :func:`tail_layer` ``k`` weighs in the output's bounds, to decide
    which rows to refine first (a ranking only: nothing sound depends on it). None without a
    tail or a finite box.

    With every unstable ReLU of the tail (``l < 0 < u`` in ``bounds``) replaced by its chord
    slope ``u/(u − l)`` (the slope CROWN's upper line takes), stable ones by 1 or 0, the
    output's coefficients ``c = W_L D_{L−1} W_{L−1} ⋯ D_{k+1} W_{k+1} D_k`` on ``z_k`` are those
    of a linear bound through the tail, and the score of unit i is
    ``Σ_outputs |c_i| · (σ(u_i) − σ(l_i))``: what its box contributes to that bound's width.
    Signs cancel exactly where the tail does (``a − σ(a − b)`` with ``σ(a − b)`` stably active
    does not depend on ``a``), so in a min tree a leaf proved not to be the minimum scores
    about 0 and the leaves that may be the minimum score by their chord weight.

    >>> signs = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [0.0, 0.0]]
    >>> net = ReLUNet.from_layers([(signs, [0.0, 0.0, 0.0, 0.0, 2.0]),
    ...                            ([[1.0, 1.0, 1.0, 1.0, 0.0], [0, 0, 0, 0, 1.0]], [0.0, 0.0]),
    ...                            ([[1.0, 0.0], [1.0, -1.0]], [0.0, 0.0]),
    ...                            ([[1.0, -1.0]], [0.0])])     # min(|x_1| + |x_2|, 2)
    >>> from robustexp.verify import LpBall, interval_bounds
    >>> b = interval_bounds(net, LpBall([[0.0, 0.0]], 0.4, 2))  # the sum is in [0, 1.6]
    >>> tail_sensitivity(net, b).round(3).tolist()              # the constant 2 cannot win
    [1.6, 0.0]
    """
    found = _tail(net)
    if found is None:
        return None
    k = found[0]
    lo_k, hi_k = np.maximum(bounds.lower[k][0], 0.0), np.maximum(bounds.upper[k][0], 0.0)
    width = hi_k - lo_k
    if not np.all(np.isfinite(width)):
        return None
    coef = np.eye(net.out_dim)
    for m in range(net.depth - 1, k, -1):
        W = net.layers[m].W
        h = np.asarray((sp.csr_array(W).T @ coef.T).T) if sp.issparse(W) else coef @ W
        lo, hi = bounds.lower[m - 1][0], bounds.upper[m - 1][0]
        with np.errstate(divide="ignore", invalid="ignore"):
            chord = np.where(hi > lo, hi / (hi - lo), 0.0)
        slope = np.where(hi <= 0.0, 0.0, np.where(lo >= 0.0, 1.0, chord))
        coef = np.nan_to_num(h * slope, nan=0.0, posinf=0.0, neginf=0.0)
    return np.abs(coef).sum(axis=0) * width
