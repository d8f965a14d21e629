r"""Complete verification of one point by mixed-integer linear programming (HiGHS).

**Problem.** For a single-output ReLU net ``f``, a label ``y ∈ {±1}`` and a set
``S = B_p(x0, r) ∩ domain`` (p = ∞: a box; p = 1: a polytope), compute ``min_{x ∈ S} y f(x)``.
The point is robust iff the minimum is > 0.

**Encoding** (the standard exact big-M model: Cheng, Nührenberg & Ruess 2017; Lomuscio &
Maganti 2017; Tjeng, Xiao & Tedrake, ICLR 2019). With sound pre-activation bounds
``l ≤ z ≤ u`` for every hidden neuron (engineer A's linear/interval bounds, valid on ``S``):

* stable inactive (``u ≤ 0``): ``a = 0``, no variable at all;
* stable active (``l ≥ 0``): ``a = z = W a_prev + b``, ``a ∈ [l, u]``, no binary;
* unstable (``l < 0 < u``): ``a ≥ 0``, ``a ≥ z``, ``a ≤ z - l (1 - δ)``, ``a ≤ u δ``,
  ``δ ∈ {0, 1}``; ``δ = 1`` forces ``a = z ≥ 0`` and ``δ = 0`` forces ``a = 0 ≥ z``;
* input, p = ∞: ``x ∈ [x0 - r, x0 + r] ∩ domain`` with the endpoints rounded *outward*;
  p = 1: ``x = x0 + s⁺ - s⁻``, ``s^± ≥ 0``, ``Σ (s⁺ + s⁻) ≤ r``, plus the outward box;
* objective: ``min y (W_L a_{L-1} + b_L)``.

In exact arithmetic the feasible set contains the graph of ``f`` over ``S`` (the bounds are
valid on ``S``, the box is rounded outward, the right side ``b - l`` is rounded up), so the
model's optimum ``m*`` is ``≤`` the true minimum. The model is exact for the net's float
weights (no weight is rounded).

**Bounds and early exits.** Without ``bounds`` the query uses full-backward CROWN
(:func:`robustexp.verify.linear_bounds`); with ``tighten=True`` the unstable neurons of layers
``≥ 2`` and the output are re-bounded by the LP relaxation with *rigorous* weak-duality bounds
(:mod:`robustexp.verify._lp`), which removes binaries and shrinks big-M constants. Unless
``exact_value``, the query stops early when these bounds certify (``lower > 0``, sound by
themselves) or the centre is a re-checked counterexample.

**Soundness of a certificate (what a solver's tolerances can do, and the slack that covers
it).** HiGHS solves with a primal feasibility tolerance ``τ_p``, a dual feasibility tolerance
``τ_d`` and an integrality tolerance ``τ_i`` (set to ``MILP_*_TOL`` in
:mod:`robustexp._tolerances`; scaling is switched off so the tolerances apply to our rows
as written, and presolve is off so no reduction reshapes the model). We certify only when

    β + c0 - S > 0,     S = κ (D + P) + R,

where ``β`` is the solver's proven dual bound (``res.mip_dual_bound``; for a pure LP the
optimal objective) and ``c0 = y b_L``. The solver model behind ``S`` is the one the MILP
verification literature relies on, with each tolerance accounted for explicitly:

* ``D = τ_d (Σ_j (u_j - l_j) + Σ_i w_i)`` covers *dual* infeasibility of every LP bound used by
  branch and bound. By weak duality (Neumaier & Shcherbina, Math. Program. 99, 2004), for any
  row multipliers ``λ`` and ``ρ = c - Aᵀλ``, ``cᵀv ≥ Σ_i min(λ_i L_i, λ_i U_i) +
  Σ_j min(ρ_j l_j, ρ_j u_j)`` on the node's box; a simplex bound differs from this rigorous
  value only where a reduced cost has the wrong sign by at most ``τ_d``, each such term by at
  most ``τ_d`` times the width of its variable's (or row's) range. ``l_j, u_j`` are the
  variable bounds and ``w_i`` the width of row ``i``'s activity range over the box, all finite
  here; branching only shrinks them.
* ``P = Σ_neurons g_j (2 τ_p + τ_i max(|l_j|, |u_j|)) + 3 τ_p ||g_x||_1`` covers *primal*
  tolerances: cuts, bound propagation and node pruning treat a point as feasible when every
  row holds within ``τ_p`` and ``δ`` is within ``τ_i`` of an integer, so at worst the solver's
  search space keeps, instead of an exact point of the graph, a point whose every activation
  deviates from ``ReLU(z)`` by at most ``2 τ_p + τ_i max(|l|, |u|)`` (from ``a ≥ z - τ_p``,
  ``a ≤ z - l(1 - δ) + τ_p``, ``a ≤ u δ + τ_p`` with ``|δ - round(δ)| ≤ τ_i``) and every input
  coordinate by at most ``3 τ_p`` (box or ``ℓ1`` rows). A deviation ``e`` of activation ``j``
  moves the output by at most ``g_j e``, where ``g = |W_L|`` on the last hidden layer and
  ``g_{l-1} = |W_l|ᵀ g_l`` backwards (the ReLU is 1-Lipschitz), so the objective changes by
  at most ``P``.
* ``R = 2 γ_{K+1} (Σ_j |c_j| max(|l_j|, |u_j|) + |c0|) + 4u (|β| + |c0|)`` bounds the float
  rounding of the objective value itself (``K`` objective terms, Higham's ``γ``) and of
  forming ``β + c0 - S``.
* ``κ = MILP_SLACK_SAFETY_FACTOR`` multiplies the tolerance terms.

Only ``status == optimal`` certifies; a timeout never does, whatever its dual bound. The
MIP gap never makes ``β`` invalid (it only stops the search earlier, and ``β`` is a bound
over all open nodes), so ``mip_rel_gap`` is a speed setting.

*Trust boundary.* ``S`` covers every effect the solver's *tolerances* can have under the
model above; it cannot cover a solver *bug* (a wrong LP solve beyond its tolerances). That
residual trust in HiGHS is the same as in every MILP-based verifier; everything else here
(bounds, LP tightening, witnesses) is independent of it, and a certificate obtained from the
bounds or the LP relaxation alone (detail ``"bounds certify"`` / ``"LP relaxation
certifies"``) does not rely on HiGHS at all.

**Falsification.** A solver solution is only a candidate: it is clipped/projected into ``S``
(exact membership), evaluated, and if ``y f ≤ 0`` re-checked by
:func:`robustexp.verify._witness.recheck_witness` (exact rational arithmetic). If the model
says the minimum is ≤ 0 but the candidate fails, a short projected-gradient descent from it
is tried; if that fails too, the verdict is unknown.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from robustexp._errors import InvalidInputError, ResourceLimitError
from robustexp._tolerances import (
    CONE_BOUNDS_MIN_NEURONS,
    FLOAT64_UNIT_ROUNDOFF,
    MEMORY_LIMIT_BYTES,
    MILP_DEFAULT_TIME_LIMIT,
    MILP_DUAL_FEASIBILITY_TOL,
    MILP_INTEGRALITY_TOL,
    MILP_PRIMAL_FEASIBILITY_TOL,
    MILP_SLACK_SAFETY_FACTOR,
)
from robustexp.network import ReLUNet
from robustexp.verify._cuts import abs_pair_cuts
from robustexp.verify._numerics import gamma
from robustexp.verify._witness import ball_arrays, recheck_witness, snap_into_set

__all__ = ["MilpResult", "milp_margin"]

_STATUSES = ("certified", "falsified", "unknown")


@dataclass(frozen=True)
class MilpResult:
    """Outcome of one complete query.

    ``lower_bound`` is a sound lower bound on ``min y f`` over the set (``-inf`` if none);
    ``upper_bound`` is ``y f`` (float) at the best point found inside the set (``+inf`` if
    none), so ``lower_bound ≤ min ≤ upper_bound`` up to the float error of ``upper_bound``;
    ``witness``/``best_margin`` are set only for a re-checked counterexample.

    >>> MilpResult("unknown", -math.inf, None, math.inf, 0.0, "time limit").status
    'unknown'
    """

    status: str
    lower_bound: float
    witness: np.ndarray | None
    best_margin: float
    time: float
    detail: str
    upper_bound: float = math.inf
    stats: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in _STATUSES:
            raise InvalidInputError(f"status must be one of {_STATUSES}; got {self.status!r}")
        if (self.status == "falsified") != (self.witness is not None):
            raise InvalidInputError("a witness is given exactly when the status is 'falsified'")
        if self.status == "certified" and not self.lower_bound > 0:
            raise InvalidInputError(
                f"'certified' needs lower_bound > 0; got lower_bound = {self.lower_bound}"
            )
        if self.witness is not None:
            w = np.array(self.witness, dtype=np.float64).reshape(-1)
            w.setflags(write=False)
            object.__setattr__(self, "witness", w)


# --------------------------------------------------------------------------- helpers
def _single(ball: Any, y: Any) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray, int]:
    center, radius, p, lo, hi = ball_arrays(ball)
    if center.shape[0] != 1:
        raise InvalidInputError(
            f"a complete query takes a ball of ONE point; got a batch of {center.shape[0]}"
        )
    yy = np.asarray(y).reshape(-1)
    if yy.size != 1 or yy[0] not in (-1, 1):
        raise InvalidInputError(f"y must be a single label in {{-1, +1}}; got {y!r}")
    return center[0], float(radius[0]), p, lo[0], hi[0], int(yy[0])


def _outward_box(c: np.ndarray, r: float, lo: np.ndarray, hi: np.ndarray):
    """``[c - r, c + r] ∩ [lo, hi]`` with the ball's endpoints rounded outward."""
    bl = np.nextafter(c - r, -np.inf)
    bu = np.nextafter(c + r, np.inf)
    return np.maximum(bl, lo), np.minimum(bu, hi)


