r"""Complete verification over an ℓ2 ball by a mixed-integer QCP (SCIP through ``pyscipopt``).

The model is the big-M MILP of :mod:`robustexp.verify._milp` (same stable/unstable treatment,
same sound bounds, optionally LP-tightened over the outer box and the outer ℓ1 polytope
``||x - x0||_1 ≤ √d r``, which the model also keeps) plus the convex quadratic ball
constraint

    t = x - x0   (exact linear rows),      Σ_i t_i^2 ≤ r²↑,

where ``r²↑`` is ``r·r`` rounded up, so the model contains the true ball. Writing ``t`` as
its own variable keeps every model coefficient an exact float (expanding ``(x_i - x0_i)^2``
would round ``x0_i^2``). SCIP handles the convex constraint by gradient (outer-approximation)
cuts, which are globally valid, so every LP relaxation SCIP solves is an outer approximation.

**Soundness** follows :mod:`robustexp.verify._milp` with SCIP's tolerances (``feastol`` for
rows, bounds and integrality, ``dualfeastol``; set to ``MIQCP_*_TOL``): certify iff SCIP
reports the problem solved (``optimal`` or the gap limit) and ``β + c0 - S > 0``, where ``S``
is the slack of the MILP module (its dual term also counting the ``t`` variables, width
``≤ 2r`` each, and the quadratic row, range ``≤ d (2r)²``) with one extra primal term
``ε ||g_x||_2``: the quadratic row violated by ``τ_p`` admits
``||t||_2 ≤ √(r² + τ_p) ≤ r + ε``, ``ε = min(√τ_p, τ_p / (2r))`` (as
``√(r² + τ) - r = τ / (√(r² + τ) + r)``), an input perturbation of ℓ2 size ``ε`` that moves
the output by at most ``||g_x||_2 ε``. Timeouts never certify;
solutions are re-checked exactly before "falsified".

``pyscipopt`` is the optional extra ``robustexp[scip]``; without it every query returns
``unknown`` with a detail saying so (it never fails).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from robustexp._tolerances import (
    MILP_DEFAULT_TIME_LIMIT,
    MIQCP_DUAL_FEASIBILITY_TOL,
    MIQCP_FEASIBILITY_TOL,
)
from robustexp.network import ReLUNet
from robustexp.verify._milp import Encoding, MilpResult, Query, SolverOutcome, Tolerances

__all__ = ["SCIP_MISSING", "miqcp_margin"]

#: The detail of every MIQCP result when pyscipopt is not installed.
SCIP_MISSING = "pyscipopt not installed (pip install robustexp[scip])"

_SCIP_TOLERANCES = Tolerances(
    primal=MIQCP_FEASIBILITY_TOL,
    dual=MIQCP_DUAL_FEASIBILITY_TOL,
    integrality=MIQCP_FEASIBILITY_TOL,
)


def scip_available() -> bool:
    """True when ``pyscipopt`` can be imported."""
    try:
        import pyscipopt  # noqa: F401
    except ImportError:
        return False
    return True


def miqcp_margin(
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
    """Decide robustness of one point over an ℓ2 ball (∩ domain) by MIQCP (SCIP).

    Arguments and result as :func:`robustexp.verify._milp.milp_margin`, with ``p = 2``.

    >>> from types import SimpleNamespace
    >>> net = ReLUNet.from_layers([([[1.0, 1.0]], [0.0])])          # f(x) = x1 + x2
    >>> ball = SimpleNamespace(center=np.array([[1.0, 1.0]]), radius=1.0, p=2.0, domain=None)
    >>> b = SimpleNamespace(lower=(np.array([[2 - 2**0.5 - 1e-9]]),),
    ...                     upper=(np.array([[2 + 2**0.5 + 1e-9]]),))
    >>> res = miqcp_margin(net, ball, 1, bounds=b, exact_value=True)   # min = 2 - √2
    >>> res.status in ("certified", "unknown")   # "unknown" only without pyscipopt
    True
    """
    query = Query.make(net, ball, y, (2.0,), "miqcp_margin", "use milp_margin for p = 1, inf")
    if not scip_available():
        return query.result("unknown", -math.inf, detail=SCIP_MISSING)
    solve = _scip_solver(query, float(mip_rel_gap))
    return query.run(solve, time_limit, bounds, exact_value, tighten)


def _scip_solver(query: Query, gap: float):
    def solve(enc: Encoding, time_limit: float) -> SolverOutcome:
        from pyscipopt import Model, quicksum

        m = Model()
        m.hideOutput()
        m.setParam("limits/time", float(time_limit))
        m.setParam("limits/gap", gap)
        m.setParam("numerics/feastol", _SCIP_TOLERANCES.primal)
        m.setParam("numerics/dualfeastol", _SCIP_TOLERANCES.dual)
        m.setParam("randomization/randomseedshift", 0)
        m.setParam("parallel/maxnthreads", 1)
        v = [
            m.addVar(
                lb=float(enc.lb[j]),
                ub=float(enc.ub[j]),
                vtype="B" if enc.integrality[j] else "C",
            )
            for j in range(enc.lb.size)
        ]
        A = enc.A.tocsr()
        for i in range(A.shape[0]):
            lo_i, hi_i = A.indptr[i], A.indptr[i + 1]
            expr = quicksum(
                float(a) * v[j] for j, a in zip(A.indices[lo_i:hi_i], A.data[lo_i:hi_i])
            )
            rl, ru = float(enc.rl[i]), float(enc.ru[i])
            if rl == ru:
                m.addCons(expr == rl)
            else:
                if np.isfinite(rl):
                    m.addCons(expr >= rl)
                if np.isfinite(ru):
                    m.addCons(expr <= ru)
        # t = x - x0 (exact rows), sum t^2 <= r^2 rounded up
        r2 = float(np.nextafter(query.r * query.r, np.inf))
        t = []
        for i in range(enc.d):
            lo_t = float(np.nextafter(enc.lb[i] - query.c[i], -np.inf))
            hi_t = float(np.nextafter(enc.ub[i] - query.c[i], np.inf))
            ti = m.addVar(lb=lo_t, ub=hi_t, vtype="C")
            m.addCons(v[i] - ti == float(query.c[i]))
            t.append(ti)
        m.addCons(quicksum(ti * ti for ti in t) <= r2)
        nz = np.flatnonzero(enc.c)
        m.setObjective(quicksum(float(enc.c[j]) * v[j] for j in nz), "minimize")
        try:
            m.optimize()
        except Exception as exc:  # SCIP aborts on internal LP failures: no verdict
            return SolverOutcome(
                "other", None, None, None, f"SCIP failed: {exc}", _tolerances(query)
            )
        status = m.getStatus()
        state = {
            "optimal": "optimal",
            "gaplimit": "optimal",
            "timelimit": "timeout",
            "infeasible": "infeasible",
        }.get(status, "other")
        x = obj = None
        if m.getNSols() > 0:
            sol = m.getBestSol()
            x = np.array([m.getSolVal(sol, v[i]) for i in range(enc.d)], dtype=np.float64)
            obj = float(sum(float(enc.c[j]) * m.getSolVal(sol, v[j]) for j in nz))
        beta = m.getDualbound()
        beta = float(beta) if state == "optimal" and np.isfinite(beta) else None
        return SolverOutcome(state, beta, x, obj, status, _tolerances(query), int(m.getNNodes()))

    return solve


def _tolerances(query: Query) -> Tolerances:
    """SCIP's tolerances with the MIQCP's extra terms: the dual term also covers the ``d``
    variables ``t`` (width ≤ 2r each) and the quadratic row, whose activity over the
    ``t``-box spans at most ``d (2r)²``."""
    d = query.c.size
    rr = float(np.nextafter(query.r, np.inf))
    tau = _SCIP_TOLERANCES.primal
    excess = math.sqrt(tau) if rr == 0 else min(math.sqrt(tau), tau / (2.0 * rr))
    return Tolerances(
        tau,
        _SCIP_TOLERANCES.dual,
        _SCIP_TOLERANCES.integrality,
        input_l2_excess=excess * (1.0 + 1e-9),
        extra_row_width=2.0 * d * rr + 4.0 * d * rr * rr,
    )
