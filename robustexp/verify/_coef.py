"""Backward coefficients Λ of linear bound propagation, dense or sparse.

The backward pass of :mod:`._crown` holds, for R rows being bounded, the coefficients Λ of a
linear function of one layer's activations. **Dense**: an array (n, R, k) for a batch of n
sets. **Sparse**: a CSR matrix (R, k) for one set (n = 1). A row of a tree-structured network
(a distance, a max or min tree, a bump) only reaches the units of its own sub-tree, so its
sparse Λ has a few nonzeros where the dense one has the whole layer's width: the backward
passes of all neurons of a memorizer or nearest-margin net of N points cost about N times
less sparse than dense.

The functions below are the few operations the backward step needs, for both forms; every
other array of the pass (bounds, slopes, constants κ, errors ε) keeps its (n, ...) shape,
n = 1 for a sparse Λ. The sparse form is :class:`Rows`, bare CSR arrays: the entrywise
operations keep the sparsity pattern and touch only the stored values (scipy's own sparse
objects cost more to create than these operations cost to run, and a pass creates
thousands); only ``Λ W`` goes through scipy. Sparse products sum over the stored entries
only, in some order, so every rounding bound that holds for the dense product (sums of at
most K terms, in any order) holds for them too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp


class Rows:
    """R rows of coefficients over k columns in CSR form (one set): ``data``, ``indices``,
    ``indptr`` as in scipy; index arrays may be shared between blocks of the same pattern.

    >>> L = Rows.from_matrix(sp.csr_array(np.array([[1.0, 0.0, -2.0], [0.0, 3.0, 0.0]])))
    >>> times_vector(neg_part(L), np.array([[1.0, 1.0, 1.0]])).tolist()
    [[-2.0, 0.0]]
    """

    __slots__ = ("_row_ids", "data", "indices", "indptr", "shape")

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape):
        self.data, self.indices, self.indptr = data, indices, indptr
        self.shape = (int(shape[0]), int(shape[1]))
        self._row_ids: np.ndarray | None = None

    @staticmethod
    def from_matrix(M: Any) -> Rows:
        M = M if isinstance(M, sp.csr_array) else sp.csr_array(M)
        return Rows(np.asarray(M.data, dtype=np.float64), M.indices, M.indptr, M.shape)

    def like(self, data: np.ndarray) -> Rows:
        """The same pattern with other values."""
        out = Rows(data, self.indices, self.indptr, self.shape)
        out._row_ids = self._row_ids
        return out

    @property
    def row_ids(self) -> np.ndarray:
        if self._row_ids is None:
            self._row_ids = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        return self._row_ids

    def scipy(self) -> sp.csr_array:
        return sp.csr_array((self.data, self.indices, self.indptr), shape=self.shape)

    def row_sums(self, values: np.ndarray) -> np.ndarray:
        """``Σ_t values[e]`` over the entries e of each row (one value per stored entry)."""
        return np.bincount(self.row_ids, weights=values, minlength=self.shape[0])


Coef = Any  # np.ndarray (n, R, k) or Rows (R, k)


def neg_part(L: Coef) -> Coef:
    """``min(Λ, 0)``."""
    return L.like(np.minimum(L.data, 0.0)) if isinstance(L, Rows) else np.minimum(L, 0.0)


def pos_part(L: Coef) -> Coef:
    """``max(Λ, 0)``."""
    return L.like(np.maximum(L.data, 0.0)) if isinstance(L, Rows) else np.maximum(L, 0.0)


def absolute(L: Coef) -> Coef:
    return L.like(np.abs(L.data)) if isinstance(L, Rows) else np.abs(L)


def larger(A: Coef, B: Coef) -> Coef:
    """Entrywise maximum of two coefficient blocks made from the same Λ (:func:`lines`:
    the same sparsity pattern)."""
    if isinstance(A, Rows):
        return A.like(np.maximum(A.data, B.data))
    return np.maximum(A, B)


def lines(L: Coef, a: np.ndarray, s: np.ndarray) -> Coef:
    """``Λ⁺ diag(a) + Λ⁻ diag(s)`` for a, s (n, k): each entry is one product (the other
    term is 0), so the result is exactly what the dense sum of the two computes."""
    if isinstance(L, Rows):
        d, t = L.data, L.indices
        return L.like(np.where(d > 0, d * a[0][t], d * s[0][t]))
    return np.maximum(L, 0.0) * a[:, None, :] + np.minimum(L, 0.0) * s[:, None, :]


def times_vectors(L: Coef, V: np.ndarray) -> np.ndarray:
    """``Λ V`` for V (n, k, c): (n, R, c)."""
    if isinstance(L, Rows):
        cols = V[0][L.indices]  # (nnz, c)
        return np.stack([L.row_sums(L.data * cols[:, c]) for c in range(V.shape[2])], axis=-1)[None]
    return np.matmul(L, V)


def times_vector(L: Coef, v: np.ndarray) -> np.ndarray:
    """``Λ v`` for v (n, k): (n, R)."""
    if isinstance(L, Rows):
        return L.row_sums(L.data * v[0][L.indices])[None]
    return np.matmul(L, v[:, :, None])[..., 0]


def times_bias(L: Coef, b: np.ndarray) -> np.ndarray:
    """``Λ b`` for one bias vector b (k,): (n, R)."""
    if isinstance(L, Rows):
        return L.row_sums(L.data * b[L.indices])[None]
    return np.matmul(L, b)


def times_weights(L: Coef, W: Any) -> Coef:
    """``Λ W`` for W (k, k_in), dense or CSR (a dense W is never made sparse, nor a CSR W
    dense, in the dense form)."""
    if isinstance(L, Rows):
        return Rows.from_matrix(L.scipy() @ W)
    n, R, k = L.shape
    flat = L.reshape(n * R, k)
    out = np.asarray((W.T @ flat.T).T, dtype=np.float64) if sp.issparse(W) else flat @ W
    return np.ascontiguousarray(out).reshape(n, R, W.shape[1])


def difference(A: Coef, B: Coef) -> Coef:
    """``A - B``."""
    if isinstance(A, Rows):
        return Rows.from_matrix(A.scipy() - B.scipy())
    return A - B


def signed_rows(W: Any, rows: np.ndarray, signs: np.ndarray, sparse: bool) -> Coef:
    """``diag(signs) W[rows]`` (exact: sign flips), dense (n, R, k) or sparse (R, k)
    (n = 1)."""
    if sparse:
        Wr = Rows.from_matrix(sp.csr_array(W)[rows])
        return Wr.like(Wr.data * signs[0][Wr.row_ids])
    Wr = np.asarray(W[rows].toarray() if sp.issparse(W) else W[rows], dtype=np.float64)
    return signs[:, :, None] * Wr[None, :, :]


def select_rows(take: np.ndarray, A: Coef, B: Coef) -> Coef:
    """Row r of A where ``take[., r]``, else of B."""
    if isinstance(A, Rows):
        t = take[0]
        keep_a, keep_b = t[A.row_ids], ~t[B.row_ids]
        rows = np.concatenate([A.row_ids[keep_a], B.row_ids[keep_b]])
        order = np.argsort(rows, kind="stable")
        data = np.concatenate([A.data[keep_a], B.data[keep_b]])[order]
        indices = np.concatenate([A.indices[keep_a], B.indices[keep_b]])[order]
        counts = np.where(t, np.diff(A.indptr), np.diff(B.indptr))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return Rows(data, indices, indptr, A.shape)
    return np.where(take[:, :, None], A, B)


def all_finite(L: Coef) -> bool:
    return bool(np.all(np.isfinite(L.data if isinstance(L, Rows) else L)))


#: Rows of a sparse Λ made dense at a time for the set's concretisation.
DENSE_ROWS_PER_CHUNK = 4096


def dense_chunks(L: Coef) -> list[tuple[slice, np.ndarray]]:
    """Λ as dense (n, R', k) blocks of rows, with the slice of rows each holds."""
    if not isinstance(L, Rows):
        return [(slice(None), L)]
    R = L.shape[0]
    M = L.scipy()
    step = DENSE_ROWS_PER_CHUNK
    return [
        (slice(a, min(a + step, R)), np.asarray(M[a : a + step].toarray())[None])
        for a in range(0, R, step)
    ]