def default_bounds(net: ReLUNet, ball: Any, y: int | None = None) -> Any:
    """The tightest cheap sound bounds: full-backward CROWN (with the two-group planes), or
    IBP when CROWN's dense coefficients would not fit in memory. With the point's label
    ``y``, plain CROWN runs first and the costlier two-group pass only when plain CROWN does
    not already prove the margin positive.

    For a ball of one point, cheap sparse passes first tighten the bounds and find the cone
    of influence on the set (:func:`_relevant_units`; steps 3 and 4 and the coarse pass only
    for nets of more than ``CONE_BOUNDS_MIN_NEURONS`` hidden units):

    1. IBP, tightened layer by layer by one step of back-substitution
       (:mod:`._lookback`: ``max(a, b) >= b`` where intervals only see ``>= a``), then, on a
       net with max/min gadgets above its first layer, merge-aware intervals
       (:mod:`._merge`: exact ranges of the gadgets over the bounds of their inputs; this
       alone proves nearest-margin nets over ℓ∞ and ℓ1 balls);
    2. over an ℓ1/ℓ2 ball, the Lagrangian bounds of the *separable* rows in the cone
       (:mod:`._separable`: sums of per-coordinate gadgets such as distances, bounded over the
       ball itself, where everything else sees its box), followed again by step 1 (from the
       first layer with such rows: the layers below are unchanged) and by tail CROWN
       (:mod:`._tail`); on a large net a coarse pass first, then targeted rounds
       (:func:`_refine_where_it_counts`: full bounds on the tail layer's rows that weigh most
       in the output's bound, a growing prefix of one ranking), and only when they do not
       prove the label the full pass on the rows still in the cone;
    3. before that full pass, if the cone kept more than half the units after step 1, CROWN
       on the first two layers (:mod:`._front`), and step 1 then starts from layer 0 (on
       the digits ℓ2 memorizer and nearest-margin nets the coarse pass proves most points
       without it, and its ~1 s plus the look-back pass it forces were a third of a query);
    4. a large net with sparse (CSR) layers goes straight to CROWN on its cone with sparse
       backward coefficients (below); otherwise, if the cone still keeps more than half the
       units, CROWN on the connected components of the hidden units (:mod:`._components`).

    After steps 1 and 3 (each pass) and at the end, the output bounds are intersected with the
    twin-group bounds (:mod:`._twins`: a plateau bump's two units read as one exact function
    of their common pre-activation), and with the label ``y`` the bounds are returned as
    soon as they prove it.

    On a large net, CROWN (two-group) runs on the cone's sub-network only
    (:func:`restrict_to_cone`), whose units compute on the set exactly what they compute in
    the whole net, with the bounds found so far as prior; the other units keep those bounds,
    which the encoding does not use. Dense CROWN costs about (units)² work, so on a large
    net it runs only when the cone holds at most half the units; with sparse layers the
    backward coefficients are sparse too (:mod:`._coef`), each neuron pays for its own
    sub-tree, and CROWN on a whole memorizer or nearest-margin net of 1000 points at d = 64
    (256,000 units) takes seconds.
    """
    from robustexp.verify._crown import linear_bounds
    from robustexp.verify._ibp import interval_bounds
    from robustexp.verify._lookback import lookback_bounds
    from robustexp.verify._merge import has_merge_trees, merge_bounds
    from robustexp.verify._tail import tail_crown_bounds

    if getattr(ball, "n", None) != 1:
        try:
            return linear_bounds(net, ball, intermediate="crown")
        except ResourceLimitError:
            return interval_bounds(net, ball)
    big = net.hidden_neurons > CONE_BOUNDS_MIN_NEURONS
    targeted: tuple[int, np.ndarray] | None = None
    b = _with_twins(net, lookback_bounds(net, ball, interval_bounds(net, ball)))
    if _proves(b, y):
        return b
    merges = has_merge_trees(net)
    if merges:
        b = _with_twins(net, merge_bounds(net, ball, b))
        if _proves(b, y):
            return _labelled(b, "merge")
    relevant = _relevant_units(net, [u[0] for u in b.upper])
    kept = sum(int(r.sum()) for r in relevant)
    front = big and kept > net.hidden_neurons // 2 and net.depth >= 3
    if not math.isinf(ball.p):
        # the relevant units of each layer, and the rows of the output layer; on a large net
        # a coarse pass first, so that the full one bounds only the rows it leaves alive
        for coarse in (True, False) if big else (False,):
            start = _first_separable_layer(net, relevant)  # nothing below has changed
            if front and not coarse:
                from robustexp.verify._front import front_crown_bounds

                b, front, start = front_crown_bounds(net, ball, b), False, 0
                relevant = _relevant_units(net, [u[0] for u in b.upper])
            rows = [*relevant, np.ones(net.out_dim, dtype=bool)]
            if not coarse and targeted is not None:
                rows[targeted[0]] = rows[targeted[0]] & ~targeted[1]
            b = _with_twins(
                net,
                lookback_bounds(net, ball, b, separable_rows=rows, coarse=coarse, start=start),
            )
            if _proves(b, y):
                return b
            if merges:
                b = _with_twins(net, merge_bounds(net, ball, b))
                if _proves(b, y):
                    return _labelled(b, "merge")
            b = _with_twins(net, tail_crown_bounds(net, ball, b, y))
            if _proves(b, y):
                return b
            relevant = _relevant_units(net, [u[0] for u in b.upper])
            if coarse:
                b, targeted = _refine_where_it_counts(net, ball, b, relevant, y)
                if _proves(b, y):
                    return b
                relevant = _relevant_units(net, [u[0] for u in b.upper])
    if big and net.is_sparse:
        return _with_twins(net, _cone_crown_bounds(net, ball, b, relevant, y, sparse=True))
    kept = sum(int(r.sum()) for r in relevant)
    if big and kept > net.hidden_neurons // 2 and net.depth >= 3:
        from robustexp.verify._components import component_crown_bounds

        refined = component_crown_bounds(net, ball, b)
        if refined is not None:
            b = refined
            relevant = _relevant_units(net, [u[0] for u in b.upper])
            kept = sum(int(r.sum()) for r in relevant)
    if big and kept <= net.hidden_neurons // 2:
        return _with_twins(net, _cone_crown_bounds(net, ball, b, relevant, y))
    try:
        return _with_twins(net, _crown_plain_first(net, ball, b, y))
    except ResourceLimitError:
        return b


