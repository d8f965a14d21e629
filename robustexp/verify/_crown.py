"""Linear bound propagation (CROWN / DeepPoly backward pass), sparse-aware and batched.

To bound ``c·z_m(x)`` from below over a set ``S`` (Zhang et al. 2018, "Efficient neural
network robustness certification with general activation functions" (CROWN); Singh et al.
2019, DeepPoly), write ``c·z_m = c W_m h_{m-1} + c·b_m`` and walk backwards. With bounds
``l <= z_j <= u`` on a hidden layer, every ReLU is relaxed by two lines,

    a z <= σ(z) <= s z + τ      on [l, u],

exactly for stable neurons (``l >= 0``: a = s = 1, τ = 0; ``u <= 0``: a = s = 0, τ = 0) and for
unstable ones with the chord ``s = u/(u - l)``, ``τ = -s l`` and the adaptive lower slope
``a = 1 if u >= -l else 0``. A coefficient ``Λ_t >= 0`` takes the lower line, ``Λ_t < 0`` the
upper one, so ``Λ·h_j >= (Λ⁺ a + Λ⁻ s)·z_j + Λ⁻·τ``; then ``Λ·z_j = (Λ W_j)·h_{j-1} + Λ·b_j``.
At the input, ``c·z_m(x) >= Λ_0·x + κ`` for all x in S, and the set concretises the linear
function through its dual norm (:meth:`LpBall.linear_lower`: exact for l2 and l1 balls, not a
box bound). Upper bounds are ``-lower(-c)``; one pass handles the rows ``[+e_t; -e_t]``.

**Intermediate bounds** (``intermediate=``):

* ``"crown"`` (full backward CROWN): layer by layer, the neurons of layer m that the current
  bounds leave unstable (for some point of the chunk) get their own backward pass through
  the relaxations of layers < m; stable neurons keep their IBP bounds, which suffices: their
  relaxation is exact whatever the bounds. Every bound is intersected with IBP's (both sound).
* ``"ibp"``: the hidden layers keep the IBP bounds and only the output layer is bounded by
  the backward pass ("CROWN-IBP", Zhang et al. 2020).

**Floating point** (see :mod:`robustexp.verify._numerics`). The relaxation lines are sound in
real arithmetic for the float ``s`` actually used: ``τ >= max(s·(-l), u (1 - s))`` is computed
with upward rounding, and a line above σ at both ends of [l, u] is above it on all of [l, u].
The backward pass keeps ``c·z_m >= Λ̂·v + κ̂ - ε`` valid for the *computed* coefficients: each
rounded product ``Λ̂ W`` (E1) is off by at most ``γ_K |Λ̂| |W|``, and ``Σ_t err_t |v_t| <= γ_K
|Λ̂|·(|W| H + |b|)`` with ``H`` a bound on ``|h_{j-1}|`` (``σ(u)``, or ``max(|lo|, |hi|)`` of the
set's box at the input); the rounded products ``Λ̂_t s_t`` cost ``u |Λ̂_t| max(|l_t|, |u_t|)``; the
updates of κ̂ are inner products bounded by (E1). All these go into ε (rounded up); the final
bound is ``linear_lower(Λ̂_0, κ̂) - ε`` rounded down.

Sparse layers enter only as ``Λ @ W`` with W in CSR (scipy computes dense @ sparse without
densifying W); the dense ``Λ`` (batch x rows x width) is what costs memory. A request whose
estimated dense coefficients for one point exceed ``MEMORY_LIMIT_BYTES`` raises
ResourceLimitError (use ``intermediate="ibp"``); otherwise the batch is chunked to stay within
``LINEAR_BOUNDS_BUDGET_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError, ResourceLimitError
from robustexp._tolerances import MEMORY_LIMIT_BYTES
from robustexp._validate import as_labels
from robustexp.network import Affine, ReLUNet
from robustexp.verify import _coef as C
from robustexp.verify._ibp import (
    _ibp_stream,
    batch_chunks,
    check_net_ball,
    interval_output_bounds,
    layer_steps,
)
from robustexp.verify._numerics import (
    ETA,
    U,
    add_up,
    gamma,
    inflated,
    mul_up,
    sub_down,
    sub_up,
    true_sum_upper,
    upper_combination,
)
from robustexp.verify._sets import LpBall
from robustexp.verify._splits import two_group_split
from robustexp.verify._types import LayerBounds

__all__ = ["linear_bounds", "margin_lower_bound", "output_bounds"]

_INTERMEDIATE = ("crown", "ibp")
_METHODS = ("ibp", "crown", "crown-ibp")

#: Live dense (rows x width) float64 arrays per point in one backward step at its peak
#: (Λ, |Λ| or the selection, the product, the concretisation's |A|), used for chunking.
_CROWN_LIVE_ARRAYS = 5


# --------------------------------------------------------------------------- relaxation
def _relaxation(
    lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ReLU relaxation ``a z <= σ(z) <= s z + τ`` on ``[lo, hi]`` (all (n, k)).

    Returns ``(a, s, τ, Z)``; ``Z = max(|lo|, |hi|)`` on unstable neurons (0 elsewhere): the
    magnitude that multiplies the rounding error of ``Λ s``. The upper line is sound in real
    arithmetic for the float ``s``: ``τ >= s·(-lo)`` and ``τ >= hi (1 - s)``, rounded up.

    >>> a, s, t, Z = _relaxation(np.array([[-1.0, 1.0, -2.0]]), np.array([[3.0, 2.0, -1.0]]))
    >>> a.tolist(), s.tolist(), bool(0.75 <= t[0, 0] < 0.75 + 1e-15), t[0, 1:].tolist()
    ([[1.0, 1.0, 0.0]], [[0.75, 1.0, 0.0]], True, [0.0, 0.0])
    """
    active = lo >= 0
    unstable = (lo < 0) & (hi > 0)
    a = np.where(active | (unstable & (hi >= -lo)), 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_un = np.clip(hi / (hi - lo), 0.0, 1.0)
    s = np.where(active, 1.0, np.where(unstable, s_un, 0.0))
    tau_un = np.maximum(mul_up(s, -lo), mul_up(hi, sub_up(1.0, s)))
    tau = np.where(unstable, tau_un, 0.0)
    Z = np.where(unstable, np.maximum(-lo, hi), 0.0)
    return a, s, tau, Z


def _phi_up(P: np.ndarray, Q: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A float ``>= σ(P - Q + b)`` (reals)."""
    return np.maximum(add_up(sub_up(P, Q), b), 0.0)


def _hull_planes(
    box: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], b: np.ndarray, hi: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A plane ``σ(P - Q + b) <= α P - β Q + γ`` on the box ``[P_l, P_u] x [Q_l, Q_u]``.

    ``P = W⁺ h`` and ``Q = W⁻ h`` are the positive and negative parts of a pre-activation
    ``z = P - Q + b`` (``W = W⁺ - W⁻``). φ(P, Q) = σ(P - Q + b) is convex, so its concave
    envelope on the rectangle is the lower of the two planes through the anti-diagonal
    corners ``(P_u, Q_l)``, ``(P_l, Q_u)`` (where z is largest and smallest) and one more
    corner: ``(P_u, Q_u)`` (``hi``) or ``(P_l, Q_l)``. Either plane is a valid upper bound on
    the whole box, and unlike the chord of z over [l, u] it may use P and Q separately. Example:
    ``max(a, b) = a + σ(b - a)`` with a, b ∈ [0, r]: the chord gives ``(a + b + r)/2`` (up to
    3r/2), the ``hi`` plane ``σ(b - a) <= r - a``, so ``max(a, b) <= r``: exact, and a max tree
    is bounded exactly at every level (the multi-neuron idea of Anderson et al. 2020, "Strong
    mixed-integer programming formulations for trained neural networks", for two groups).

    Soundness (reals, for the floats α, β actually used): γ is the maximum over the four
    corners of ``φ - α P + β Q``, evaluated with upward rounding; a plane above a convex
    function at the corners of a rectangle is above it on the rectangle (``φ - plane`` is
    convex, so its maximum is at a corner). α, β are clipped to [0, 1]; degenerate sides get
    slope 0. ``hi`` is a bool or a (k,) bool array (per neuron). Returns ``(α, β, γ, Z, ok)``
    with ``Z = α max|P| + β max|Q|`` (the magnitude that multiplies the rounding of ``Λ α``,
    ``Λ β``) and ``ok`` where the box is finite.

    >>> box = tuple(np.array([[v]]) for v in (0.0, 1.0, 0.0, 1.0))   # a, b ∈ [0, 1]
    >>> al, be, ga, Z, ok = _hull_planes(box, np.zeros(1), hi=True)   # σ(P - Q) <= 1 - Q
    >>> bool(al[0, 0] < 1e-300), float(be[0, 0]), bool(1.0 <= ga[0, 0] < 1.0 + 1e-15)
    (True, 1.0, True)
    """
    PL, PU, QL, QU = box
    ok = np.isfinite(PL) & np.isfinite(PU) & np.isfinite(QL) & np.isfinite(QU)
    PL, PU = np.where(ok, PL, 0.0), np.where(ok, PU, 0.0)
    QL, QU = np.where(ok, QL, 0.0), np.where(ok, QU, 0.0)
    bb = b[None, :]
    v_top = _phi_up(PU, QL, bb)  # largest z
    v_bot = _phi_up(PL, QU, bb)  # smallest z
    hi = np.broadcast_to(np.asarray(hi, dtype=bool), PL.shape[-1:])[None, :]
    v_3 = np.where(hi, _phi_up(PU, QU, bb), _phi_up(PL, QL, bb))
    dP, dQ = PU - PL, QU - QL
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(hi, (v_3 - v_bot) / dP, (v_top - v_3) / dP)
        beta = np.where(hi, (v_top - v_3) / dQ, (v_3 - v_bot) / dQ)
    alpha = np.clip(np.where(dP > 0, alpha, 0.0), 0.0, 1.0)
    beta = np.clip(np.where(dQ > 0, beta, 0.0), 0.0, 1.0)
    alpha, beta = np.nan_to_num(alpha), np.nan_to_num(beta)
    gamma_ = None
    for P in (PL, PU):
        for Q in (QL, QU):
            corner = add_up(add_up(_phi_up(P, Q, bb), mul_up(-alpha, P)), mul_up(beta, Q))
            gamma_ = corner if gamma_ is None else np.maximum(gamma_, corner)
    Z = add_up(
        mul_up(alpha, np.maximum(np.abs(PL), np.abs(PU))),
        mul_up(beta, np.maximum(np.abs(QL), np.abs(QU))),
    )
    ok = ok & np.isfinite(gamma_) & np.isfinite(Z)
    return alpha, beta, gamma_, Z, ok


# --------------------------------------------------------------------------- backward pass
def _column_terms(W: Any) -> int:
    """Most nonzeros in a column of W (the inner-product length of ``Λ @ W``)."""
    if sp.issparse(W):
        if W.nnz == 0:
            return 0
        return int(np.bincount(W.indices, minlength=W.shape[1]).max())
    return int(W.shape[0])


def _magnitude_bound(layer: Affine, H: np.ndarray) -> np.ndarray:
    """Upper bound (n, k) on ``|W| H + |b|`` for H (n, k_in) >= 0 ((E2) on a computed sum)."""
    W = layer.W
    nt = int(np.diff(W.indptr).max(initial=0)) if sp.issparse(W) else int(W.shape[1])
    P = np.asarray(layer.abs_W @ H.T, dtype=np.float64).T
    P = P + np.abs(layer.b)[None, :]
    return true_sum_upper(P, nt + 1)


@dataclass
class _Relax:
    """One relaxation of a layer's ReLUs: lower lines ``σ(z) >= a z + c`` (``c`` = None:
    0), upper lines ``σ(z) <= s z + τ``, or on the neurons ``use`` of ``planes = (use, α, β,
    split)`` the plane ``α P - β Q + τ`` (τ = γ). ``Z`` multiplies the rounding of ``Λ s``
    (resp. ``Λ α``, ``Λ β``); ``zsum`` bounds ``Σ Z``."""

    a: np.ndarray
    s: np.ndarray
    tau: np.ndarray
    Z: np.ndarray
    c: np.ndarray | None
    planes: tuple[np.ndarray, np.ndarray, np.ndarray, Any] | None
    zsum: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.zsum = true_sum_upper(self.Z.sum(axis=1), self.Z.shape[1])[:, None]


@dataclass
class _LayerStep:
    """What every backward step through layer j needs, computed once per chunk and mode:
    ``H`` bounds ``|h_{j-1}|``, ``V`` bounds ``|W| H + |b|``, ``K`` the inner-product length,
    ``hsum`` bounds ``Σ H``; ``lo_prev``/``hi_prev`` the box of ``h_{j-1}`` for the look-ahead
    scores; ``variants`` the relaxations tried (the chord first)."""

    lay: Affine
    H: np.ndarray
    V: np.ndarray
    K: int
    hsum: np.ndarray
    lo_prev: np.ndarray | None
    hi_prev: np.ndarray | None
    variants: list[_Relax]


def _layer_step(
    net: ReLUNet,
    j: int,
    ball: LpBall,
    lows: list[np.ndarray],
    ups: list[np.ndarray],
    hulls: list[Any] | None,
    flats: list[Any] | None,
) -> _LayerStep:
    lay = net.layers[j]
    if j > 0:
        H = np.maximum(ups[j - 1], 0.0)
        lo_prev, hi_prev = np.maximum(lows[j - 1], 0.0), H
    else:
        box_lo, box_hi = ball.box()
        H = np.maximum(np.abs(box_lo), np.abs(box_hi))
        lo_prev = hi_prev = None
    a, s, tau, Z = _relaxation(lows[j], ups[j])
    flat = flats[j] if flats is not None else None
    c = None
    if flat is not None:
        flo, fhi = flat
        a, s = np.where(flo, 0.0, a), np.where(fhi, 0.0, s)
        tau = np.where(fhi, np.maximum(ups[j], 0.0), tau)
        c = np.where(flo, np.maximum(lows[j], 0.0), 0.0)
    variants = [_Relax(a, s, tau, Z, c, None)]
    if hulls is not None and hulls[j] is not None and j > 0:
        split = two_group_split(net, j)
        unstable = (lows[j] < 0) & (ups[j] > 0)
        for hi in (True, False):
            alpha, beta, gam, Zh, ok = _hull_planes(hulls[j], lay.b, hi)
            use = ok & unstable & ~split.coupled[None, :]
            if flat is not None:
                use &= ~flat[1]
            if not use.any():
                continue
            a_p = np.where(use, _lower_slope(hulls[j], hi), a)
            if flat is not None:
                a_p = np.where(flat[0], 0.0, a_p)
            variants.append(
                _Relax(
                    a_p,
                    s,
                    np.where(use, gam, tau),
                    np.where(use, Zh, Z),
                    c,
                    (use, alpha, beta, split),
                )
            )
    K = max(_column_terms(lay.W), lay.out_dim) + 1
    hsum = true_sum_upper(H.sum(axis=1), H.shape[1])[:, None]
    return _LayerStep(lay, H, _magnitude_bound(lay, H), K, hsum, lo_prev, hi_prev, variants)


def _backward(
    net: ReLUNet,
    m: int,
    ball: LpBall,
    lows: list[np.ndarray],
    ups: list[np.ndarray],
    rows: np.ndarray,
    signs: np.ndarray,
    *,
    hulls: list[Any] | None = None,
    start: tuple[Any, np.ndarray] | None = None,
    flats: list[Any] | None = None,
    sparse: bool = False,
    cache: dict[Any, _LayerStep] | None = None,
) -> np.ndarray:
    """Sound lower bounds (n, R) of ``signs[i, r] * z_m[rows[r]]`` over every set of ``ball``.

    ``lows``/``ups`` are sound bounds (n, k_j) of the layers j < m. ``start = (A, c)``
    replaces the rows ``W_m[rows]``, ``b_m[rows]`` by the coefficients ``A`` (R, k_{m-1}) and
    constants ``c`` (R,) of another linear form of ``h_{m-1}`` (the P and Q parts of the
    two-group relaxation). ``hulls[j]`` is None (every unstable neuron of layer j takes the
    chord) or the (P, Q) boxes of layer j's neurons: then the step through layer j is taken
    three ways — chords with CROWN's adaptive lower lines; ``hi`` planes of
    :func:`_hull_planes` with the lower lines of :func:`_lower_slope` on every neuron with a
    box; the same with ``lo`` planes — and each row keeps the one whose result, concretised
    over the interval bounds of ``h_{j-1}``, is largest (a one-step look-ahead; every choice
    is sound). ``flats[j]`` is None or two (n, k_j) masks ``(lo, hi)``: those neurons take
    the flat line ``σ(z) >= σ(l)`` as lower line, resp. ``σ(z) <= σ(u)`` as upper line
    (:func:`_flat_masks`: where their bounds came from something tighter than a backward
    pass, so that substituting them back would lose it). ``sparse`` (one set only): Λ is
    held as a CSR matrix (:mod:`._coef`). ``cache``: per-layer data of earlier passes over
    the same bounds (the caller must not change the bounds of a cached layer).
    """
    if start is None:
        layer = net.layers[m]
        Lam = C.signed_rows(layer.W, rows, signs, sparse)
        b0 = layer.b[rows]
    else:
        Lam = C.signed_rows(start[0], np.arange(start[0].shape[0]), signs, sparse)
        b0 = start[1]
    kappa = signs * b0[None, :]
    eps = np.zeros_like(kappa)
    mode = (hulls is not None, flats is not None)
    for j in range(m - 1, -1, -1):
        info = cache.get((j, mode)) if cache is not None else None
        if info is None:
            info = _layer_step(net, j, ball, lows, ups, hulls, flats)
            if cache is not None:
                cache[(j, mode)] = info
        if len(info.variants) == 1:
            Lam, kappa, eps = _step(Lam, kappa, eps, info, info.variants[0])
            continue
        best: tuple[Any, np.ndarray, np.ndarray] | None = None
        best_score = None
        for relax in info.variants:
            cand = _step(Lam, kappa, eps, info, relax)
            L_c, k_c, e_c = cand
            # interval concretisation of the candidate over h_{j-1} (for the choice only)
            score = (
                k_c
                - e_c
                + C.times_vector(C.pos_part(L_c), info.lo_prev)
                + C.times_vector(C.neg_part(L_c), info.hi_prev)
            )
            score = np.nan_to_num(score, nan=-np.inf)
            if best is None:
                best, best_score = cand, score
                continue
            take = score > best_score
            if take.any():
                best = (
                    C.select_rows(take, L_c, best[0]),
                    np.where(take, k_c, best[1]),
                    np.where(take, e_c, best[2]),
                )
                best_score = np.where(take, score, best_score)
        Lam, kappa, eps = best  # type: ignore[misc]
    if not (C.all_finite(Lam) and np.all(np.isfinite(kappa)) and np.all(np.isfinite(eps))):
        return np.full(kappa.shape, -np.inf)
    lower = np.empty_like(kappa)
    for rows_, block in C.dense_chunks(Lam):
        lower[:, rows_] = ball._lower_batched(block, kappa[:, rows_], consume=True)
    return sub_down(lower, eps)


def _lower_slope(box: tuple[np.ndarray, ...], hi: bool) -> np.ndarray:
    """Lower line ``σ(z) >= a z``, a ∈ {0, 1}, matched to the plane: with ``hi`` (an added
    output, ``max(a, b) = Q + σ(P - Q)`` >= P or >= Q) a = 1 iff ``P_l >= Q_l``; with ``lo``
    (a subtracted output, ``min = P - σ(P - Q)`` <= Q or <= P) a = 1 iff ``Q_u <= P_u``."""
    PL, PU, QL, QU = box
    with np.errstate(invalid="ignore"):
        pick = PL >= QL if hi else QU <= PU
    return np.where(pick, 1.0, 0.0)


def _step(
    Lam: Any,
    kappa: np.ndarray,
    eps: np.ndarray,
    info: _LayerStep,
    relax: _Relax,
) -> tuple[Any, np.ndarray, np.ndarray]:
    """One backward step: Λ over ``h_j`` through the relaxation ``relax`` of layer j's ReLUs
    and its affine map, to Λ over ``h_{j-1}`` (or x); returns the new ``(Λ, κ, ε)`` (inputs
    untouched). Two-group neurons (``relax.planes``) use ``P = W_A h``, ``Q = W_B h`` of the
    layer's :class:`TwoGroupSplit`.
    """
    a, s, tau, Z, lower_c = relax.a, relax.s, relax.tau, relax.Z, relax.c
    k = a.shape[1]
    # κ + Λ⁻·τ (+ Λ⁺·c) is one inner product of k + 1 (2k + 1) terms, in any order
    terms = k + 1 if lower_c is None else 2 * k + 1
    g = gamma(terms)
    # w = u Z + γ |τ|, inflated so that its own rounding is covered (item 4)
    w = Z * inflated(U) + np.abs(tau) * inflated(g)
    both = C.times_vectors(C.neg_part(Lam), np.stack([tau, w], axis=-1))  # Λ⁻·τ, Λ⁻·w
    if lower_c is None:
        const, S = both[..., 0], true_sum_upper(-both[..., 1], k)
    else:
        low = C.times_vectors(C.pos_part(Lam), np.stack([lower_c, lower_c * inflated(g)], -1))
        const = both[..., 0] + low[..., 0]
        S = true_sum_upper(add_up(-both[..., 1], low[..., 1]), 2 * k + 1)
    err = upper_combination(
        [(1, S), (g, np.abs(kappa)), (ETA, relax.zsum)], 2 * terms * Fraction(ETA)
    )
    kappa = kappa + const
    eps = add_up(eps, err)
    V, K, hsum, lay = info.V, info.K, info.hsum, info.lay
    if relax.planes is None:
        # Λ_new = Λ⁺ a + Λ⁻ s (one of the two terms is 0), then Λ over z_j -> over h_{j-1}
        Lz = C.lines(Lam, a, s)
        gK = gamma(K)
        S = true_sum_upper(C.times_vector(C.absolute(Lz), V), k)
        err = upper_combination(
            [(gK, S), (gK, np.abs(kappa)), (2 * K * Fraction(ETA), hsum)],
            2 * K * Fraction(ETA),
        )
        return C.times_weights(Lz, lay.W), kappa + C.times_bias(Lz, lay.b), add_up(eps, err)
    # Two-group neurons: Λ_t σ(z_t) >= Λ⁺_t a_t z_t + Λ⁻_t (α_t P_t - β_t Q_t + γ_t) with
    # P = W_A h, Q = W_B h (W = W_A - W_B); chord neurons keep α = β = s. The bias of layer
    # j enters with Λ⁺ a + Λ⁻ s (chord) and Λ⁺ a (two-group: γ already holds it).
    use, alpha, beta, split = relax.planes
    LP = C.lines(Lam, a, np.where(use, alpha, s))
    LQ = C.lines(Lam, a, np.where(use, beta, s))
    Lb = C.lines(Lam, a, np.where(use, 0.0, s))
    # Λ_P W_A - Λ_Q W_B is one inner product of 2K terms (any order); every weight is in one
    # group, so |Λ_P| |W_A| + |Λ_Q| |W_B| <= max(|Λ_P|, |Λ_Q|) |W|; |Λ_b| <= max(|Λ_P|, |Λ_Q|).
    g2K = gamma(2 * K)
    M = C.larger(C.absolute(LP), C.absolute(LQ))
    S = true_sum_upper(C.times_vector(M, V), k)
    err = upper_combination(
        [(g2K, S), (g2K, np.abs(kappa)), (4 * K * Fraction(ETA), hsum)],
        4 * K * Fraction(ETA),
    )
    Lam_new = C.difference(C.times_weights(LP, split.WA), C.times_weights(LQ, split.WB))
    return Lam_new, kappa + C.times_bias(Lb, lay.b), add_up(eps, err)


def _best_backward(
    net: ReLUNet,
    m: int,
    ball: LpBall,
    lows: list[np.ndarray],
    ups: list[np.ndarray],
    rows: np.ndarray,
    signs: np.ndarray,
    hulls: list[Any] | None,
    start: tuple[Any, np.ndarray] | None = None,
    flats: list[Any] | None = None,
    sparse: bool = False,
    cache: dict[Any, Any] | None = None,
) -> np.ndarray:
    """The largest of plain CROWN's lower bound (chords); where a layer below ``m`` has
    (P, Q) boxes, the two-group pass's; where a layer below ``m`` has flat masks, the pass
    with them (all sound)."""
    args = (net, m, ball, lows, ups, rows, signs)
    kw = {"start": start, "sparse": sparse, "cache": cache}
    low = _backward(*args, **kw)
    if hulls is not None and any(h is not None for h in hulls[:m]):
        low = np.maximum(low, _backward(*args, hulls=hulls, **kw))
    if flats is not None and any(f is not None for f in flats[:m]):
        low = np.maximum(low, _backward(*args, hulls=hulls, flats=flats, **kw))
    return low


#: A neuron's bound from elsewhere counts as tighter than its own backward pass when it is
#: by more than this (relative to the bound's size): smaller gaps are rounding noise.
FLAT_GAP = 1e-9


def _flat_masks(
    before: tuple[np.ndarray, np.ndarray], crown: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray] | None:
    """Neurons whose bound known before their backward pass (IBP, or a ``prior`` such as the
    separable bounds of an ℓ1/ℓ2 ball) is tighter than that pass's: (lower, upper) masks,
    or None when there are none. Back-substituting such a neuron's relaxation into a later
    pass would give that bound away: an own distance ``Σ_k |x_k - c_k| <= δ`` over the ℓ1
    ball is bounded by δ over the ball, but by ``d δ`` through the per-coordinate chords.

    >>> m = _flat_masks((np.array([[1.0, 0.0]]), np.array([[2.0, 3.0]])),
    ...                 (np.array([[0.5, 0.0]]), np.array([[2.0, 2.5]])))
    >>> [x.tolist() for x in m]
    [[[True, False]], [[False, False]]]
    """
    (blo, bhi), (clo, chi) = before, crown
    with np.errstate(invalid="ignore"):
        lo = blo > clo + FLAT_GAP * (1.0 + np.abs(clo))
        hi = bhi < chi - FLAT_GAP * (1.0 + np.abs(chi))
    if not (lo.any() or hi.any()):
        return None
    return lo, hi


# --------------------------------------------------------------------------- drivers
def _point_bytes(net: ReLUNet, full: bool, out_rows: int) -> int:
    """Estimated work memory for one point (bytes): the largest dense backward coefficient
    array (rows x width, a few live copies), the bounds of every layer (kept for the whole
    chunk) and the relaxation arrays of one layer."""
    widths = net.layer_widths  # (d, k_0, ..., k_{L-1})
    worst = 0
    last = net.depth - 1
    for m in range(1, net.depth):
        if m < last and not full:
            continue
        R = out_rows if m == last else 2 * widths[m + 1]
        worst = max(worst, R * max(widths[: m + 1]))
    return 8 * (_CROWN_LIVE_ARRAYS * worst + 4 * sum(widths[1:]) + 12 * max(widths))


def _crown_chunk(
    net: ReLUNet,
    ball: LpBall,
    consts: list[Any],
    *,
    full: bool,
    out_rows: np.ndarray,
    out_signs: np.ndarray,
    prep0: Any = None,
    two_group: bool = True,
    prior: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    sparse: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Bounds of every layer (n, k) for one chunk, and the output-objective lower bounds.
    ``prior``: sound bounds of the chunk already known, intersected with IBP's first.
    ``sparse``: sparse backward coefficients (one set)."""
    res = _ibp_stream(net, ball, consts, keep=True, prep0=prep0)
    lows = [np.ascontiguousarray(item[0].T) for item in res if item is not None]
    ups = [np.ascontiguousarray(item[1].T) for item in res if item is not None]
    if prior is not None:
        for k in range(net.depth):
            np.maximum(lows[k], prior[0][k], out=lows[k])
            np.minimum(ups[k], prior[1][k], out=ups[k])
    last = net.depth - 1
    hulls: list[Any] | None = [None] * net.depth if two_group else None
    flats: list[Any] | None = [None] * net.depth if two_group else None
    # Layer j's bounds, boxes and flat masks are final once layer j + 1 is processed: every
    # pass through j after that shares its per-layer data.
    cache: dict[Any, Any] = {}
    if full:
        for m in range(1, last):
            unstable = ((lows[m] < 0) & (ups[m] > 0)).any(axis=0)
            # Stable active neurons are relaxed exactly whatever their bounds, but their
            # bounds enter every later step: the look-ahead's interval scores, and the boxes
            # of the two-group planes above them. Dead neurons need nothing.
            live = (ups[m] > 0).any(axis=0)
            idx = np.flatnonzero(live)
            if idx.size == 0:
                continue
            R0 = idx.size
            rows = np.concatenate([idx, idx])
            signs = np.concatenate([np.ones(R0), -np.ones(R0)])[None, :].repeat(ball.n, 0)
            low = _best_backward(
                net,
                m,
                ball,
                lows,
                ups,
                rows,
                signs,
                hulls,
                flats=flats,
                sparse=sparse,
                cache=cache,
            )
            if flats is not None:
                full_lo, full_hi = np.full_like(lows[m], np.inf), np.full_like(ups[m], -np.inf)
                full_lo[:, idx], full_hi[:, idx] = low[:, :R0], -low[:, R0:]
                flats[m] = _flat_masks((lows[m], ups[m]), (full_lo, full_hi))
            lows[m][:, idx] = np.maximum(lows[m][:, idx], low[:, :R0])
            ups[m][:, idx] = np.minimum(ups[m][:, idx], -low[:, R0:])
            if hulls is not None:
                hulls[m] = _part_boxes(
                    net, m, ball, lows, ups, hulls, np.flatnonzero(unstable), flats, sparse, cache
                )
    if last == 0:
        # A single affine layer: the set's own concretisation (IBP's layer 0) is exact.
        L0, U0 = lows[0][:, out_rows], ups[0][:, out_rows]
        objective = np.where(out_signs > 0, L0, -U0)
    else:
        objective = _best_backward(
            net,
            last,
            ball,
            lows,
            ups,
            out_rows,
            out_signs,
            hulls,
            flats=flats,
            sparse=sparse,
            cache=cache,
        )
    return lows, ups, objective


def _part_boxes(
    net: ReLUNet,
    m: int,
    ball: LpBall,
    lows: list[np.ndarray],
    ups: list[np.ndarray],
    hulls: list[Any],
    idx: np.ndarray,
    flats: list[Any] | None = None,
    sparse: bool = False,
    cache: dict[Any, Any] | None = None,
) -> tuple[np.ndarray, ...] | None:
    """Sound boxes ``[P_l, P_u] x [Q_l, Q_u]`` (each (n, k_m), NaN off ``idx``) of the parts
    ``P = W_A h_{m-1}``, ``Q = W_B h_{m-1}`` (:func:`two_group_split`) of layer m's neurons
    ``idx`` that are still unstable, by backward passes on those linear forms (on the rows
    of the sign split, ``h >= 0`` gives ``P, Q >= 0``)."""
    split = two_group_split(net, m)
    still = ((lows[m][:, idx] < 0) & (ups[m][:, idx] > 0)).any(axis=0) & ~split.coupled[idx]
    idx = idx[still]
    if idx.size == 0:
        return None
    R0 = idx.size
    floor = np.where(split.nonneg[idx], 0.0, -np.inf)[None, :]
    k = net.layers[m].out_dim
    zeros = np.zeros(2 * R0)
    sg = np.concatenate([np.ones(R0), -np.ones(R0)])[None, :].repeat(ball.n, 0)
    out = []
    for part in (split.WA, split.WB):
        A = part[idx]
        both = sp.vstack([A, A], format="csr") if sp.issparse(A) else np.concatenate([A, A])
        low = _best_backward(
            net,
            m,
            ball,
            lows,
            ups,
            idx,
            sg,
            hulls,
            start=(both, zeros),
            flats=flats,
            sparse=sparse,
            cache=cache,
        )
        lo = np.full((ball.n, k), np.nan)
        hi = np.full((ball.n, k), np.nan)
        lo[:, idx] = np.maximum(low[:, :R0], floor)
        hi[:, idx] = -low[:, R0:]
        out += [lo, hi]
    PL, PU, QL, QU = out
    bad = ~(np.isfinite(PU) & np.isfinite(QU))
    for arr in out:
        arr[bad] = np.nan
    return PL, PU, QL, QU


def _validate_intermediate(intermediate: str) -> bool:
    if intermediate not in _INTERMEDIATE:
        raise InvalidInputError(
            f"intermediate must be one of {_INTERMEDIATE}; got {intermediate!r}"
        )
    return intermediate == "crown"


def _chunks_for(net: ReLUNet, n: int, full: bool, out_rows: int) -> list[tuple[int, int]]:
    per = _point_bytes(net, full, out_rows)
    if per > MEMORY_LIMIT_BYTES:
        hint = (
            ' (try intermediate="ibp" in linear_bounds, or method="crown-ibp" in '
            "margin_lower_bound / output_bounds: only the output layer's rows go backwards)"
            if full
            else ""
        )
        raise ResourceLimitError(
            f"linear bound propagation needs ~{per / 2**30:.1f} GiB of dense backward "
            f"coefficients per point, above MEMORY_LIMIT_BYTES = "
            f"{MEMORY_LIMIT_BYTES / 2**30:.1f} GiB{hint}"
        )
    return batch_chunks(n, per)


def linear_bounds(
    net: ReLUNet,
    ball: LpBall,
    *,
    intermediate: str = "crown",
    two_group: bool = True,
    prior: LayerBounds | None = None,
    sparse: bool = False,
) -> LayerBounds:
    """Sound bounds on every layer's pre-activation by CROWN-style linear propagation.

    ``intermediate="crown"`` (method ``"crown"``): full backward CROWN on every hidden layer
    (for neurons not already stable); ``"ibp"`` (method ``"crown-ibp"``): IBP bounds on the
    hidden layers, CROWN on the output layer. Every bound is intersected with IBP's.
    ``two_group`` (with full intermediates) also bounds the positive and negative parts
    ``P = W⁺h``, ``Q = W⁻h`` of every unstable neuron from layer 1 on and lets each backward
    step use the planes of the two-group hull (:func:`_hull_planes`) where they do better than
    the chord (one-step look-ahead per row); it is never looser than plain CROWN (both are
    computed) and makes max/min trees exact, at about 3-5x the cost. ``prior``: sound bounds
    of every layer over the same sets, known from elsewhere (e.g. separable or look-back
    bounds), intersected with IBP's before the backward passes use them. ``sparse`` (a ball
    of one point only): the backward coefficients are CSR matrices (:mod:`._coef`), which
    costs a tree-structured net's neurons their sub-trees instead of whole layers; the
    bounds are the same (up to the order of floating-point sums).

    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0.0, 0.0]), ([[-1.0, -1.0]], [1.0])])
    >>> lb = linear_bounds(net, LpBall([[0.0]], 1.0, 2))     # 1 - |x| on [-1, 1]: min 0
    >>> -1e-12 < float(lb.lower[-1][0, 0]) <= 0.0
    True
    """
    check_net_ball(net, ball)
    full = _validate_intermediate(intermediate)
    n, out = ball.n, net.out_dim
    total = 16 * n * sum(layer.out_dim for layer in net.layers)
    if total > MEMORY_LIMIT_BYTES:
        raise ResourceLimitError(
            f"bounds on all neurons for {n} points need ~{total / 2**30:.1f} GiB "
            f"(limit {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB); use margin_lower_bound or "
            f"output_bounds, or fewer points"
        )
    if sparse and n != 1:
        raise InvalidInputError(f"sparse linear bounds take a ball of one point; got {n}")
    consts = layer_steps(net)
    prep0 = ball.affine_prep(net.layers[0].W, net.layers[0].b)
    rows = np.concatenate([np.arange(out), np.arange(out)])
    sign_row = np.concatenate([np.ones(out), -np.ones(out)])
    lows = [np.empty((n, layer.out_dim)) for layer in net.layers]
    ups = [np.empty((n, layer.out_dim)) for layer in net.layers]
    for a, b in [(0, 1)] if sparse else _chunks_for(net, n, full, 2 * out):
        sub = ball[a:b]
        signs = np.repeat(sign_row[None, :], b - a, axis=0)
        pri = None
        if prior is not None:
            pri = ([v[a:b] for v in prior.lower], [v[a:b] for v in prior.upper])
        lo_c, up_c, obj = _crown_chunk(
            net,
            sub,
            consts,
            full=full,
            out_rows=rows,
            out_signs=signs,
            prep0=prep0,
            two_group=two_group,
            prior=pri,
            sparse=sparse,
        )
        lo_c[-1] = np.maximum(lo_c[-1], obj[:, :out])
        up_c[-1] = np.minimum(up_c[-1], -obj[:, out:])
        for i in range(net.depth):
            lows[i][a:b] = lo_c[i]
            ups[i][a:b] = up_c[i]
    return LayerBounds(tuple(lows), tuple(ups), "crown" if full else "crown-ibp")


def output_bounds(
    net: ReLUNet, ball: LpBall, *, method: str = "crown", two_group: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Sound ``(lower, upper)`` (n, out_dim) of the output by ``method`` ∈ {ibp, crown, crown-ibp}.

    Keeps only the output layer for the whole batch (hidden-layer bounds live per chunk).
    """
    check_net_ball(net, ball)
    if method not in _METHODS:
        raise InvalidInputError(f"method must be one of {_METHODS}; got {method!r}")
    ibp_lo, ibp_hi = interval_output_bounds(net, ball)
    if method == "ibp":
        return ibp_lo, ibp_hi
    full = method == "crown"
    n, out = ball.n, net.out_dim
    consts = layer_steps(net)
    prep0 = ball.affine_prep(net.layers[0].W, net.layers[0].b)
    rows = np.concatenate([np.arange(out), np.arange(out)])
    sign_row = np.concatenate([np.ones(out), -np.ones(out)])
    lo, hi = ibp_lo.copy(), ibp_hi.copy()
    for a, b in _chunks_for(net, n, full, 2 * out):
        signs = np.repeat(sign_row[None, :], b - a, axis=0)
        _, _, obj = _crown_chunk(
            net,
            ball[a:b],
            consts,
            full=full,
            out_rows=rows,
            out_signs=signs,
            prep0=prep0,
            two_group=two_group,
        )
        lo[a:b] = np.maximum(lo[a:b], obj[:, :out])
        hi[a:b] = np.minimum(hi[a:b], -obj[:, out:])
    return lo, hi


