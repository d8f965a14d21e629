"""One affine layer ``z = W h + b`` with float64 weights, dense or CSR-sparse."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError

__all__ = ["Affine", "Matrix"]

#: A weight matrix: a dense float64 ndarray or a float64 ``scipy.sparse.csr_array``.
Matrix = Any


def _as_weight(W: Any) -> Matrix:
    """Validate ``W`` as a finite real 2-D float64 matrix, dense or CSR (see :class:`Affine`)."""
    if sp.issparse(W):
        if W.ndim != 2:
            raise InvalidInputError(
                f"weight matrix must be 2-D (out, in); got a sparse array of shape {W.shape}"
            )
        if np.iscomplexobj(W.data):
            raise InvalidInputError("weight matrix must be real; got complex entries")
        try:
            W = sp.csr_array(W, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"sparse weights must be numeric: {exc}") from exc
        try:
            W.check_format(full_check=True)  # index arrays in range and consistent
        except ValueError as exc:
            raise InvalidInputError(f"malformed CSR weight matrix: {exc}") from exc
        if not W.has_canonical_format:
            W = W.copy()
            W.sum_duplicates()
        if not np.all(np.isfinite(W.data)):
            raise InvalidInputError("weight matrix contains NaN or infinite entries")
        # Sparse weights may hold 10^8 entries, so canonical float64 CSR input is shared rather
        # than copied (a copy would double peak memory while building). The layer's views are
        # read-only; the caller must not modify the matrix it passed in.
        for arr in (W.data, W.indices, W.indptr):
            arr.setflags(write=False)
        return W
    if np.iscomplexobj(W):
        raise InvalidInputError("weight matrix must be real; got complex entries")
    try:
        arr = np.array(W, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"weights must be numeric; got {type(W).__name__}") from exc
    if arr.ndim != 2:
        raise InvalidInputError(f"weight matrix must be 2-D (out, in); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("weight matrix contains NaN or infinite entries")
    arr.setflags(write=False)
    return arr


def _as_bias(b: Any, out_dim: int) -> np.ndarray:
    """Validate ``b`` as a finite float64 vector of length ``out_dim`` (a copy, read-only).

    A column or row vector, or a scalar when ``out_dim == 1``, is accepted and flattened; an
    array with two non-singleton axes is refused even when its size happens to match.
    """
    if sp.issparse(b) or np.iscomplexobj(b):
        raise InvalidInputError(f"bias must be a dense real vector; got {type(b).__name__}")
    try:
        arr = np.array(b, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"bias must be numeric; got {type(b).__name__}") from exc
    if sum(s != 1 for s in arr.shape) > 1:
        raise InvalidInputError(f"bias must be a vector of length {out_dim}; got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.shape[0] != out_dim:
        raise InvalidInputError(f"bias length {arr.shape[0]} does not match weight rows {out_dim}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError("bias contains NaN or infinite entries")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Affine:
    """The affine map ``h -> W h + b`` with ``W`` of shape (out, in) and ``b`` of shape (out,).

    ``W`` is a dense float64 array or a ``scipy.sparse.csr_array``; both behave the same
    (evaluation, size counts, combinators, export). Dense ``W`` and ``b`` are copied and made
    read-only on creation. A sparse ``W`` is converted to canonical CSR (sorted indices,
    duplicates summed; explicitly stored zeros are kept but never counted); when it already is
    canonical float64 CSR its arrays are shared, not copied (they can hold 10^8 entries), and
    the layer sees them through read-only views: the caller must not modify a sparse matrix
    after passing it in. Nothing in robustexp writes to a layer's arrays.

    >>> layer = Affine([[1.0, -1.0]], [0.5])
    >>> layer.in_dim, layer.out_dim, layer.nonzero_weights, layer.nonzero_biases
    (2, 1, 2, 1)
    """

    W: Matrix
    b: np.ndarray

    def __post_init__(self) -> None:
        W = _as_weight(self.W)
        b = _as_bias(self.b, int(W.shape[0]))
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "b", b)

    @property
    def in_dim(self) -> int:
        return int(self.W.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.W.shape[0])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.W)

    @cached_property
    def nonzero_weights(self) -> int:
        """Number of nonzero entries of ``W`` (explicitly stored zeros do not count)."""
        data = self.W.data if self.is_sparse else self.W
        return int(np.count_nonzero(data))

    @cached_property
    def nonzero_biases(self) -> int:
        """Number of nonzero entries of ``b``."""
        return int(np.count_nonzero(self.b))

    @cached_property
    def abs_W(self) -> Matrix:
        """``|W|`` entrywise, in the same format (cached, read-only; used by interval bounds)."""
        A = abs(self.W)
        for arr in (A.data, A.indices, A.indptr) if self.is_sparse else (A,):
            arr.setflags(write=False)
        return A

    @cached_property
    def signed_parts(self) -> tuple[Matrix, Matrix]:
        """``(W⁺, W⁻)`` with ``W = W⁺ - W⁻``, both ``>= 0`` entrywise, in W's format (cached,
        read-only; used by the two-group ReLU relaxation of linear bounds)."""
        W = self.W
        if self.is_sparse:
            pos = sp.csr_array(W.maximum(0))
            neg = sp.csr_array((-W).maximum(0))
            pos.eliminate_zeros()
            neg.eliminate_zeros()
            arrays = (pos.data, pos.indices, pos.indptr, neg.data, neg.indices, neg.indptr)
        else:
            pos, neg = np.maximum(W, 0.0), np.maximum(-W, 0.0)
            arrays = (pos, neg)
        for arr in arrays:
            arr.setflags(write=False)
        return pos, neg

    def apply(self, H: np.ndarray) -> np.ndarray:
        """Return ``W H + b[:, None]`` for a column batch ``H`` (in, n); never densifies."""
        Z = self.W @ H
        Z = np.asarray(Z, dtype=np.float64)
        Z += self.b[:, None]
        return Z

    def dense_W(self) -> np.ndarray:
        """``W`` as a dense array (a copy for sparse layers; only for small layers)."""
        return self.W.toarray() if self.is_sparse else np.array(self.W)

    def rows_of(self) -> list[list[tuple[int, float]]]:
        """The nonzero pattern as rows of (column, value) pairs (for exact arithmetic)."""
        W = self.W if self.is_sparse else sp.csr_array(self.W)
        out: list[list[tuple[int, float]]] = []
        for r in range(W.shape[0]):
            lo, hi = W.indptr[r], W.indptr[r + 1]
            out.append(
                [(int(c), float(v)) for c, v in zip(W.indices[lo:hi], W.data[lo:hi]) if v != 0]
            )
        return out
