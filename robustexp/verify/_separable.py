r"""Sound bounds on *separable* pre-activations over ℓ1, ℓ2 and ℓ∞ balls, by Lagrangian duality.

**Separable rows.** Give every unit of a :class:`~robustexp.network.ReLUNet` its *input
support*: the input coordinates it depends on through nonzero weights (a row of layer 0
reads the columns where ``W_0`` is nonzero; a unit of layer ``l ≥ 1`` the union of the
supports of the units it reads). Only three cases matter, so a label per unit suffices:
``j`` (support exactly ``{j}``), ``CONSTANT`` (empty support: the unit is a constant) and
``MIXED`` (two or more coordinates). A pre-activation row ``t`` of layer ``m``
(``z_m = W_m h_{m-1} + b_m``) is *separable* when no unit it reads is ``MIXED``; every row of
layer 0 is (it is affine). Then

    z_t(x) = κ_t + Σ_j g_{t,j}(x_j),

where ``g_{t,j}`` is computed by the units of row t's cone labelled ``j`` (a unit labelled j
reads only units labelled j or ``CONSTANT``, so this 1-D sub-network computes exactly the
unit's value) and ``κ_t = b_t + Σ_{u constant} W_tu h_u`` is a constant.

**Lagrangian bound.** Over ``S = {x : ‖x − c‖_p ≤ r} ∩ [lo, hi]`` with outer coordinate
intervals ``I_j ⊇ {x_j : x ∈ S}``, for every λ ≥ 0 (weak duality: on S the added term
``λ(r^p − Σ_j |x_j − c_j|^p)`` is ≥ 0)

    max_{x ∈ S} z_t(x) ≤ κ_t + λ r^p + Σ_j max_{τ ∈ I_j} (g_{t,j}(τ) − λ |τ − c_j|^p),  p ∈ {1, 2},

and for p = ∞ (S is the box Π_j I_j) ``max z_t = κ_t + Σ_j max_{I_j} g_{t,j}`` exactly. The
right-hand side is convex in λ; λ is chosen by a bisection on its subgradient
``r^p − Σ_j |τ*_j − c_j|^p`` in floating point (any λ ≥ 0 is sound, so only the final
evaluation must be). Lower bounds are upper bounds of ``−z_t``. For ``‖x − c‖₂ ≤ r`` and
``z = Σ_j (x_j − c_j)²`` this gives ``r²`` (λ = 1), where any bound valid on the box
``[c − r, c + r]`` (IBP, CROWN's relaxations) is ``≈ d r²``.

**The 1-D problems, soundly.** Each ``I_j`` is cut into sub-intervals ``J = [τ_lo, τ_hi]``
(float ends, covering ``I_j``). On ``J ⊆ [μ − ρ, μ + ρ]`` every unit of the 1-D sub-network
is enclosed by a first-order form

    v(τ) ∈ α (τ − μ) + β ± e     for all τ ∈ [μ − ρ, μ + ρ]      (α, β floats, e ≥ 0),

propagated forward (an affine-arithmetic / DeepZ-style transformer with one noise symbol per
coordinate and the rest collected in ``e``):

* input: ``τ = 1·(τ − μ) + μ ± 0``;
* affine ``z = Σ_u w_u v_u + b``: ``α' = fl(Σ w α)``, ``β' = fl(Σ w β + b)`` and, by (E1) of
  :mod:`~robustexp.verify._numerics` with ``n`` terms and ``γ = γ_{n+1}``,
  ``e' ≥ Σ |w| (e + γ ρ |α| + γ |β|) + γ |b| + 2(n + 1)η(1 + ρ)`` (rounded up by (E2) and
  item 4);
* ReLU: with ``[L, U] ∋ z`` (``β ∓ (|α| ρ + e)`` rounded outward), the identity if ``L ≥ 0``,
  zero if ``U ≤ 0``, else for the float slope ``s = U/(U − L) ∈ [0, 1]`` (any s in [0, 1] is
  sound) ``σ(z) − s z ∈ [0, M]``, ``M ≥ max(−s L, (1 − s) U)`` (σ(z) − sz is convex on
  [L, U], 0 at 0), so ``σ(z) ∈ s α (τ − μ) + (s β + M/2) ± (s e + M/2)``; with
  ``α' = fl(sα)``, ``p = fl(sβ)``, ``q = M/2``, ``β' = fl(p + q)`` the rounding adds at most
  ``2uρ|α'| + 3u|p| + u q + (5 + 2ρ)η`` to the remainder, so
  ``e' ≥ s e + (1 + u) q + 2uρ|α'| + 3u|p| + (5 + 2ρ)η``.

On a sub-interval where no unit changes sign the form is exact up to rounding. Elsewhere
the sub-interval is cut (adaptive refinement, ``REFINE_ROUNDS`` rounds, at most
``MAX_PIECES`` pieces per coordinate interval) at the zero crossing ``μ − β/α`` of an unstable
unit of the lowest layer that has one (its form is exact, so after the cut that unit is
stable and the layer above becomes exact in turn), or in the middle if that crossing is not
inside; so the pieces converge to the linear pieces of ``g_{t,j}`` within a few rounds. The
cutting is a heuristic only: soundness never depends on where the cuts are.

The maximum of ``α(τ − μ) + β + e − λ|τ − c|^p`` over ``J`` (concave in τ) is bounded with
directed rounding: p = 1 at ``τ_lo``, ``τ_hi`` and ``c`` (if in J); p = 2 at ``τ_hi``
(``τ_lo``) if the derivative ``α − 2λ(τ − c)`` is certainly ≥ 0 (≤ 0) on J, else by the
unconstrained maximum ``α(c − μ) + β + e + α²/(4λ)``; p = ∞ (λ = 0) at the ends. The final
sum of the per-coordinate maxima, ``κ_t`` and ``λ r^p`` is rounded up by (E1)/(E2). So every
returned bound is a sound bound of the real-valued net with the stored float64 weights.

**Exact alternative.** :func:`_separable_bounds_exact` computes the same Lagrangian bound
from the exact rational pieces of every ``g_{t,j}`` (:func:`~robustexp.network._pwl1d.
piecewise_linear_1d`) in Fractions. It is the tightest value of the method and serves as a
cross-check: the float forms agree with it to ~1e-14 relative, at 10-20x less time (ℓ2
memorizer, d = 64: about 0.05 s against 0.6-1 s per row and point).

**Where it applies.** In the bump memorizers (ℓ2 Yarotsky ŝ_i, ℓ1 and other sums of
per-coordinate gadgets) the distance rows ``ŝ_i`` (the layer just before the plateau
bumps) are separable. The plateau rows ``B − σ(ŝ_i)``, ``A − σ(ŝ_i)`` read one unit of support
``{1..d}`` and are not; their bounds follow from those of ``ŝ_i`` by monotonicity (one interval
step).

**Shared classes, settled rows, the coarse grid.** Pairs that compute the same function
on the same coordinate (:mod:`._shared_pairs`: exact unit signatures) form one *class*: the
forms, pieces and refinement above are computed once per class and query (chunked by
classes, :func:`_bound_shared`), and only the λ search and the final sum are per row (chunked
by rows; when the unshared rows fit one chunk, the bounds are identical to the bit). A
class's refinement tolerance is the smallest over the rows that use it. The box bound
(λ = 0) is computed first, once per class; a row whose box bounds already reach the
caller's ``enough`` skips the λ search. In the coarse pass over shared classes every row
tries the same grid of λ (``COARSE_LAMBDAS``, each 1-D maximum once per class and λ), and a
row whose grid value a convexity bound cannot show close to the best λ (:func:`_grid_gap`)
gets the per-row search.
Each of these only chooses where to spend work: every value returned is a sound dual.

Supports are computed once per net (cached in a ``WeakKeyDictionary``) in O(nnz) per layer:
a unit's label is decided from the minimum and maximum coordinate labels of its inputs.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError
from robustexp.network import ReLUNet
from robustexp.verify._numerics import (
    ETA,
    U,
    abs_sum_error_bound,
    add_up,
    div_up,
    gamma,
    mul_down,
    mul_up,
    outward_lower_inplace,
    outward_upper_inplace,
    sub_down,
    sub_up,
    true_sum_upper,
    upper_combination,
)
from robustexp.verify._sets import LpBall
from robustexp.verify._shared_pairs import PairClasses, pair_classes

__all__ = ["multi_coordinate_rows", "separable_bounds", "separable_rows"]

#: Unit labels besides the coordinate index j >= 0.
CONSTANT = -1
MIXED = -2

#: Uniform sub-intervals per coordinate interval at the start (plus a cut at the centre).
INITIAL_PIECES = 16
#: At most this many sub-intervals per coordinate interval after refinement.
MAX_PIECES = 256
#: Refinement rounds (each may at most double a coordinate's sub-intervals).
REFINE_ROUNDS = 8
#: A sub-interval is cut while its remainder exceeds this times (1 + the row's magnitude)
#: divided by the row's number of coordinates.
REFINE_TOLERANCE = 1e-9
#: Bound each class of identical 1-D sub-networks once (:mod:`._shared_pairs`).
SHARE_PAIRS = True
#: Work memory per chunk of rows and points (forms of every unit of the cones).
WORK_BUDGET_BYTES = 256 * 2**20
#: float64 arrays of (units x columns) alive at the peak of a forward step.
_LIVE_ARRAYS = 12

_ETA_F = Fraction(ETA)
_U_F = Fraction(U)
_LAMBDA_MIN = 1e-300
_LAMBDA_MAX = 1e300
#: Bisection steps on log λ after the bracket (a factor 16 shrinks to 16^(2^-44): λ to ~2e-13
#: relative; fewer steps leave the ℓ2 dual ~1e-10 above its minimum; any λ is sound).
_BISECTIONS = 44
#: Bisection steps of a coarse pass (λ to ~2e-4 relative: the dual within ~1e-4 r^p of
#: its minimum, enough to prove far gadgets dead).
COARSE_BISECTIONS = 12
#: The coarse pass over shared classes tries these λ for every row (:func:`_grid_duals`)
#: instead of a search per row, when that is cheaper: ``Q · len(COARSE_LAMBDAS) <=
#: COARSE_GRID_RATIO · P`` (Q classes, P pairs; a search costs ~20 evaluations per pair).
COARSE_LAMBDAS = 2.0 ** np.arange(-20.0, 20.25, 0.5)
COARSE_GRID_RATIO = 20
#: A row keeps its grid bound when the grid's gap bound (:func:`_grid_gap`) is at most this
#: fraction of the bound's size (plus ``_GAP_FLOOR``); otherwise it gets the per-row search.
COARSE_GRID_SLACK = 0.1
_GAP_FLOOR = 1e-12
_GRID_BLOCK_ELEMENTS = 2_000_000
#: Relaxation heights below this fraction of the pre-activation's size are rounding noise.
_NOISE = 1e-12


# =========================================================================== supports
def _nonzero_csr(W: Any) -> sp.csr_array:
    """``W`` as canonical CSR without explicitly stored zeros (a new object, W untouched)."""
    if not sp.issparse(W):
        return sp.csr_array(np.asarray(W, dtype=np.float64))
    keep = W.data != 0
    if keep.all():
        return sp.csr_array((W.data, W.indices, W.indptr), shape=W.shape)
    owner = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    counts = np.bincount(owner[keep], minlength=W.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_array((W.data[keep], W.indices[keep], indptr), shape=W.shape)


def _row_labels(W: sp.csr_array, prev: np.ndarray) -> np.ndarray:
    """Labels of the rows of a nonzero-only CSR ``W`` whose columns carry labels ``prev``."""
    k = W.shape[0]
    out = np.full(k, CONSTANT, dtype=np.int64)
    counts = np.diff(W.indptr)
    nz = counts > 0
    if not nz.any():
        return out
    lab = prev[W.indices]
    starts = W.indptr[:-1][nz]
    big = np.iinfo(np.int64).max
    mixed = np.maximum.reduceat((lab == MIXED).astype(np.int8), starts) > 0
    lo = np.minimum.reduceat(np.where(lab >= 0, lab, big), starts)
    hi = np.maximum.reduceat(np.where(lab >= 0, lab, -1), starts)
    lab_nz = np.where(hi < 0, CONSTANT, np.where(lo == hi, lo, MIXED))
    out[nz] = np.where(mixed, MIXED, lab_nz)
    return out


_LABELS: weakref.WeakKeyDictionary[ReLUNet, list[np.ndarray]] = weakref.WeakKeyDictionary()


def _labels(net: ReLUNet) -> list[np.ndarray]:
    """Support label of every unit of every layer (cached per net; nets are immutable)."""
    cached = _LABELS.get(net)
    if cached is not None:
        return cached
    prev = np.arange(net.in_dim, dtype=np.int64)
    out = []
    for layer in net.layers:
        prev = _row_labels(_nonzero_csr(layer.W), prev)
        prev.setflags(write=False)
        out.append(prev)
    _LABELS[net] = out
    return out


#: Cached cones of one net hold at most this many units in all (then the cache restarts).
CONE_CACHE_UNITS = 20_000_000


@dataclass
class _ConeCache:
    """Ball-independent structure of one net, reused by every query on it: the weight
    patterns per layer, and per (layer, rows) the cone sizes and the built cones."""

    patterns: dict[int, list[sp.csr_array]]
    sizes: dict[tuple[int, bytes], np.ndarray]
    cones: dict[tuple, Any]  # _Cone by (layer, rows); _ClassRun, κ forms by (layer, rows, tag)
    classes: dict[tuple[int, bytes], tuple[PairClasses, np.ndarray]]
    units: int = 0


_CONES: weakref.WeakKeyDictionary[ReLUNet, _ConeCache] = weakref.WeakKeyDictionary()


def _cone_cache(net: ReLUNet) -> _ConeCache:
    cache = _CONES.get(net)
    if cache is None:
        cache = _CONES[net] = _ConeCache({}, {}, {}, {})
    return cache


def _cached_patterns(net: ReLUNet, layer: int) -> list[sp.csr_array]:
    cache = _cone_cache(net)
    if layer not in cache.patterns:
        cache.patterns[layer] = _patterns(net, layer)
    return cache.patterns[layer]


def _cached_sizes(net: ReLUNet, layer: int, rows: np.ndarray) -> np.ndarray:
    """Units of every row's cone (layers below ``layer``), cached per net and rows."""
    cache, key = _cone_cache(net), (layer, rows.tobytes())
    if key not in cache.sizes:
        pats = _cached_patterns(net, layer)
        cache.sizes[key] = _cone_units(pats, layer, _top_rows(pats[layer], rows))[1]
    return cache.sizes[key]


