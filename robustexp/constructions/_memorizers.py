r"""Theorem 2.2: explicit robust memorizers of 2ε-separated data [RECON].

**Theorem 2.2 (paper, §2).** For p ∈ {2, ∞}, ε ∈ (0, 1/2), δ < ε/2 and a data set
D ⊂ B_p(0, 1) of N points whose classes are 2ε-separated, a ReLU network with
O(Nd log(d/δ) + N polylog(N/δ)) parameters has zero robust training error at radius δ.
The appendix proof (App. B.3) was not available; the constructions below are the
reconstruction of ``shared/paper-notes.md`` §3.1, **[RECON]**, each proved here on its own
terms (and checked by :meth:`~Construction.certificate` on every instance).

Notation. Data (x_i, y_i), i ≤ N, y_i ∈ {±1}; D = min_{y_i≠y_j} ‖x_i − x_j‖_p = 2ε (the
*measured* separation; a smaller claimed ε may be passed); δ the radius; balls are closed:
B_p(x, δ) = {x' : ‖x' − x‖_p ≤ δ}. "Robust at x_i" means y_i f(x') > 0 for all
x' ∈ B_p(x_i, δ). Every network has one output, classified by its sign.

**Common argument.** If ‖x' − x_i‖ ≤ δ and y_j ≠ y_i then ‖x' − x_j‖ ≥ D − δ (triangle
inequality, the ≥ of Def. 1.1).

1. **Bump memorizer** ``f(x) = Σ_i y_i h·β(g_i(x))`` (``memorizer-linf``, ``-l1``, ``-l2``).
   ``g_i`` is a distance gadget: g_i = ‖x − x_i‖ exactly (ℓ∞: H1's max tree,
   ``linf_distance``; ℓ1: ``l1_distance``), or the Yarotsky squared distance ŝ_i (ℓ2,
   ``sq_l2_distance``). β = H1's ``plateau_bump(A, B)``: 1 on t ≤ A, 0 on t ≥ B, in [0, 1]
   everywhere; h = ``bump_height(A, B)`` = 1 ± 2⁻⁵³ is the exact height of the float bump.

   *Exact norms*: A = δ, B = 2δ (both exact floats). For x' ∈ B(x_i, δ): g_i(x') ≤ δ, so
   β = 1; for y_j ≠ y_i: g_j(x') ≥ D − δ ≥ 2δ = B iff **D ≥ 3δ**, and then β_j = 0; same-label
   bumps are ≥ 0. Hence y_i f(x') ≥ h > 0. **Admissible range: 0 < δ ≤ 2ε/3, closed**
   (D = 2ε; at δ = 2ε/3 exactly, g_j ≥ 2δ = B and β_j(B) = σ(0) − σ(−δ) = 0).

   *The range is tight over data sets*: for any δ > 2ε/3 let x' = x_i + v with ‖v‖ = δ and
   put M opposite points on the sphere ‖z − x'‖ = D − δ < 2δ, each at distance ≥ D from every
   positive point (in ℓ∞ and d ≥ 2 a continuum of such points exists, e.g. for x_i = 0,
   x' = δ·1 the faces z_1 = D or z_2 = D of the cube around x'); every one has
   β = (B − (D−δ))/(B − A) = 3 − D/δ > 0, so y_i f(x') = h(1 − M(3 − D/δ)) < 0 as soon as
   M > 1/(3 − D/δ). Tested in ``tests/constructions/test_memorizers.py``. So 2ε/3 is
   exactly the largest radius at which the bump memorizer is robust for *every* data set;
   on a given data set it can be robust further out (with one opposite neighbour, up to ε).

   *ℓ2 (Yarotsky)*: per coordinate, φ(t) = scale²·f_m(|t|/scale) with f_m the piecewise-linear
   interpolant of t² on 2^m + 1 nodes (Yarotsky 2017, Prop. 2); ŝ_i = Σ_j φ(x_j − x_ij). On
   [0, 1], t² ≤ f_m(t) ≤ t² + 4^{−(m+1)} (convexity: the chord lies above; Yarotsky's bound),
   and f_m(t) = t ≥ 1 for t ≥ 1 (the sawtooths vanish there), so
   **s ≤ ŝ ≤ s + e on the own ball** (each |t_j| ≤ δ ≤ scale) with e = d·scale²·4^{−(m+1)},
   and **ŝ ≥ min(s, scale²) everywhere** (if some |t_j| > scale that term alone is ≥ scale²).
   Thresholds A = δ² + e (rounded up), B = 4δ² (rounded down, and ≤ scale²). Own ball:
   ŝ ≤ δ² + e ≤ A. Opposite: ŝ ≥ min((D − δ)², scale²) ≥ 4δ² ≥ B iff D ≥ 3δ and
   scale ≥ 2δ. m is the least integer with e ≤ δ² (so A < B). Same range **0 < δ ≤ 2ε/3**.
   The one-sided bound (the interpolant never underestimates) is what keeps the range at
   2ε/3; with a two-sided error it would shrink to 2ε/(1 + √(4 + e/δ²)).

   Two choices of ``scale`` (``scale=`` option; H1's gadget is exact for any float scale):
   ``"cover"`` (default, the notes' recipe): the least float ≥ 2 + δ, which covers every
   coordinate difference |x'_j − x_ij| ≤ 2 + δ on the relevant domain B(0, 1 + δ), so
   m = ⌈log₄(d·scale²/δ²)⌉ − 1 = O(log(d/δ)), the theorem's first term. ``"tight"``:
   scale = 2δ, which the one-sided argument shows is enough: then m = ⌈log₄ d⌉ (independent
   of δ) and the size is O(Nd log d).

2. **Nearest-margin network** ``f(x) = min_{y_j=−1} g_j(x) − min_{y_i=+1} g_i(x)``
   (``nearest-margin-linf``, ``-l1``, ``-l2``; notes §3.1 "optional alternative"), with H1's
   ``min_tree`` over each class. For x' ∈ B(x_i, δ), y_i = +1: min_+ g ≤ g_i(x') ≤ δ and
   min_− g ≥ D − δ, so y_i f(x') ≥ D − 2δ > 0 iff **δ < ε (open)**; symmetric for y_i = −1.
   This is optimal: at δ = ε the midpoint of the closest pair lies in both closed balls, so
   no classifier at all is robust there (and here f(midpoint) = 0 exactly). ℓ2 uses ŝ:
   y_i f ≥ min((D − δ)², scale²) − δ² − e > 0; m is chosen so that e ≤ D(D − 2δ)/2 (half the
   slack (D − δ)² − δ², with D replaced by a rational lower bound) — m depends on ε and
   grows like log(1/(ε − δ)) as δ → ε.

3. **Cube memorizer** ``cube-memorizer-linf`` (ours, ℓ∞ only): the same bump idea without a
   max tree, ``f(x) = Σ_i y_i w·σ(δ₂ − Σ_j [σ(x_j − u_ij) + σ(l_ij − x_j)])`` with thresholds
   u_ij ≥ x_ij + δ and l_ij ≤ x_ij − δ (rounded outwards), δ₂ ≤ δ − ρ where ρ bounds the
   outward rounding, w = fl(1/δ₂). Own ball: every excess term is 0, so the bump is δ₂.
   Opposite x_k: some coordinate has |x_ij − x_kj| ≥ D ≥ 3δ, whose excess is
   ≥ D − 2δ − ρ ≥ δ₂, so the bump is 0. Range **0 < δ ≤ 2ε/3, closed**, depth 3,
   6Nd + 2N − T parameters. Unlike the max-tree memorizer it is certified by plain interval
   bound propagation (IBP): on the own box every excess pre-activation is ≤ 0 (IBP is exact
   there), whereas IBP and CROWN over-estimate a max tree of depth ⌈log₂ d⌉ by a factor
   2^⌈log₂ d⌉ resp. (3/2)^⌈log₂ d⌉ (a max(a, b) = a + σ(b − a) node with a, b ∈ [0, r] gets
   the upper bound 2r resp. 3r/2), so they cannot certify the max-tree memorizer once d > 2.

**Sizes.** Each construction's :meth:`size_formula` is exact (a test compares it with the
measured counts on a grid); it composes H1's gadget formulas with the junction rule of
:func:`~robustexp.network.sequential` (merge iff the merged layer is not larger). Symbols:
N, d, m (Yarotsky depth), ``z`` (centre coordinates equal to 0, whose biases vanish),
N₊, N₋ (class sizes, nearest-margin), ``T`` (cube thresholds equal to 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
import sympy as sym

from robustexp._errors import ConditionError, InvalidInputError, SeparationError
from robustexp._validate import as_finite_matrix, as_labels, require_positive
from robustexp.bounds import N, d, m
from robustexp.constructions._construction import (
    Certificate,
    CheckedCondition,
    Construction,
    ExplicitConstant,
    Instance,
    RadiusCondition,
    rows_in_unit_ball,
    sqrt_bounds,
)
from robustexp.network import ReLUNet

__all__ = [
    "REGISTERED",
    "BumpMemorizer",
    "CubeMemorizer",
    "N_neg",
    "N_pos",
    "NearestMargin",
    "T_zero",
    "z_zero",
]

THEOREM = "Thm 2.2"
_THEOREM_RADIUS = "δ < ε/2 (ε < 1/2, data in B_p(0,1))"

#: Number of centre coordinates equal to 0 (each removes two nonzero first-layer biases).
z_zero = sym.Symbol("z", integer=True, nonnegative=True)
#: Number of positive / negative training points (nearest-margin: one min tree per class).
N_pos = sym.Symbol("N_+", integer=True, positive=True)
N_neg = sym.Symbol("N_-", integer=True, positive=True)
#: Number of cube-memorizer thresholds x_ij ± δ that are exactly 0.
T_zero = sym.Symbol("T", integer=True, nonnegative=True)

_SCALE_MODES = ("cover", "tight")


# =========================================================================== the instance
@dataclass(frozen=True, eq=False)
class _Data:
    """Validated data with its exact separation, shared by build and certificate."""

    X: np.ndarray
    y: np.ndarray
    p: float
    radius: float
    sep: Any  # robustexp.data.Separation, or None when only a lower bound was proven
    eps_sq: Fraction | None  # ε² used by the conditions (None: one class, ε = ∞)
    source: str  # "measured" (exact), "claimed" (verified), "lower bound" (proven)
    in_ball: tuple[bool, int, float]

    @property
    def N(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def D_sq(self) -> Fraction | None:
        """(2ε)², exact (the separation D itself, or the claimed 2ε)."""
        return None if self.eps_sq is None else 4 * self.eps_sq

    def D_bounds(self) -> tuple[Fraction, Fraction] | None:
        """Rationals lo ≤ D = 2ε ≤ hi (exact for ℓ1, ℓ∞ when measured)."""
        if self.eps_sq is None:
            return None
        if self.source == "measured" and self.sep.distance_exact is not None:
            return self.sep.distance_exact, self.sep.distance_exact
        return sqrt_bounds(self.D_sq)

    def pair_text(self) -> str:
        s = self.sep
        if s is None:
            return "separation ≥ 2ε proven by screening (closest pair not computed)"
        if s.pair is None:
            return "one class only: no inter-class pair"
        (i, j), (yi, yj) = s.pair, s.pair_labels
        norm = _norm_name(self.p)
        return (
            f"closest pair: points {i} (label {yi:+d}) and {j} (label {yj:+d}) at {norm} "
            f"distance {s.distance:.17g}"
        )


def _norm_name(p: float) -> str:
    return "ℓ∞" if p == math.inf else f"ℓ{p:g}"


def _validated(X: Any, y: Any, radius: float) -> tuple[np.ndarray, np.ndarray, float]:
    Xa = as_finite_matrix(X, "X")
    ya = as_labels(y, Xa.shape[0], "y")
    return Xa, ya, require_positive(radius, "radius")


def _prepare(
    X: Any, y: Any, radius: float, p: float, eps: float | None, *, require_two: bool
) -> _Data:
    """Validated data with the EXACT separation (H6's ``separation``) or a verified claim."""
    from robustexp.data import require_separated, separation

    Xa, ya, r = _validated(X, y, radius)
    sep = separation(Xa, ya, p)
    if require_two and sep.pair is None:
        raise InvalidInputError(
            "the nearest-margin construction needs both classes; the labels are all "
            f"{int(ya[0]):+d}"
        )
    if eps is not None:
        e = require_positive(eps, "eps")
        require_separated(Xa, ya, e, p)
        eps_sq, source = Fraction(e) ** 2, "claimed"
    else:
        eps_sq = None if sep.distance_sq is None else sep.distance_sq / 4
        source = "measured"
    return _Data(Xa, ya, p, r, sep, eps_sq, source, rows_in_unit_ball(Xa, p))


def _prepare_build(
    X: Any,
    y: Any,
    radius: float,
    p: float,
    eps: float | None,
    rc: RadiusCondition,
    *,
    require_two: bool,
    need_exact: bool,
    check: bool,
    hypotheses: Any,
) -> _Data:
    """Validation for ``build``, raising on the first failed hypothesis.

    Fast path (no claimed ε, no exact D needed): the radius condition δ ≤ ρε (or < ρε) is
    equivalent to D ≥ 2δ/ρ (or >), and H6's :func:`~robustexp.data.is_separated` proves
    D ≥ 2e for e = fl↑(δ/ρ) (the next float up when the condition is strict) by screening
    with proven float error bounds, without computing the exact minimum. Only when it
    cannot is the exact separation computed; it then decides, and errors name the closest
    inter-class pair. ``check=False`` skips all checks.
    """
    from robustexp.data import is_separated

    if eps is not None or need_exact:
        data = _prepare(X, y, radius, p, eps, require_two=require_two)
        if check:
            _raise_first(hypotheses(data), data)
        return data
    Xa, ya, r = _validated(X, y, radius)
    if require_two and np.all(ya == ya[0]):
        raise InvalidInputError(
            "the nearest-margin construction needs both classes; the labels are all "
            f"{int(ya[0]):+d}"
        )
    in_ball = rows_in_unit_ball(Xa, p)
    if not check:
        return _Data(Xa, ya, p, r, None, None, "unchecked", in_ball)
    q = Fraction(r) / rc.ratio
    e = _round_up(q)
    if not rc.closed and Fraction(e) == q:
        e = float(np.nextafter(e, math.inf))
    if in_ball[0] and is_separated(Xa, ya, e, p):
        return _Data(Xa, ya, p, r, None, Fraction(e) ** 2, "lower bound", in_ball)
    data = _prepare(Xa, ya, radius, p, None, require_two=require_two)
    _raise_first(hypotheses(data), data)
    return data


# ---- the three hypotheses every Thm 2.2 construction checks
def _domain_condition(data: _Data) -> CheckedCondition:
    ok, row, value = data.in_ball
    return CheckedCondition(
        "domain",
        ok,
        f"every x_i in the closed unit ball B_{_norm_name(data.p)[1:]}(0, 1) (Thm 2.2)",
        f"max ‖x_i‖ = {value:.17g} (row {row})" if ok else f"‖x_{row}‖ = {value:.17g} > 1",
    )


def _separation_condition(data: _Data) -> CheckedCondition:
    sep = data.sep
    ok = sep is None or sep.pair is None or sep.distance_sq > 0
    eps_txt = "ε = ∞" if data.eps_sq is None else f"ε = {float(sqrt_bounds(data.eps_sq)[0])!r}"
    src = {"claimed": "claimed, verified", "measured": "measured exactly"}.get(
        data.source, data.source
    )
    return CheckedCondition(
        "separation",
        ok,
        "the classes are 2ε-separated with ε > 0 (Def. 1.1)",
        f"{eps_txt} ({src}); {data.pair_text()}",
    )


def _radius_condition(data: _Data, rc: RadiusCondition) -> CheckedCondition:
    return CheckedCondition(
        "radius",
        rc.holds(data.radius, data.eps_sq),
        f"{rc.guarantee} (the theorem assumes {rc.theorem})",
        f"δ = {data.radius!r}; "
        + (
            "ε = ∞"
            if data.eps_sq is None
            else f"ε = {float(sqrt_bounds(data.eps_sq)[0])!r}, "
            f"{rc.ratio}·ε = {rc.max_radius(float(sqrt_bounds(data.eps_sq)[0]))!r}"
        ),
    )


def _raise_first(conditions: list[CheckedCondition], data: _Data) -> None:
    for c in conditions:
        if c.holds:
            continue
        if c.name == "separation":
            raise SeparationError(
                f"data are not separated under {_norm_name(data.p)} (classes touch): "
                f"{data.pair_text()}"
            )
        if c.name == "radius":
            raise ConditionError(
                f"radius condition fails: {c.requirement}; {c.measured}; {data.pair_text()}"
            )
        raise ConditionError(f"condition '{c.name}' fails: {c.requirement}; {c.measured}")


# =========================================================================== rounding helpers
def _round_up(q: Fraction) -> float:
    """The least float ≥ q."""
    f = float(q)
    return f if Fraction(f) >= q else float(np.nextafter(f, math.inf))


def _round_down(q: Fraction) -> float:
    """The greatest float ≤ q."""
    f = float(q)
    return f if Fraction(f) <= q else float(np.nextafter(f, -math.inf))


#: How many ulps the plateau threshold may be raised to get past the gadget's check.
_PLATEAU_RETRIES = 64


def _accepted_plateau(A: float, B: float) -> float:
    """The least float A' ≥ A that H1's ``plateau_bump(A', B)`` accepts (adapter).

    H1's reciprocal check in ``_bumps._ends`` evaluates ``w·(b − a) − 1`` with a float ``w``
    times a Fraction, i.e. in floating point, and so refuses some widths whose exact error is
    below 2^-53. Raising the plateau threshold by a few ulps is sound (the proof needs only
    φ(δ) + e ≤ A' < B, and build and certificate use the same A'); it is a no-op once the
    check is exact. Reported to the gadget owner.
    """
    from robustexp.constructions import plateau_bump

    a = A
    for _ in range(_PLATEAU_RETRIES):
        if not a < B:
            break
        try:
            plateau_bump(a, B, 1)
            return a
        except InvalidInputError:
            a = float(np.nextafter(a, math.inf))
    return A  # let build report H1's error (or A ≥ B) unchanged


def _two_sum(a: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Knuth's TwoSum: s = fl(a + b) and the exact error e with a + b = s + e (no overflow)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


# =========================================================================== distance gadgets
@dataclass(frozen=True)
class _Plan:
    """How the distances to the centres are computed for one instance.

    ``g`` approximates φ(r) (φ(r) = r for exact norms, r² for ℓ2) with
    ``g ≤ φ(r) + error`` on every own ball and ``g ≥ min(φ(r), cap)`` everywhere
    (``cap = None``: ``g ≥ φ(r)``).
    """

    m: int | None = None
    scale: float | None = None
    error: Fraction = Fraction(0)
    cap: Fraction | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "scale": self.scale,
            "gadget_error": float(self.error),
            "cap": None if self.cap is None else float(self.cap),
        }


@dataclass(frozen=True)
class _Metric:
    """A distance gadget family of H1's library: the network, its size, its error."""

    p: float
    label: str  # "linf" | "l1" | "l2"

    @property
    def squared(self) -> bool:
        return self.p == 2

    def phi(self, r: Fraction) -> Fraction:
        """φ(r): the quantity the gadget approximates, r or r²."""
        return r * r if self.squared else r

    # -- planning (ℓ2 only needs m and scale)
    def plan(self, d: int, radius: float, target: Fraction | None, scale: str) -> _Plan:
        """The gadget parameters for error ≤ ``target`` (ℓ2; exact norms ignore it)."""
        if not self.squared:
            return _Plan()
        if scale not in _SCALE_MODES:
            raise InvalidInputError(f"scale must be one of {_SCALE_MODES}; got {scale!r}")
        from robustexp.constructions import sq_l2_error_bound

        r = Fraction(radius)
        # "cover": every coordinate difference on B(0, 1 + δ) is ≤ 2 + δ; "tight": the
        # one-sided bound ŝ ≥ min(s, scale²) only needs scale² ≥ (2δ)² (module docstring).
        sc = _round_up(2 + r) if scale == "cover" else 2.0 * radius
        if target is None or target <= 0:
            raise ConditionError(
                f"the ℓ2 gadget error must be below a positive margin; got target {target}"
            )
        mm = 0
        while sq_l2_error_bound(d, mm, sc) > target:
            mm += 1
        err = sq_l2_error_bound(d, mm, sc)
        return _Plan(m=mm, scale=sc, error=err, cap=Fraction(sc) ** 2)

    # -- the network
    def net(self, centers: np.ndarray, plan: _Plan) -> ReLUNet:
        from robustexp import constructions as C

        if self.p == math.inf:
            return C.linf_distance(centers)
        if self.p == 1:
            return C.l1_distance(centers)
        return C.sq_l2_distance(centers, plan.m, plan.scale)

    def formula(self) -> Any:
        """H1's GadgetFormula in N, d, z (and m for ℓ2)."""
        from robustexp import constructions as C

        if self.p == math.inf:
            return C.linf_distance_size(z_zero)
        if self.p == 1:
            return C.l1_distance_size(z_zero)
        return C.sq_l2_distance_size(z_zero)

    def out_terms(self) -> sym.Expr:
        """Nonzero weights per row of the gadget's output layer (for the junction rule)."""
        if self.p == math.inf:
            return sym.Integer(2)  # σ(a) + σ(b − a), or u⁺ + u⁻ when d = 1
        if self.p == 1:
            return 2 * d  # Σ_j (u⁺_j + u⁻_j)
        return sym.Piecewise((2 * d, sym.Eq(m, 0)), (3 * d, True))  # H1: 3 output terms


_LINF = _Metric(math.inf, "linf")
_L1 = _Metric(1.0, "l1")
_L2 = _Metric(2.0, "l2")


def _zero_coordinates(X: np.ndarray) -> int:
    return int(np.count_nonzero(X == 0))


def _stated_bound() -> sym.Expr:
    from robustexp.bounds import CATALOGUE

    return CATALOGUE[THEOREM].stated


# =========================================================================== shared helpers
def _junction(pF: Any, pG: Any, pM: Any) -> tuple[sym.Expr, sym.Expr]:
    """(parameter change, merged indicator) of sequential's junction rule, as sympy.

    The combinator merges when ``p(M) ≤ p(F) + p(G)`` (split cost under assume_nonnegative)
    and then replaces F and G by M; otherwise it keeps both.
    """
    merged = sym.Le(pM, pF + pG)
    delta = sym.Piecewise((pM - pF - pG, merged), (0, True))
    flag = sym.Piecewise((1, merged), (0, True))
    return delta, flag


def _example(p: float, N_: int, d_: int, seed: int, eps: float, frac: Fraction) -> Instance:
    from robustexp.data import separated_dataset

    ds = separated_dataset(N_, d_, eps, p, domain="ball", seed=seed, measure=False)
    sep = ds.separation(p)
    radius = _round_down(frac * Fraction(sep.eps_max))
    return Instance(np.array(ds.X), np.array(ds.y, dtype=np.int8), radius, sep.eps_max)


# =========================================================================== shared
class _Theorem22:
    """What every Theorem 2.2 construction shares: the stated bound, the explicit constant
    (proved per construction in ``_explicit_constant``) and the hypotheses that ``build``
    validates and ``certificate`` reports first (unit ball, separation, radius)."""

    @property
    def stated_bound(self) -> sym.Expr:
        return _stated_bound()

    @property
    def explicit_constant(self) -> ExplicitConstant:
        return _explicit_constant(self)  # type: ignore[arg-type]

    def _hypotheses(self, data: _Data) -> list[CheckedCondition]:
        return [
            _domain_condition(data),
            _separation_condition(data),
            _radius_condition(data, self.radius_condition),  # type: ignore[attr-defined]
        ]

    def _build_data(
        self,
        X: Any,
        y: Any,
        radius: float,
        eps: float | None,
        check: bool,
        *,
        require_two: bool,
        need_exact: bool,
    ) -> _Data:
        """``build``'s validation (:func:`_prepare_build`) with this construction's norm,
        radius condition and hypotheses."""
        return _prepare_build(
            X,
            y,
            radius,
            self.p,  # type: ignore[attr-defined]
            eps,
            self.radius_condition,  # type: ignore[attr-defined]
            require_two=require_two,
            need_exact=need_exact,
            check=check,
            hypotheses=self._hypotheses,
        )


# =========================================================================== bump memorizer
@dataclass(frozen=True)
class BumpMemorizer(_Theorem22, Construction):
    """The robust memorizer f = Σ y_i h·β(g_i) (module docstring, item 1) [RECON].

    >>> from robustexp.constructions import CONSTRUCTIONS
    >>> c = CONSTRUCTIONS["memorizer-linf"]
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0]]); y = np.array([1, -1])
    >>> net = c.build(X, y, radius=0.1)
    >>> net(X).ravel().tolist(), c.certificate(X, y, 0.1).holds
    ([1.0, -1.0], True)
    """

    metric: _Metric
    name: str
    p: float
    summary: str
    theorem: str = THEOREM
    conformance_grid: tuple[tuple[int, int], ...] = ((2, 1), (5, 2), (8, 3), (6, 5))
    generic_methods: tuple[str, ...] = ("ibp", "crown", "milp")

    # ---- theorem data
    @property
    def radius_condition(self) -> RadiusCondition:
        return RadiusCondition(
            theorem=_THEOREM_RADIUS,
            ratio=Fraction(2, 3),
            closed=True,
            note="tight over data sets (module docstring); ℓ2 via the one-sided Yarotsky bound",
        )

    # ---- planning shared by build / certificate / size_arguments
    def _plan(self, data: _Data, scale: str) -> tuple[_Plan, float, float]:
        r = Fraction(data.radius)
        plan = self.metric.plan(data.d, data.radius, r * r, scale)
        A = _round_up(self.metric.phi(r) + plan.error)
        Bq = self.metric.phi(2 * r)
        if plan.cap is not None:
            Bq = min(Bq, plan.cap)
        B = _round_down(Bq)
        return plan, _accepted_plateau(A, B), B

    def build(
        self,
        X: Any,
        y: Any,
        radius: float,
        *,
        eps: float | None = None,
        scale: str = "cover",
        check: bool = True,
    ) -> ReLUNet:
        """The memorizer for (X, y) at radius δ.

        Validates (unless ``check=False``) that the data lie in the unit ball, are
        2ε-separated (ε measured exactly, or the claimed ``eps``) and that δ ≤ 2ε/3; errors
        name the violated condition and the closest pair. ``check=False`` builds the same
        network without the checks (tightness experiments beyond the proven radius; the
        certificate still refuses). ``scale`` ("cover" or "tight") only affects ℓ2.
        """
        from robustexp.constructions import plateau_bump
        from robustexp.network import affine_output, sequential

        data = self._build_data(X, y, radius, eps, check, require_two=False, need_exact=False)
        plan, A, B = self._plan(data, scale)
        if not A < B:
            raise ConditionError(
                f"plateau threshold A = {A!r} must be below the support B = {B!r}; the "
                f"gadget error {float(plan.error):.3g} is too large for δ = {data.radius!r}"
            )
        dist = self.metric.net(data.X, plan)
        bumps = sequential(dist, plateau_bump(A, B, data.N), assume_nonnegative=True)
        return affine_output(bumps, data.y.astype(np.float64)[None, :])

    def certificate(
        self,
        X: Any,
        y: Any,
        radius: float,
        *,
        eps: float | None = None,
        scale: str = "cover",
    ) -> Certificate:
        """Check the proof of item 1 on (X, y, δ) for the network :meth:`build` returns."""
        from robustexp.constructions import bump_height

        data = _prepare(X, y, radius, self.p, eps, require_two=False)
        conds = self._hypotheses(data)
        r = Fraction(data.radius)
        plan, A, B = self._plan(data, scale)
        own = self.metric.phi(r) + plan.error
        conds.append(_gadget_condition(self.metric, plan, data))
        conds.append(
            CheckedCondition(
                "own-plateau",
                own <= Fraction(A) and Fraction(A) < Fraction(B),
                "φ(δ) + e ≤ A < B: the own bump is 1 on its whole ball",
                f"φ(δ) + e = {float(own):.17g}, A = {A!r}, B = {B!r}",
            )
        )
        conds.append(_support_condition(self.metric, plan, data, B))
        holds = all(c.holds for c in conds)
        margin = float(bump_height(A, B)) if holds and A < B else None
        values = {"A": A, "B": B, "eps_sq": data.eps_sq, **plan.as_dict()}
        return Certificate(
            self.name, self.theorem, data.radius, self.p, tuple(conds), margin, values
        )

    # ---- sizes
    def size_formula(self) -> Any:
        from robustexp.constructions import GadgetFormula, plateau_bump_size

        Fd = self.metric.formula()
        Fb = plateau_bump_size()  # in N: 4N weights, 2N biases (A, B > 0)
        t = self.metric.out_terms()
        pF = N * t  # distance output layer: N rows of t terms, zero biases
        pG = 4 * N  # bump first layer: 2N weights −1 and 2N biases B, A
        pM = 2 * N * t + 2 * N  # merged: each bump row reads one distance row
        dp, merged = _junction(pF, pG, pM)
        return GadgetFormula(
            self.name,
            parameters=Fd.parameters + Fb.parameters + dp,
            hidden_neurons=Fd.hidden_neurons + Fb.hidden_neurons + (1 - merged) * N,
            depth=Fd.depth + Fb.depth - merged,
            width=Fd.width,
            nonzero_biases=Fd.nonzero_biases + Fb.nonzero_biases,
        )

    def size_arguments(
        self, X: Any, y: Any, radius: float, *, scale: str = "cover", **_: Any
    ) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        vals: dict[str, Any] = {"N": Xa.shape[0], "d": Xa.shape[1], "z": _zero_coordinates(Xa)}
        if self.metric.squared:
            r = Fraction(require_positive(radius, "radius"))
            vals["m"] = self.metric.plan(Xa.shape[1], radius, r * r, scale).m
        return vals

    def bound_arguments(self, X: Any, y: Any, radius: float, **_: Any) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        return {"N": Xa.shape[0], "d": Xa.shape[1], "delta": float(radius)}

    def example(self, N: int, d: int, *, seed: int = 0) -> Instance:
        return _example(self.p, N, d, seed, eps=0.2 if d > 1 else 0.05, frac=Fraction(1, 2))


# =========================================================================== gadget conditions
def _gadget_condition(metric: _Metric, plan: _Plan, data: _Data) -> CheckedCondition:
    if not metric.squared:
        return CheckedCondition(
            "distance-gadget",
            True,
            f"g_i(x) = ‖x − x_i‖_{metric.label[1:]} exactly (error 0)",
            "exact gadget: weights ±1, |t| = σ(t) + σ(−t), max(a, b) = a + σ(b − a)",
        )
    r = Fraction(data.radius)
    sc = Fraction(plan.scale)
    need = 2 + r if sc >= 2 + r else 2 * r
    ok = sc >= need and sc >= r
    return CheckedCondition(
        "distance-gadget",
        ok,
        "Yarotsky ŝ (H1): s ≤ ŝ ≤ s + d·scale²·4^-(m+1) where every |x_j − x_ij| ≤ scale, and "
        "ŝ ≥ Σ_j min(Δ_j², scale·|Δ_j|) ≥ min(s, scale²) everywhere; needs scale ≥ 2δ",
        f"m = {plan.m}, scale = {plan.scale!r}, e = {float(plan.error):.6g}, "
        f"cap = scale² = {float(sc * sc)!r}",
    )


def _beyond(metric: _Metric, value: Fraction) -> Fraction:
    """ψ with φ(t) ≥ value ⇐ t ≥ ψ: value itself (φ = id) or an upper bound on √value."""
    return sqrt_bounds(value)[1] if metric.squared else value


def _support_condition(metric: _Metric, plan: _Plan, data: _Data, B: float) -> CheckedCondition:
    """Opposite bumps vanish: min(φ(D − δ), cap) ≥ B, decided exactly on D²."""
    r, Bq = Fraction(data.radius), Fraction(B)
    if data.D_sq is None:
        return CheckedCondition(
            "opposite-support", True, "min(φ(D − δ), cap) ≥ B", "one class: no opposite bumps"
        )
    psi = _beyond(metric, Bq)
    ok = data.D_sq >= (r + psi) ** 2 and (plan.cap is None or plan.cap >= Bq)
    lo = data.D_bounds()[0]
    low = metric.phi(max(lo - r, Fraction(0)))
    if plan.cap is not None:
        low = min(low, plan.cap)
    return CheckedCondition(
        "opposite-support",
        ok,
        "min(φ(D − δ), cap) ≥ B: every opposite bump is 0 on the ball (D = 2ε)",
        f"min(φ(D − δ), cap) ≥ {float(low):.17g}, B = {B!r}",
    )


# =========================================================================== nearest margin
@dataclass(frozen=True)
class NearestMargin(_Theorem22, Construction):
    """f = min_{y_j=−1} g_j − min_{y_i=+1} g_i (module docstring, item 2) [RECON].

    >>> from robustexp.constructions import CONSTRUCTIONS
    >>> c = CONSTRUCTIONS["nearest-margin-linf"]
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]]); y = np.array([1, -1, -1])
    >>> net = c.build(X, y, radius=0.2)
    >>> net(X).ravel().tolist(), round(c.certificate(X, y, 0.2).margin, 12)
    ([0.5, -0.5, -0.5], 0.1)
    """

    metric: _Metric
    name: str
    p: float
    summary: str
    theorem: str = THEOREM
    conformance_grid: tuple[tuple[int, int], ...] = ((2, 1), (5, 2), (8, 3), (7, 5))
    generic_methods: tuple[str, ...] = ("ibp", "crown", "milp")

    @property
    def radius_condition(self) -> RadiusCondition:
        return RadiusCondition(
            theorem=_THEOREM_RADIUS,
            ratio=Fraction(1),
            closed=False,
            note="optimal: at δ = ε no classifier is robust (the closest pair's midpoint)",
        )

    def _target(self, data: _Data, scale: str) -> Fraction | None:
        if not self.metric.squared:
            return None
        r = Fraction(data.radius)
        lo = data.D_bounds()[0]
        target = lo * (lo - 2 * r) / 2
        return min(target, r * r) if scale == "tight" else target

    def _order(self, y: np.ndarray) -> np.ndarray:
        return np.concatenate([np.flatnonzero(y == -1), np.flatnonzero(y == 1)])

    def build(
        self,
        X: Any,
        y: Any,
        radius: float,
        *,
        eps: float | None = None,
        scale: str = "cover",
        check: bool = True,
    ) -> ReLUNet:
        """The nearest-margin network; validation as in :meth:`BumpMemorizer.build` (δ < ε).

        Needs both classes. For ℓ2, m depends on (d, δ, ε); for ℓ1/ℓ∞ the network does not
        depend on δ at all.
        """
        from robustexp.constructions import min_tree
        from robustexp.network import affine_output, concat, sequential

        data = self._build_data(
            X, y, radius, eps, check, require_two=True, need_exact=self.metric.squared
        )
        plan = self.metric.plan(data.d, data.radius, self._target(data, scale), scale)
        n_neg = int(np.count_nonzero(data.y == -1))
        dist = self.metric.net(data.X[self._order(data.y)], plan)
        trees = concat(
            min_tree(n_neg, nonnegative=True),
            min_tree(data.N - n_neg, nonnegative=True),
            assume_nonnegative=True,
        )
        return affine_output(sequential(dist, trees, assume_nonnegative=True), [[1.0, -1.0]])

    def certificate(
        self,
        X: Any,
        y: Any,
        radius: float,
        *,
        eps: float | None = None,
        scale: str = "cover",
    ) -> Certificate:
        """Check item 2's proof: y_i f(x') ≥ min(φ(D − δ), cap) − (φ(δ) + e) > 0."""
        data = _prepare(X, y, radius, self.p, eps, require_two=True)
        conds = self._hypotheses(data)
        r = Fraction(data.radius)
        target = self._target(data, scale)
        if target is not None and target <= 0:
            conds.append(
                CheckedCondition(
                    "distance-gadget",
                    False,
                    "a gadget error below the margin D(D − 2δ)/2 > 0",
                    f"margin D(D − 2δ)/2 ≤ {float(target):.6g} ≤ 0",
                )
            )
            return Certificate(self.name, self.theorem, data.radius, self.p, tuple(conds))
        plan = self.metric.plan(data.d, data.radius, target, scale)
        conds.append(_gadget_condition(self.metric, plan, data))
        tau = self.metric.phi(r) + plan.error  # min over own class ≤ τ on the ball
        psi = _beyond(self.metric, tau)
        ok = data.D_sq > (r + psi) ** 2 and (plan.cap is None or plan.cap > tau)
        lo = data.D_bounds()[0]
        low = self.metric.phi(max(lo - r, Fraction(0)))
        if plan.cap is not None:
            low = min(low, plan.cap)
        margin = low - tau
        conds.append(
            CheckedCondition(
                "margin",
                ok,
                "min(φ(D − δ), cap) > φ(δ) + e: the nearest opposite point stays farther than "
                "the own point on every ball",
                f"min(φ(D − δ), cap) ≥ {float(low):.17g}, φ(δ) + e = {float(tau):.17g}",
            )
        )
        holds = all(c.holds for c in conds)
        return Certificate(
            self.name,
            self.theorem,
            data.radius,
            self.p,
            tuple(conds),
            float(margin) if holds else None,
            {"eps_sq": data.eps_sq, **plan.as_dict()},
        )

    def size_formula(self) -> Any:
        from robustexp.bounds import n
        from robustexp.constructions import GadgetFormula, min_tree_size

        total = N_pos + N_neg
        Fd = self.metric.formula()
        fd = {f: getattr(Fd, f).subs(N, total) for f in ("parameters", "hidden_neurons")}
        fd_biases = Fd.nonzero_biases.subs(N, total)
        fd_width = Fd.width.subs(N, total)
        Tf = min_tree_size(nonnegative=True)

        def tree(k: sym.Symbol) -> dict[str, sym.Expr]:
            return {
                "parameters": Tf.parameters.subs(n, k),
                "hidden": Tf.hidden_neurons.subs(n, k),
                "depth": Tf.depth.subs(n, k),
                "first": 3 * sym.floor(k / 2) + sym.Mod(k, 2),
            }

        tn, tp = tree(N_neg), tree(N_pos)
        D = sym.Max(tn["depth"], tp["depth"])
        pads = (D - tn["depth"]) + (D - tp["depth"])  # pad_depth: one unit/weight per layer
        t = self.metric.out_terms().subs(N, total)
        pG = tn["first"] + tp["first"]
        dp, merged = _junction(total * t, pG, t * pG)
        return GadgetFormula(
            self.name,
            parameters=fd["parameters"] + tn["parameters"] + tp["parameters"] + pads + dp,
            hidden_neurons=fd["hidden_neurons"]
            + tn["hidden"]
            + tp["hidden"]
            + pads
            + (1 - merged) * total,
            depth=Fd.depth + D - merged,
            width=fd_width,
            nonzero_biases=fd_biases,
        )

    def size_arguments(
        self, X: Any, y: Any, radius: float, *, scale: str = "cover", eps: float | None = None
    ) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        ya = as_labels(y, Xa.shape[0])
        vals: dict[str, Any] = {
            "N_+": int(np.count_nonzero(ya == 1)),
            "N_-": int(np.count_nonzero(ya == -1)),
            "d": Xa.shape[1],
            "z": _zero_coordinates(Xa),
        }
        if self.metric.squared:
            data = _prepare(Xa, ya, radius, self.p, eps, require_two=True)
            vals["m"] = self.metric.plan(data.d, radius, self._target(data, scale), scale).m
        return vals

    def bound_arguments(self, X: Any, y: Any, radius: float, **_: Any) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        return {"N": Xa.shape[0], "d": Xa.shape[1], "delta": float(radius)}

    def example(self, N: int, d: int, *, seed: int = 0) -> Instance:
        return _example(self.p, N, d, seed, eps=0.2 if d > 1 else 0.05, frac=Fraction(3, 4))


# =========================================================================== cube memorizer
@dataclass(frozen=True)
class CubeMemorizer(_Theorem22, Construction):
    """The IBP-certifiable ℓ∞ memorizer (module docstring, item 3; ours, exact).

    >>> from robustexp.constructions import CONSTRUCTIONS
    >>> c = CONSTRUCTIONS["cube-memorizer-linf"]
    >>> X = np.array([[0.0, 0.0], [0.5, 0.0]]); y = np.array([1, -1])
    >>> c.build(X, y, radius=0.1)(X).ravel().tolist()
    [1.0, -1.0]
    """

    name: str = "cube-memorizer-linf"
    p: float = math.inf
    summary: str = (
        "ℓ∞ bump memorizer without a max tree: σ(δ − Σ_j coordinate excesses), depth 3, "
        "exact, certified by IBP"
    )
    theorem: str = THEOREM
    conformance_grid: tuple[tuple[int, int], ...] = ((2, 1), (5, 2), (8, 3), (6, 5))
    generic_methods: tuple[str, ...] = ("ibp",)

    @property
    def radius_condition(self) -> RadiusCondition:
        return RadiusCondition(
            theorem=_THEOREM_RADIUS,
            ratio=Fraction(2, 3),
            closed=True,
            note="tight over data sets, as for the max-tree memorizer",
        )

    @staticmethod
    def thresholds(X: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(u, l, δ₂, ρ): u ≥ X + δ and l ≤ X − δ entrywise (outward rounding, exact via
        TwoSum), ρ ≥ the largest rounding excess (a power of two), δ₂ = fl↓(δ − ρ)."""
        s, e = _two_sum(X, radius)
        u = np.where(e > 0, np.nextafter(s, math.inf), s)
        s2, e2 = _two_sum(X, -radius)
        lo = np.where(e2 < 0, np.nextafter(s2, -math.inf), s2)
        big = max(float(np.max(np.abs(u), initial=0.0)), float(np.max(np.abs(lo), initial=0.0)))
        rho = float(np.spacing(big)) if big > 0 else 0.0  # one ulp at the largest threshold
        d2 = _round_down(Fraction(radius) - Fraction(rho))
        return u, lo, d2, rho

    def build(
        self, X: Any, y: Any, radius: float, *, eps: float | None = None, check: bool = True
    ) -> ReLUNet:
        """The cube memorizer; validation as in :meth:`BumpMemorizer.build` (δ ≤ 2ε/3)."""
        from robustexp.constructions._sparse import finalize, index_dtype

        data = self._build_data(X, y, radius, eps, check, require_two=False, need_exact=False)
        u, lo, d2, _rho = self.thresholds(data.X, data.radius)
        if not d2 > 0:
            raise ConditionError(f"radius {data.radius!r} is below the threshold rounding")
        K, dim = data.X.shape
        rows = 2 * K * dim
        dt = index_dtype(rows)
        W1 = sp.csr_array(
            (
                np.tile(np.array([1.0, -1.0]), K * dim),
                np.tile(np.repeat(np.arange(dim, dtype=dt), 2), K),
                np.arange(rows + 1, dtype=dt),
            ),
            shape=(rows, dim),
        )
        b1 = np.empty(rows)
        b1[0::2] = -u.reshape(-1)
        b1[1::2] = lo.reshape(-1)
        W2 = sp.csr_array(
            (
                np.full(rows, -1.0),
                np.arange(rows, dtype=dt),
                np.arange(0, rows + 1, 2 * dim, dtype=dt),
            ),
            shape=(K, rows),
        )
        b2 = np.full(K, d2)
        w = float(1 / Fraction(d2))
        W3 = sp.csr_array(data.y.astype(np.float64)[None, :] * w)
        return finalize([(W1, b1), (W2, b2), (W3, np.zeros(1))], None)

    def certificate(
        self, X: Any, y: Any, radius: float, *, eps: float | None = None
    ) -> Certificate:
        """Check item 3's proof: outward thresholds, δ₂ + ρ ≤ δ, and D ≥ 3δ."""
        data = _prepare(X, y, radius, self.p, eps, require_two=False)
        conds = self._hypotheses(data)
        u, lo, d2, rho = self.thresholds(data.X, data.radius)
        # Exact check of the outward rounding, vectorised: u − x − δ ≥ 0 iff the TwoSum
        # residual of (u − x) − δ is consistent; we re-derive it with the exact error terms.
        su, eu = _two_sum(u, -data.radius)  # u − δ = su + eu exactly
        up_ok = bool(np.all((su > data.X) | ((su == data.X) & (eu >= 0))))
        sl, el = _two_sum(lo, data.radius)  # l + δ = sl + el exactly
        lo_ok = bool(np.all((sl < data.X) | ((sl == data.X) & (el <= 0))))
        excess = np.maximum(np.abs(su - data.X), np.abs(sl - data.X))
        rho_ok = bool(np.all(excess <= rho)) and Fraction(d2) + Fraction(rho) <= Fraction(
            data.radius
        )
        conds.append(
            CheckedCondition(
                "thresholds",
                up_ok and lo_ok and rho_ok and d2 > 0,
                "u_ij ≥ x_ij + δ, l_ij ≤ x_ij − δ (outward), excess ≤ ρ, 0 < δ₂ ≤ δ − ρ",
                f"ρ = {rho!r}, δ₂ = {d2!r}",
            )
        )
        if data.D_sq is not None:
            r = Fraction(data.radius)
            conds.append(
                CheckedCondition(
                    "opposite-support",
                    data.D_sq >= 9 * r * r,
                    "D ≥ 3δ: an opposite point has a coordinate with excess ≥ δ − ρ ≥ δ₂",
                    f"D = {data.sep.distance:.17g}, 3δ = {3 * data.radius!r}",
                )
            )
        holds = all(c.holds for c in conds)
        margin = float(Fraction(float(1 / Fraction(d2))) * Fraction(d2)) if holds else None
        return Certificate(
            self.name,
            self.theorem,
            data.radius,
            self.p,
            tuple(conds),
            margin,
            {"delta2": d2, "rho": rho, "eps_sq": data.eps_sq},
        )

    def size_formula(self) -> Any:
        from robustexp.constructions import GadgetFormula

        return GadgetFormula(
            self.name,
            parameters=6 * N * d + 2 * N - T_zero,
            hidden_neurons=2 * N * d + N,
            depth=3,
            width=2 * N * d,
            nonzero_biases=2 * N * d - T_zero + N,
        )

    def size_arguments(self, X: Any, y: Any, radius: float, **_: Any) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        u, lo, _d2, _rho = self.thresholds(Xa, require_positive(radius, "radius"))
        ties = int(np.count_nonzero(u == 0) + np.count_nonzero(lo == 0))
        return {"N": Xa.shape[0], "d": Xa.shape[1], "T": ties}

    def bound_arguments(self, X: Any, y: Any, radius: float, **_: Any) -> dict[str, Any]:
        Xa = as_finite_matrix(X, "X")
        return {"N": Xa.shape[0], "d": Xa.shape[1], "delta": float(radius)}

    def example(self, N: int, d: int, *, seed: int = 0) -> Instance:
        return _example(self.p, N, d, seed, eps=0.2 if d > 1 else 0.05, frac=Fraction(1, 2))


# =========================================================================== constants
def _ceil3(x: float) -> float:
    """Round up to three decimals (the constants are stated rounded up)."""
    return math.ceil(x * 1000) / 1000


#: ln(8/3) + 2^-50 ≥ ln fl↑(2 + δ) for δ ≤ 2/3 (cover scale of the ℓ2 memorizer), and
#: ln(5/2) + 2^-50 for δ ≤ 1/2 (nearest-margin, theorem range).
_LN_SCALE_MEMO = math.log(8 / 3) + 2.0**-50
_LN_SCALE_NM = math.log(5 / 2) + 2.0**-50


def _explicit_constant(c: Construction) -> ExplicitConstant:
    r"""The constant C with parameters ≤ C·N·d·ln(d/δ) ≤ C·stated, and its proof.

    Every proof bounds the exact formula by (a + b/d)·N·d (+ an m term for ℓ2) and uses
    L = ln(d/δ) ≥ ln(d/δ_max): two classes in B_p(0, 1) are at most 2 apart, so ε ≤ 1 and
    δ_max = 2/3 (memorizers, δ ≤ 2ε/3) or 1/2 (nearest margin, proved for the theorem's
    range δ ≤ ε/2; its own range δ < ε admits no constant, since ln(d/δ) → 0 as δ → 1 at
    d = 1). The second term N·ln(N/δ)^r of the stated bound is positive, so C is valid
    for every polylog exponent r. ``(a + b/d)/ln(d/δ_max)`` decreases in d, so the worst
    case is d = 1, δ → δ_max.
    """
    L4 = math.log(4)
    if isinstance(c, CubeMemorizer):
        v = 8 / math.log(1.5)
        proof = (
            "P = 6Nd + 2N − T ≤ (6 + 2/d)·Nd and ln(d/δ) ≥ ln(3d/2), so "
            "P/(Nd ln(d/δ)) ≤ (6 + 2/d)/ln(3d/2) ≤ 8/ln(3/2) (d = 1, δ → 2/3: attained "
            "in the limit)"
        )
        return ExplicitConstant(_ceil3(v), proof, "two classes, 0 < δ ≤ 2ε/3 (all of it)")
    if isinstance(c, BumpMemorizer) and not c.metric.squared:
        a = 10 if c.p == math.inf else 6
        b = 12 - a
        v = 12 / math.log(1.5)
        proof = (
            f"P = {a}Nd + {b}N − 2z ≤ ({a} + {b}/d)·Nd and ln(d/δ) ≥ ln(3d/2), so "
            f"P/(Nd ln(d/δ)) ≤ ({a} + {b}/d)/ln(3d/2) ≤ 12/ln(3/2) (d = 1, δ → 2/3: attained "
            "in the limit)"
        )
        return ExplicitConstant(_ceil3(v), proof, "two classes, 0 < δ ≤ 2ε/3 (all of it)")
    if isinstance(c, BumpMemorizer):
        k = 16 / L4  # 8m < 8(2L + 2 ln S)/ln 4
        c0 = 16 * _LN_SCALE_MEMO / L4 + 15
        v = k + c0 / math.log(1.5)
        proof = (
            "P ≤ Nd(8m + 9) + 6N ≤ Nd(8m + 15) (every m). m ≥ 1 is the least m with "
            "d·S²·4^-(m+1) ≤ δ², so 4^m < dS²/δ² and 8m < (16/ln 4)(L + ln S), L = ln(d/δ) "
            "(ln d + 2ln(1/δ) ≤ 2L), S = fl↑(2 + δ) ≤ 8/3·(1 + 2^-52); tight scale only "
            f"lowers m. Ratio ≤ {k:.4f} + {c0:.4f}/L ≤ {v:.4f} at L = ln(3/2)"
        )
        return ExplicitConstant(_ceil3(v), proof, "two classes, 0 < δ ≤ 2ε/3 (all of it)")
    if not c.metric.squared:
        a = 10 if c.p == math.inf else 6
        b = Fraction(3, 2) if c.p == math.inf else Fraction(11, 2)
        v = (a + float(b)) / math.log(2)
        proof = (
            f"P ≤ {a}Nd + {float(b)}N: distances {a}Nd − (4 if ℓ∞ else 0)N − 2z, two "
            "nonnegative min trees ≤ (9n − 7)/2 each, depth padding ≤ ⌈log₂ N⌉ ≤ N, and the "
            "junction never adds parameters; with δ ≤ ε/2 ≤ 1/2, ln(d/δ) ≥ ln(2d), so "
            f"P/(Nd ln(d/δ)) ≤ ({a} + {float(b)}/d)/ln(2d) ≤ {a + float(b)}/ln 2"
        )
        return ExplicitConstant(_ceil3(v), proof, "two classes, 0 < δ ≤ ε/2", Fraction(1, 2))
    k = 16 / L4
    c0 = 8 * (2 * _LN_SCALE_NM - L4) / L4 + 2.0**-40 + 9 + 5.5
    v = k + c0 / math.log(2)
    proof = (
        "P ≤ Nd(8m + 9) + 5.5N. With δ ≤ ε/2 the target D(D − 2δ)/2 ≥ 4δ² (up to the "
        "2^-78 of the rational lower bound on D), so 4^m < dS²/(4δ²) and "
        "8m < (8/ln 4)(2L + 2 ln S − ln 4), S ≤ 5/2; ratio ≤ "
        f"{k:.4f} + {c0:.4f}/L ≤ {v:.4f} at L = ln 2"
    )
    return ExplicitConstant(_ceil3(v), proof, "two classes, 0 < δ ≤ ε/2", Fraction(1, 2))


# =========================================================================== registry
REGISTERED: tuple[Construction, ...] = (
    BumpMemorizer(
        _LINF,
        "memorizer-linf",
        math.inf,
        "ℓ∞ bump memorizer: exact ℓ∞ distances (max tree), plateau bump, signed sum",
    ),
    BumpMemorizer(
        _L2,
        "memorizer-l2",
        2.0,
        "ℓ2 bump memorizer: Yarotsky squared distances, plateau bump on ŝ, signed sum",
        generic_methods=("ibp", "crown", "milp"),
    ),
    BumpMemorizer(
        _L1,
        "memorizer-l1",
        1.0,
        "ℓ1 bump memorizer: exact ℓ1 distances, plateau bump, signed sum",
    ),
    NearestMargin(_LINF, "nearest-margin-linf", math.inf, "min_− ‖x − x_j‖∞ − min_+ ‖x − x_i‖∞"),
    NearestMargin(_L2, "nearest-margin-l2", 2.0, "min_− ŝ_j − min_+ ŝ_i (Yarotsky ŝ)"),
    NearestMargin(_L1, "nearest-margin-l1", 1.0, "min_− ‖x − x_j‖₁ − min_+ ‖x − x_i‖₁"),
    CubeMemorizer(),
)