def _first_separable_layer(net: ReLUNet, relevant: list[np.ndarray]) -> int:
    """The first layer with relevant rows that the separable pass bounds (separable sums over
    two or more coordinates), or ``net.depth - 1`` (the output layer's rows) if none: the
    look-back pass after a separable pass starts there, the layers below being unchanged."""
    from robustexp.verify._separable import multi_coordinate_rows

    for m in range(1, net.depth - 1):
        if (relevant[m] & multi_coordinate_rows(net, m)).any():
            return m
    return net.depth - 1


#: Rows of the tail layer that the first targeted round refines, and the factor by which
#: the refined prefix of the ranking grows each further round (see
#: :func:`_refine_where_it_counts`).
TARGETED_FIRST_ROWS = 32
TARGETED_GROWTH = 8


def _refine_where_it_counts(
    net: ReLUNet, ball: Any, b: Any, relevant: list[np.ndarray], y: int | None
) -> tuple[Any, tuple[int, np.ndarray] | None]:
    """Full separable bounds on the tail layer's rows that weigh most in the output's bounds
    first, in rounds, until the label is proved (then the caller stops) or the refined rows
    would be more than half the candidates (then the caller's full pass bounds the rest).

    The candidate rows (relevant, unstable, separable) of :func:`._tail.tail_layer` ``k`` are
    ranked ONCE by :func:`._tail.tail_sensitivity` on the bounds given (those after the coarse
    pass and tail CROWN); round r refines the first ``TARGETED_FIRST_ROWS · TARGETED_GROWTH^r``
    rows of that fixed ranking (those not refined yet), re-runs the look-back steps from layer
    ``k`` on, and tail CROWN. The ranking is not recomputed between rounds on purpose: from
    tightened bounds, CROWN's choice of lower lines in a min tree moves, and the rows that
    bound the minimum from above drop out of a fresh ranking although the proof needs them
    (measured on nearest-margin ℓ2, N = 1000, d = 64: the one-shot top 256 rows prove a
    point that 288 rows chosen by re-ranking do not). Rows of one layer are bounded
    independently of each other (layers below k do not change), so refining a prefix in
    pieces loses nothing against refining it at once.

    Sound whatever the ranking: every step only intersects sound bounds. Returns the bounds
    and ``(k, rows refined)``, or ``(b, None)`` without a label, a tail or a score.
    """
    from robustexp.verify._lookback import lookback_bounds
    from robustexp.verify._separable import MIXED, _labels, separable_rows
    from robustexp.verify._tail import tail_crown_bounds, tail_layer, tail_sensitivity

    k = tail_layer(net)
    score = None if y is None or k is None else tail_sensitivity(net, b)
    if score is None:
        return b, None
    candidates = relevant[k] & (_labels(net)[k] == MIXED) & separable_rows(net, k)
    ranked = np.flatnonzero(candidates & (score > 0.0))
    order = ranked[np.argsort(-score[ranked], kind="stable")]
    done = np.zeros_like(candidates)
    count = TARGETED_FIRST_ROWS
    while 2 * count <= int(candidates.sum()):
        pick = order[int(done.sum()) : count]  # the prefix grows; what precedes it is done
        if pick.size:
            rows = [np.zeros(layer.out_dim, dtype=bool) for layer in net.layers]
            rows[k][pick] = True
            b = _with_twins(net, lookback_bounds(net, ball, b, separable_rows=rows, start=k))
            done[pick] = True
            if _proves(b, y):
                break
            b = _with_twins(net, tail_crown_bounds(net, ball, b, y))
            if _proves(b, y):
                break
        if count >= order.size:
            break
        count *= TARGETED_GROWTH
    return b, (k, done)