def _cached_cone(net: ReLUNet, layer: int, rows: np.ndarray) -> _Cone:
    """:func:`_build_cone`, cached per net and rows (a net's queries bound the same rows)."""
    cache, key = _cone_cache(net), (layer, rows.tobytes())
    cone = cache.cones.get(key)
    if cone is None:
        cone = _build_cone(net, layer, rows, _cached_patterns(net, layer))
        _cache_store(cache, key, cone, cone.units)
    return cone


def _cache_store(cache: _ConeCache, key: tuple, value: Any, units: int) -> None:
    """Keep ``value`` (a cone of ``units`` units) under ``key``; a cache that would exceed
    ``CONE_CACHE_UNITS`` restarts empty first."""
    if cache.units + units > CONE_CACHE_UNITS:
        cache.cones.clear()
        cache.sizes.clear()
        cache.classes.clear()
        cache.units = 0
    cache.cones[key] = value
    cache.units += units


def separable_rows(net: ReLUNet, layer: int) -> np.ndarray:
    """Bool (k_layer,): which pre-activation rows of ``layer`` are separable.

    Row t of layer m ≥ 1 is separable when no unit of layer m − 1 it reads with a nonzero
    weight depends on two or more input coordinates; every row of layer 0 is. O(nnz).

    >>> net = ReLUNet.from_layers([([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.0, 0.0, 0.0]),
    ...                            ([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]], [0.0, 0.0])])
    >>> separable_rows(net, 1).tolist()
    [True, False]
    """
    m = _check_layer(net, layer)
    if m == 0:
        return np.ones(net.layers[0].out_dim, dtype=bool)
    prev = _labels(net)[m - 1]
    W = _nonzero_csr(net.layers[m].W)
    bad = np.zeros(W.shape[0], dtype=bool)
    if W.nnz:
        counts = np.diff(W.indptr)
        nz = counts > 0
        bad[nz] = (
            np.maximum.reduceat((prev[W.indices] == MIXED).astype(np.int8), W.indptr[:-1][nz]) > 0
        )
    return ~bad


def multi_coordinate_rows(net: ReLUNet, layer: int) -> np.ndarray:
    """Bool (k_layer,): the separable rows of ``layer`` that are sums over two or more
    coordinates (label ``MIXED``): the rows worth a separable pass (a row of one coordinate
    is bounded on its coordinate interval by the other passes as well, and costs as much).

    >>> net = ReLUNet.from_layers([([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.0, 0.0, 0.0]),
    ...                            ([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], [0.0, 0.0])])
    >>> multi_coordinate_rows(net, 1).tolist()   # x1 + x2 is; x1 alone is not
    [True, False]
    """
    m = _check_layer(net, layer)
    return (_labels(net)[m] == MIXED) & separable_rows(net, m)


def _check_layer(net: Any, layer: Any) -> int:
    if not isinstance(net, ReLUNet):
        raise InvalidInputError(f"net must be a ReLUNet; got {type(net).__name__}")
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise InvalidInputError(f"layer must be an int; got {layer!r}")
    if not 0 <= int(layer) < net.depth:
        raise InvalidInputError(f"layer must be in [0, {net.depth}); got {layer}")
    return int(layer)


# =========================================================================== cones
@dataclass(frozen=True, eq=False)
class _Cone:
    """The 1-D sub-networks of a group of separable rows, side by side.

    Units are duplicated per row (a unit read by two rows appears twice), so every
    non-constant unit belongs to exactly one *pair* (row, coordinate). ``hidden[l]`` maps the
    units of layer ``l - 1`` (the P pair inputs for l = 0) to those of layer l;
    ``out`` maps the last ones to the P pair outputs g_{t,j} followed by the R constants κ_t.
    """

    rows: np.ndarray  # (R,) rows of the layer
    pair_row: np.ndarray  # (P,) local row index, sorted
    pair_coord: np.ndarray  # (P,)
    hidden: tuple[tuple[sp.csr_array, np.ndarray, np.ndarray, np.ndarray], ...]  # W, b, pair, row
    out_W: sp.csr_array
    out_b: np.ndarray

    @property
    def R(self) -> int:
        return int(self.rows.size)

    @property
    def P(self) -> int:
        return int(self.pair_row.size)

    @property
    def units(self) -> int:
        return self.P + sum(h[0].shape[0] for h in self.hidden)


