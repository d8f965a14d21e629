r"""Which two groups a pre-activation is split into for the two-group ReLU relaxation.

The two-group relaxation (:func:`._crown._hull_planes`) writes a pre-activation of layer m
as ``z = A - B + b`` with ``A = W_A h``, ``B = W_B h`` and ``W = W_A - W_B``, bounds A and B
by their own backward passes, and takes a plane of the concave envelope of ``σ(A - B + b)``
over the box of (A, B). Any split of the row's entries into two groups is sound (the plane
is checked at the four corners of the box; ``σ(A - B + b)`` is convex in (A, B)). What it is
*good* for depends on the split: the plane is exact when A and B can vary independently
over their box, and loose when they are coupled.

**The sign split** ``W_A = W⁺``, ``W_B = W⁻`` is right for max trees built as
``max(a, b) = σ(a) + σ(b - a)``: the next level's ``max(c, d) - max(a, b)`` has all of
``max(c, d)`` positive and all of ``max(a, b)`` negative. It is wrong for min trees
``min(a, b) = σ(a) - σ(a - b)``: in ``min(c, d) - min(a, b)`` each minimum contributes
terms of both signs, so the sign split mixes the two children. Then A and B are sums of
pieces of both children, the plane loses the ``min(a, b) >= min(l_a, l_b)`` a min tree
needs, and a nearest-margin network (two min trees) is not certified.

**The ancestry split.** Join two units when a weight connects them, over the layers below
the row; the row's inputs then fall into groups of *disjoint ancestry*. When there are
exactly two groups, they are the two children of a binary node, whatever the signs inside
each: ``A = min(c, d)``, ``B = min(a, b)``. Ancestry is measured from the input (the
coarsest grouping: inputs shared mean coupled) or, where everything shares the input (all
distances read all of x), from the first hidden layer. A row keeps the sign split when
neither gives exactly two groups.

**Coupled rows.** A row whose inputs all share ancestry even from the first hidden layer
on (``min(a, b) = σ(a) - σ(a - b)`` read as ``σ(a)`` against ``σ(a - b)``) gets no plane:
its groups move together, the box of (A, B) holds corners the net never reaches, and a
plane over it can be far looser than the chord over z's own bounds (``min(a, b)`` with
``a, b ∈ [1, 2]`` and ``min <= 0.6`` known: the box allows ``A - B`` up to 1.5). Its
neurons keep the chord.

Every weight goes to exactly one group, so ``|W_A| + |W_B| = |W|`` entrywise: the rounding
analysis of :func:`._crown._step` holds unchanged. ``nonneg`` marks the rows of the sign
split, whose parts are ``>= 0`` on ``h >= 0``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from robustexp.network import ReLUNet

__all__ = ["TwoGroupSplit", "two_group_split"]


@dataclass(frozen=True)
class TwoGroupSplit:
    """``W = W_A - W_B`` (both CSR or both dense, W's format) and the sign-split rows."""

    WA: Any
    WB: Any
    nonneg: np.ndarray  # (k_m,) bool: rows whose parts are W⁺ and W⁻
    ancestry_rows: int  # rows split by ancestry
    coupled: np.ndarray  # (k_m,) bool: rows whose inputs all share ancestry (no planes)


_CACHE: weakref.WeakKeyDictionary[ReLUNet, dict[int, TwoGroupSplit]] = weakref.WeakKeyDictionary()


def _frontier_labels(net: ReLUNet, from_input: bool) -> list[np.ndarray]:
    """Component labels of every hidden layer's units in the graph of the layers below it.

    Entry ``m`` labels the units of hidden layer m by the components of the graph whose
    nodes are the units of layers ``0..m`` (and the inputs if ``from_input``) and whose
    edges are the nonzero weights between them. Built layer by layer: a unit's component
    is the union of its inputs' components (components that no unit of the layer reaches
    cannot join anything above it and are dropped).
    """
    depth = len(net.layers) - 1
    out: list[np.ndarray] = []
    prev: np.ndarray | None = None
    for m in range(depth):
        W = sp.coo_array(net.layers[m].W)
        k = net.layers[m].out_dim
        if m == 0 and not from_input:
            labels = np.arange(k)
        else:
            src = np.arange(net.layers[m].in_dim) if prev is None else prev
            nz = W.data != 0
            ncomp = int(src.max(initial=-1)) + 1
            # bipartite graph: the k units, then the ncomp components below
            r = W.row[nz]
            c = k + src[W.col[nz]]
            adj = sp.coo_array((np.ones(r.size), (r, c)), shape=(k + ncomp, k + ncomp))
            _, lab = connected_components(adj, directed=False)
            _, labels = np.unique(lab[:k], return_inverse=True)
        out.append(labels.astype(np.int64))
        prev = out[-1]
    return out


def _ancestry_rows(
    W: sp.csr_array, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of W (CSR, sorted indices) that the column ``labels`` split into exactly two
    groups with a group of mixed signs (else the sign split is the same or better: it keeps
    same-signed groups together), per stored entry whether it goes to A, and per row
    ``min(2, number of groups)``.

    A is the group of larger weight sum (ties: the group of the row's first positive
    weight), so that a row ``max(c, d) - max(a, b)`` gets the orientation of the sign split
    and ``min(c, d) - min(a, b)`` the analogous one (the look-ahead picks one plane kind
    per layer, so the orientation must agree across a layer's rows).
    """
    k = W.shape[0]
    rows = np.repeat(np.arange(k), np.diff(W.indptr))
    w = W.data
    nz = w != 0
    lab = np.where(nz, labels[W.indices], -1)
    big = np.iinfo(np.int64).max
    lowest = np.full(k, big)
    np.minimum.at(lowest, rows[nz], lab[nz])
    highest = np.full(k, -1)
    np.maximum.at(highest, rows[nz], lab[nz])
    g1 = nz & (lab == lowest[rows])
    g2 = nz & ~g1
    # exactly two labels: every entry not in the lowest group has the highest label
    two = (lowest < highest) & (np.bincount(rows[g2], minlength=k) > 0)
    two &= np.bincount(rows[g2 & (lab != highest[rows])], minlength=k) == 0

    def has(mask: np.ndarray) -> np.ndarray:
        return np.bincount(rows[mask], minlength=k) > 0

    mixed = (has(g1 & (w > 0)) & has(g1 & (w < 0))) | (has(g2 & (w > 0)) & has(g2 & (w < 0)))
    s1 = np.bincount(rows, weights=np.where(g1, w, 0.0), minlength=k)
    s2 = np.bincount(rows, weights=np.where(g2, w, 0.0), minlength=k)
    first_pos = np.full(k, big)
    pos_at = np.flatnonzero(w > 0)
    np.minimum.at(first_pos, rows[pos_at], pos_at)
    first_in_g1 = np.zeros(k, dtype=bool)
    found = first_pos < big
    first_in_g1[found] = g1[first_pos[found]]
    a_is_g1 = (s1 > s2) | ((s1 == s2) & first_in_g1)
    return two & mixed, g1 == a_is_g1[rows], np.where(lowest < highest, 2, 1)


def two_group_split(net: ReLUNet, m: int) -> TwoGroupSplit:
    """The split of layer ``m``'s rows (``m >= 1``) for the two-group relaxation (cached per
    net; see the module docstring).

    >>> # layer 1 of a min tree on 4 inputs: min(a, b) and min(a, b) - min(c, d), with
    >>> # min(u, v) = σ(u) - σ(u - v); the second row's groups are min(a, b) and min(c, d)
    >>> from robustexp.constructions import min_tree
    >>> s = two_group_split(min_tree(4, nonnegative=True), 1)
    >>> s.ancestry_rows, s.nonneg.tolist(), s.WB[1].tolist()
    (1, [True, False], [0.0, 0.0, 1.0, -1.0])
    """
    per = _CACHE.setdefault(net, {})
    if m in per:
        return per[m]
    layer = net.layers[m]
    W = sp.csr_array(layer.W, copy=True)
    W.sort_indices()
    k = layer.out_dim
    rows = np.repeat(np.arange(k), np.diff(W.indptr))
    in_A = W.data > 0  # the sign split
    done = np.zeros(k, dtype=bool)
    # the coarsest grouping first: ancestry from the input, then from the first hidden layer
    groups_hidden = None
    for from_input in (True, False):
        labels = _frontier_labels_cached(net, from_input)[m - 1]
        take, in_A_here, groups = _ancestry_rows(W, labels)
        take &= ~done
        in_A = np.where(take[rows], in_A_here, in_A)
        done |= take
        if not from_input:
            groups_hidden = groups
    data_A = np.where(in_A, W.data, 0.0)
    data_B = np.where(in_A, 0.0, -W.data)
    WA = sp.csr_array((data_A, W.indices.copy(), W.indptr.copy()), shape=W.shape)
    WB = sp.csr_array((data_B, W.indices.copy(), W.indptr.copy()), shape=W.shape)
    WA.eliminate_zeros()
    WB.eliminate_zeros()
    if not layer.is_sparse:
        WA, WB = WA.toarray(), WB.toarray()
    # coupled: one group even by ancestry from the first hidden layer (the finest grouping)
    split = TwoGroupSplit(WA, WB, ~done, int(np.count_nonzero(done)), groups_hidden < 2)
    per[m] = split
    return split


_LABELS: weakref.WeakKeyDictionary[ReLUNet, dict[bool, list[np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def _frontier_labels_cached(net: ReLUNet, from_input: bool) -> list[np.ndarray]:
    per = _LABELS.setdefault(net, {})
    if from_input not in per:
        per[from_input] = _frontier_labels(net, from_input)
    return per[from_input]
