"""Shared result type of the bound propagators: sound bounds on every pre-activation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from robustexp._errors import InvalidInputError

__all__ = ["BOUND_METHODS", "LayerBounds"]

#: The bound-propagation methods: interval (IBP), full backward CROWN, CROWN with IBP
#: intermediate bounds, and merge-aware intervals (:mod:`._merge`).
BOUND_METHODS = ("ibp", "crown", "crown-ibp", "merge")


@dataclass(frozen=True, eq=False)
class LayerBounds:
    """Sound bounds ``lower[l] <= z_l(x) <= upper[l]`` on every layer's pre-activation.

    ``z_l = W_l h_{l-1} + b_l`` for l = 0..L-1 (the last is the output), for every ``x`` in
    the i-th set of the ball batch: ``lower[l][i]``, ``upper[l][i]`` of shape (out_dim_l,),
    stacked as (n, out_dim_l). The bounds hold for the exact real-valued network with the
    stored float64 weights (rounding accounted for). ``method`` is one of ``BOUND_METHODS``.

    >>> lb = LayerBounds((np.zeros((2, 3)),), (np.ones((2, 3)),), "ibp")
    >>> lb.n, lb.depth, lb.point(1).lower[0].shape
    (2, 1, (1, 3))
    """

    lower: tuple[np.ndarray, ...]
    upper: tuple[np.ndarray, ...]
    method: str

    def __post_init__(self) -> None:
        if self.method not in BOUND_METHODS:
            raise InvalidInputError(f"method must be one of {BOUND_METHODS}; got {self.method!r}")
        lower = tuple(np.array(v, dtype=np.float64) for v in self.lower)
        upper = tuple(np.array(v, dtype=np.float64) for v in self.upper)
        if len(lower) != len(upper) or not lower:
            raise InvalidInputError(
                f"lower and upper must list the same number (>= 1) of layers; "
                f"got {len(lower)} and {len(upper)}"
            )
        n = lower[0].shape[0] if lower[0].ndim == 2 else -1
        for i, (lo, hi) in enumerate(zip(lower, upper)):
            if lo.ndim != 2 or lo.shape != hi.shape or lo.shape[0] != n:
                raise InvalidInputError(
                    f"layer {i}: lower and upper must both be (n, out_dim) with one n; "
                    f"got {lo.shape} and {hi.shape}"
                )
            if np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
                raise InvalidInputError(f"layer {i}: bounds contain NaN")
            lo.setflags(write=False)
            hi.setflags(write=False)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def n(self) -> int:
        """Number of sets (points) bounded."""
        return int(self.lower[0].shape[0])

    @property
    def depth(self) -> int:
        """Number of layers bounded (the net's depth)."""
        return len(self.lower)

    def point(self, i: int) -> LayerBounds:
        """The bounds of set ``i`` alone (a batch of one)."""
        if not -self.n <= int(i) < self.n:
            raise InvalidInputError(f"index {i} out of range for {self.n} sets")
        i = int(i) % self.n
        return LayerBounds(
            tuple(v[i : i + 1] for v in self.lower),
            tuple(v[i : i + 1] for v in self.upper),
            self.method,
        )

    def output(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)`` of the output layer, each (n, out_dim)."""
        return self.lower[-1], self.upper[-1]

    def unstable(self, layer: int) -> np.ndarray:
        """Bool (n, out_dim): neurons of a hidden layer whose sign the bounds leave open."""
        return (self.lower[layer] < 0) & (self.upper[layer] > 0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (lists of lists)."""
        return {
            "method": self.method,
            "lower": [v.tolist() for v in self.lower],
            "upper": [v.tolist() for v in self.upper],
        }