def _expand_rows(W: sp.csr_array, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position): for the rows ``sel`` of W, every stored entry's index in ``sel``
    and its position in ``W.indices``/``W.data``, in CSR order."""
    counts = (W.indptr[sel + 1] - W.indptr[sel]).astype(np.int64)
    total = int(counts.sum())
    owner = np.repeat(np.arange(sel.size), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.repeat(W.indptr[sel].astype(np.int64) - starts, counts) + np.arange(total)
    return owner, pos


def _cone_units(
    pats: list[sp.csr_array], layer: int, top: sp.csr_array
) -> tuple[list[sp.csr_array], np.ndarray]:
    """Per layer l < ``layer``: the (R x k_l) pattern of the cone of each row of ``top`` (rows
    over the units of layer ``layer - 1``: the units a row reads through nonzero weights,
    transitively); and the number of cone units of every row."""
    R = top.shape[0]
    C = sp.csr_array((np.ones(top.nnz, dtype=np.int8), top.indices, top.indptr), shape=top.shape)
    cones: list[sp.csr_array] = [None] * layer  # type: ignore[list-item]
    sizes = np.zeros(R, dtype=np.int64)
    for lay in range(layer - 1, -1, -1):
        C.sort_indices()
        cones[lay] = C
        sizes += np.diff(C.indptr)
        if lay == 0:
            break
        pat = pats[lay]
        ones = sp.csr_array((np.ones(pat.nnz, dtype=np.int8), pat.indices, pat.indptr), pat.shape)
        nxt = sp.csr_array(C.astype(np.int32) @ ones.astype(np.int32))
        nxt.data = np.ones(nxt.nnz, dtype=np.int8)
        nxt.eliminate_zeros()
        C = nxt
    return cones, sizes


def _patterns(net: ReLUNet, layer: int) -> list[sp.csr_array]:
    """The weights of layers 0..layer as CSR without stored zeros."""
    return [_nonzero_csr(net.layers[lay].W) for lay in range(layer + 1)]


def _top_rows(W: sp.csr_array, rows: np.ndarray) -> sp.csr_array:
    """The rows ``rows`` of a CSR matrix, as CSR with sorted indices."""
    top = sp.csr_array(W[rows])
    top.sort_indices()
    return top


def _build_cone(
    net: ReLUNet, layer: int, rows: np.ndarray, pats: list[sp.csr_array] | None = None
) -> _Cone:
    """The duplicated 1-D sub-networks of the (separable) ``rows`` of ``layer``."""
    pats = pats if pats is not None else _patterns(net, layer)
    top = _top_rows(pats[layer], rows)
    return _cone_of_top(net, layer, top, net.layers[layer].b[rows], pats, rows)


def _cone_of_top(
    net: ReLUNet,
    layer: int,
    top: sp.csr_array,
    b_top: np.ndarray,
    pats: list[sp.csr_array],
    rows: np.ndarray,
) -> _Cone:
    """The duplicated 1-D sub-networks of the rows ``top x + b_top`` (``top``: CSR with sorted
    indices and no stored zeros, over the units of layer ``layer - 1``, or over the input at
    layer 0; every row separable); ``rows`` is only recorded."""
    labels = _labels(net)
    d = net.in_dim
    R = top.shape[0]
    if layer == 0:
        owner, pos = _expand_rows(top, np.arange(R))
        keys = owner * d + top.indices[pos].astype(np.int64)  # sorted (CSR order)
        pair_row, pair_coord = owner, top.indices[pos].astype(np.int64)
        P = keys.size
        out_W = sp.csr_array(
            (top.data[pos], np.arange(P), np.concatenate([np.arange(P + 1), np.full(R, P)])),
            shape=(P + R, P),
        )
        out_b = np.concatenate([np.zeros(P), b_top])
        return _Cone(rows, pair_row, pair_coord, (), out_W, out_b)
    cones, _ = _cone_units(pats, layer, top)
    # unit keys (row * width + unit) per layer, sorted, and their labels
    keys: list[np.ndarray] = []
    unit_row: list[np.ndarray] = []
    unit_lab: list[np.ndarray] = []
    for lay in range(layer):
        C = cones[lay]
        r = np.repeat(np.arange(R, dtype=np.int64), np.diff(C.indptr))
        u = C.indices.astype(np.int64)
        keys.append(r * net.layers[lay].out_dim + u)
        unit_row.append(r)
        unit_lab.append(labels[lay][u])
    # pairs from the first layer's non-constant units
    lab0 = unit_lab[0]
    pk = np.unique(unit_row[0][lab0 >= 0] * d + lab0[lab0 >= 0])
    pair_row, pair_coord = pk // d, pk % d
    P = pk.size

    def pair_of(r: np.ndarray, lab: np.ndarray) -> np.ndarray:
        out = np.full(r.size, -1, dtype=np.int64)
        ok = lab >= 0
        out[ok] = np.searchsorted(pk, r[ok] * d + lab[ok])
        return out

    hidden = []
    # layer 0: unit (r, v) labelled j reads pair (r, j) with weight W_0[v, j]
    W0 = pats[0]
    u0 = cones[0].indices.astype(np.int64)
    ok = lab0 >= 0
    rows0 = np.flatnonzero(ok)
    cols0 = pair_of(unit_row[0][ok], lab0[ok])
    vals0 = W0.data[W0.indptr[u0[ok]]]
    M0 = sp.csr_array((vals0, (rows0, cols0)), shape=(u0.size, P))
    hidden.append((M0, net.layers[0].b[u0], pair_of(unit_row[0], lab0), unit_row[0]))
    for lay in range(1, layer):
        Wl = pats[lay]
        u = cones[lay].indices.astype(np.int64)
        owner, pos = _expand_rows(Wl, u)
        k_prev = net.layers[lay - 1].out_dim
        qk = unit_row[lay][owner] * k_prev + Wl.indices[pos].astype(np.int64)
        cols = np.searchsorted(keys[lay - 1], qk)
        counts = np.bincount(owner, minlength=u.size)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        Ml = sp.csr_array((Wl.data[pos], cols, indptr), shape=(u.size, keys[lay - 1].size))
        hidden.append(
            (Ml, net.layers[lay].b[u], pair_of(unit_row[lay], unit_lab[lay]), unit_row[lay])
        )
    # output: row r's entries go to pair (r, label) or to the constant row P + r
    owner, pos = _expand_rows(top, np.arange(R))
    k_prev = net.layers[layer - 1].out_dim
    src = top.indices[pos].astype(np.int64)
    cols = np.searchsorted(keys[layer - 1], owner * k_prev + src)
    lab = labels[layer - 1][src]
    orow = np.where(lab >= 0, pair_of(owner, lab), P + owner)
    out_W = sp.csr_array((top.data[pos], (orow, cols)), shape=(P + R, keys[layer - 1].size))
    out_b = np.concatenate([np.zeros(P), b_top])
    return _Cone(rows, pair_row, pair_coord, tuple(hidden), out_W, out_b)


# =========================================================================== forms
def _affine_step(
    W: sp.csr_array,
    b: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    E: np.ndarray,
    rho: np.ndarray,
    rho_max: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forms of ``W v + b`` from the forms (A, B, E) of v, ρ per input unit (module doc)."""
    n = int(np.diff(W.indptr).max(initial=0))
    g = gamma(n + 1)
    absW = abs(W)
    A2 = np.asarray(W @ A, dtype=np.float64)
    B2 = np.asarray(W @ B, dtype=np.float64)
    B2 += b[:, None]
    V = upper_combination([(1, E), (g, rho * np.abs(A)), (g, np.abs(B))])
    S = true_sum_upper(np.asarray(absW @ V, dtype=np.float64), max(n, 1))
    const = 2 * (n + 1) * _ETA_F * (1 + Fraction(rho_max))
    E2 = upper_combination([(1, S), (g, np.abs(b)[:, None])], const)
    return A2, B2, E2