def margin_lower_bound(
    net: ReLUNet, ball: LpBall, y: Any, *, method: str = "crown", two_group: bool = True
) -> np.ndarray:
    """Sound lower bound (n,) on ``min_{x ∈ S_i} y_i f(x)`` for a single-output net.

    ``method``: ``"ibp"``; ``"crown-ibp"`` (IBP intermediate bounds, one backward pass on the
    margin row ``y_i W_L``); ``"crown"`` (full backward CROWN intermediates, then the margin
    row; ``two_group`` as in :func:`linear_bounds`). The CROWN results are intersected with
    IBP's (the larger lower bound is kept).
    A value > 0 certifies robustness of point i (rounding accounted for).

    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0.0, 0.0]), ([[-1.0, -1.0]], [1.0])])
    >>> ball = LpBall([[0.0], [0.0]], [1.0, 0.5], np.inf)
    >>> m = margin_lower_bound(net, ball, [1, 1])     # true minima 0 and 0.5
    >>> bool(m[0] <= 0.0 < 0.49 < m[1] <= 0.5)
    True
    """
    check_net_ball(net, ball)
    if method not in _METHODS:
        raise InvalidInputError(f"method must be one of {_METHODS}; got {method!r}")
    if net.out_dim != 1:
        raise InvalidInputError(
            f"margin_lower_bound needs a single-output net (sign classifier); got "
            f"out_dim = {net.out_dim}"
        )
    yy = as_labels(y, ball.n).astype(np.float64)
    ibp_lo, ibp_hi = interval_output_bounds(net, ball)
    ibp_margin = np.where(yy > 0, ibp_lo[:, 0], -ibp_hi[:, 0])
    if method == "ibp":
        return ibp_margin
    full = method == "crown"
    consts = layer_steps(net)
    prep0 = ball.affine_prep(net.layers[0].W, net.layers[0].b)
    out = ibp_margin.copy()
    rows = np.zeros(1, dtype=np.int64)
    for a, b in _chunks_for(net, ball.n, full, 1):
        _, _, obj = _crown_chunk(
            net,
            ball[a:b],
            consts,
            full=full,
            out_rows=rows,
            out_signs=yy[a:b, None],
            prep0=prep0,
            two_group=two_group,
        )
        out[a:b] = np.maximum(out[a:b], obj[:, 0])
    return out
