r"""CROWN on the connected components of a net's hidden units (used by
:func:`._milp.default_bounds` to find the cone of influence of one query cheaply).

**Idea.** Join two hidden units when a weight connects them (inputs and outputs excluded).
A hidden unit's CROWN bound depends only on its ancestors, and they all lie in its
component; so running CROWN on each group of components separately — the sub-network of
those units with all inputs (:func:`._milp.restrict_to_cone`) — gives every hidden unit the
bound full CROWN gives it, at a cost that grows with the groups' sizes squared instead of
the whole net's. A memorizer is a sum of N bumps, each its own component: full CROWN on
N = 100, d = 64 (25,600 units) takes about 27 s per query; by components well under a second.

**Soundness.** Each group's sub-network computes, on every input, exactly the values its
units have in the whole net (every unit's inputs are in the group or are inputs of the
net), so :func:`linear_bounds`' sound bounds on the sub-network are sound bounds in the
net. The sub-network's output reads only part of the last hidden layer, so its output
bounds are not used; the caller bounds the output on the cone afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from robustexp._errors import ResourceLimitError
from robustexp.network import ReLUNet

__all__ = ["component_crown_bounds"]

#: Hidden units per CROWN call: components are grouped up to this size.
COMPONENT_GROUP_UNITS = 1024


def hidden_components(net: ReLUNet) -> tuple[int, list[np.ndarray]]:
    """Component labels of the hidden units, one array per hidden layer.

    >>> net = ReLUNet.from_layers([([[1.0], [1.0]], [0, 0]), ([[1.0, 0], [0, 1.0]], [0, 0]),
    ...                            ([[1.0, 1.0]], [0.0])])
    >>> n, labels = hidden_components(net)
    >>> n, [lab.tolist() for lab in labels]
    (2, [[0, 1], [0, 1]])
    """
    widths = [layer.out_dim for layer in net.layers[:-1]]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    total = int(offsets[-1])
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for k in range(1, len(widths)):
        W = sp.coo_array(net.layers[k].W)
        nz = W.data != 0
        rows.append(W.row[nz] + offsets[k])
        cols.append(W.col[nz] + offsets[k - 1])
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    adj = sp.coo_array((np.ones(r.size), (r, c)), shape=(total, total))
    n, labels = connected_components(adj, directed=False)
    return int(n), [labels[offsets[k] : offsets[k + 1]] for k in range(len(widths))]


def component_crown_bounds(net: ReLUNet, ball: Any, base: Any) -> Any | None:
    """``base`` (bounds of the same one-point set) with every hidden unit's bound replaced by
    the tighter of it and CROWN's, computed per group of components; the output layer keeps
    ``base``'s bound. None when the hidden units form a single component."""
    from robustexp.verify._crown import linear_bounds
    from robustexp.verify._milp import restrict_to_cone
    from robustexp.verify._types import LayerBounds

    n, labels = hidden_components(net)
    if n < 2:
        return None
    sizes = np.bincount(np.concatenate(labels), minlength=n)
    lower = [np.array(v, dtype=np.float64) for v in base.lower]
    upper = [np.array(v, dtype=np.float64) for v in base.upper]
    for group in _groups(sizes):
        in_group = np.zeros(n, dtype=bool)
        in_group[group] = True
        masks = [in_group[lab] for lab in labels]
        sub = restrict_to_cone(net, masks)
        if sub is None:  # a group not reaching every hidden layer feeds no output: keep base
            continue
        try:
            lb = linear_bounds(sub, ball, intermediate="crown", two_group=False)
        except ResourceLimitError:  # a group too large for dense CROWN keeps base's bounds
            continue
        for k, mask in enumerate(masks):
            cols = np.flatnonzero(mask)
            lower[k][0, cols] = np.maximum(lower[k][0, cols], lb.lower[k][0])
            upper[k][0, cols] = np.minimum(upper[k][0, cols], lb.upper[k][0])
    return LayerBounds(tuple(lower), tuple(upper), "crown")


def _groups(sizes: np.ndarray) -> list[np.ndarray]:
    """Consecutive components grouped up to ``COMPONENT_GROUP_UNITS`` units (a larger
    component is a group of its own)."""
    out: list[np.ndarray] = []
    start, units = 0, 0
    for i, s in enumerate(sizes.tolist()):
        if i > start and units + s > COMPONENT_GROUP_UNITS:
            out.append(np.arange(start, i))
            start, units = i, 0
        units += s
    out.append(np.arange(start, sizes.size))
    return out