def _with_twins(net: ReLUNet, b: Any) -> Any:
    """``b`` with its output bounds intersected with the twin-group bounds (:mod:`._twins`:
    units of the last hidden layer sharing their weight row, e.g. plateau bumps, bounded
    exactly as one function of their common pre-activation)."""
    from robustexp.verify._twins import twin_output_bounds
    from robustexp.verify._types import LayerBounds

    tw = twin_output_bounds(net, b)
    if tw is None:
        return b
    lower, upper = list(b.lower), list(b.upper)
    lower[-1] = np.maximum(lower[-1], tw[0][None, :])
    upper[-1] = np.minimum(upper[-1], tw[1][None, :])
    return LayerBounds(tuple(lower), tuple(upper), b.method)


def _labelled(b: Any, method: str) -> Any:
    """``b`` credited to ``method`` (the pass whose bounds proved the label)."""
    from robustexp.verify._types import LayerBounds

    return LayerBounds(b.lower, b.upper, method)


def _proves(b: Any, y: int | None) -> bool:
    """Whether the output bounds of a one-output net already prove the label ``y``."""
    if y is None or b.lower[-1].shape[-1] != 1:
        return False
    return (float(b.lower[-1][0, 0]) > 0) if y > 0 else (float(b.upper[-1][0, 0]) < 0)


def _crown_plain_first(
    net: ReLUNet, ball: Any, prior: Any, y: int | None, sparse: bool = False
) -> Any:
    """Full CROWN with ``prior``: plain (chords) first when the label ``y`` is known and that
    already proves the margin positive, else two-group. ``sparse``: sparse backward
    coefficients (one point)."""
    from robustexp.verify._crown import linear_bounds

    kw = {"intermediate": "crown", "prior": prior, "sparse": sparse}
    if y is not None:
        lb = linear_bounds(net, ball, two_group=False, **kw)
        if _proves(lb, y):
            return lb
    return linear_bounds(net, ball, **kw)


def restrict_to_cone(net: ReLUNet, relevant: list[np.ndarray]) -> ReLUNet | None:
    """The sub-network of the units marked in ``relevant`` (one mask per hidden layer), with
    all inputs and outputs; None when a hidden layer keeps no unit (the output is then the
    constant last bias on the set)."""
    from robustexp.network import Affine

    keep = [np.flatnonzero(r) for r in relevant]
    if any(k.size == 0 for k in keep):
        return None
    layers = []
    prev: np.ndarray | None = None
    for k, layer in enumerate(net.layers):
        rows = keep[k] if k < net.depth - 1 else np.arange(layer.out_dim)
        W = sp.csr_array(layer.W)[rows]
        if prev is not None:
            W = sp.csr_array(W[:, prev])
        layers.append(Affine(sp.csr_array(W), np.asarray(layer.b)[rows]))
        prev = rows
    return ReLUNet(tuple(layers))


def _cone_crown_bounds(
    net: ReLUNet,
    ball: Any,
    ibp: Any,
    relevant: list[np.ndarray],
    y: int | None = None,
    sparse: bool = False,
) -> Any:
    from robustexp.verify._types import LayerBounds

    sub = restrict_to_cone(net, relevant)
    if sub is None:
        return ibp
    cols = [np.flatnonzero(r) for r in relevant] + [slice(None)]
    prior = LayerBounds(
        tuple(np.asarray(v)[:, c] for v, c in zip(ibp.lower, cols)),
        tuple(np.asarray(v)[:, c] for v, c in zip(ibp.upper, cols)),
        ibp.method,
    )
    try:
        lb = _crown_plain_first(sub, ball, prior, y, sparse)
    except ResourceLimitError:
        return ibp
    lower = [np.array(v) for v in ibp.lower]
    upper = [np.array(v) for v in ibp.upper]
    for k in range(net.depth):
        cols = np.flatnonzero(relevant[k]) if k < net.depth - 1 else slice(None)
        lower[k][0, cols] = np.maximum(lower[k][0, cols], lb.lower[k][0])
        upper[k][0, cols] = np.minimum(upper[k][0, cols], lb.upper[k][0])
    return LayerBounds(tuple(lower), tuple(upper), "crown")


def _bound_rows(bounds: Any, net: ReLUNet) -> tuple[list[np.ndarray], list[np.ndarray]]:
    lower = [np.asarray(v, dtype=np.float64) for v in bounds.lower]
    upper = [np.asarray(v, dtype=np.float64) for v in bounds.upper]
    if len(lower) != net.depth or len(upper) != net.depth:
        raise InvalidInputError(
            f"bounds must cover all {net.depth} layers; got {len(lower)} lower/{len(upper)} upper"
        )
    out_l, out_u = [], []
    for k, (lo, up, layer) in enumerate(zip(lower, upper, net.layers)):
        lo = lo.reshape(-1, layer.out_dim)
        up = up.reshape(-1, layer.out_dim)
        if lo.shape[0] != 1 or up.shape[0] != 1:
            raise InvalidInputError(f"bounds of layer {k} must be for one point; got {lo.shape}")
        out_l.append(lo[0])
        out_u.append(up[0])
    return out_l, out_u


