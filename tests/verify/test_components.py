"""CROWN by connected components (robustexp/verify/_components.py): the same hidden-unit
bounds as full CROWN, sound on sampled points, and the cone it gives keeps a max-tree
memorizer query small."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
from _netfactory import random_net

import robustexp.verify._components as comp_mod
import robustexp.verify._milp as milp_mod
from robustexp.network import ReLUNet
from robustexp.verify import linear_bounds
from robustexp.verify._components import component_crown_bounds, hidden_components
from robustexp.verify._ibp import interval_bounds
from robustexp.verify._sets import LpBall


def block_net(rng: np.random.Generator, d: int, blocks: int) -> ReLUNet:
    """``blocks`` independent random sub-networks on the same input, summed by the output."""
    parts = [random_net(rng, [d, 5, 4, 3, 1]) for _ in range(blocks)]
    layers = []
    for k in range(3):
        Ws = [p.layers[k].dense_W() for p in parts]
        W = np.vstack(Ws) if k == 0 else sla.block_diag(*Ws)
        layers.append((W, np.concatenate([p.layers[k].b for p in parts])))
    layers.append((np.hstack([p.layers[3].dense_W() for p in parts]), [0.2]))
    return ReLUNet.from_layers(layers)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf])
def test_hidden_bounds_equal_full_crown(rng: np.random.Generator, p: float, monkeypatch) -> None:
    """Grouped one component at a time (group size 1 unit), every hidden unit's bound equals
    full plain CROWN's (chords; the component pass runs without the two-group planes) up to
    rounding; sampled pre-activations lie inside; the output keeps IBP's."""
    monkeypatch.setattr(comp_mod, "COMPONENT_GROUP_UNITS", 1)
    for _ in range(3):
        net = block_net(rng, 3, blocks=4)
        assert hidden_components(net)[0] >= 4
        ball = LpBall(rng.normal(size=(1, 3)), float(rng.uniform(0.1, 0.6)), p)
        ibp = interval_bounds(net, ball)
        full = linear_bounds(net, ball, intermediate="crown", two_group=False)
        b = component_crown_bounds(net, ball, ibp)
        for k in range(net.depth - 1):
            np.testing.assert_allclose(b.lower[k], full.lower[k], rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(b.upper[k], full.upper[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(b.lower[-1], ibp.lower[-1])
        S = ball.sample(rng, 300).reshape(-1, 3)
        for k, Z in enumerate(net.pre_activations(S)):
            assert np.all(b.lower[k][0] <= Z) and np.all(b.upper[k][0] >= Z)


def test_one_component_gives_none(rng: np.random.Generator) -> None:
    net = random_net(rng, [3, 6, 6, 1], density=1.0)
    ball = LpBall(np.zeros((1, 3)), 0.1, math.inf)
    assert hidden_components(net)[0] == 1
    assert component_crown_bounds(net, ball, interval_bounds(net, ball)) is None


def test_max_tree_memorizer_cone_by_components(monkeypatch) -> None:
    """ℓ∞ memorizer in d = 32: IBP keeps most bumps (the max tree's bounds double per
    level), CROWN by components keeps only the own bump's units, as full CROWN does, and the
    query certifies on a small model."""
    from robustexp.constructions import CONSTRUCTIONS

    c = CONSTRUCTIONS["memorizer-linf"]
    inst = c.example(30, 32, seed=0)
    net = c.build(inst.X, inst.y, inst.radius)
    ball = LpBall(inst.X[:1], inst.radius, math.inf)
    ibp = interval_bounds(net, ball)
    kept_ibp = sum(int(r.sum()) for r in milp_mod._relevant_units(net, [u[0] for u in ibp.upper]))
    b = component_crown_bounds(net, ball, ibp)
    rel = milp_mod._relevant_units(net, [u[0] for u in b.upper])
    full = linear_bounds(net, ball, intermediate="crown", two_group=False)
    rel_full = milp_mod._relevant_units(net, [u[0] for u in full.upper])
    assert [r.tolist() for r in rel] == [r.tolist() for r in rel_full]
    assert kept_ibp > net.hidden_neurons // 2 > 4 * sum(int(r.sum()) for r in rel)
    monkeypatch.setattr(milp_mod, "CONE_BOUNDS_MIN_NEURONS", 10)
    # exact_value: build and solve the model even though the bounds already certify
    res = milp_mod.milp_margin(net, ball, int(inst.y[0]), time_limit=60, exact_value=True)
    assert res.status == "certified" and res.stats["variables"] < net.hidden_neurons / 4


def test_a_group_too_large_for_crown_keeps_the_base_bounds(rng, monkeypatch) -> None:
    """When dense CROWN would not fit for a group (ResourceLimitError, seen on the digits
    nearest-margin net), the group keeps the given bounds instead of failing the query."""
    import robustexp.verify._crown as crown_mod
    from robustexp._errors import ResourceLimitError

    def too_big(*args, **kwargs):
        raise ResourceLimitError("dense backward coefficients too large")

    net = block_net(rng, 3, blocks=3)
    ball = LpBall(rng.normal(size=(1, 3)), 0.3, math.inf)
    ibp = interval_bounds(net, ball)
    monkeypatch.setattr(crown_mod, "linear_bounds", too_big)
    b = component_crown_bounds(net, ball, ibp)
    for k in range(net.depth):
        np.testing.assert_array_equal(b.lower[k], ibp.lower[k])
        np.testing.assert_array_equal(b.upper[k], ibp.upper[k])
