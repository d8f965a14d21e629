r"""Valid inequalities that tighten the MILP/MIQCP encoding on ℓ1 sets (:mod:`._milp`).

**Absolute-value pairs.** Two first-layer units ``i, i'`` with ``W_{i'} = -W_i`` and
``b_{i'} = -b_i`` (bit for bit) compute ``σ(z_i) + σ(-z_i) = |z_i|``, ``z_i = W_i x + b_i``.
For a set ``S`` of pairs and every ``x`` with ``‖x - c‖₁ ≤ r₁``,

    Σ_{i∈S} |z_i(x)| ≤ Σ_{i∈S} |z_i(c)| + Σ_j |x_j - c_j| Σ_{i∈S} |W_ij|
                     ≤ Σ_{i∈S} |z_i(c)| + r₁ · max_j Σ_{i∈S} |W_ij|            (*)

(triangle inequality, then Hölder). The big-M rows bound each pair separately, by its
interval, and their LP relaxation lets ``σ(z) + σ(-z)`` reach that bound at ``z = 0``: for a
distance gadget ``Σ_j |x_j - c_j|`` over ``d`` axis-aligned pairs the relaxation allows
``d r₁`` where (*) gives ``r₁`` around the gadget's own centre. With (*) the LP relaxation
(and so LP tightening and the MILP's root node) is exact there, where otherwise the solver
has to branch on every pair (``docs/memorization.md``: no per-neuron relaxation can do
better). The cut is generic: it reads only the weights and the set.

``S`` ranges over the pairs one second-layer unit reads with one common nonzero weight (the
sums a next layer forms); a group of one pair is skipped (its interval bound says as much).
A unit of a pair that is stably inactive is not modelled; it is 0 on the set, the other unit
then equals ``|z_i|`` alone, and (*) still bounds the sum of the modelled ones. Groups with
no modelled unit are not formed.

**Rounding.** ``z_i(c)`` is computed in floats with error at most
``γ_{n+1} (Σ_j |W_ij c_j| + |b_i|)`` (Higham, ``n`` nonzeros in the row); the right side adds
that error per pair; the column sums, the sum over the pairs and the product with ``r₁``
have relative error below ``2γ_{|S|+2}`` together, so multiplying by ``1 + 4γ_{|S|+2}`` and
rounding up one ulp gives at least the exact right side of (*). The exact graph of the
net over the set satisfies every cut, so the encoding's optimum is still a lower bound of
the true minimum, and the certificate slack (:meth:`._milp.Encoding.slack`) counts the
new rows' widths like any other row's.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from robustexp.network import ReLUNet
from robustexp.verify._numerics import gamma

__all__ = ["abs_pair_cuts"]


def abs_pair_cuts(
    net: ReLUNet, c: np.ndarray, r1: float, alive: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """The cuts (*) of the module docstring for the ℓ1 set ``‖x - c‖₁ ≤ r1``.

    ``alive`` lists the first-layer units the encoding models. Returns ``(units, rhs)`` per
    group: the valid inequality ``Σ_{i ∈ units} σ(z_i) ≤ rhs``.

    >>> net = ReLUNet.from_layers([([[1.0, 0], [-1, 0], [0, 1], [0, -1]], [0, 0, 0, 0]),
    ...                            ([[1.0, 1, 1, 1]], [0.0]), ([[1.0]], [0.0])])
    >>> [(u.tolist(), round(rhs, 12)) for u, rhs in abs_pair_cuts(
    ...     net, np.zeros(2), 0.5, np.arange(4))]
    [([0, 2, 1, 3], 0.5)]
    """
    if net.depth < 3:  # no second hidden layer reads the first
        return []
    first = net.layers[0]
    W0 = sp.csr_array(first.W)
    b0 = np.asarray(first.b, dtype=np.float64)
    # a negated row has exactly the negated key: the products and their sum round
    # symmetrically; equal keys are only candidates, every pair is checked exactly below
    rng = np.random.default_rng(0)
    key = W0 @ rng.uniform(1.0, 2.0, W0.shape[1]) + b0 * rng.uniform(1.0, 2.0)
    is_alive = np.zeros(first.out_dim, dtype=bool)
    is_alive[np.asarray(alive, dtype=np.int64)] = True
    abs_W0 = sp.csr_array(abs(W0))
    z_c = W0 @ c + b0
    # γ is increasing: one γ for the longest row covers every row
    longest = int(np.max(np.diff(W0.indptr), initial=0))
    z_err = gamma(longest + 1) * (abs_W0 @ np.abs(c) + np.abs(b0))
    W1 = sp.csr_array(net.layers[1].W)
    reads_alive = np.asarray((abs(W1) @ is_alive.astype(np.float64)) > 0).reshape(-1)
    cuts: list[tuple[np.ndarray, float]] = []
    seen: set[bytes] = set()
    for u in np.flatnonzero(reads_alive):
        cols = W1.indices[W1.indptr[u] : W1.indptr[u + 1]]
        vals = W1.data[W1.indptr[u] : W1.indptr[u + 1]]
        for w in np.unique(vals[vals != 0]):
            pos, neg = _matched_pairs(W0, b0, key, cols[vals == w])
            if pos.size < 2:
                continue
            tag = np.sort(pos).tobytes()
            if tag in seen:
                continue
            seen.add(tag)
            col_sums = np.asarray(abs_W0[pos].sum(axis=0)).reshape(-1)
            total = float(np.sum(np.abs(z_c[pos]) + z_err[pos])) + r1 * float(np.max(col_sums))
            rhs = float(np.nextafter(total * (1.0 + 4.0 * gamma(pos.size + 2)), np.inf))
            units = np.r_[pos, neg]
            cuts.append((units[is_alive[units]], rhs))
    return cuts


def _matched_pairs(
    W0: sp.csr_array, b0: np.ndarray, key: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Among the rows ``cols``, the pairs ``(i, i')`` with row ``i'`` exactly ``-`` row ``i``
    (weights and bias). Keys that occur more than once are left out (ambiguous)."""
    k = key[cols]
    values, counts = np.unique(k, return_counts=True)
    unique = np.isin(k, values[counts == 1])
    pos = cols[(k > 0) & unique]
    neg = cols[(k < 0) & unique]
    if pos.size == 0 or neg.size == 0:
        return pos[:0], neg[:0]
    order = np.argsort(-key[neg])
    neg_sorted = neg[order]
    at = np.clip(np.searchsorted(-key[neg_sorted], key[pos]), 0, neg_sorted.size - 1)
    hit = -key[neg_sorted[at]] == key[pos]
    pos, neg = pos[hit], neg_sorted[at[hit]]
    if pos.size == 0:
        return pos, neg
    # exact check: x + y rounds to 0 only when y = -x exactly (gradual underflow)
    diff = sp.csr_array(W0[pos] + W0[neg])
    exact = (np.asarray(abs(diff).sum(axis=1)).reshape(-1) == 0) & (b0[pos] + b0[neg] == 0)
    return pos[exact], neg[exact]
