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
n = 1 for a sparse Λ. Sparse products sum over the stored entries only, so every rounding
bound that holds for the dense product (sums of at most K terms) holds for them too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

Coef = Any  # np.ndarray (n, R, k) or sp.csr_array (R, k)


def is_sparse(L: Coef) -> bool:
    return sp.issparse(L)


def _csr(M: Any) -> sp.csr_array:
    return M if isinstance(M, sp.csr_array) else sp.csr_array(M)


def _with_data(L: sp.csr_array, data: np.ndarray) -> sp.csr_array:
    """A CSR matrix with L's sparsity pattern (shared index arrays) and other values."""
    return sp.csr_array((data, L.indices, L.indptr), shape=L.shape, copy=False)


def neg_part(L: Coef) -> Coef:
    """``min(Λ, 0)``."""
    return _with_data(L, np.minimum(L.data, 0.0)) if sp.issparse(L) else np.minimum(L, 0.0)


def pos_part(L: Coef) -> Coef:
    """``max(Λ, 0)``."""
    return _with_data(L, np.maximum(L.data, 0.0)) if sp.issparse(L) else np.maximum(L, 0.0)


def absolute(L: Coef) -> Coef:
    return _with_data(L, np.abs(L.data)) if sp.issparse(L) else np.abs(L)


def larger(A: Coef, B: Coef) -> Coef:
    """Entrywise maximum of two coefficient blocks made from the same Λ (:func:`lines`:
    the same sparsity pattern)."""
    if sp.issparse(A):
        return _with_data(A, np.maximum(A.data, B.data))
    return np.maximum(A, B)


def lines(L: Coef, a: np.ndarray, s: np.ndarray) -> Coef:
    """``Λ⁺ diag(a) + Λ⁻ diag(s)`` for a, s (n, k): each entry is one product (the other
    term is 0), so the result is exactly what the dense sum of the two computes."""
    if sp.issparse(L):
        d, t = L.data, L.indices
        return _with_data(L, np.where(d > 0, d * a[0][t], d * s[0][t]))
    return np.maximum(L, 0.0) * a[:, None, :] + np.minimum(L, 0.0) * s[:, None, :]


def times_vectors(L: Coef, V: np.ndarray) -> np.ndarray:
    """``Λ V`` for V (n, k, c): (n, R, c)."""
    if sp.issparse(L):
        return np.asarray(L @ V[0], dtype=np.float64)[None]
    return np.matmul(L, V)


def times_vector(L: Coef, v: np.ndarray) -> np.ndarray:
    """``Λ v`` for v (n, k): (n, R)."""
    if sp.issparse(L):
        return np.asarray(L @ v[0], dtype=np.float64)[None]
    return np.matmul(L, v[:, :, None])[..., 0]


def times_bias(L: Coef, b: np.ndarray) -> np.ndarray:
    """``Λ b`` for one bias vector b (k,): (n, R)."""
    if sp.issparse(L):
        return np.asarray(L @ b, dtype=np.float64)[None]
    return np.matmul(L, b)


def times_weights(L: Coef, W: Any) -> Coef:
    """``Λ W`` for W (k, k_in), dense or CSR (a dense W is never made sparse, nor a CSR W
    dense, in the dense form)."""
    if sp.issparse(L):
        return _csr(L @ W)
    n, R, k = L.shape
    flat = L.reshape(n * R, k)
    out = np.asarray((W.T @ flat.T).T, dtype=np.float64) if sp.issparse(W) else flat @ W
    return np.ascontiguousarray(out).reshape(n, R, W.shape[1])


def signed_rows(W: Any, rows: np.ndarray, signs: np.ndarray, sparse: bool) -> Coef:
    """``diag(signs) W[rows]`` (exact: sign flips), dense (n, R, k) or CSR (R, k) (n = 1)."""
    if sparse:
        return _csr(sp.diags_array(signs[0]) @ _csr(W)[rows])
    Wr = np.asarray(W[rows].toarray() if sp.issparse(W) else W[rows], dtype=np.float64)
    return signs[:, :, None] * Wr[None, :, :]


def select_rows(take: np.ndarray, A: Coef, B: Coef) -> Coef:
    """Row r of A where ``take[., r]``, else of B."""
    if sp.issparse(A):
        t = take[0].astype(np.float64)
        return _csr(sp.diags_array(t) @ A + sp.diags_array(1.0 - t) @ B)
    return np.where(take[:, :, None], A, B)


def all_finite(L: Coef) -> bool:
    return bool(np.all(np.isfinite(L.data if sp.issparse(L) else L)))


#: Rows of a sparse Λ made dense at a time for the set's concretisation.
DENSE_ROWS_PER_CHUNK = 4096


def dense_chunks(L: Coef) -> list[tuple[slice, np.ndarray]]:
    """Λ as dense (n, R', k) blocks of rows, with the slice of rows each holds."""
    if not sp.issparse(L):
        return [(slice(None), L)]
    R = L.shape[0]
    step = DENSE_ROWS_PER_CHUNK
    return [
        (slice(a, min(a + step, R)), np.asarray(L[a : a + step].toarray())[None])
        for a in range(0, R, step)
    ]
