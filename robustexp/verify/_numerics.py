"""Proven floating-point error bounds: how every bound of ``robustexp.verify`` stays sound.

Every bound returned by :mod:`robustexp.verify` (LpBall concretisation, IBP, CROWN) is a
sound bound on the *real-arithmetic* value of the network whose float64 weights are the ones
stored, although it is computed in float64. This module holds the error model and the
helpers that turn computed values into guaranteed enclosures.

Assumptions (the IEEE 754 default environment numpy runs in): binary64, round to nearest,
gradual underflow, no flush-to-zero of *inputs* (DAZ). Unit roundoff u = 2^-53
(``FLOAT64_UNIT_ROUNDOFF``); η = ``FLOAT64_TINY`` = 2^-1022, the smallest normal number.

The error model (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., SIAM
2002; §2.2 standard model, §2.1 underflow; §3.1 inner products with Lemma 3.1):

1. One operation: ``fl(a op b) = (a op b)(1 + δ) + ε`` with ``|δ| ≤ u`` and ``|ε| ≤ η``
   (ε is the underflow term; with gradual underflow it is at most half the subnormal
   spacing, far below η, and η also covers a flush-to-zero of results).
2. Inner products: for any summation order (BLAS blocking, threads, FMA, sparse kernels),
   a sum of ``n`` products ``s = Σ a_i x_i`` is computed with every term passing through at
   most ``n`` roundings, so with ``γ_n = n u / (1 - n u)`` (Lemma 3.1)

       |fl(s) - s| ≤ γ_n Σ |a_i| |x_i| + 2 n η.                                (E1)

3. A computed sum of non-negative products ``Ŝ = fl(Σ t_i)``, ``t_i ≥ 0``, obeys
   ``Ŝ ≥ (1 - γ_n) S - 2 n η`` with ``S = Σ t_i``, hence

       S ≤ (Ŝ + 2nη) / (1 - γ_n)   and   γ_n S + 2nη ≤ c_n Ŝ + 2nη (1 + c_n),   (E2)

   where ``c_n = γ_n / (1 - γ_n) = n u / (1 - 2 n u)``. So the error of ``fl(a·x)`` is bounded
   by a quantity computed from ``fl(|a|·|x|)`` in *any* order (:func:`abs_sum_error_bound`),
   and the true value of a computed non-negative sum is at most
   ``(1 + c_n) Ŝ + 2nη(1 + c_n)`` (:func:`true_sum_upper`).
4. Evaluating an error bound rounds too. An expression ``Σ_i c_i X_i + K`` with ``X_i ≥ 0``,
   ``c_i, K ≥ 0``, in which every term meets at most ``m`` roundings, has a computed value
   ``≥ (1 - u)^m (Σ c_i X_i + K) - m η``. :func:`upper_combination` evaluates it with every
   coefficient multiplied by ``F = 1 + 2^-47 ≥ (1 - u)^-32`` (so ``m ≤ 32``) and ``32 η``
   added, which makes the computed value a true upper bound. All coefficients themselves are
   computed exactly in rationals and rounded up (:func:`round_up`).
5. Single results are rounded outward with ``np.nextafter``: a correctly rounded result is
   within half an ulp of the exact value, so one step away from zero-side of the bound makes
   it a guaranteed bound (:func:`add_down`, :func:`add_up`, :func:`mul_up`, ...).
6. ``sqrt`` is correctly rounded (IEEE 754), so ``nextafter(sqrt(S_up), +inf) ≥ sqrt(S)`` for
   any ``S ≤ S_up``. General powers (only for p ∉ {1, 2, ∞}) use libm ``pow``, which is not
   correctly rounded; we assume a relative error at most ``LIBM_POW_RELATIVE_ERROR`` (glibc
   documents at most 1 ulp; we allow 64) and say so where it is used.

These are the only facts the propagators rely on; each use cites (E1), (E2) or item 4.

>>> bool(abs_sum_error_bound(np.array([1.0]), 10)[0] > 10 * 2.0**-53)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError
from robustexp._tolerances import (
    FLOAT64_TINY,
    FLOAT64_UNIT_ROUNDOFF,
    LIBM_POW_RELATIVE_ERROR,
)

__all__ = [
    "ETA",
    "U",
    "abs_sum_error_bound",
    "add_down",
    "add_up",
    "computed_sum_coefficient",
    "div_up",
    "down",
    "dual_norm_upper",
    "gamma",
    "inflated",
    "mul_down",
    "mul_up",
    "outward_lower_inplace",
    "outward_upper_inplace",
    "round_down",
    "round_up",
    "row_abs_sum_upper",
    "row_dual_norm_upper",
    "slack_constant",
    "sub_down",
    "sub_up",
    "true_sum_upper",
    "two_sum",
    "up",
    "upper_combination",
]

U: float = FLOAT64_UNIT_ROUNDOFF
ETA: float = FLOAT64_TINY
_U = Fraction(U)
_ETA = Fraction(ETA)

#: Inflation factor of item 4: F = 1 + 2^-47 >= (1 - u)^-32, covering <= 32 roundings.
_F = Fraction(1) + Fraction(1, 2**47)
_ROUNDINGS = 32


# --------------------------------------------------------------------------- scalars
def round_up(x: Fraction | int | float) -> float:
    """The smallest float64 ``>= x`` (``x`` exact rational).

    >>> round_up(Fraction(1, 3)) >= Fraction(1, 3), round_up(Fraction(1, 2))
    (True, 0.5)
    """
    x = Fraction(x)
    f = float(x)
    if Fraction(f) < x:
        f = float(np.nextafter(f, np.inf))
    return f


def round_down(x: Fraction | int | float) -> float:
    """The largest float64 ``<= x``."""
    return -round_up(-Fraction(x))


@lru_cache(maxsize=4096)
def _gamma_exact(n: int) -> Fraction:
    if n < 0:
        raise InvalidInputError(f"number of terms must be >= 0; got {n}")
    nu = n * _U
    if nu >= Fraction(1, 4):
        raise InvalidInputError(
            f"an inner product of {n} terms is beyond the float64 error model (n u >= 1/4)"
        )
    return nu / (1 - nu)


@lru_cache(maxsize=4096)
def gamma(n: int) -> float:
    """Higham's ``γ_n = n u / (1 - n u)``, rounded up to a float.

    >>> gamma(0), gamma(1) > 2.0**-53
    (0.0, True)
    """
    return round_up(_gamma_exact(n))


@lru_cache(maxsize=4096)
def computed_sum_coefficient(n: int) -> float:
    """``c_n = γ_n / (1 - γ_n)`` of (E2), rounded up."""
    g = _gamma_exact(n)
    return round_up(g / (1 - g))


# --------------------------------------------------------------------------- directed ops
def up(x: Any) -> Any:
    """One float step towards +inf (turns a round-to-nearest result into an upper bound)."""
    return np.nextafter(x, np.inf)


def down(x: Any) -> Any:
    """One float step towards -inf."""
    return np.nextafter(x, -np.inf)


def add_up(a: Any, b: Any) -> Any:
    """A float ``>= a + b`` (exact sum)."""
    return up(np.add(a, b))


def add_down(a: Any, b: Any) -> Any:
    """A float ``<= a + b``."""
    return down(np.add(a, b))


def sub_up(a: Any, b: Any) -> Any:
    """A float ``>= a - b``."""
    return up(np.subtract(a, b))


def sub_down(a: Any, b: Any) -> Any:
    """A float ``<= a - b``."""
    return down(np.subtract(a, b))


def mul_up(a: Any, b: Any) -> Any:
    """A float ``>= a * b`` (also through underflow: nextafter steps one subnormal spacing)."""
    return up(np.multiply(a, b))


def mul_down(a: Any, b: Any) -> Any:
    """A float ``<= a * b``."""
    return down(np.multiply(a, b))


def div_up(a: Any, b: Any) -> Any:
    """A float ``>= a / b``."""
    return up(np.divide(a, b))


#: Scale of the cheap outward rounding: 2^-50 = 8u.
_OUTWARD_SCALE = 2.0**-50


def outward_lower_inplace(x: np.ndarray) -> np.ndarray:
    """Turn ``x = fl(v)`` (one correctly rounded result) into a float ``<= v``, in place.

    ``v >= x - u|x|/(1 - u) - ε`` (ε a half subnormal spacing); we subtract ``e = fl(fl(8u|x|)
    + η)`` and the subtraction's own rounding is at most ``u(|x| + e)``, so the result is at
    most ``x - 8u|x| - η + u(|x| + e) <= x - 6u|x| - η/2 <= v``. Four cheap passes instead of
    one ``np.nextafter`` per element (a libm call, ~10x slower).

    >>> v = np.array([0.1]) + np.array([0.2])
    >>> bool(Fraction(outward_lower_inplace(v.copy())[0]) <= Fraction(0.1) + Fraction(0.2))
    True
    """
    e = np.abs(x)
    e *= _OUTWARD_SCALE
    e += ETA
    x -= e
    return x


def outward_upper_inplace(x: np.ndarray) -> np.ndarray:
    """Turn ``x = fl(v)`` into a float ``>= v``, in place (mirror of the lower version)."""
    e = np.abs(x)
    e *= _OUTWARD_SCALE
    e += ETA
    x += e
    return x


def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """Knuth's TwoSum: ``s = fl(a + b)`` and the exact error ``e`` with ``a + b = s + e``.

    Exact for finite inputs without overflow (round to nearest).

    >>> s, e = two_sum(0.1, 0.2)
    >>> Fraction(s) + Fraction(e) == Fraction(0.1) + Fraction(0.2)
    True
    """
    s = np.add(a, b)
    bp = s - a
    ap = s - bp
    e = (a - ap) + (b - bp)
    return s, e


# --------------------------------------------------------------------------- combinations
def upper_combination(
    terms: Sequence[tuple[Fraction | float, Any]], const: Fraction | float = 0
) -> np.ndarray:
    """A float array ``>= Σ c_i X_i + const`` (reals), for ``X_i >= 0`` and ``c_i, const >= 0``.

    Item 4 of the module docstring: the coefficients are inflated by ``F = 1 + 2^-47`` and
    ``32 η`` is added, which covers up to 32 roundings per term (products, sums, broadcasts).
    The combination itself spends at most ``len(terms) + 2`` of them; the caller may spend up
    to 16 more computing an ``X_i`` from exact non-negative quantities (for example an outer
    product ``a ⊗ b`` of upper bounds) or sums of such terms outside. ``X_i`` must broadcast
    to a common shape; ``c_i`` may be exact rationals.

    >>> x = np.array([1.0, 3.0])
    >>> r = upper_combination([(Fraction(1, 3), x)], Fraction(1, 10))
    >>> all(Fraction(v) >= Fraction(1, 3) * Fraction(xi) + Fraction(1, 10) for v, xi in zip(r, x))
    True
    """
    if len(terms) + 2 > _ROUNDINGS // 2:
        raise InvalidInputError(f"too many terms ({len(terms)}) for one upper_combination")
    out: Any = None
    for c, X in terms:
        term = np.multiply(X, inflated(c))
        out = term if out is None else out + term
    K = slack_constant(const)
    if out is None:
        return np.asarray(K)
    return np.add(out, K)


@lru_cache(maxsize=4096)
def inflated(c: Fraction | float) -> float:
    """``c`` times the item-4 inflation factor ``F``, rounded up (see :func:`upper_combination`)."""
    return round_up(Fraction(c) * _F)


@lru_cache(maxsize=4096)
def slack_constant(const: Fraction | float = 0) -> float:
    """``const`` times ``F`` plus ``32 η``, rounded up: the additive part of item 4."""
    return round_up(Fraction(const) * _F + _ROUNDINGS * _ETA)


def abs_sum_error_bound(S_hat: Any, n: int) -> np.ndarray:
    """Bound on ``|fl(a·x) - a·x|`` from the computed ``Ŝ = fl(Σ |a_i| |x_i|)`` (E2).

    ``n`` is the number of terms (products plus any added constants). Any summation order.
    """
    c = _sum_coefficient_exact(n)
    return upper_combination([(c, S_hat)], 2 * n * _ETA * (1 + c))


def true_sum_upper(S_hat: Any, n: int) -> np.ndarray:
    """Upper bound on the exact value ``S`` of a computed non-negative sum of ``n`` products (E2).

    >>> v = np.array([0.1]) + np.array([0.2])   # fl(0.1 + 0.2)
    >>> bool(Fraction(true_sum_upper(v, 2)[0]) >= Fraction(0.1) + Fraction(0.2))
    True
    """
    c = _sum_coefficient_exact(n)
    return upper_combination([(1 + c, S_hat)], 2 * n * _ETA * (1 + c))


@lru_cache(maxsize=4096)
def _sum_coefficient_exact(n: int) -> Fraction:
    """``c_n = γ_n / (1 - γ_n)`` of (E2), exact (cached: the backward passes ask for a few
    values of n many thousand times)."""
    g = _gamma_exact(n)
    return g / (1 - g)


# --------------------------------------------------------------------------- norms
def dual_norm_upper(A: np.ndarray, q: float, axis: int = -1) -> np.ndarray:
    """A sound upper bound on ``||A||_q`` along ``axis`` (dense array), for ``q ∈ [1, inf]``.

    q = inf: ``max |a|`` (exact). q = 1: ``Σ |a|`` then (E2). q = 2: ``Σ a²`` then (E2), then a
    correctly rounded ``sqrt`` stepped up. Other q: ``(Σ |a|^q̂)^(1/q̂)`` with ``q̂ <= q``
    (``||a||_q <= ||a||_q̂``), evaluated with ``pow`` under the ``LIBM_POW_RELATIVE_ERROR``
    assumption.

    >>> float(dual_norm_upper(np.array([3.0, 4.0]), 2.0)) >= 5.0
    True
    """
    A = np.asarray(A, dtype=np.float64)
    n = A.shape[axis] if A.ndim else 1
    absA = np.abs(A)
    return _norm_from_abs(absA, q, axis, n)


def _norm_from_abs(absA: np.ndarray, q: float, axis: int, n: int) -> np.ndarray:
    if np.isinf(q):
        return absA.max(axis=axis, initial=0.0)
    if q == 1.0:
        return true_sum_upper(absA.sum(axis=axis), max(n, 1))
    if q == 2.0:
        S = true_sum_upper(np.sum(absA * absA, axis=axis), max(n, 1))
        return up(np.sqrt(S))
    return _pow_norm(absA, q, axis, n)


def _pow_norm(absA: np.ndarray, q: float, axis: int, n: int) -> np.ndarray:
    """``(Σ|a|^q̂)^(1/q̂)`` rounded up, with ``q̂ = round_down(q) <= q`` (norms decrease in q)."""
    qh = round_down(q)
    rel = Fraction(1) / (1 - Fraction(LIBM_POW_RELATIVE_ERROR))
    with np.errstate(over="ignore", under="ignore"):
        P = np.power(absA, qh)  # each <= true * (1 + e)  =>  true <= P / (1 - e)
        S = true_sum_upper(P.sum(axis=axis), max(n, 1))
        S = upper_combination([(rel, S)])
        inv = Fraction(1) / Fraction(qh)
        e_up, e_dn = round_up(inv), round_down(inv)
        # S^(1/q̂) <= S^e_up when S >= 1 and <= S^e_dn when S < 1.
        R = np.where(S >= 1.0, np.power(S, e_up), np.power(S, e_dn))
    return upper_combination([(rel, R)])


def row_abs_sum_upper(W: Any, abs_W: Any = None) -> np.ndarray:
    """Upper bound on ``Σ_j |W_ij|`` for every row of a dense or CSR matrix, shape (rows,).

    ``abs_W`` may pass a cached ``|W|`` (same sparsity pattern); the row sums are one pass over
    the stored entries, then (E2) on the computed non-negative sums.
    """
    if not sp.issparse(W):
        absW = abs_W if abs_W is not None else np.abs(W)
        return true_sum_upper(np.asarray(absW).sum(axis=1), max(W.shape[1], 1))
    counts = np.diff(W.indptr)
    n = int(counts.max(initial=0))
    s = np.zeros(W.shape[0])
    # rows in blocks (bounded temporaries); segments between consecutive non-empty row starts
    # are exactly those rows' entries
    block = 1 << 22
    r0 = 0
    rows = W.shape[0]
    while r0 < rows:
        r1 = min(rows, int(np.searchsorted(W.indptr, W.indptr[r0] + block, side="right")))
        r1 = max(r1, r0 + 1)
        lo, hi = int(W.indptr[r0]), int(W.indptr[r1])
        nz = counts[r0:r1] > 0
        if nz.any():
            seg = np.abs(W.data[lo:hi]) if abs_W is None else abs_W.data[lo:hi]
            s[r0:r1][nz] = np.add.reduceat(seg, W.indptr[r0:r1][nz] - lo)
        r0 = r1
    return true_sum_upper(s, max(n, 1))


def row_dual_norm_upper(W: Any, q: float, abs_W: Any = None) -> np.ndarray:
    """Upper bound on ``||W_i||_q`` for every row ``i`` of a dense or CSR matrix."""
    if q == 1.0:
        return row_abs_sum_upper(W, abs_W)
    if not sp.issparse(W):
        return dual_norm_upper(W, q, axis=1)
    absd = np.abs(W.data)
    rows = W.shape[0]
    nnz_row = np.diff(W.indptr)
    n = int(nnz_row.max(initial=0))
    if np.isinf(q):
        out = np.zeros(rows)
        nz = nnz_row > 0
        out[nz] = np.maximum.reduceat(absd, W.indptr[:-1][nz])
        return out
    if q == 2.0:
        sq = sp.csr_array((absd * absd, W.indices, W.indptr), shape=W.shape)
        S = true_sum_upper(np.asarray(sq.sum(axis=1)).reshape(-1), max(n, 1))
        return up(np.sqrt(S))
    qh = round_down(q)
    rel = Fraction(1) / (1 - Fraction(LIBM_POW_RELATIVE_ERROR))
    with np.errstate(over="ignore", under="ignore"):
        pw = sp.csr_array((np.power(absd, qh), W.indices, W.indptr), shape=W.shape)
        S = true_sum_upper(np.asarray(pw.sum(axis=1)).reshape(-1), max(n, 1))
        S = upper_combination([(rel, S)])
        inv = Fraction(1) / Fraction(qh)
        R = np.where(S >= 1.0, np.power(S, round_up(inv)), np.power(S, round_down(inv)))
    return upper_combination([(rel, R)])