def margin_from_bounds(bounds_l: list[np.ndarray], bounds_u: list[np.ndarray], y: int) -> float:
    """Sound lower bound on ``y f`` from output-layer bounds."""
    return float(bounds_l[-1][0]) if y > 0 else float(-bounds_u[-1][0])


# --------------------------------------------------------------------------- the encoding
@dataclass
class Encoding:
    """A MILP ``min cᵀv + c0`` s.t. ``rl ≤ A v ≤ ru``, ``lb ≤ v ≤ ub``, ``v_I`` integer."""

    c: np.ndarray
    c0: float
    A: sp.csr_array
    rl: np.ndarray
    ru: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    d: int
    n_binary: int
    n_stable: int
    #: sensitivities (module docstring): Σ_j g_j over modelled neurons, Σ_j g_j max(|l_j|, |u_j|)
    #: over unstable ones, and ||g_x||_1, ||g_x||_2 of the input sensitivity
    g_neurons: float
    g_unstable: float
    g_input_l1: float
    g_input_l2: float
    #: variable indices of the alive units feeding the last layer, and which units they are
    last_cols: np.ndarray
    last_keep: np.ndarray

    def slack(self, beta: float, tol: Tolerances) -> float:
        """The certificate slack ``S`` of the module docstring for dual bound ``beta``."""
        width_vars = float(np.sum(self.ub - self.lb))
        Ap = self.A.copy()
        Ap.data = np.maximum(Ap.data, 0.0)
        An = self.A.copy()
        An.data = np.minimum(An.data, 0.0)
        act_lo = Ap @ self.lb + An @ self.ub
        act_hi = Ap @ self.ub + An @ self.lb
        w = np.minimum(self.ru, act_hi) - np.maximum(self.rl, act_lo)
        width_rows = float(np.sum(np.maximum(w, 0.0)))
        D = tol.dual * (width_vars + width_rows + tol.extra_row_width)
        P = tol.primal * (2.0 * self.g_neurons + 3.0 * self.g_input_l1)
        P += tol.integrality * self.g_unstable
        P += tol.input_l2_excess * self.g_input_l2
        mag = np.maximum(np.abs(self.lb), np.abs(self.ub))
        K = int(np.count_nonzero(self.c))
        R = 2 * gamma(K + 1) * (float(np.abs(self.c) @ mag) + abs(self.c0))
        R += 4 * FLOAT64_UNIT_ROUNDOFF * (abs(beta) + abs(self.c0))
        S = MILP_SLACK_SAFETY_FACTOR * (D + P) + R
        return S * (1.0 + 1e-6)  # the slack's own float evaluation: a relative 1e-6 covers it


@dataclass(frozen=True)
class Tolerances:
    """The solver tolerances a certificate's slack must cover (module docstring)."""

    primal: float
    dual: float
    integrality: float
    #: how far (ℓ2) an input may leave the ball through a tolerance-violated quadratic row
    input_l2_excess: float = 0.0
    #: range widths of rows/variables the encoding does not hold (the MIQCP's extra rows)
    extra_row_width: float = 0.0


HIGHS_TOLERANCES = Tolerances(
    MILP_PRIMAL_FEASIBILITY_TOL, MILP_DUAL_FEASIBILITY_TOL, MILP_INTEGRALITY_TOL
)


