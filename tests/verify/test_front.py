"""Front-layer CROWN bounds (robustexp/verify/_front.py): sound on sampled points, never
looser than IBP, and tight enough on ℓ1 balls to shrink a memorizer's cone of influence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from _netfactory import random_net

import robustexp.verify._front as front_mod
import robustexp.verify._milp as milp_mod
from robustexp.verify._front import front_crown_bounds
from robustexp.verify._ibp import interval_bounds
from robustexp.verify._sets import LpBall


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_bounds_contain_sampled_values_and_refine_ibp(rng: np.random.Generator, p, monkeypatch):
    """Every layer's sampled pre-activations lie in the bounds; the bounds are inside IBP's.
    A tiny chunk size forces many chunks (each second-layer unit alone)."""
    monkeypatch.setattr(front_mod, "FRONT_CHUNK_ENTRIES", 4)
    for _ in range(4):
        net = random_net(rng, [4, 12, 10, 8, 1])
        ball = LpBall(rng.normal(size=(1, 4)), float(rng.uniform(0.05, 0.5)), p)
        ibp = interval_bounds(net, ball)
        b = front_crown_bounds(net, ball, ibp)
        S = ball.sample(rng, 500).reshape(-1, 4)
        for k, Z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= Z) and np.all(b.upper[k][0] >= Z)
            assert np.all(b.lower[k] >= ibp.lower[k]) and np.all(b.upper[k] <= ibp.upper[k])


def test_front_bounds_prune_far_bumps_of_the_l1_memorizer(monkeypatch) -> None:
    """Over an ℓ1 ball IBP sees the enclosing box and keeps every bump of an ℓ1 memorizer in
    d = 32; with front CROWN the default bounds keep the point's own bump and few others,
    and the query is certified with a model far smaller than the net."""
    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS["memorizer-l1"]
    inst = c.example(40, 32, seed=2)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, 1.0)
    ibp = interval_bounds(net, ball)
    kept_ibp = sum(int(r.sum()) for r in milp_mod._relevant_units(net, [u[0] for u in ibp.upper]))
    front = front_crown_bounds(net, ball, ibp)
    rel = milp_mod._relevant_units(net, [u[0] for u in front.upper])
    assert kept_ibp > net.hidden_neurons // 2 > 4 * sum(int(r.sum()) for r in rel)
    monkeypatch.setattr(milp_mod, "CONE_BOUNDS_MIN_NEURONS", 10)
    # exact_value: build and solve the model even though the bounds already certify
    res = milp_mod.milp_margin(net, ball, int(inst.y[0]), time_limit=60, exact_value=True)
    assert res.status == "certified" and res.stats["variables"] < net.hidden_neurons / 4


@pytest.mark.parametrize("p", [1.0, 2.0])
def test_sparse_front_pass_equals_the_dense_chunks(p: float) -> None:
    """The one-pass sparse front (the net with CSR layers) and the dense chunked front (dense
    layers) run the same CROWN relaxation: a wrong index in the sparse coefficients
    or a chunk that drops rows shows as a difference above float noise. Both contain the
    sampled pre-activations."""
    from robustexp.constructions import CONSTRUCTIONS
    from robustexp.network import Affine, ReLUNet

    c = CONSTRUCTIONS["memorizer-l1" if p == 1.0 else "memorizer-l2"]
    inst = c.example(8, 5, seed=1)
    built = c.build(inst.X, inst.y, inst.radius)
    dense = ReLUNet(tuple(Affine(_dense(layer.W), layer.b) for layer in built.layers))
    net = ReLUNet(tuple(Affine(sp.csr_array(layer.W), layer.b) for layer in dense.layers))
    ball = LpBall(inst.X[2:3] + 0.01, inst.radius, p)
    b_sparse = front_crown_bounds(net, ball, interval_bounds(net, ball))
    b_dense = front_crown_bounds(dense, ball, interval_bounds(dense, ball))
    S = ball.sample(np.random.default_rng(0), 300).reshape(-1, 5)
    for k, Z in enumerate(net.pre_activations(S)):
        np.testing.assert_allclose(b_sparse.lower[k], b_dense.lower[k], rtol=0, atol=1e-9)
        np.testing.assert_allclose(b_sparse.upper[k], b_dense.upper[k], rtol=0, atol=1e-9)
        assert np.all(b_sparse.lower[k][0] <= Z) and np.all(b_sparse.upper[k][0] >= Z)


def _dense(W) -> np.ndarray:
    return W.toarray() if sp.issparse(W) else np.asarray(W)
