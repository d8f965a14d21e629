r"""Identical 1-D sub-networks, found exactly, so that :mod:`._separable` bounds each once.

**Unit signatures.** Give every unit of layers ``0..m-1`` of a :class:`~robustexp.network.
ReLUNet` an integer *signature* such that two units with the same signature compute the same
pre-activation function of the input ``x``:

* layer 0: the key of row ``v`` is its bias and the multiset of its (input coordinate,
  weight) entries;
* layer ``l ≥ 1``: its bias and the multiset of (signature of the unit read, weight).

Keys are compared exactly (float64 bit patterns, so ``-0.0`` and ``0.0`` differ, which only
forgoes a merge): they are grouped by a 64-bit hash, and a key that differs from the first
key of its hash group gets a signature of its own. By induction on ``l`` equal keys give
equal functions: the same bias plus the same multiset of weighted copies of equal functions,
whose sum in real arithmetic does not depend on the order. Rows with more than
``SIGNATURE_MAX_FANIN`` entries get a signature of their own (no key is built for them),
which is always allowed.

**Pair classes.** A separable row ``t`` of layer ``m`` is ``κ_t + Σ_j g_{t,j}(x_j)`` with
``g_{t,j} = Σ_{u labelled j} W_{tu} σ(z_u)`` (:mod:`._separable`). Two pairs ``(t, j)`` and
``(t', j)`` with the same coordinate and the same multiset of (signature of u, weight) have
the same function ``g``, and over one ball the same coordinate interval, so their float forms,
1-D maxima and refinement are the same: the *class* of the pair. The memorizers on data with
few distinct coordinate values (the digits' 17 grey levels) have at most 17 classes per
coordinate, against N pairs, so the forward pass of the separable bounds costs about
``17 d`` sub-networks instead of ``N d``.

Soundness does not depend on the classes being maximal, only on equal class ⇒ equal function,
which the exact keys guarantee.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from robustexp.network import ReLUNet

__all__ = ["PairClasses", "pair_classes", "unit_signatures"]

#: Units (and pairs) with more entries than this get a signature (class) of their own.
SIGNATURE_MAX_FANIN = 32

_SIGNATURES: weakref.WeakKeyDictionary[ReLUNet, list[np.ndarray]] = weakref.WeakKeyDictionary()


def _bits(v: np.ndarray) -> np.ndarray:
    """The float64 bit patterns of ``v`` as int64 (exact keys)."""
    return np.ascontiguousarray(v, dtype=np.float64).view(np.int64)


def _class_ids(
    owner: np.ndarray, a: np.ndarray, b: np.ndarray, head: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ids (n,) of the groups ``g`` with keys ``(head[g], multiset {(a_e, b_e) : owner_e = g})``
    (ids equal iff keys equal; groups with more than ``SIGNATURE_MAX_FANIN`` entries get ids
    of their own), and the index of one representative group per id.

    ``owner`` (E,) group of each entry; ``a``, ``b`` (E,) int64; ``head`` (n, h) int64."""
    order = np.lexsort((b, a, owner))
    owner, a, b = owner[order], a[order], b[order]
    counts = np.bincount(owner, minlength=n)
    small = counts <= SIGNATURE_MAX_FANIN
    width = int(counts[small].max(initial=0))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(owner.size) - start[owner]
    keep = small[owner]
    key = np.zeros((n, head.shape[1] + 1 + 2 * width), dtype=np.int64)
    key[:, : head.shape[1]] = head
    key[:, head.shape[1]] = counts
    base = head.shape[1] + 1
    key[owner[keep], base + 2 * rank[keep]] = a[keep]
    key[owner[keep], base + 2 * rank[keep] + 1] = b[keep]
    ids = np.empty(n, dtype=np.int64)
    sel = np.flatnonzero(small)
    # group by a 64-bit hash of the key (fast), then keep in a group only the keys equal to
    # its first one: a collision only costs a merge, never merges different keys
    _, first, inverse = np.unique(_row_hash(key[sel]), return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    equal = np.all(key[sel] == key[sel[first[inverse]]], axis=1)
    ids[sel[equal]] = inverse[equal]
    alone = np.concatenate([sel[~equal], np.flatnonzero(~small)])
    ids[alone] = first.size + np.arange(alone.size)
    reps = np.concatenate([sel[first], alone])
    return ids, reps


def _row_hash(key: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of an int64 matrix (multiply-xorshift over the columns)."""
    h = np.full(key.shape[0], 0x9E3779B97F4A7C15, dtype=np.uint64)
    for col in key.T:
        h ^= np.ascontiguousarray(col).view(np.uint64)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    return h


def unit_signatures(net: ReLUNet, layers: int) -> list[np.ndarray]:
    """Signatures (module docstring) of the units of layers ``0..layers-1`` (cached per net).

    >>> net = ReLUNet.from_layers([([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], [0.5, 0.5, -1.0]),
    ...                            ([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]], [0.0, 0.0])])
    >>> s0, s1 = unit_signatures(net, 2)    # units 0 and 1 are twins, so are 0' and 1'
    >>> bool(s0[0] == s0[1] != s0[2]), bool(s1[0] == s1[1])
    (True, True)
    """
    have = _SIGNATURES.setdefault(net, [])
    prev = have[-1] if have else np.arange(net.in_dim, dtype=np.int64)
    for lay in range(len(have), layers):
        W = sp.csr_array(net.layers[lay].W)
        keep = W.data != 0
        owner = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))[keep]
        head = _bits(net.layers[lay].b)[:, None]
        sig, _ = _class_ids(owner, prev[W.indices[keep]], _bits(W.data[keep]), head, W.shape[0])
        sig.setflags(write=False)
        have.append(sig)
        prev = sig
    return have[:layers]


@dataclass(frozen=True)
class PairClasses:
    """The pairs of R separable rows of layer ``m ≥ 1``, grouped into Q classes.

    ``pair_row``, ``pair_coord`` (P,): the pairs ``(t, j)`` sorted by row then coordinate (the
    order of :func:`._separable._build_cone`); ``pair_class`` (P,) their class; ``top``
    (Q + R, k_{m-1}) CSR with sorted indices: row ``q < Q`` is ``g`` of class q (the entries
    of one representative pair), row ``Q + r`` the constant part of row r (its entries on
    constant units); ``b_top`` (Q + R,) the biases (0 for the classes, ``b_t`` for the rest)."""

    pair_row: np.ndarray
    pair_coord: np.ndarray
    pair_class: np.ndarray
    top: sp.csr_array
    b_top: np.ndarray
    Q: int
    R: int


def pair_classes(
    net: ReLUNet, layer: int, top: sp.csr_array, b: np.ndarray, labels: np.ndarray
) -> PairClasses:
    """The pairs of the rows ``top h_{layer-1} + b`` of ``layer ≥ 1`` and their classes
    (module docstring). ``top`` (R, k_{layer-1}) holds no stored zeros; ``labels`` are the
    support labels of layer ``layer - 1`` (a coordinate j ≥ 0, or -1 for a constant), and
    every row is separable (no mixed unit read).

    >>> net = ReLUNet.from_layers([([[1.0], [1.0], [1.0]], [0.5, 0.5, -1.0]),
    ...                            ([[2.0, 0.0, 1.0], [0.0, 2.0, 1.0]], [0.0, 3.0])])
    >>> pc = pair_classes(net, 1, sp.csr_array(net.layers[1].W), net.layers[1].b,
    ...                   np.zeros(3, dtype=np.int64))
    >>> pc.pair_class.tolist(), pc.Q       # 2σ(x+.5)+σ(x-1) twice, with κ = 0 and κ = 3
    ([0, 0], 1)
    """
    R = top.shape[0]
    d = net.in_dim
    owner = np.repeat(np.arange(R, dtype=np.int64), np.diff(top.indptr))
    col = top.indices.astype(np.int64)
    lab = labels[col]
    paired = lab >= 0
    pk, pair_of = np.unique(owner[paired] * d + lab[paired], return_inverse=True)
    pair_of = pair_of.reshape(-1)
    P = pk.size
    sig = unit_signatures(net, layer)[layer - 1]
    ids, reps = _class_ids(pair_of, sig[col[paired]], _bits(top.data[paired]), (pk % d)[:, None], P)
    Q = reps.size
    class_of_rep = np.full(P, -1, dtype=np.int64)
    class_of_rep[reps] = np.arange(Q)
    rep_entry = class_of_rep[pair_of] >= 0
    const = lab < 0
    rows_ = np.concatenate([class_of_rep[pair_of][rep_entry], Q + owner[const]])
    cols_ = np.concatenate([col[paired][rep_entry], col[const]])
    vals_ = np.concatenate([top.data[paired][rep_entry], top.data[const]])
    shared = sp.csr_array((vals_, (rows_, cols_)), shape=(Q + R, top.shape[1]))
    shared.sort_indices()
    b_top = np.concatenate([np.zeros(Q), np.asarray(b, dtype=np.float64)])
    return PairClasses(pk // d, pk % d, ids, shared, b_top, Q, R)