def encode(
    net: ReLUNet,
    c: np.ndarray,
    r: float,
    p: float,
    lo: np.ndarray,
    hi: np.ndarray,
    y: int,
    bl: list[np.ndarray],
    bu: list[np.ndarray],
) -> Encoding:
    """Build the big-M model of the module docstring (p = ∞: box; p = 1: polytope; other p:
    the outward box and the outer ℓ1 polytope, which the MIQCP completes with the ball)."""
    d = net.in_dim
    xl, xu = _outward_box(c, r, lo, hi)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rl: list[np.ndarray] = []
    ru: list[np.ndarray] = []
    lbs: list[np.ndarray] = [xl]
    ubs: list[np.ndarray] = [xu]
    ints: list[np.ndarray] = [np.zeros(d)]
    nvar = d
    nrow = 0

    def add_rows(r_idx, c_idx, v, lo_, hi_):
        nonlocal nrow
        rows.append(np.asarray(r_idx, dtype=np.int64) + nrow)
        cols.append(np.asarray(c_idx, dtype=np.int64))
        vals.append(np.asarray(v, dtype=np.float64))
        rl.append(np.asarray(lo_, dtype=np.float64))
        ru.append(np.asarray(hi_, dtype=np.float64))
        nrow += len(lo_)

    r1 = math.inf
    if not math.isinf(p):
        # x - s+ + s- = c ;  sum(s+ + s-) <= r1. For p = 1 this is the ball; for p > 1 it is
        # the outer polytope ||x - c||_1 <= d^(1-1/p) r (Hölder), rounded up generously.
        r1 = r if p == 1.0 else float(np.nextafter(r * d ** (1.0 - 1.0 / p) * (1 + 1e-12), np.inf))
        sp_idx = np.arange(d) + d
        sm_idx = np.arange(d) + 2 * d
        lbs += [np.zeros(d), np.zeros(d)]
        ubs += [np.full(d, r1), np.full(d, r1)]
        ints += [np.zeros(d), np.zeros(d)]
        nvar += 2 * d
        ar = np.arange(d)
        add_rows(
            np.r_[ar, ar, ar],
            np.r_[ar, sp_idx, sm_idx],
            np.r_[np.ones(d), -np.ones(d), np.ones(d)],
            c,
            c,
        )
        add_rows(np.zeros(2 * d), np.r_[sp_idx, sm_idx], np.ones(2 * d), [-np.inf], [r1])

    relevant = _relevant_units(net, bu)
    prev_cols = np.arange(d)  # variable index of each alive unit of the previous layer
    prev_keep = np.arange(d)  # which units of the previous layer are alive (not inactive)
    n_binary = 0
    n_stable = 0
    # per hidden layer: (alive units, max(|l|,|u|) on alive units that are unstable else 0)
    deviations: list[tuple[np.ndarray, np.ndarray]] = []
    for k, layer in enumerate(net.layers[:-1]):
        W = layer.W if layer.is_sparse else sp.csr_array(layer.W)
        Wk = sp.csr_array(W[:, prev_keep]) if prev_keep.size else sp.csr_array((W.shape[0], 0))
        b = layer.b
        lo_k, up_k = bl[k], bu[k]
        active = np.flatnonzero((lo_k >= 0.0) & (up_k > 0.0) & relevant[k])
        unstable = np.flatnonzero((lo_k < 0.0) & (up_k > 0.0) & relevant[k])
        n_stable += layer.out_dim - unstable.size
        alive = np.sort(np.r_[active, unstable])
        a_idx = np.full(layer.out_dim, -1, dtype=np.int64)
        a_idx[alive] = nvar + np.arange(alive.size)
        nvar += alive.size
        lbs.append(np.where(lo_k[alive] >= 0, lo_k[alive], 0.0))
        ubs.append(up_k[alive])
        ints.append(np.zeros(alive.size))
        d_idx = np.full(layer.out_dim, -1, dtype=np.int64)
        d_idx[unstable] = nvar + np.arange(unstable.size)
        nvar += unstable.size
        n_binary += unstable.size
        lbs.append(np.zeros(unstable.size))
        ubs.append(np.ones(unstable.size))
        ints.append(np.ones(unstable.size))
        mags = np.zeros(alive.size)
        if unstable.size:
            pos = np.searchsorted(alive, unstable)
            mags[pos] = np.maximum(np.abs(lo_k[unstable]), np.abs(up_k[unstable]))
        deviations.append((alive, mags))

        def lin_rows(sel, extra_r, extra_c, extra_v, Wk=Wk, prev_cols=prev_cols):
            return _lin_rows(Wk, prev_cols, sel, extra_r, extra_c, extra_v)

        if active.size:  # a - W a_prev = b
            m = active.size
            add_rows(
                *lin_rows(active, np.arange(m), a_idx[active], np.ones(m)), b[active], b[active]
            )
        if unstable.size:
            m = unstable.size
            ar = np.arange(m)
            lu, uu = lo_k[unstable], up_k[unstable]
            # a - W a_prev >= b
            add_rows(
                *lin_rows(unstable, ar, a_idx[unstable], np.ones(m)),
                b[unstable],
                np.full(m, np.inf),
            )
            # a - W a_prev - l delta <= b - l
            add_rows(
                *lin_rows(
                    unstable,
                    np.r_[ar, ar],
                    np.r_[a_idx[unstable], d_idx[unstable]],
                    np.r_[np.ones(m), -lu],
                ),
                np.full(m, -np.inf),
                _sub_up(b[unstable], lu),
            )
            # a - u delta <= 0
            add_rows(
                np.r_[ar, ar],
                np.r_[a_idx[unstable], d_idx[unstable]],
                np.r_[np.ones(m), -uu],
                np.full(m, -np.inf),
                np.zeros(m),
            )
        if k == 0 and math.isfinite(r1):  # the ℓ1 absolute-value-pair cuts (._cuts)
            for units, rhs in abs_pair_cuts(net, c, r1, alive):
                add_rows(np.zeros(units.size), a_idx[units], np.ones(units.size), [-np.inf], [rhs])
        prev_keep = alive
        prev_cols = a_idx[alive]

    last = net.layers[-1]
    w_last = np.asarray(
        last.W[[0]].toarray() if last.is_sparse else last.W[[0]], dtype=np.float64
    ).reshape(-1)
    cvec = np.zeros(nvar)
    np.add.at(cvec, prev_cols, y * w_last[prev_keep])
    c0 = float(y * last.b[0])
    if last.out_dim != 1:  # a truncated net (bound tightening): no objective, no sensitivity
        cvec[:] = 0.0
        c0 = 0.0
        w_last = np.zeros_like(w_last)

    # sensitivities g (module docstring): backwards through |W|, restricted to the modelled
    # units (an inactive or irrelevant unit is not a variable of the model, so no deviation
    # of the solver's point passes through it)
    g = np.abs(w_last)
    g_neurons = g_unstable = 0.0
    for k in range(net.depth - 2, -1, -1):
        alive_k, mags_k = deviations[k]
        g_neurons += float(np.sum(g[alive_k]))
        g_unstable += float(g[alive_k] @ mags_k)
        g_model = np.zeros_like(g)
        g_model[alive_k] = g[alive_k]
        g = np.asarray(net.layers[k].abs_W.T @ g_model).reshape(-1)

    if rows:
        A = sp.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(nrow, nvar),
        )
        A.sum_duplicates()
        rl_a, ru_a = np.concatenate(rl), np.concatenate(ru)
    else:
        A = sp.csr_array((0, nvar))
        rl_a = ru_a = np.zeros(0)
    return Encoding(
        c=cvec,
        c0=c0,
        A=A,
        rl=rl_a,
        ru=ru_a,
        lb=np.concatenate(lbs),
        ub=np.concatenate(ubs),
        integrality=np.concatenate(ints),
        d=d,
        n_binary=n_binary,
        n_stable=n_stable,
        g_neurons=g_neurons,
        g_unstable=g_unstable,
        g_input_l1=float(np.sum(g)),
        g_input_l2=float(np.linalg.norm(g)),
        last_cols=prev_cols,
        last_keep=prev_keep,
    )


def _relevant_units(net: ReLUNet, bu: list[np.ndarray]) -> list[np.ndarray]:
    """Per hidden layer, the units that can influence the output (cone of influence).

    A unit is relevant iff it is not stably inactive (``u > 0``) and some relevant unit of
    the next layer (or an output) reads it with a nonzero weight. The others are left out
    of the model: an inactive unit is 0, and an irrelevant active one changes nothing the
    objective depends on, so the optimum is unchanged. For a sum of localised units (the
    memorizers) this drops every unit whose bump is proven dead on the set.
    """

    def read_by(k: int, rows: np.ndarray | None) -> np.ndarray:
        W = sp.csr_array(net.layers[k].W)
        sub = W if rows is None else sp.csr_array(W[rows])
        mask = np.zeros(W.shape[1], dtype=bool)
        mask[sub.indices[sub.data != 0]] = True
        return mask

    L = net.depth
    need = read_by(L - 1, None)
    out: list[np.ndarray] = [np.zeros(0, dtype=bool)] * (L - 1)
    for k in range(L - 2, -1, -1):
        out[k] = need & (bu[k] > 0.0)
        if k > 0:
            need = read_by(k, np.flatnonzero(out[k]))
    return out


