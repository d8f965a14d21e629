"""The :class:`Construction` type (one per theorem construction) and the registry of them all.

A *construction* turns a theorem's proof into an explicit network and keeps everything needed
to check it next to it (``shared/DESIGN.md``, "Core abstractions"):

* :meth:`Construction.build` ``(X, y, radius, **options) -> ReLUNet`` validates the theorem's
  hypotheses on the actual data (errors name the closest pair or the violated condition);
* :meth:`Construction.size_formula` is the EXACT size as a
  :class:`~robustexp.bounds.SizeFormula`, and :meth:`Construction.size_arguments` gives the
  values of its symbols for one instance, so that ``measured == formula`` can be tested;
* :attr:`Construction.radius_condition` is the radius the construction guarantees, stated
  next to the theorem's own hypothesis, as data plus a check raising
  :class:`~robustexp.ConditionError`;
* :attr:`Construction.stated_bound` is the theorem's O(...) bound as sympy (from the bounds
  catalogue) and :attr:`Construction.explicit_constant` a constant ``C`` with
  ``measured ≤ C · bound`` on every admissible instance, with its proof;
* :meth:`Construction.certificate` checks the proof's conditions on the actual data
  (separation, radius, gadget error bounds against the margin the proof needs) and concludes
  "robust training accuracy 100 % at this radius", or names the condition that fails. It is
  independent of the generic verifiers in :mod:`robustexp.verify`.

The registry :data:`CONSTRUCTIONS` is a read-only mapping ``name -> Construction``. It holds
no state: each provider module listed in :data:`PROVIDER_MODULES` exposes a tuple
``REGISTERED`` of construction objects, and the mapping reads them on access (Python caches
the imports). A later theorem registers by adding its module to :data:`PROVIDER_MODULES`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from robustexp._errors import ConditionError, InvalidInputError, SeparationError

__all__ = [
    "CONSTRUCTIONS",
    "PROVIDER_MODULES",
    "Certificate",
    "CheckedCondition",
    "Construction",
    "ConstructionRegistry",
    "ExplicitConstant",
    "Instance",
    "RadiusCondition",
    "exact_norm_power",
    "rows_in_unit_ball",
    "sqrt_bounds",
]

#: Modules that define constructions; each exposes ``REGISTERED: tuple[Construction, ...]``.
PROVIDER_MODULES: tuple[str, ...] = ("robustexp.constructions._memorizers",)


# --------------------------------------------------------------------------- radius condition
@dataclass(frozen=True)
class RadiusCondition:
    """The radius a construction guarantees, as data: ``0 < δ ≤ ratio · ε`` (or ``<``).

    ``ε`` is half the inter-class separation (the data are 2ε-separated: measured, or a
    claimed ε that the data satisfy). ``theorem`` is the paper's hypothesis for comparison
    (Thm 2.2: ``δ < ε/2``); :attr:`guarantee` is the construction's own, proved in its
    docstring. ``ratio`` is an exact :class:`~fractions.Fraction`. The test is exact: it is
    decided on squares, ``δ² ≤ ratio² · ε²``, because in ℓ2 only ε² is rational.

    >>> rc = RadiusCondition(theorem="δ < ε/2", ratio=Fraction(2, 3), closed=True)
    >>> rc.guarantee
    '0 < δ ≤ 2/3·ε'
    >>> rc.holds(Fraction(2, 3), eps_sq=Fraction(1)), rc.holds(0.67, eps_sq=Fraction(1))
    (True, False)
    """

    theorem: str
    ratio: Fraction
    closed: bool
    note: str = ""

    def __post_init__(self) -> None:
        ratio = Fraction(self.ratio)
        if ratio <= 0:
            raise InvalidInputError(f"radius ratio must be positive; got {self.ratio}")
        object.__setattr__(self, "ratio", ratio)

    @property
    def guarantee(self) -> str:
        rel = "≤" if self.closed else "<"
        r = "" if self.ratio == 1 else f"{self.ratio}·"
        return f"0 < δ {rel} {r}ε"

    def max_radius(self, eps: Any) -> float:
        """The boundary ``ratio · ε`` as a float (rounded to nearest; for display)."""
        return float(self.ratio * Fraction(float(eps)))

    def holds(self, radius: Any, eps_sq: Any) -> bool:
        """Exact test of the condition at δ = ``radius`` and ε² = ``eps_sq`` (None = ∞)."""
        r = Fraction(radius)
        if r <= 0:
            return False
        if eps_sq is None:
            return True
        lhs, rhs = r * r, self.ratio * self.ratio * Fraction(eps_sq)
        return lhs <= rhs if self.closed else lhs < rhs

    def check(self, radius: Any, eps_sq: Any, *, context: str = "") -> None:
        """Raise :class:`ConditionError` naming the condition when it fails."""
        if self.holds(radius, eps_sq):
            return
        eps = float(_sqrt_floor(Fraction(eps_sq))) if eps_sq is not None else float("inf")
        raise ConditionError(
            f"radius condition {self.guarantee} fails: δ = {float(radius)!r} but "
            f"{self.ratio}·ε = {self.max_radius(eps)!r} with ε = {eps!r}"
            f"{' (' + context + ')' if context else ''}; the theorem assumes {self.theorem}"
        )

    def just_outside(self, eps_sq: Any) -> float:
        """The smallest positive float radius violating the condition (boundary tests)."""
        r = float(self.ratio * _sqrt_floor(Fraction(eps_sq)))
        while self.holds(r, eps_sq):
            r = float(np.nextafter(r, np.inf))
        while r > 0 and not self.holds(float(np.nextafter(r, -np.inf)), eps_sq):
            r = float(np.nextafter(r, -np.inf))
        return r

    def just_inside(self, eps_sq: Any) -> float:
        """The largest float radius satisfying the condition (boundary tests)."""
        return float(np.nextafter(self.just_outside(eps_sq), -np.inf))

    def as_dict(self) -> dict[str, Any]:
        return {
            "theorem": self.theorem,
            "guarantee": self.guarantee,
            "ratio": str(self.ratio),
            "closed": self.closed,
            "note": self.note,
        }


def _sqrt_floor(q: Fraction) -> Fraction:
    return sqrt_bounds(q)[0]


# --------------------------------------------------------------------------- explicit constant
@dataclass(frozen=True)
class ExplicitConstant:
    """A constant ``C`` with ``measured parameters ≤ C · stated bound`` on the admissible range.

    ``proof`` states why (the argument is in the construction's docstring); ``valid_for``
    names the range it was proved over. Tests check the inequality on a grid of instances.
    """

    value: float
    proof: str
    valid_for: str
    #: The constant is proved for radii ``δ ≤ radius_ratio · ε`` (None: the whole
    #: admissible range of the construction).
    radius_ratio: Fraction | None = None

    def __post_init__(self) -> None:
        if not np.isfinite(self.value) or self.value <= 0:
            raise InvalidInputError(f"explicit constant must be finite and > 0; got {self.value}")
        if self.radius_ratio is not None:
            object.__setattr__(self, "radius_ratio", Fraction(self.radius_ratio))

    def applies(self, radius: Any, eps_sq: Any) -> bool:
        """Whether an instance (δ, ε²) lies in the range the constant is proved for."""
        if eps_sq is None:
            return False  # one class: ε = ∞, δ unbounded; every constant is for two classes
        if self.radius_ratio is None:
            return True
        r = Fraction(radius)
        return r * r <= self.radius_ratio**2 * Fraction(eps_sq)

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "proof": self.proof,
            "valid_for": self.valid_for,
            "radius_ratio": None if self.radius_ratio is None else str(self.radius_ratio),
        }


# --------------------------------------------------------------------------- certificates
@dataclass(frozen=True)
class CheckedCondition:
    """One hypothesis of a proof, checked on data: what it needs and what was measured."""

    name: str
    holds: bool
    requirement: str
    measured: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holds": self.holds,
            "requirement": self.requirement,
            "measured": self.measured,
        }


@dataclass(frozen=True)
class Certificate:
    """The outcome of checking a proof's conditions on one instance.

    When every condition holds the proof applies and ``conclusion`` states the result
    ("robust training accuracy 100 % at radius δ"), with ``margin`` a proven lower bound on
    ``y_i · f(x')`` over every ball. Otherwise ``failing`` names what fails and nothing is
    concluded. A certificate is a proof about the real-valued network (float weights read
    as the exact rationals they are), checked in exact rational arithmetic.
    """

    construction: str
    theorem: str
    radius: float
    p: float
    conditions: tuple[CheckedCondition, ...]
    margin: float | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.conditions)

    @property
    def failing(self) -> tuple[CheckedCondition, ...]:
        return tuple(c for c in self.conditions if not c.holds)

    @property
    def conclusion(self) -> str:
        norm = "ℓ∞" if self.p == np.inf else f"ℓ{self.p:g}"
        if self.holds:
            return (
                f"{self.theorem} ({self.construction}): robust training accuracy 100% at "
                f"radius δ = {self.radius!r} in {norm}; proven margin y·f ≥ {self.margin:.6g}"
            )
        first = self.failing[0]
        return (
            f"{self.construction}: no conclusion; condition '{first.name}' fails: "
            f"{first.requirement}; measured {first.measured}"
        )

    def raise_if_fails(self) -> None:
        """Raise the matching error (SeparationError or ConditionError) when a condition fails."""
        if self.holds:
            return
        first = self.failing[0]
        cls = SeparationError if first.name == "separation" else ConditionError
        raise cls(f"{first.name}: {first.requirement}; measured {first.measured}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "construction": self.construction,
            "theorem": self.theorem,
            "radius": self.radius,
            "p": "inf" if self.p == np.inf else self.p,
            "holds": self.holds,
            "conclusion": self.conclusion,
            "margin": self.margin,
            "conditions": [c.as_dict() for c in self.conditions],
            "values": {k: _jsonable(v) for k, v in self.values.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, Fraction):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    return v


# --------------------------------------------------------------------------- instances
@dataclass(frozen=True, eq=False)
class Instance:
    """One labelled data set with a radius: what ``build`` and ``certificate`` take."""

    X: np.ndarray
    y: np.ndarray
    radius: float
    eps: float


# --------------------------------------------------------------------------- construction
class Construction(abc.ABC):
    """Base type of every theorem construction (see the module docstring).

    Subclasses are frozen dataclasses defining the fields ``name``, ``theorem``, ``p`` and
    ``summary`` and the abstract methods below. Everything a generic consumer (the
    conformance suite, the CLI, the experiments) needs is reachable from here, so nothing
    dispatches on class names.
    """

    name: str
    theorem: str
    p: float
    summary: str

    # -- the network ---------------------------------------------------------------------
    @abc.abstractmethod
    def build(self, X: Any, y: Any, radius: float, **options: Any) -> Any:
        """The network for the instance; validates the hypotheses (see the subclass)."""

    @abc.abstractmethod
    def size_formula(self) -> Any:
        """The exact :class:`~robustexp.bounds.SizeFormula` of :meth:`build`'s output."""

    @abc.abstractmethod
    def size_arguments(self, X: Any, y: Any, radius: float, **options: Any) -> dict[str, Any]:
        """Values of the size formula's symbols for this instance (keyed by symbol name)."""

    # -- the theorem ---------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def radius_condition(self) -> RadiusCondition:
        """The guaranteed radius condition."""

    @property
    @abc.abstractmethod
    def stated_bound(self) -> Any:
        """The theorem's stated size bound (sympy, without the O)."""

    @property
    @abc.abstractmethod
    def explicit_constant(self) -> ExplicitConstant:
        """``C`` with ``parameters ≤ C · stated_bound`` over the admissible range."""

    @abc.abstractmethod
    def bound_arguments(self, X: Any, y: Any, radius: float, **options: Any) -> dict[str, Any]:
        """Values of the stated bound's symbols for this instance."""

    @abc.abstractmethod
    def certificate(self, X: Any, y: Any, radius: float, **options: Any) -> Certificate:
        """Check the proof's conditions on the data (see :class:`Certificate`)."""

    # -- test instances ------------------------------------------------------------------
    @abc.abstractmethod
    def example(self, N: int, d: int, *, seed: int = 0) -> Instance:
        """A small valid instance (separated data satisfying the hypotheses, a radius
        inside the condition), for the conformance suite and the documentation."""

    #: (N, d) pairs small enough for exact and complete checks in the test suite.
    conformance_grid: tuple[tuple[int, int], ...] = ((4, 1), (6, 2), (10, 3))

    #: ``robust_accuracy`` methods that certify this construction on small instances.
    generic_methods: tuple[str, ...] = ("ibp", "crown", "milp")


# --------------------------------------------------------------------------- registry
class ConstructionRegistry(Mapping[str, Construction]):
    """Read-only mapping ``name -> Construction`` over the provider modules.

    >>> reg = ConstructionRegistry(())
    >>> len(reg), list(reg)
    (0, [])
    """

    def __init__(self, providers: tuple[str, ...]) -> None:
        self._providers = tuple(providers)

    def _items(self) -> dict[str, Construction]:
        items: dict[str, Construction] = {}
        for module_name in self._providers:
            module = importlib.import_module(module_name)
            for c in module.REGISTERED:
                if c.name in items:
                    raise InvalidInputError(f"two constructions are named {c.name!r}")
                items[c.name] = c
        return items

    def __getitem__(self, name: str) -> Construction:
        items = self._items()
        if name not in items:
            raise InvalidInputError(
                f"unknown construction {name!r}; known: {', '.join(sorted(items)) or 'none'}"
            )
        return items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, name: object) -> bool:
        return name in self._items()

    def get(self, name: str, default: Any = None) -> Any:
        return self._items().get(name, default)

    def for_theorem(self, theorem: str) -> tuple[Construction, ...]:
        """Every construction of one theorem (for example ``"Thm 2.2"``)."""
        return tuple(c for c in self._items().values() if c.theorem == theorem)

    def select(self, predicate: Callable[[Construction], bool]) -> tuple[Construction, ...]:
        return tuple(c for c in self._items().values() if predicate(c))


#: Every registered construction, by name.
CONSTRUCTIONS = ConstructionRegistry(PROVIDER_MODULES)


# --------------------------------------------------------------------------- exact helpers
# Certificates decide their inequalities in exact rational arithmetic: a float64 is a dyadic
# rational, so Fraction(x) is exact, and so is every comparison below. These helpers are
# shared by every construction's certificate.


def exact_norm_power(v: Any, p: float) -> Fraction:
    """``‖v‖_∞``, ``‖v‖_1`` or ``‖v‖_2²`` of a float vector, exactly (p = ∞, 1, 2).

    ℓ2 returns the SQUARED norm, which is rational; compare squares, never roots.

    >>> exact_norm_power([0.1, -0.2], 1) == Fraction(0.1) + Fraction(0.2)
    True
    >>> exact_norm_power([3.0, 4.0], 2)
    Fraction(25, 1)
    """
    vals = [Fraction(float(t)) for t in np.asarray(v, dtype=np.float64).ravel()]
    if p == np.inf:
        return max((abs(t) for t in vals), default=Fraction(0))
    if p == 1:
        return sum((abs(t) for t in vals), Fraction(0))
    if p == 2:
        return sum((t * t for t in vals), Fraction(0))
    raise InvalidInputError(f"p must be 1, 2 or inf; got {p!r}")


def sqrt_bounds(q: Fraction, bits: int = 80) -> tuple[Fraction, Fraction]:
    """Rationals ``lo ≤ √q ≤ hi`` with ``hi − lo ≤ 2^-bits · (1 + √q)``.

    >>> lo, hi = sqrt_bounds(Fraction(2))
    >>> lo * lo <= 2 <= hi * hi and hi - lo < Fraction(1, 10**20)
    True
    >>> sqrt_bounds(Fraction(9, 4))
    (Fraction(3, 2), Fraction(3, 2))
    """
    import math

    q = Fraction(q)
    if q < 0:
        raise InvalidInputError(f"square root of a negative number {q}")
    num, den = q.numerator, q.denominator
    scale = 1 << bits
    # √(num/den) = √(num·den)/den; isqrt gives floor(√(num·den·scale²)).
    root = math.isqrt(num * den * scale * scale)
    lo = Fraction(root, den * scale)
    hi = lo if root * root == num * den * scale * scale else Fraction(root + 1, den * scale)
    return lo, hi


def rows_in_unit_ball(X: np.ndarray, p: float) -> tuple[bool, int, float]:
    """Whether every row of ``X`` lies in the closed unit ball ``B_p(0, 1)``, decided exactly.

    Returns ``(all_inside, worst_row, worst_norm)``. Rows whose float norm is within the
    rounding-error bound of 1 are re-checked in exact arithmetic, so the answer is exact.
    """
    from robustexp._tolerances import FLOAT64_UNIT_ROUNDOFF

    X = np.asarray(X, dtype=np.float64)
    _n, d = X.shape
    if p == np.inf:
        norms = np.max(np.abs(X), axis=1)
        worst = int(np.argmax(norms))
        return bool(norms[worst] <= 1.0), worst, float(norms[worst])
    if p == 1:
        norms = np.sum(np.abs(X), axis=1)
    elif p == 2:
        norms = np.einsum("ij,ij->i", X, X)
    else:
        raise InvalidInputError(f"p must be 1, 2 or inf; got {p!r}")
    # Recursive/pairwise summation of d nonnegative terms (plus one product each for p = 2):
    # |fl - exact| ≤ γ_{d+1} · exact with γ_k = k u / (1 - k u) (Higham, Thm 3.1 / eq. 3.5).
    k = (d + 1) * FLOAT64_UNIT_ROUNDOFF
    gamma = k / (1 - k)
    borderline = np.flatnonzero(np.abs(norms - 1.0) <= 2 * gamma * np.maximum(norms, 1.0))
    inside = norms <= 1.0
    for i in borderline:
        inside[i] = exact_norm_power(X[i], p) <= 1
    worst = int(np.argmax(norms))
    value = float(np.sqrt(norms[worst])) if p == 2 else float(norms[worst])
    if not np.all(inside):
        worst = int(np.flatnonzero(~inside)[0])
        value = float(np.sqrt(norms[worst])) if p == 2 else float(norms[worst])
    return bool(np.all(inside)), worst, value