def _relu_step(
    A: np.ndarray, B: np.ndarray, E: np.ndarray, rho: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forms of ``σ(z)`` from the forms of z (module docstring), and the relaxation height
    ``M`` of every unstable unit (0 elsewhere): where refinement should cut.

    ``rad ≥ |α|ρ + e`` by item 4; ``L``, ``U`` are one rounding of ``β ∓ rad`` made outward by
    :func:`outward_lower_inplace` / :func:`outward_upper_inplace`."""
    rad = upper_combination([(1, rho * np.abs(A)), (1, E)])
    L = outward_lower_inplace(B - rad)
    Up = outward_upper_inplace(B + rad)
    dead = Up <= 0
    unst = (L < 0) & ~dead
    H = np.zeros_like(A)
    if not unst.any() and not dead.any():
        return A, B, E, H
    A, B, E = (np.where(dead, 0.0, X) for X in (A, B, E))
    idx = np.nonzero(unst)
    if idx[0].size == 0:
        return A, B, E, H
    lo, hi, a, b, e, r = L[idx], Up[idx], A[idx], B[idx], E[idx], rho[idx]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.clip(hi / (hi - lo), 0.0, 1.0)
    s = np.where(np.isfinite(s), s, 0.5)
    M = np.maximum(mul_up(s, -lo), mul_up(sub_up(1.0, s), hi))
    q = M * 0.5
    a2 = s * a
    p = s * b
    e2 = upper_combination(
        [
            (1, s * e),
            (1 + _U_F, q),
            (2 * _U_F, r * np.abs(a2)),
            (3 * _U_F, np.abs(p)),
            (2 * _ETA_F, r),
        ],
        5 * _ETA_F,
    )
    A[idx], B[idx], E[idx], H[idx] = a2, p + q, e2, M
    return A, B, E, H


def _forward(
    cone: _Cone, M: np.ndarray, RHO: np.ndarray, cuts: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forms (P + R, C) of the pair outputs and the constants; M, RHO (P, C) the centres and
    half-widths of each pair's sub-intervals (C columns). Also, per pair and column, the
    zero crossing of the unstable unit with the largest relaxation height (NaN if none, and
    everywhere when ``cuts`` is False: no refinement follows)."""
    rho_max = float(RHO.max(initial=0.0))
    A = np.ones_like(M)
    B = M.copy()
    E = np.zeros_like(M)
    rho = RHO
    best = np.zeros_like(M)
    cross = np.full_like(M, np.nan)
    for W, b, upair, _ in cone.hidden:
        A, B, E = _affine_step(W, b, A, B, E, rho, rho_max)
        if RHO.shape[0]:
            rho = np.where((upair >= 0)[:, None], RHO[np.maximum(upair, 0)], 0.0)
        else:  # no pairs: every unit is a constant
            rho = np.zeros_like(A)
        A0, B0 = A, B
        A, B, E, H = _relu_step(A, B, E, rho)
        if not cuts:
            continue
        # a relaxation at the rounding level is not worth a cut
        H = np.where(_NOISE * (np.abs(A0) * rho + np.abs(B0)) < H, H, 0.0)
        sel = np.flatnonzero((upair >= 0) & (H > 0).any(axis=1))
        if sel.size:
            _note_crossings(best, cross, upair[sel], H[sel], A0[sel], B0[sel], M)
    A, B, E = _affine_step(cone.out_W, cone.out_b, A, B, E, rho, rho_max)
    return A, B, E, cross


def _note_crossings(
    best: np.ndarray,
    cross: np.ndarray,
    upair: np.ndarray,
    H: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    M: np.ndarray,
) -> None:
    """Record, per pair and column not yet holding one, the crossing ``μ − B/A`` of the unit
    with the largest H: the lowest layer with a real relaxation wins (its form is the most
    accurate, and cutting there makes the layers above exact in turn)."""
    order = np.argsort(upair, kind="stable")
    up = upair[order]
    starts = np.flatnonzero(np.concatenate([[True], up[1:] != up[:-1]]))
    pairs = up[starts]
    Hs = H[order]
    gmax = np.maximum.reduceat(Hs, starts, axis=0)
    counts = np.diff(np.concatenate([starts, [up.size]]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t0 = M[up] - B[order] / A[order]
    t0 = np.where((Hs == np.repeat(gmax, counts, axis=0)) & np.isfinite(t0), t0, -np.inf)
    gt = np.maximum.reduceat(t0, starts, axis=0)
    better = (best[pairs] == 0) & (gmax > 0) & np.isfinite(gt)
    best[pairs] = np.where(better, gmax, best[pairs])
    cross[pairs] = np.where(better, gt, cross[pairs])


# =========================================================================== 1-D maxima
def _float_max(
    A: np.ndarray,
    B: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mu: np.ndarray,
    c: np.ndarray,
    lam: np.ndarray,
    p: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Float ``(max, argmax)`` of ``A(τ − μ) + B − λ|τ − c|^p`` over ``[lo, hi]`` (heuristic)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_lin = np.where(A >= 0, hi, lo)
        if p == 2.0:
            t = np.clip(c + A / (2.0 * lam), lo, hi)
            t = np.where(lam > 0, t, t_lin)
            val = A * (t - mu) + B - lam * (t - c) ** 2
        elif p == 1.0:  # the ends or c: the first largest of the three (no stacked copies)
            t, val = lo, A * (lo - mu) + B - lam * np.abs(lo - c)
            for x in (hi, np.clip(c, lo, hi)):
                v = A * (x - mu) + B - lam * np.abs(x - c)
                better = v > val
                t, val = np.where(better, x, t), np.where(better, v, val)
        else:
            t = t_lin
            val = A * (t - mu) + B
    return np.where(np.isfinite(val), val, np.inf), t


def _sound_max(
    A: np.ndarray,
    B: np.ndarray,
    E: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    mu: np.ndarray,
    c: np.ndarray,
    lam: np.ndarray,
    p: float,
) -> np.ndarray:
    """A float ``≥ max_{τ ∈ [lo, hi]} A(τ − μ) + B + E − λ|τ − c|^p`` (module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base = add_up(B, E)

        def lin_up(t: np.ndarray) -> np.ndarray:  # ≥ A (t − μ)
            return np.maximum(mul_up(A, sub_down(t, mu)), mul_up(A, sub_up(t, mu)))

        def pen_down(t: np.ndarray) -> np.ndarray:  # ≤ λ |t − c|^p
            dist = np.maximum(np.maximum(sub_down(t, c), sub_down(c, t)), 0.0)
            if p == 2.0:
                dist = np.maximum(mul_down(dist, dist), 0.0)
            return np.maximum(mul_down(lam, dist), 0.0)

        f_lo = sub_up(add_up(lin_up(lo), base), pen_down(lo))
        f_hi = sub_up(add_up(lin_up(hi), base), pen_down(hi))
        ends = np.maximum(f_lo, f_hi)
        if p == 1.0:
            inside = (lo <= c) & (c <= hi)
            return np.where(inside, np.maximum(ends, add_up(lin_up(c), base)), ends)
        if p != 2.0:
            return ends
        pos = lam > 0
        lam_s = np.where(pos, lam, 1.0)
        vertex = add_up(add_up(lin_up(c), base), div_up(mul_up(A, A), 4.0 * lam_s))
        inc = mul_up(2.0 * lam_s, sub_up(hi, c)) <= A  # α − 2λ(τ − c) ≥ 0 on [lo, hi]
        dec = mul_down(2.0 * lam_s, sub_down(lo, c)) >= A  # ≤ 0 on [lo, hi]
        res = np.where(inc, f_hi, np.where(dec, f_lo, vertex))
        out = np.where(pos, res, ends)
    return np.where(np.isnan(out), np.inf, out)


# =========================================================================== one chunk
def _segments(pair_row: np.ndarray, R: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(pair_row, minlength=R)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return starts, counts


def _row_sum(X: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums over each row's pairs: X (P, ...) -> (R, ...) (0 for a row without pairs)."""
    out = np.zeros((counts.size, *X.shape[1:]))
    nz = counts > 0
    if nz.any():
        out[nz] = np.add.reduceat(X, starts[nz], axis=0)
    return out


def _grid(lo: np.ndarray, hi: np.ndarray, c: np.ndarray, K: int) -> np.ndarray:
    """Initial cuts (P, n, K + 2): K uniform pieces of [lo, hi] and a cut at c if inside."""
    f = np.arange(K + 1) / K
    T = lo[..., None] + (hi - lo)[..., None] * f
    T[..., 0], T[..., -1] = lo, hi
    cc = np.where((lo < c) & (c < hi), c, hi)
    T = np.concatenate([T, cc[..., None]], axis=-1)
    T.sort(axis=-1)
    return T


def _choose_lambda(
    forms: tuple[np.ndarray, ...],
    geo: tuple[np.ndarray, ...],
    Rp: np.ndarray,
    seg: tuple[np.ndarray, np.ndarray],
    pair_row: np.ndarray,
    p: float,
    bisections: int = _BISECTIONS,
) -> np.ndarray:
    """λ (R, n) approximately minimising the dual (bisection on its subgradient, in log λ)."""
    A, B, E = forms
    lo, hi, mu, c = geo
    R = seg[1].size
    n = Rp.size
    if np.isinf(p):
        return np.zeros((R, n))
    BE = B + E

    def slack(lam: np.ndarray) -> np.ndarray:
        lp = lam[pair_row][..., None]  # (P, n, 1)
        val, t = _float_max(A, BE, lo, hi, mu, c[..., None], lp, p)
        k = np.argmax(val, axis=-1)[..., None]
        ts = np.take_along_axis(t, k, axis=-1)[..., 0]
        used = np.abs(ts - c) ** p
        return Rp[None, :] - _row_sum(used, *seg)

    zero = np.zeros((R, n))
    done = slack(zero) >= 0
    hi_l = np.ones((R, n))
    for _ in range(70):
        need = ~done & (slack(hi_l) < 0) & (hi_l < _LAMBDA_MAX)
        if not need.any():
            break
        hi_l = np.where(need, hi_l * 16.0, hi_l)
    lo_l = hi_l.copy()
    for _ in range(70):
        need = ~done & (slack(lo_l) >= 0) & (lo_l > _LAMBDA_MIN)
        if not need.any():
            break
        lo_l = np.where(need, lo_l / 16.0, lo_l)
    for _ in range(bisections):
        mid = np.sqrt(lo_l * hi_l)
        neg = slack(mid) < 0
        lo_l = np.where(neg, mid, lo_l)
        hi_l = np.where(neg, hi_l, mid)
    return np.where(done, 0.0, hi_l)


def _sound_total(
    forms: tuple[np.ndarray, ...],
    geo: tuple[np.ndarray, ...],
    kappa_up: np.ndarray,
    lam: np.ndarray,
    Rp_up: np.ndarray,
    seg: tuple[np.ndarray, np.ndarray],
    pair_row: np.ndarray,
    p: float,
) -> np.ndarray:
    """Sound upper bound (R, n) of the dual at λ (R, n)."""
    A, B, E = forms
    lo, hi, mu, c = geo
    if np.isinf(p):
        lam = np.zeros_like(lam)  # no ball constraint beyond the box
    lp = lam[pair_row][..., None]
    G = _sound_max(A, B, E, lo, hi, mu, c[..., None], lp, p).max(axis=-1)  # (P, n)
    lamR = mul_up(lam, Rp_up[None, :]) if not np.isinf(p) else np.zeros_like(lam)
    return _sound_sum(G, kappa_up, np.maximum(lamR, 0.0), seg)


def _sound_sum(
    G: np.ndarray, kappa_up: np.ndarray, lamR: np.ndarray, seg: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Sound upper bound (R, n) of ``Σ_{pairs of a row} G + κ + λr^p`` (every term already an
    upper bound), rounded up by (E1)/(E2)."""
    with np.errstate(invalid="ignore", over="ignore"):
        S = _row_sum(G, *seg) + kappa_up + lamR
        absS = _row_sum(np.abs(G), *seg) + np.abs(kappa_up) + lamR
        nterms = int(seg[1].max(initial=0)) + 2
        out = add_up(S, abs_sum_error_bound(absS, nterms))
    return np.where(np.isfinite(out), out, np.inf)


def _ball_geometry(
    ball: LpBall,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ok, box_lo, box_hi, center, Rp, Rp_up)``: the sets of ``ball`` that get bounds (not
    ``ok``: an empty outer box, vacuous, or one beyond the float range, no finite bound), and
    for those their outer box, centre and ``r^p`` rounded to nearest and up (0 for p = ∞)."""
    box_lo, box_hi = ball.box()
    with np.errstate(over="ignore", invalid="ignore"):
        huge = ~np.all(np.isfinite(box_hi - box_lo), axis=1)
    ok = ~(np.any(box_lo > box_hi, axis=1) | huge)
    radius = ball.radius[ok]
    if ball.p == 2.0:
        Rp, Rp_up = radius * radius, mul_up(radius, radius)
    elif ball.p == 1.0:
        Rp, Rp_up = radius.copy(), radius.copy()
    else:
        Rp, Rp_up = np.zeros(radius.size), np.zeros(radius.size)
    return ok, box_lo[ok], box_hi[ok], ball.center[ok], Rp, Rp_up


def _pieces(T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sub-intervals ``[tl, th]`` of the cuts T (..., K + 1), their centres μ and a sound
    half-width ρ ≥ max(th − μ, μ − tl)."""
    tl, th = T[..., :-1], T[..., 1:]
    mu = np.clip(0.5 * (tl + th), tl, th)
    rho = np.maximum(np.maximum(sub_up(th, mu), sub_up(mu, tl)), 0.0)
    return tl, th, mu, rho


def _piece_size(A: np.ndarray, B: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """The size (..., n) of each pair's (or class's) forms over its pieces: max |B| + |A| ρ."""
    return (np.abs(B) + np.abs(A) * rho).max(axis=-1)


def _refine_tolerance(size: np.ndarray, cls: np.ndarray, pair_row: np.ndarray) -> np.ndarray:
    """The refinement tolerance (Q, n) of each class from the ``size`` (Q, n) of every class:
    the smallest, over the rows using it, of ``(1 + the row's sum of sizes) / its pairs``.
    A piece whose remainder exceeds ``REFINE_TOLERANCE`` times it is cut (λ is not known yet
    and moves as the bound tightens, so every piece that matters at the row's scale)."""
    R = int(pair_row.max(initial=-1)) + 1
    seg = _segments(pair_row, R)
    npairs = np.maximum(seg[1], 1)[pair_row][:, None]  # (P, 1)
    scale = 1.0 + _row_sum(size[cls], *seg)  # (R, n)
    tol = np.full(size.shape, np.inf)
    np.minimum.at(tol, cls, scale[pair_row] / npairs)
    return tol


def _bound_chunk(
    cone: _Cone,
    ball: LpBall,
    max_pieces: int,
    coarse: bool = False,
    enough: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sound (lower, upper), each (n, R), for the rows of ``cone`` over every set of ``ball``
    (``coarse``: ``COARSE_BISECTIONS`` steps on λ), each pair its own class (unshared).

    The forms, pieces and refinement are per pair; the λ stage is :func:`_dual_bounds`."""
    pair_row, n, Q, R = cone.pair_row, ball.n, cone.P, cone.R
    cls = np.arange(Q)
    lower = np.full((n, R), -np.inf)
    upper = np.full((n, R), np.inf)
    ok, box_lo, box_hi, center, Rp, Rp_up = _ball_geometry(ball)
    if not ok.any():
        return lower, upper
    nn = int(ok.sum())
    qc = cone.pair_coord
    lo = box_lo[:, qc].T  # (Q, nn)
    hi = box_hi[:, qc].T
    c = center[:, qc].T
    T = _grid(lo, hi, c, min(INITIAL_PIECES, max_pieces))
    for rnd in range(REFINE_ROUNDS + 1):
        tl, th, mu, rho = _pieces(T)
        K = tl.shape[-1]
        last = rnd == REFINE_ROUNDS or max_pieces <= K
        A, B, E, cut = _forward(cone, mu.reshape(Q, nn * K), rho.reshape(Q, nn * K), not last)
        cut = cut.reshape(Q, nn, K)
        Ap, Bp, Ep = (X[:Q].reshape(Q, nn, K) for X in (A, B, E))
        if last:
            break
        # cut every piece whose remainder matters at the scale of a row using the pair; the
        # largest remainders first
        tol = _refine_tolerance(_piece_size(Ap, Bp, rho), cls, pair_row)
        split = (Ep > REFINE_TOLERANCE * tol[..., None]) & (th > tl)
        if not split.any():
            break
        T = _refine(T, split, Ep, cut, max_pieces)
    # κ_t: the constant rows (identical in every column)
    kB = B[Q:].reshape(R, nn, K)[..., 0]
    kE = E[Q:].reshape(R, nn, K)[..., 0]
    best_up, best_down = _dual_bounds(
        (Ap, Bp, Ep),
        (tl, th, mu, c),
        (kB, kE),
        cls,
        pair_row,
        (Rp, Rp_up),
        ball.p,
        coarse,
        enough,
    )
    upper[ok] = best_up.T
    lower[ok] = -best_down.T
    return lower, upper


def _dual_bounds(
    forms: tuple[np.ndarray, np.ndarray, np.ndarray],
    geo: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    kappa_forms: tuple[np.ndarray, np.ndarray],
    cls: np.ndarray,
    pair_row: np.ndarray,
    radius_p: tuple[np.ndarray, np.ndarray],
    p: float,
    coarse: bool,
    enough: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The λ stage: sound ``(max z_t, max −z_t)``, each (R, nn), of R rows from the forms
    ``(A, B, E)`` (Q, nn, K) of their Q classes on the pieces ``geo = (tl, th, μ, c)``
    ((Q, nn, K) and the centres (Q, nn)), the forms ``(B, E)`` (R, nn) of their constants
    κ_t, the classes ``cls`` of their pairs (sorted by row ``pair_row``) and
    ``radius_p = (r^p, r^p rounded up)`` (nn,).

    Each bound is the better of the dual at the λ found and at λ = 0 (the box bound, one
    maximum per class). ``enough`` ((R,) lower, (R,) upper): a row whose box bounds already
    reach it on every set (upper ``<= enough[1]`` and lower ``>= enough[0]``) keeps them and
    skips the λ search (``coarse``: the λ grid or ``COARSE_BISECTIONS`` steps)."""
    Ap, Bp, Ep = forms
    tl, th, mu, c = geo
    kB, kE = kappa_forms
    Rp, Rp_up = radius_p
    R, nn = kB.shape
    Q = Ap.shape[0]
    seg = _segments(pair_row, R)
    zero = np.zeros((Q, nn, 1))
    bisections = COARSE_BISECTIONS if coarse else _BISECTIONS
    signs = (1.0, -1.0)
    kappa = {sign: add_up(sign * kB, kE) for sign in signs}
    # λ = 0 (the box bound), one maximum per class: every row's fallback, and final for the
    # rows it already settles on both sides (``enough``)
    best = {
        sign: _sound_sum(
            _sound_max(sign * Ap, sign * Bp, Ep, tl, th, mu, c[..., None], zero, p).max(-1)[cls],
            kappa[sign],
            np.zeros((R, nn)),
            seg,
        )
        for sign in signs
    }
    todo = np.ones(R, dtype=bool)
    if enough is not None:
        settled = np.all(best[1.0] <= enough[1][:, None], axis=1)
        todo = ~(settled & np.all(best[-1.0] <= -enough[0][:, None], axis=1))
    if np.isinf(p):
        todo[:] = False
    elif coarse and Q * COARSE_LAMBDAS.size <= COARSE_GRID_RATIO * int(todo[pair_row].sum()):
        geo_q = (tl, th, mu, c)
        todo &= _grid_duals(best, (Ap, Bp, Ep), geo_q, kappa, Rp_up, cls, pair_row, todo, p)
    if todo.any():
        sub_row, sub_seg, q = _rows_subset(todo, pair_row, cls)
        geo_sub = (tl[q], th[q], mu[q], c[q])
        for sign in signs:
            forms_sub = (sign * Ap[q], sign * Bp[q], Ep[q])
            lam = _choose_lambda(forms_sub, geo_sub, Rp, sub_seg, sub_row, p, bisections)
            dual = _sound_total(
                forms_sub, geo_sub, kappa[sign][todo], lam, Rp_up, sub_seg, sub_row, p
            )
            best[sign][todo] = np.minimum(best[sign][todo], dual)
    return best[1.0], best[-1.0]


def _refine(
    T: np.ndarray, split: np.ndarray, gain: np.ndarray, cut: np.ndarray, max_pieces: int
) -> np.ndarray:
    """Cut the marked sub-intervals (the largest gains first, at most ``max_pieces`` per
    coordinate) at ``cut`` (a unit's zero crossing) when it is inside, else in the middle."""
    real = np.count_nonzero(T[..., 1:] > T[..., :-1], axis=-1)  # non-degenerate pieces
    room = np.maximum(max_pieces - real, 0)
    order = np.argsort(-np.where(split, gain, -np.inf), axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1)
    split = split & (rank < room[..., None])
    tl, th = T[..., :-1], T[..., 1:]
    mid = np.where((cut > tl) & (cut < th), cut, 0.5 * (tl + th))
    mid = np.where(split, mid, T[..., -1:])
    new = np.concatenate([T, mid], axis=-1)
    new.sort(axis=-1)
    # drop trailing duplicates of hi beyond the largest count of distinct cuts
    distinct = 1 + np.count_nonzero(new[..., 1:] > new[..., :-1], axis=-1)
    width = int(distinct.max(initial=2))
    uniq = _compact(new, width)
    return uniq


def _compact(T: np.ndarray, width: int) -> np.ndarray:
    """Sorted cuts without repeats, padded with the last cut to ``width`` columns."""
    keep = np.ones(T.shape, dtype=bool)
    keep[..., 1:] = T[..., 1:] > T[..., :-1]
    idx = np.where(keep, np.arange(T.shape[-1]), T.shape[-1])
    idx.sort(axis=-1)
    idx = idx[..., :width]
    last = np.take_along_axis(T, np.full((*T.shape[:-1], 1), T.shape[-1] - 1), axis=-1)
    T2 = np.concatenate([T, last], axis=-1)
    return np.take_along_axis(T2, idx, axis=-1)


# =========================================================================== public
def separable_bounds(
    net: ReLUNet,
    ball: LpBall,
    layer: int,
    rows: np.ndarray,
    *,
    coarse: bool = False,
    enough: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sound (lower, upper), each (ball.n, len(rows)), of the pre-activations z_layer[rows]
    over each set of the ball; -inf/+inf where a row is not separable (or p not in {1, 2, inf}).

    For a separable row ``z_t = κ_t + Σ_j g_{t,j}(x_j)`` and the set
    ``S = {‖x − c‖_p ≤ r} ∩ domain``: ``max_S z_t ≤ κ_t + λ r^p + Σ_j max_{I_j} (g_{t,j} −
    λ|· − c_j|^p)`` for λ ≥ 0 (module docstring), every term bounded with directed rounding.
    Every row of layer 0 is separable (affine). ``rows`` may repeat and come in any order.
    Sets whose outer box is empty (centre farther than r from the domain) get -inf/+inf; a
    set that is empty although its box is not may get any (vacuously sound) values.

    ``coarse``: the ``INITIAL_PIECES`` sub-intervals per coordinate without refinement and
    ``COARSE_BISECTIONS`` steps on λ: as sound, looser, several times cheaper; a first pass
    that proves most far gadgets of a large net dead, so that the full pass runs only on the
    rows still alive.

    ``enough``: ``(lower, upper)``, each of length ``k_layer`` (indexed by the layer's rows):
    a row whose box bound (λ = 0, computed first) already has ``lower >= enough[0][row]``
    and ``upper <= enough[1][row]`` on every set keeps it without a λ search (the caller
    knows these bounds settle what it needs; -inf and +inf never settle).

    >>> from robustexp.network import ReLUNet
    >>> absnet = ReLUNet.from_layers([([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
    ...                                [0.0] * 4), ([[1.0, 1.0, 1.0, 1.0]], [0.0])])
    >>> ball = LpBall([[0.0, 0.0]], 0.5, 1)     # |x_1| + |x_2| over the l1 ball: max 0.5
    >>> lo, hi = separable_bounds(absnet, ball, 1, np.array([0]))
    >>> bool(0.5 <= hi[0, 0] < 0.5 + 1e-12), bool(-1e-12 < lo[0, 0] <= 0.0)
    (True, True)
    """
    m = _check_layer(net, layer)
    if not isinstance(ball, LpBall):
        raise InvalidInputError(f"ball must be an LpBall; got {type(ball).__name__}")
    if ball.dim != net.in_dim:
        raise InvalidInputError(
            f"the ball has dimension {ball.dim} but the net expects {net.in_dim} inputs"
        )
    rows_a = np.asarray(rows)
    if rows_a.ndim != 1 or not (rows_a.size == 0 or np.issubdtype(rows_a.dtype, np.integer)):
        raise InvalidInputError(f"rows must be a 1-D integer array; got {rows!r}")
    k = net.layers[m].out_dim
    if rows_a.size and (rows_a.min() < -k or rows_a.max() >= k):
        raise InvalidInputError(f"rows must be in [0, {k}); got {rows_a}")
    rows_a = rows_a.astype(np.int64) % max(k, 1)
    n = ball.n
    lower = np.full((n, rows_a.size), -np.inf)
    upper = np.full((n, rows_a.size), np.inf)
    if rows_a.size == 0 or (ball.p not in (1.0, 2.0) and not np.isinf(ball.p)):
        return lower, upper
    sep = separable_rows(net, m)
    todo = np.unique(rows_a[sep[rows_a]])
    if todo.size == 0:
        return lower, upper
    if enough is not None:
        enough = _check_enough(enough, k)
    lo_u, hi_u = _bound_rows(net, ball, m, todo, coarse, enough)
    where = np.searchsorted(todo, rows_a)
    hit = sep[rows_a]
    lower[:, hit] = lo_u[:, where[hit]]
    upper[:, hit] = hi_u[:, where[hit]]
    return lower, upper


def _check_enough(enough: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``enough`` as two float arrays of length k (scalars broadcast), or a clear error."""
    try:
        lo, hi = (np.broadcast_to(np.asarray(e, dtype=np.float64), (k,)) for e in enough)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"enough must be a pair of arrays of length {k} (or scalars); got {enough!r}"
        ) from exc
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise InvalidInputError("enough contains NaN")
    return lo, hi


def _bound_rows(
    net: ReLUNet,
    ball: LpBall,
    layer: int,
    rows: np.ndarray,
    coarse: bool = False,
    enough: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (n, R) for separable ``rows`` (sorted, unique): above layer 0 (with
    ``SHARE_PAIRS``) through their shared classes (:func:`_bound_shared`), else chunked over
    rows and points, a chunk being a run of rows whose cones fit ``WORK_BUDGET_BYTES``."""
    if layer > 0 and SHARE_PAIRS:
        return _bound_shared(net, ball, layer, rows, coarse, enough)
    top = INITIAL_PIECES if coarse else MAX_PIECES
    # a chunk's forms hold (pieces + 2) columns per point: the grid's ends and centre cut
    room = top + 2
    n = ball.n
    lower = np.full((n, rows.size), -np.inf)
    upper = np.full((n, rows.size), np.inf)
    per_col = 8 * _LIVE_ARRAYS
    for start, stop, units in _chunks(net, layer, rows, room * per_col):
        pieces = top
        while pieces > INITIAL_PIECES and units * pieces * per_col > WORK_BUDGET_BYTES:
            pieces //= 2
        if units * (INITIAL_PIECES + 2) * per_col > WORK_BUDGET_BYTES:
            continue  # one row's work alone exceeds the budget: left at ±inf
        cone = _cached_cone(net, layer, rows[start:stop])
        step = max(1, int(WORK_BUDGET_BYTES // max(units * (pieces + 2) * per_col, 1)))
        part = None if enough is None else tuple(e[rows[start:stop]] for e in enough)
        for a in range(0, n, step):
            b = min(n, a + step)
            lo_c, hi_c = _bound_chunk(cone, ball[a:b], pieces, coarse, part)
            lower[a:b, start:stop] = lo_c
            upper[a:b, start:stop] = hi_c
    return lower, upper


def _rows_subset(
    todo: np.ndarray, pair_row: np.ndarray, cls: np.ndarray
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:
    """For the rows ``todo`` (R,) bool: their pairs' row index among those rows, the segments
    of those rows (:func:`_segments`) and their pairs' classes."""
    pairs = todo[pair_row]
    sub_row = np.cumsum(todo)[pair_row[pairs]] - 1
    return sub_row, _segments(sub_row, int(todo.sum())), cls[pairs]


def _grid_duals(
    best: dict[float, np.ndarray],
    forms: tuple[np.ndarray, np.ndarray, np.ndarray],
    geo: tuple[np.ndarray, ...],
    kappa: dict[float, np.ndarray],
    Rp_up: np.ndarray,
    cls: np.ndarray,
    pair_row: np.ndarray,
    todo: np.ndarray,
    p: float,
) -> np.ndarray:
    """The coarse pass over shared classes: the dual of every row in ``todo`` at each λ of
    ``COARSE_LAMBDAS`` (the same λ for every row, so each 1-D maximum is computed once per
    class), the best kept in ``best`` (in place). Sound at every λ ≥ 0.

    Returns the rows (R,) where the grid may be far from the best λ (:func:`_grid_gap`
    above ``COARSE_GRID_SLACK`` of the value): they get the per-row search. For a smooth
    dual the grid loses little: the minimum of ``‖x − a‖²`` over ``‖x − c‖ ≤ r`` has the dual
    ``λ D²/(1 + λ) − λ r²`` (``D = ‖c − a‖``), at ``D = 10r`` 81 r² at λ* = 9 and ≥ 80.7 r²
    within 2^{±1/4} of it (some grid value is). A V-shaped dual — the own distance
    ``‖x − c‖²``, flat beyond λ = 1 and steep below — can lose up to the grid's factor √2 in
    ``λ r²``; its gap bound flags it."""
    Ap, Bp, Ep = forms
    tl, th, mu, c = geo
    _, sub_seg, q = _rows_subset(todo, pair_row, cls)
    # blocks of λ values: (Q, n, block, K) arrays of at most _GRID_BLOCK_ELEMENTS
    block = max(1, _GRID_BLOCK_ELEMENTS // max(Ap.size, 1))
    ext = [X[:, :, None, :] for X in (Ap, Bp, Ep, tl, th, mu)]
    unsure = np.zeros(todo.size, dtype=bool)
    for sign in (1.0, -1.0):
        duals = []
        for first in range(0, COARSE_LAMBDAS.size, block):
            lam = COARSE_LAMBDAS[first : first + block]
            lamR = np.maximum(mul_up(Rp_up[:, None], lam[None, :]), 0.0)[None]  # (1, n, b)
            A, B = sign * ext[0], sign * ext[1]
            G = _sound_max(A, B, ext[2], *ext[3:], c[..., None, None], lam[:, None], p)
            duals.append(_sound_sum(G.max(-1)[q], kappa[sign][todo][..., None], lamR, sub_seg))
        phi = np.concatenate(duals, axis=-1)  # (R_todo, n, G)
        top = phi.min(-1)
        best[sign][todo] = np.minimum(best[sign][todo], top)
        with np.errstate(invalid="ignore", over="ignore"):
            far = ~(_grid_gap(phi) <= COARSE_GRID_SLACK * (np.abs(top) + _GAP_FLOOR))
        unsure[np.flatnonzero(todo)[far.any(axis=1)]] = True
    return unsure


def _grid_gap(phi: np.ndarray) -> np.ndarray:
    """An upper bound (..., ) on how much lower than its smallest grid value a convex
    function with values ``phi`` (..., G) at ``COARSE_LAMBDAS`` can go (inf where the grid's
    best point has fewer than two neighbours on a side): the minimum lies between the best
    point's neighbours, and on each half of that interval the function is above the two
    chords that end there, extended (convexity). Only a choice of work, in floats."""
    G = phi.shape[-1]
    x = COARSE_LAMBDAS
    g = np.argmin(phi, axis=-1)
    inner = (g >= 2) & (g <= G - 3)
    gi = np.clip(g, 2, G - 3)[..., None]
    f = [np.take_along_axis(phi, gi + k, axis=-1)[..., 0] for k in (-2, -1, 0, 1, 2)]
    xs = [x[gi[..., 0] + k] for k in (-2, -1, 0, 1, 2)]

    def line(i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        slope = (f[j] - f[i]) / (xs[j] - xs[i])
        return slope, f[i] - slope * xs[i]

    def floor(left: tuple, right: tuple, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        (s1, c1), (s2, c2) = left, right  # s1 <= s2 for a convex function
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.clip((c1 - c2) / (s2 - s1), lo, hi)
        cross = np.where(np.isfinite(cross), cross, lo)
        return np.maximum(s1 * cross + c1, s2 * cross + c2)

    with np.errstate(invalid="ignore", over="ignore"):
        right = floor(line(1, 2), line(3, 4), xs[2], xs[3])
        left = floor(line(0, 1), line(2, 3), xs[1], xs[2])
        gap = f[2] - np.minimum(left, right)
    return np.where(inner, gap, np.inf)


def _chunks(
    net: ReLUNet, layer: int, rows: np.ndarray, bytes_per_unit: int
) -> list[tuple[int, int, int]]:
    """``(start, stop, units)``: consecutive runs of ``rows`` whose cone units (each holding
    forms for every piece of a point) fit ``WORK_BUDGET_BYTES`` at ``bytes_per_unit``; a run
    holds at least one row."""
    pats = _cached_patterns(net, layer)
    if layer == 0:
        sizes = np.diff(pats[0].indptr)[rows].astype(np.int64) + 2
    else:
        sizes = 2 * _cached_sizes(net, layer, rows) + 2
    return _greedy_runs(sizes, WORK_BUDGET_BYTES // max(bytes_per_unit, 1))


def _greedy_runs(sizes: np.ndarray, cap: int) -> list[tuple[int, int, int]]:
    """``(start, stop, total)``: consecutive runs of ``sizes`` with totals at most ``cap``,
    each as long as it can be; a run holds at least one item (which may exceed ``cap``).

    >>> _greedy_runs(np.array([2, 2, 3, 9, 1]), 5)
    [(0, 2, 4), (2, 3, 3), (3, 4, 9), (4, 5, 1)]
    """
    out = []
    start = 0
    total_all = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    while start < sizes.size:
        # the longest run from ``start`` within the cap (at least one item)
        stop = int(np.searchsorted(total_all, total_all[start] + cap, side="right")) - 1
        stop = min(max(stop, start + 1), sizes.size)
        out.append((start, stop, int(total_all[stop] - total_all[start])))
        start = stop
    return out


def _cached_classes(net: ReLUNet, layer: int, rows: np.ndarray) -> tuple[PairClasses, np.ndarray]:
    """The pair classes of ``rows`` of ``layer ≥ 1`` and the cone units of each row of their
    ``top`` (the Q classes, then the R constant parts), cached per net and rows."""
    cache, key = _cone_cache(net), (layer, rows.tobytes())
    hit = cache.classes.get(key)
    if hit is None:
        pats = _cached_patterns(net, layer)
        pc = pair_classes(
            net,
            layer,
            _top_rows(pats[layer], rows),
            net.layers[layer].b[rows],
            _labels(net)[layer - 1],
        )
        hit = cache.classes[key] = (pc, _cone_units(pats, layer, pc.top)[1])
    return hit


#: float64 arrays of (classes x pieces) kept per point while a run of rows is bounded through
#: its classes (cuts, forms, crossings, and the λ stage's gathered copies).
_STORED_ARRAYS = 8


@dataclass(frozen=True, eq=False)
class _ClassRun:
    """Rows ``start:stop`` of the bounded rows (one *run*), through their classes: ``used``
    (Qr,) the classes their pairs use (sorted), ``cls`` and ``pair_row`` (P,) each pair's
    class among ``used`` and row among the run's rows, ``coord`` (Qr,) each class's
    coordinate, and ``chunks``: the classes
    ``q0:q1`` whose cone (one pair per class) is forwarded at once, ``None`` for a class
    too large for the memory budget (its rows get no finite bound)."""

    start: int
    stop: int
    used: np.ndarray
    cls: np.ndarray
    pair_row: np.ndarray
    coord: np.ndarray
    chunks: tuple[tuple[int, int, _Cone | None, int], ...]

    @property
    def R(self) -> int:
        return self.stop - self.start

    @property
    def units(self) -> int:
        return sum(cone.units for _, _, cone, _ in self.chunks if cone is not None)


def _class_runs(classes: PairClasses, cap: int) -> list[tuple[int, int]]:
    """``(start, stop)``: consecutive runs of the rows whose pairs use at most ``cap``
    distinct classes (at least one row per run)."""
    if cap >= classes.Q:
        return [(0, classes.R)]
    starts, counts = _segments(classes.pair_row, classes.R)
    seen = np.zeros(classes.Q, dtype=bool)
    out = []
    start, used = 0, 0
    for r in range(classes.R):
        mine = classes.pair_class[starts[r] : starts[r] + counts[r]]
        fresh = np.unique(mine[~seen[mine]])
        if r > start and used + fresh.size > cap:
            out.append((start, r))
            seen[:] = False
            start, used = r, 0
            fresh = np.unique(mine)
        seen[fresh] = True
        used += fresh.size
    out.append((start, classes.R))
    return out


def _cached_run(
    net: ReLUNet, layer: int, rows: np.ndarray, start: int, stop: int, top: int
) -> _ClassRun:
    """The :class:`_ClassRun` of ``rows[start:stop]`` (of the classes of ``rows``) for at most
    ``top`` pieces, its class cones cut to fit half of ``WORK_BUDGET_BYTES`` per point;
    cached per net, rows and run."""
    cache, key = _cone_cache(net), (layer, rows.tobytes(), "run", start, stop, top)
    run = cache.cones.get(key)
    if run is not None:
        return run
    classes, class_units = _cached_classes(net, layer, rows)
    first, last = np.searchsorted(classes.pair_row, [start, stop])
    used, local = np.unique(classes.pair_class[first:last], return_inverse=True)
    coord = np.empty(classes.Q, dtype=np.int64)
    coord[classes.pair_class] = classes.pair_coord
    half, per_col = WORK_BUDGET_BYTES // 2, 8 * _LIVE_ARRAYS
    units = 2 * class_units[used] + 2
    pats = _cached_patterns(net, layer)
    chunks = []
    for q0, q1, total in _greedy_runs(units, half // ((top + 2) * per_col)):
        pieces = top
        while pieces > INITIAL_PIECES and total * (pieces + 2) * per_col > half:
            pieces //= 2
        if total * (INITIAL_PIECES + 2) * per_col > half:
            chunks.append((q0, q1, None, 0))
            continue
        sel = used[q0:q1]
        cone = _cone_of_top(net, layer, _top_rows(classes.top, sel), classes.b_top[sel], pats, sel)
        if sel.size != cone.P:  # every class row is one pair (of its own coordinate)
            raise AssertionError(f"a class cone has {cone.P} pairs for {sel.size} classes")
        chunks.append((q0, q1, cone, pieces))
    run = _ClassRun(
        start,
        stop,
        used,
        local.reshape(-1),
        classes.pair_row[first:last] - start,
        coord[used],
        tuple(chunks),
    )
    _cache_store(cache, key, run, run.units)
    return run


def _cached_kappa(net: ReLUNet, layer: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forms ``(B, E)`` (R,) of the constants κ_t of ``rows``: the cone of their constant
    parts has no pair, so the forms are those of one column with ρ = 0, valid for every
    ball (cached per net and rows)."""
    cache, key = _cone_cache(net), (layer, rows.tobytes(), "kappa")
    hit = cache.cones.get(key)
    if hit is None:
        classes, _ = _cached_classes(net, layer, rows)
        sel = classes.Q + np.arange(classes.R)
        cone = _cone_of_top(
            net,
            layer,
            _top_rows(classes.top, sel),
            classes.b_top[sel],
            _cached_patterns(net, layer),
            rows,
        )
        if cone.P != 0:  # constant parts read constant units only
            raise AssertionError(f"the constant parts of {classes.R} rows have {cone.P} pairs")
        _, B, E, _ = _forward(cone, np.zeros((0, 1)), np.zeros((0, 1)), cuts=False)
        hit = (B[:, 0].copy(), E[:, 0].copy())
        _cache_store(cache, key, hit, cone.units)
    return hit


def _refined_class_forms(
    run: _ClassRun, lo: np.ndarray, hi: np.ndarray, c: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """``([tl, th, μ, A, B, E], width)``: the pieces and forms (Qr, nn, K) of every class of
    ``run`` over its coordinate interval ``[lo, hi]`` (Qr, nn) with centre c, and how many
    leading pieces of each class cover its interval (Qr,; the rest repeat its end).

    The refinement of :func:`_bound_chunk` (per class instead of per pair), per chunk of
    classes, with each class's tolerance from every row of the run that uses it; a chunk is
    forwarded again only when its cuts changed.
    A class too large for the budget gets one piece with E = +inf (no finite bound)."""
    Qr, nn = lo.shape
    state: list[dict[str, Any]] = []
    for q0, q1, cone, pieces in run.chunks:
        T = _grid(lo[q0:q1], hi[q0:q1], c[q0:q1], min(INITIAL_PIECES, pieces or INITIAL_PIECES))
        state.append({"T": T, "final": cone is None})
    pending = [i for i, st in enumerate(state) if not st["final"]]
    for rnd in range(REFINE_ROUNDS + 1):
        for i in pending:
            q0, q1, cone, pieces = run.chunks[i]
            st = state[i]
            tl, th, mu, rho = _pieces(st["T"])
            K = mu.shape[-1]
            last = rnd == REFINE_ROUNDS or pieces <= K
            n_q = q1 - q0
            A, B, E, cut = _forward(
                cone, mu.reshape(n_q, nn * K), rho.reshape(n_q, nn * K), not last
            )
            st["A"], st["B"], st["E"] = (X[:n_q].reshape(n_q, nn, K) for X in (A, B, E))
            st["cut"], st["final"] = cut.reshape(n_q, nn, K), last
            st["size"], st["open"] = _piece_size(st["A"], st["B"], rho), th > tl
        pending = [i for i in pending if not state[i]["final"]]
        if not pending:
            break
        # the tolerance of a class from every row of the run that uses it (a class too large
        # for the budget has infinite size: its rows lower no tolerance)
        size = np.full((Qr, nn), np.inf)
        for (q0, q1, cone, _), st in zip(run.chunks, state):
            if cone is not None:
                size[q0:q1] = st["size"]
        tol = _refine_tolerance(size, run.cls, run.pair_row)
        for i in pending:
            q0, q1, _, pieces = run.chunks[i]
            st = state[i]
            split = (st["E"] > REFINE_TOLERANCE * tol[q0:q1, :, None]) & st["open"]
            if split.any():
                st["T"] = _refine(st["T"], split, st["E"], st["cut"], pieces)
            else:
                st["final"] = True
        pending = [i for i in pending if not state[i]["final"]]
        if not pending:
            break
    K = max(st["T"].shape[-1] - 1 for st in state)
    out = [np.empty((Qr, nn, K)) for _ in range(6)]
    width = np.ones(Qr, dtype=np.int64)
    for (q0, q1, cone, _), st in zip(run.chunks, state):
        T = st["T"]
        if cone is None:  # one piece, no finite forms
            T = np.stack([lo[q0:q1], hi[q0:q1]], axis=-1)
            zero = np.zeros((q1 - q0, nn, 1))
            st.update(A=zero, B=zero, E=np.full_like(zero, np.inf))
        tl, th, mu, _ = _pieces(T)
        for X, Y in zip(out, (tl, th, mu, st["A"], st["B"], st["E"])):
            X[q0:q1] = Y[..., -1:]  # columns past this chunk's pieces repeat its last piece
            X[q0:q1, :, : Y.shape[-1]] = Y
        # pieces past the first cut at the interval's end are [hi, hi] (or repeats)
        end = T[..., -1:]
        ends = np.argmax(end <= T, axis=-1)  # (n_q, nn): T is sorted
        width[q0:q1] = np.maximum(ends.max(axis=1), 1)
    return out, width


def _bound_shared(
    net: ReLUNet,
    ball: LpBall,
    layer: int,
    rows: np.ndarray,
    coarse: bool,
    enough: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds (n, R) for the separable ``rows`` (sorted, unique) of ``layer ≥ 1`` through
    their classes of identical pairs (:mod:`._shared_pairs`).

    The rows go in runs whose classes' forms fit half of ``WORK_BUDGET_BYTES`` per point (one
    run for all rows when the classes are few, as on the digits). Per run and block of points
    the forms of its classes are computed once, chunked by classes and refined with the
    tolerances of every row of the run (:func:`_refined_class_forms`); then the λ stage
    (:func:`_dual_bounds`) runs per chunk of rows on the classes each uses."""
    top = INITIAL_PIECES if coarse else MAX_PIECES
    half, per_col = WORK_BUDGET_BYTES // 2, 8 * _LIVE_ARRAYS
    n = ball.n
    lower = np.full((n, rows.size), -np.inf)
    upper = np.full((n, rows.size), np.inf)
    classes, _ = _cached_classes(net, layer, rows)
    kB_all, kE_all = _cached_kappa(net, layer, rows)
    stored = (top + 2) * 8 * _STORED_ARRAYS  # bytes per class and point
    for start, stop in _class_runs(classes, max(1, half // stored)):
        run = _cached_run(net, layer, rows, start, stop, top)
        per_point = [stored * run.used.size] + [
            (2 * cone.units + 2) * (pieces + 2) * per_col
            for _, _, cone, pieces in run.chunks
            if cone is not None
        ]
        step = max(1, half // max(per_point))
        row_counts = np.bincount(run.pair_row, minlength=run.R)
        pair_starts = np.concatenate([[0], np.cumsum(row_counts)])
        cols = np.arange(start, stop)
        for a in range(0, n, step):
            b = min(n, a + step)
            ok, box_lo, box_hi, center, Rp, Rp_up = _ball_geometry(ball[a:b])
            if not ok.any():
                continue
            lo, hi, c = (X[:, run.coord].T for X in (box_lo, box_hi, center))  # (Qr, nn)
            (tl, th, mu, A, B, E), width = _refined_class_forms(run, lo, hi, c)
            nn, K = tl.shape[1], tl.shape[2]
            pts = np.arange(a, b)[ok]
            for r0, r1, _ in _greedy_runs(row_counts, max(1, half // (nn * (K + 2) * per_col))):
                p0, p1 = pair_starts[r0], pair_starts[r1]
                used, local = np.unique(run.cls[p0:p1], return_inverse=True)
                k = int(width[used].max(initial=1))
                pick = (used, slice(None), slice(0, k))
                part = None
                if enough is not None:
                    part = tuple(e[rows[start + r0 : start + r1]] for e in enough)
                kap = tuple(
                    np.broadcast_to(x[start + r0 : start + r1, None], (r1 - r0, nn))
                    for x in (kB_all, kE_all)
                )
                up, down = _dual_bounds(
                    (A[pick], B[pick], E[pick]),
                    (tl[pick], th[pick], mu[pick], c[used]),
                    kap,
                    local.reshape(-1),
                    run.pair_row[p0:p1] - r0,
                    (Rp, Rp_up),
                    ball.p,
                    coarse,
                    part,
                )
                upper[np.ix_(pts, cols[r0:r1])] = up.T
                lower[np.ix_(pts, cols[r0:r1])] = -down.T
    return lower, upper


# =========================================================================== exact variant
def _separable_bounds_exact(
    net: ReLUNet, ball: LpBall, layer: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The same Lagrangian bound as :func:`separable_bounds`, from the exact rational pieces of
    every ``g_{t,j}`` (:func:`~robustexp.network._pwl1d.piecewise_linear_1d`): on a piece
    ``α τ + β`` the maximum of ``α τ + β − λ|τ − c|^p`` is exact (p = 2: the vertex
    ``c + α/(2λ)`` clipped to the piece; p = 1: the ends and c), the constant ``κ_t`` is
    evaluated in Fractions and ``λ r^p`` is exact, so only the final rounding (outward) is
    inexact. λ is chosen by a float search on the same pieces. Slow (Fractions): a reference
    for tests. Rows that are not separable get ±inf, as do rows without any coordinate.
    """
    from robustexp.network._pwl1d import piecewise_linear_1d
    from robustexp.verify._numerics import round_down, round_up

    m = _check_layer(net, layer)
    rows_a = np.asarray(rows, dtype=np.int64)
    n = ball.n
    lower = np.full((n, rows_a.size), -np.inf)
    upper = np.full((n, rows_a.size), np.inf)
    p = ball.p
    if p not in (1.0, 2.0) and not np.isinf(p):
        return lower, upper
    sep = separable_rows(net, m)
    box_lo, box_hi = ball.box()
    for col, row in enumerate(rows_a.tolist()):
        if not sep[row]:
            continue
        cone = _build_cone(net, m, np.array([row]))
        if cone.P == 0:
            continue
        kappa = _exact_constant(cone)
        nets = [_pair_net(cone, q) for q in range(cone.P)]
        for i in range(n):
            if np.any(box_lo[i] > box_hi[i]):
                continue
            c = [Fraction(float(ball.center[i, j])) for j in cone.pair_coord]
            pieces = [
                _exact_pieces(f, float(box_lo[i, j]), float(box_hi[i, j]), piecewise_linear_1d)
                for f, j in zip(nets, cone.pair_coord)
            ]
            r = Fraction(float(ball.radius[i]))
            Rp = Fraction(0) if np.isinf(p) else (r if p == 1.0 else r * r)
            for sign in (1, -1):
                signed = [[(a, b, sign * al, sign * be) for a, b, al, be in pc] for pc in pieces]
                lam = Fraction(0) if np.isinf(p) else _exact_lambda(signed, c, Rp, p)
                val = sign * kappa + lam * Rp
                for pc, cj in zip(signed, c):
                    val += max(_piece_max(a, b, al, be, cj, lam, p) for a, b, al, be in pc)
                if sign > 0:
                    upper[i, col] = round_up(val)
                else:
                    lower[i, col] = round_down(-val)
    return lower, upper


def _pair_net(cone: _Cone, q: int) -> ReLUNet:
    """The 1-D net computing ``g_{t,j}`` of pair q (its units and its row's constants)."""
    r = int(cone.pair_row[q])
    layers = []
    prev = np.array([q])
    for W, b, upair, urow in cone.hidden:
        sel = np.flatnonzero((upair == q) | ((upair < 0) & (urow == r)))
        layers.append((W[sel][:, prev].toarray(), b[sel]))
        prev = sel
    layers.append((cone.out_W[[q]][:, prev].toarray(), np.zeros(1)))
    return ReLUNet.from_layers(layers)


def _exact_constant(cone: _Cone) -> Fraction:
    """``κ_t`` of the cone's single row, in Fractions (constant units read only constants)."""
    h: list[Fraction] = []
    prev = np.zeros(0, dtype=np.int64)
    for W, b, upair, _ in cone.hidden:
        sel = np.flatnonzero(upair < 0)
        Ws = W[sel][:, prev] if prev.size else None
        hn = []
        for k, u in enumerate(sel.tolist()):
            z = Fraction(float(b[u]))
            if Ws is not None:
                row = Ws[[k]].tocoo()
                z += sum(Fraction(float(v)) * h[int(cc)] for cc, v in zip(row.col, row.data))
            hn.append(max(z, Fraction(0)))
        h, prev = hn, sel
    P = cone.P
    z = Fraction(float(cone.out_b[P]))
    if prev.size:
        row = cone.out_W[[P]][:, prev].tocoo()
        z += sum(Fraction(float(v)) * h[int(cc)] for cc, v in zip(row.col, row.data))
    return z


def _exact_pieces(
    f: ReLUNet, lo: float, hi: float, pwl: Any
) -> list[tuple[Fraction, Fraction, Fraction, Fraction]]:
    if lo == hi:
        from robustexp.network._exact import ExactNet

        t = Fraction(lo)
        return [(t, t, Fraction(0), ExactNet.of(f)([t])[0])]
    return list(pwl(f, lo, hi).pieces())


def _piece_max(
    a: Fraction, b: Fraction, al: Fraction, be: Fraction, c: Fraction, lam: Fraction, p: float
) -> Fraction:
    """Exact ``max_{τ ∈ [a, b]} al τ + be − λ|τ − c|^p``."""
    cands = [a, b]
    if p == 2.0 and lam > 0:
        cands.append(min(max(c + al / (2 * lam), a), b))
    elif p == 1.0 and a <= c <= b:
        cands.append(c)
    if np.isinf(p):
        return max(al * t + be for t in cands)
    k = 1 if p == 1.0 else 2
    return max(al * t + be - lam * abs(t - c) ** k for t in cands)


def _exact_lambda(pieces: list[list[tuple]], c: list[Fraction], Rp: Fraction, p: float) -> Fraction:
    """A float λ ≥ 0 near the minimiser of the dual (golden section on log λ, in floats)."""
    data = [
        (np.array([[float(v) for v in pc_i] for pc_i in pc]), float(cj))
        for pc, cj in zip(pieces, c)
    ]
    R = float(Rp)

    def phi(lam: float) -> float:
        total = lam * R
        for arr, cj in data:
            a, b, al, be = arr.T
            best = np.maximum(
                al * a + be - lam * np.abs(a - cj) ** p, al * b + be - lam * np.abs(b - cj) ** p
            )
            if p == 2.0 and lam > 0:
                t = np.clip(cj + al / (2 * lam), a, b)
                best = np.maximum(best, al * t + be - lam * (t - cj) ** 2)
            elif p == 1.0:
                inside = (a <= cj) & (cj <= b)
                best = np.where(inside, np.maximum(best, al * cj + be), best)
            total += float(best.max())
        return total

    lo, hi = -40.0, 40.0
    g = (np.sqrt(5.0) - 1.0) / 2.0
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    f1, f2 = phi(2.0**x1), phi(2.0**x2)
    for _ in range(90):
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - g * (hi - lo)
            f1 = phi(2.0**x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + g * (hi - lo)
            f2 = phi(2.0**x2)
    best = 2.0 ** (x1 if f1 <= f2 else x2)
    return Fraction(best) if phi(best) <= phi(0.0) else Fraction(0)
