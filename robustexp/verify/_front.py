r"""Front-layer CROWN: linear bounds on the first two layers of a large net, interval bounds
on the rest, for one set (used by :func:`._milp.default_bounds` to find the cone of
influence).

**Why.** Interval bounds over an ℓ1 or ℓ2 ball are the bounds over its enclosing box, so a
sum of ``d`` coordinate gadgets (a distance) is over-estimated by up to ``d r`` and the cone
of influence keeps every unit of a net of many local units. Full CROWN would fix that but
costs about (units)² work and memory. Here CROWN runs on the two-layer front only: for the
axis-aligned pairs ``σ(t_j), σ(-t_j)`` of a distance gadget far from its centre, CROWN's
lower relaxation is ``sign(m_j) t_j`` and the dual norm of the ball gives the distance minus
``r`` (ℓ1) exactly, so far gadgets are proven dead. When a front layer is sparse, one pass
with sparse backward coefficients (:mod:`._coef`) bounds the whole front, each second-layer
unit paying for the first-layer units it reads (ℓ2 memorizer, N = 1000, d = 64: 0.55 s
against 5.9 s for the dense chunks, the same bounds up to the order of float sums); a dense
front goes in dense chunks of second-layer units.

**Soundness.** The front ``layers[0:2]`` computes exactly ``z₀`` and ``z₁`` of the whole net,
so :func:`linear_bounds` on it (sound, with its own rounding analysis) bounds them. A chunk
``C`` of second-layer units reads the first-layer units ``R`` (the
nonzero columns of its rows). The two-layer net ``(W₀[R], b₀[R]) → (W₁[C, R], b₁[C])``
computes exactly ``z₁[C]`` of the whole net, so :func:`linear_bounds` on it (sound, with its
own rounding analysis) bounds ``z₁[C]`` and ``z₀[R]``. The post-activations of layer 1 then
lie in the box ``[σ(l₁), σ(u₁)]``, and interval bounds of the tail ``layers[2:]`` over that box
(written as an ℓ∞ ball whose domain is the box) bound every later layer. Every bound is
intersected with the given interval bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import ResourceLimitError
from robustexp.network import Affine, ReLUNet

__all__ = ["box_of_outputs", "front_crown_bounds"]

#: Dense CROWN coefficients per chunk, (second-layer units) × (first-layer units they read):
#: the work grows with its square, the per-call overhead with the number of chunks.
FRONT_CHUNK_ENTRIES = 50_000


def front_crown_bounds(net: ReLUNet, ball: Any, ibp: Any) -> Any:
    """Bounds of every layer for a ball of one point: CROWN on layers 0-1, IBP after.

    ``ibp`` are interval bounds of the same set (they are intersected in).

    >>> from robustexp.verify import LpBall, interval_bounds
    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [-3.0, 3.0]), ([[1.0, 1.0]], [0.0]),
    ...                            ([[-1.0]], [2.5])])   # 2.5 - |x - 3|, dead far from 3
    >>> ball = LpBall([[0.0]], 0.5, 1)
    >>> b = front_crown_bounds(net, ball, interval_bounds(net, ball))
    >>> 2.5 - 1e-9 < float(b.lower[1][0, 0]) <= 2.5 and float(b.upper[2][0, 0]) <= 1e-9
    True
    """
    from robustexp.verify._crown import linear_bounds

    lower = [np.array(v, dtype=np.float64) for v in ibp.lower]
    upper = [np.array(v, dtype=np.float64) for v in ibp.upper]
    if net.depth < 3:
        return ibp
    first, second = net.layers[0], net.layers[1]
    if first.is_sparse or second.is_sparse:
        # sparse backward coefficients (:mod:`._coef`): one pass over the whole front costs
        # each second-layer unit its own first-layer units, with the same bounds as the
        # dense chunks below (up to the order of float sums) at a fraction of their overhead
        front = ReLUNet((first, second))
        try:
            lb = linear_bounds(front, ball, intermediate="crown", two_group=False, sparse=True)
        except ResourceLimitError:
            lb = None
        if lb is not None:
            for k in (0, 1):
                lower[k] = np.maximum(lower[k], lb.lower[k])
                upper[k] = np.minimum(upper[k], lb.upper[k])
        return _with_tail(net, lower, upper)
    W0 = sp.csr_array(first.W)
    W1 = sp.csr_array(second.W)
    for chunk in _chunks(W1):
        reads = np.unique(sp.csr_array(W1[chunk]).indices)
        if reads.size == 0:
            continue
        front = ReLUNet(
            (
                Affine(sp.csr_array(W0[reads]), np.asarray(first.b)[reads]),
                Affine(sp.csr_array(W1[chunk][:, reads]), np.asarray(second.b)[chunk]),
            )
        )
        try:
            lb = linear_bounds(front, ball, intermediate="crown", two_group=False)
        except ResourceLimitError:  # a chunk too large for dense CROWN keeps IBP's bounds
            continue
        for k, cols in ((0, reads), (1, chunk)):
            lower[k][0, cols] = np.maximum(lower[k][0, cols], lb.lower[k][0])
            upper[k][0, cols] = np.minimum(upper[k][0, cols], lb.upper[k][0])
    return _with_tail(net, lower, upper)


def _with_tail(net: ReLUNet, lower: list[np.ndarray], upper: list[np.ndarray]) -> Any:
    """The bounds of layers 0-1 as given; every later layer's intersected with interval
    bounds of ``layers[2:]`` over the box ``[σ(l₁), σ(u₁)]`` of layer 1's outputs."""
    from robustexp.verify._ibp import interval_bounds
    from robustexp.verify._types import LayerBounds

    box = box_of_outputs(lower[1][0], upper[1][0])
    tail = interval_bounds(ReLUNet(net.layers[2:]), box)
    for k in range(2, net.depth):
        lower[k] = np.maximum(lower[k], tail.lower[k - 2])
        upper[k] = np.minimum(upper[k], tail.upper[k - 2])
    return LayerBounds(tuple(lower), tuple(upper), "crown")