def _lin_rows(Wk, prev_cols, sel, extra_r, extra_c, extra_v):
    """COO triplets of the rows ``-W_sel a_prev + extra`` for the neurons ``sel``."""
    sub = sp.coo_array(Wk[sel])
    return (
        np.concatenate([sub.row, np.asarray(extra_r)]),
        np.concatenate([prev_cols[sub.col], np.asarray(extra_c)]),
        np.concatenate([-sub.data, np.asarray(extra_v, dtype=np.float64)]),
    )


def _sub_up(b: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``b - l`` rounded up (the right side of ``a ≤ z - l(1-δ)`` may only grow)."""
    return np.nextafter(b - lo, np.inf)


def estimate_bytes(net: ReLUNet) -> int:
    """Rough memory of the model: ~3 rows per neuron referencing the layer's weights."""
    return 64 * (3 * net.nonzero_weights + 8 * net.hidden_neurons + 4 * net.in_dim)


# --------------------------------------------------------------------------- witnesses
def try_witness(
    net: ReLUNet, ball: Any, y: int, x: np.ndarray, *, descend: bool
) -> tuple[np.ndarray | None, float, float]:
    """Snap a solver point into the set; re-check it (and a short descent from it).

    Returns ``(witness or None, y f at the best in-set point (float), that point's margin)``.
    """
    X, inside = snap_into_set(ball, x[None, :])
    if not inside[0]:
        return None, math.inf, math.inf
    m = float(y * net(X)[0, 0])
    best = m
    if m <= 0 and recheck_witness(net, ball, [y], X)[0]:
        return X[0], m, m
    if descend:
        from robustexp.verify._attacks import descend_from

        Z, mz = descend_from(net, ball, np.array([y]), X)
        best = min(best, float(mz[0]))
        if mz[0] <= 0 and recheck_witness(net, ball, [y], Z)[0]:
            return Z[0], float(mz[0]), best
    return None, best, best


# --------------------------------------------------------------------------- the query
def milp_margin(
    net: ReLUNet,
    ball: Any,
    y: Any,
    *,
    time_limit: float = MILP_DEFAULT_TIME_LIMIT,
    bounds: Any = None,
    exact_value: bool = False,
    tighten: bool = False,
    mip_rel_gap: float = 1e-4,
) -> MilpResult:
    """Decide robustness of one point over an ℓ∞ or ℓ1 ball (∩ domain) by MILP (HiGHS).

    ``ball`` is an ``LpBall`` of one point (p ∈ {1, ∞}), ``y`` its label, ``bounds`` an
    optional ``LayerBounds`` for that point (else :func:`default_bounds`: full CROWN).
    ``tighten`` first re-bounds the unstable neurons with rigorous LP bounds
    (:mod:`robustexp.verify._lp`). Measured in ``benchmarks/bench_milp.py``: it pays when
    starting from interval bounds (it removes about half the binaries) but not on top of
    full CROWN, which is already nearly as tight on these nets, hence off by default. With
    ``exact_value=False`` the query stops as soon as the verdict is known (the bounds or the
    LP relaxation certify, or the centre is a counterexample); with ``True`` it always solves
    the MILP, so that ``lower_bound`` and ``upper_bound`` bracket the minimum tightly.

    >>> from types import SimpleNamespace
    >>> net = ReLUNet.from_layers([([[1.0], [-1.0]], [0, 0]), ([[-1.0, -1.0]], [0.5])])
    >>> ball = SimpleNamespace(center=np.array([[0.0]]), radius=0.25, p=np.inf, domain=None)
    >>> b = SimpleNamespace(lower=(np.array([[-0.25, -0.25]]), np.array([[0.0]])),
    ...                     upper=(np.array([[0.25, 0.25]]), np.array([[0.5]])))
    >>> res = milp_margin(net, ball, 1, bounds=b, exact_value=True)   # min of 0.5 - |x|
    >>> res.status, round(res.lower_bound, 6), res.upper_bound
    ('certified', 0.25, 0.25)
    """
    query = Query.make(net, ball, y, (1.0, math.inf), "milp_margin", "use miqcp_margin for p = 2")
    return query.run(_highs_solver(float(mip_rel_gap)), time_limit, bounds, exact_value, tighten)


@dataclass(frozen=True)
class SolverOutcome:
    """What a MILP/MIQCP back end reports: normalised across HiGHS and SCIP."""

    state: str  # "optimal" | "timeout" | "infeasible" | "other"
    beta: float | None  # proven dual bound of min cᵀv (without c0), if any
    x: np.ndarray | None  # the first d coordinates of the best solution, if any
    objective: float | None  # cᵀv at that solution (without c0)
    message: str
    tolerances: Tolerances
    nodes: int | None = None


def _highs_solver(gap: float):
    def solve(enc: Encoding, time_limit: float) -> SolverOutcome:
        from scipy.optimize import Bounds, LinearConstraint, milp

        options = {
            "time_limit": float(time_limit),
            "presolve": False,
            "mip_rel_gap": gap,
            "primal_feasibility_tolerance": HIGHS_TOLERANCES.primal,
            "dual_feasibility_tolerance": HIGHS_TOLERANCES.dual,
            "mip_feasibility_tolerance": HIGHS_TOLERANCES.integrality,
            "simplex_scale_strategy": 0,
            "threads": 1,
            "random_seed": 0,
        }
        constraints = [LinearConstraint(enc.A, enc.rl, enc.ru)] if enc.A.shape[0] else []
        with warnings.catch_warnings():
            # scipy warns that the tolerance options are passed to HiGHS verbatim: intended.
            warnings.simplefilter("ignore", RuntimeWarning)
            res = milp(
                enc.c,
                integrality=enc.integrality,
                bounds=Bounds(enc.lb, enc.ub),
                constraints=constraints,
                options=options,
            )
        state = {0: "optimal", 1: "timeout", 2: "infeasible"}.get(int(res.status), "other")
        x = None if res.x is None else np.asarray(res.x[: enc.d], dtype=np.float64)
        fun = res.get("fun")
        return SolverOutcome(
            state=state,
            beta=_dual_bound(res, enc),
            x=x,
            objective=None if fun is None or x is None else float(fun),
            message=str(res.message),
            tolerances=HIGHS_TOLERANCES,
            nodes=res.get("mip_node_count"),
        )

    return solve


@dataclass(frozen=True)
class Query:
    """One validated complete query: net, single-point ball, label (shared by MILP/MIQCP)."""

    net: ReLUNet
    ball: Any
    c: np.ndarray
    r: float
    p: float
    lo: np.ndarray
    hi: np.ndarray
    y: int
    t0: float

    @classmethod
    def make(cls, net: ReLUNet, ball: Any, y: Any, ps: tuple, who: str, hint: str) -> Query:
        t0 = time.perf_counter()
        c, r, p, lo, hi, yy = _single(ball, y)
        if net.out_dim != 1:
            raise InvalidInputError(f"the classifier needs a single-output net; got {net.out_dim}")
        if c.size != net.in_dim:
            raise InvalidInputError(f"the ball lives in dimension {c.size}; net needs {net.in_dim}")
        if p not in ps:
            raise InvalidInputError(f"{who} handles p in {ps}; got p = {p} ({hint})")
        if estimate_bytes(net) > MEMORY_LIMIT_BYTES:
            raise ResourceLimitError(
                f"the model of this net needs ~{estimate_bytes(net) / 2**30:.1f} GiB "
                f"(limit {MEMORY_LIMIT_BYTES / 2**30:.0f} GiB)"
            )
        return cls(net, ball, c, r, p, lo, hi, yy, t0)

    def result(
        self, status, lower, witness=None, detail="", best=math.inf, upper=math.inf, stats=None
    ):
        return MilpResult(
            status=status,
            lower_bound=float(lower),
            witness=witness,
            best_margin=float(best) if witness is not None else math.inf,
            time=time.perf_counter() - self.t0,
            detail=detail,
            upper_bound=float(upper),
            stats=dict(stats or {}),
        )

    def run(self, solve, time_limit, bounds, exact_value: bool, tighten: bool) -> MilpResult:
        """Bounds → cheap verdicts → LP tightening → encode → solve → sound verdict."""
        net, c, r, p, lo, hi, yy = self.net, self.c, self.r, self.p, self.lo, self.hi, self.y
        if not time_limit > 0:
            raise InvalidInputError(f"time_limit must be positive; got {time_limit!r}")
        if np.any(np.maximum(c - r, lo) > np.minimum(c + r, hi)):
            return self.result("unknown", -math.inf, detail="ball ∩ domain may be empty")
        if bounds is None:
            bounds = default_bounds(net, self.ball, self.y)
        bl, bu = _bound_rows(bounds, net)
        cheap = margin_from_bounds(bl, bu, yy)
        stats: dict[str, Any] = {
            "bounds_margin": cheap,
            "bounds_method": getattr(bounds, "method", None),
        }
        upper = math.inf
        if not exact_value:
            if cheap > 0:
                return self.result("certified", cheap, detail="bounds certify", stats=stats)
            w, m_in, _ = try_witness(net, self.ball, yy, c, descend=False)
            upper = m_in
            if w is not None:
                return self.result("falsified", cheap, w, "centre is a counterexample", m_in, m_in)
        if tighten and net.depth > 1:
            from robustexp.verify._lp import lp_tighten

            t1 = time.perf_counter()
            bl, bu, lp_stats = lp_tighten(net, c, r, p, lo, hi, yy, bl, bu)
            stats.update(lp_stats, lp_time=time.perf_counter() - t1)
            cheap = max(cheap, margin_from_bounds(bl, bu, yy))
            stats["lp_margin"] = cheap
            if cheap > 0 and not exact_value:
                return self.result(
                    "certified", cheap, detail="LP relaxation certifies", stats=stats
                )
        enc = encode(net, c, r, p, lo, hi, yy, bl, bu)
        stats.update(
            binaries=enc.n_binary,
            stable=enc.n_stable,
            rows=int(enc.A.shape[0]),
            variables=int(enc.A.shape[1]),
        )
        remaining = max(time_limit - (time.perf_counter() - self.t0), 1e-3)
        out = solve(enc, remaining)
        stats.update(solver_state=out.state, nodes=out.nodes)
        witness, best = None, math.inf
        if out.x is not None and np.all(np.isfinite(out.x)):
            want = out.objective is not None and out.objective + enc.c0 <= 0
            witness, m_x, _ = try_witness(net, self.ball, yy, out.x, descend=want)
            upper = min(upper, m_x)
            if witness is not None:
                best = float(yy * net(witness[None, :])[0, 0])
        if out.state == "optimal" and out.beta is not None:
            slack = enc.slack(out.beta, out.tolerances)
            stats["slack"] = slack
            lower = max(out.beta + enc.c0 - slack, cheap)
            if witness is not None:
                detail = "optimum re-checked"
                if lower > best:  # impossible for sound bounds: never report both
                    detail += f"; WARNING: lower bound {lower:g} exceeded the witness, dropped"
                    lower = -math.inf
                return self.result("falsified", lower, witness, detail, best, upper, stats)
            if lower > 0:
                return self.result(
                    "certified", lower, None, "solver optimal", upper=upper, stats=stats
                )
            detail = "optimum within the tolerance slack of 0 and no re-checked witness"
            return self.result("unknown", lower, None, detail, upper=upper, stats=stats)
        if witness is not None:
            return self.result(
                "falsified", cheap, witness, "incumbent re-checked", best, upper, stats
            )
        if out.state == "timeout":
            have = "no" if out.x is None else "a"
            detail = f"time limit {time_limit:g} s reached ({have} solution); never certified"
        elif out.state == "infeasible":
            detail = "solver reports the model infeasible (impossible for a nonempty set)"
        else:
            detail = f"solver stopped: {out.message}"
        return self.result("unknown", cheap, None, detail, upper=upper, stats=stats)


def _dual_bound(res: Any, enc: Encoding) -> float | None:
    beta = res.get("mip_dual_bound")
    if beta is not None and np.isfinite(beta):
        return float(beta)
    if res.status == 0 and enc.n_binary == 0 and res.get("fun") is not None:
        return float(res.fun)  # a pure LP: the optimal objective is the dual bound
    return None