def box_of_outputs(lo_z: np.ndarray, hi_z: np.ndarray) -> Any:
    """The box ``[σ(lo_z), σ(hi_z)]`` (finite bounds of one layer's pre-activations, each
    (k,)) as a set for the verifiers: an ℓ∞ ball whose domain is the box (the ball contains
    the box in exact arithmetic, so the set is the box itself).

    >>> box = box_of_outputs(np.array([-1.0, 0.5]), np.array([2.0, 0.75]))
    >>> [v.tolist() for v in box.box()]
    [[[0.0, 0.5]], [[2.0, 0.75]]]
    """
    from robustexp.verify._sets import LpBall

    lo, hi = np.maximum(lo_z, 0.0), np.maximum(hi_z, 0.0)
    mid = (lo + hi) / 2
    # a radius with mid ± radius ⊇ [lo, hi] in exact arithmetic (relative slack ≫ 1 ulp)
    half = float(np.max(np.maximum(hi - mid, mid - lo), initial=0.0)) * (1.0 + 1e-9)
    return LpBall(mid[None, :], float(np.nextafter(half, np.inf)), np.inf, (lo, hi))


def _chunks(W1: sp.csr_array) -> list[np.ndarray]:
    """Consecutive second-layer rows whose (rows × columns read) stays within
    ``FRONT_CHUNK_ENTRIES``."""
    nnz = np.diff(W1.indptr)
    out: list[np.ndarray] = []
    start, reads = 0, 0
    for i in range(W1.shape[0]):
        reads += int(nnz[i])
        if i > start and (i - start + 1) * reads > FRONT_CHUNK_ENTRIES:
            out.append(np.arange(start, i))
            start, reads = i, int(nnz[i])
    out.append(np.arange(start, W1.shape[0]))
    return out
