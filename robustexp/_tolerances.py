"""All numerical tolerances and limits of robustexp, in one place, each with its reason.

Nothing else in the package may hard-code a tolerance: import it from here.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATION_BUDGET_BYTES",
    "BOUND_PROPAGATION_THREADS",
    "CASCADE_BATCH_POINTS",
    "CONE_BOUNDS_MIN_NEURONS",
    "DENSE_LAYER_MAX_ENTRIES",
    "DUAL_ACTIVE_SET_ITERATIONS",
    "EXACT_EVAL_MAX_PARAMETERS",
    "EXACT_RECHECK_MAX_PARAMETERS",
    "EXPORT_AGREEMENT_ATOL",
    "FLOAT64_TINY",
    "FLOAT64_UNIT_ROUNDOFF",
    "HARD_INSTANCE_GRID_BITS",
    "HARD_INSTANCE_MAX_LABELLINGS",
    "LAZY_IBP_MIN_PARAMETERS",
    "LIBM_POW_RELATIVE_ERROR",
    "LINEAR_BOUNDS_BUDGET_BYTES",
    "MEMORY_LIMIT_BYTES",
    "MERGE_PLAN_MAX_UNITS",
    "MILP_DEFAULT_TIME_LIMIT",
    "MILP_DUAL_FEASIBILITY_TOL",
    "MILP_INTEGRALITY_TOL",
    "MILP_PRIMAL_FEASIBILITY_TOL",
    "MILP_SLACK_SAFETY_FACTOR",
    "MIQCP_DUAL_FEASIBILITY_TOL",
    "MIQCP_FEASIBILITY_TOL",
    "ONNX_EXPORT_MEMORY_FACTOR",
    "ONNX_PROTOBUF_LIMIT_BYTES",
    "PROJECTION_BISECTION_STEPS",
    "PWL1D_MAX_PIECES",
    "SEPARATION_BLOCK_ELEMENTS",
    "SEPARATION_BOUND_SAFETY",
    "SEPARATION_MAX_ABS_COORD",
    "SYNTHETIC_DRAW_BUDGET_FACTOR",
    "SYNTHETIC_MIN_DRAW_BUDGET",
]

#: Unit roundoff u = 2^-53 of IEEE float64 (round to nearest). Every proven rounding-error
#: bound in :mod:`robustexp.verify._numerics` is written in terms of it.
FLOAT64_UNIT_ROUNDOFF: float = 2.0**-53

#: Smallest positive normal float64. Underflow in a product contributes an absolute error of
#: at most this much (times the number of terms), which error bounds must add.
FLOAT64_TINY: float = float(np.finfo(np.float64).tiny)

#: Torch/ONNX export must reproduce the numpy forward pass in float64 to this absolute
#: tolerance (the issue's acceptance figure): the same products summed in another order
#: differ by a few ulps of the partial sums, far below 1e-12 for the nets we build.
EXPORT_AGREEMENT_ATOL: float = 1e-12

#: Default cap on the memory a single request may allocate (dense export, dense Jacobians,
#: MILP models). Requests estimated above it raise ResourceLimitError instead of swapping.
#: The machines have 24 GiB; 8 GiB leaves room for the rest of a sweep.
MEMORY_LIMIT_BYTES: int = 8 * 2**30

#: Witnesses are re-checked in exact rational arithmetic when the net has at most this many
#: parameters (the issue's threshold); above it the re-check uses a proven float bound.
EXACT_RECHECK_MAX_PARAMETERS: int = 100_000

#: Batched evaluation splits the batch so that one layer's activations (rows x batch x 8 bytes)
#: stay under this budget. An MNIST-scale memorizer has ~10^8 hidden units in one layer, so
#: without a cap a batch of 100 points would need ~60 GB; with it, peak memory stays within a
#: small multiple of the weight arrays.
ACTIVATION_BUDGET_BYTES: int = 256 * 2**20

# ---- complete verification (robustexp.verify._milp / _miqcp) --------------------------------
#: Tolerances handed to HiGHS (scipy.optimize.milp passes them verbatim). They enter the
#: soundness slack of a MILP certificate linearly (see robustexp/verify/_milp.py), so they are
#: set 100x tighter than HiGHS' defaults (1e-7, 1e-7, 1e-6): the slack on a 20-50-50-1 net is
#: then ~1e-5, far below margins worth certifying, and HiGHS still solves such models reliably.
MILP_PRIMAL_FEASIBILITY_TOL: float = 1e-9
MILP_DUAL_FEASIBILITY_TOL: float = 1e-9
MILP_INTEGRALITY_TOL: float = 1e-8

#: Factor by which the derived tolerance slack of a MILP/MIQCP certificate is multiplied. The
#: derivation bounds each tolerance's effect under the stated solver model; the factor is a
#: margin for what that model idealises (HiGHS runs with scaling off, but SCIP scales rows
#: internally, and both test tolerances on their own computed residuals). It costs nothing on
#: margins of practical size: the whole slack is ~1e-5 on a 20-50-50-1 net.
MILP_SLACK_SAFETY_FACTOR: float = 8.0

#: A complete query's default bounds (robustexp.verify._milp.default_bounds) run CROWN on the
#: cone of influence only (IBP first finds it) for nets with more hidden units than this;
#: below it full CROWN is cheap enough and the IBP pass would not pay for itself.
CONE_BOUNDS_MIN_NEURONS: int = 2000

#: Merge-aware interval bounds (robustexp.verify._merge) read the groups of a net once (a
#: Python pass over its units: ~6 s for the 460,036 hidden units of nearest-margin ℓ∞ on
#: digits); nets with more hidden units than this skip the pass rather than pay minutes.
MERGE_PLAN_MAX_UNITS: int = 2_000_000

#: Default per-query time limit (seconds) of a complete MILP/MIQCP query; timeouts are unknown.
MILP_DEFAULT_TIME_LIMIT: float = 60.0

#: SCIP tolerances for the ℓ2 MIQCP (numerics/feastol, numerics/dualfeastol); SCIP's defaults
#: are 1e-6 and 1e-7. Feasibility of the quadratic ball constraint is enforced by outer
#: approximation cuts, whose violation tolerance is feastol.
MIQCP_FEASIBILITY_TOL: float = 1e-9
MIQCP_DUAL_FEASIBILITY_TOL: float = 1e-9

#: Hard cap on the size of a net evaluated in rational arithmetic (robustexp.network.ExactNet).
#: Fraction arithmetic costs about 1-10 µs per parameter per point and holds every weight as a
#: Python object (~200 bytes), so 5e6 parameters is ~1 GB and up to a minute per point: beyond
#: that, ResourceLimitError is clearer than an apparent hang.
EXACT_EVAL_MAX_PARAMETERS: int = 5_000_000

# ---- interop and the robust-accuracy cascade (robustexp.verify._onnx / _cascade) ---------------
#: Protobuf refuses to serialise a message of 2 GiB or more, so an ONNX model whose dense
#: weights (plus graph overhead) reach this size cannot be written as one file.
ONNX_PROTOBUF_LIMIT_BYTES: int = 2**31 - 1

#: Peak memory of an ONNX export per byte of densified weights: the dense float array, its
#: copy inside the TensorProto, and the serialised bytes are alive at the same time.
ONNX_EXPORT_MEMORY_FACTOR: int = 3

#: The cascade runs the batched stages (IBP, CROWN, PGD) on chunks of this many points, so the
#: progress bar moves and the time budget is checked between chunks; the bound propagators
#: batch (and bound memory) inside each chunk themselves.
CASCADE_BATCH_POINTS: int = 256

#: Pairs per block when screening inter-class distances (robustexp.data separation and the
#: synthetic generator). A block holds about five float64 arrays of this many entries, so
#: 2^23 entries keep a block near 320 MiB: well inside the 2 GB the N = 20,000, d = 784
#: measurement may use, and large enough that BLAS/cdist calls are efficient.
SEPARATION_BLOCK_ELEMENTS: int = 2**23

#: Factor applied to the derived rounding-error bounds of the float distance screening
#: (robustexp.data._pairwise). The derivation bounds the screened value; the factor 4 also
#: covers the roundings made while evaluating the bound and while forming value +- bound
#: (each at most u(|v| + e), while every bound is at least u|v|), see that module.
SEPARATION_BOUND_SAFETY: float = 4.0

#: Largest |coordinate| accepted by the separation screening: squared norms of d <= 10^6
#: coordinates of size 2^500 stay far below the float64 overflow threshold 2^1024, so the
#: error bounds (which assume no overflow) hold.
SEPARATION_MAX_ABS_COORD: float = 2.0**500

#: The synthetic separated-set generator gives up (ConditionError) once it has drawn more
#: than this many candidates per requested point, or earlier when the measured acceptance
#: rate projects past that budget: an acceptance rate below 1% means the request is
#: essentially infeasible for rejection sampling (the rate only falls as points accumulate).
SYNTHETIC_DRAW_BUDGET_FACTOR: int = 100

#: ... but it always allows at least this many draws, so small requests in low dimension,
#: where a few thousand rejections are normal, are not refused prematurely.
SYNTHETIC_MIN_DRAW_BUDGET: int = 20_000

# ---- dense vs sparse storage, gadgets and exact 1-D analysis ------------------------------
#: Gadget builders and combinators store a layer densely when it has at most this many
#: entries (rows x cols, 512 KiB of float64) and as CSR above it (unless forced). Small dense
#: layers evaluate faster through BLAS than CSR; large gadget layers are >99% zeros, so CSR is
#: the only format that fits in memory.
DENSE_LAYER_MAX_ENTRIES: int = 1 << 16

#: Exact 1-D piecewise-linear analysis (robustexp.network.piecewise_linear_1d) refuses nets
#: with more linear pieces than this on the requested interval: each piece holds a rational
#: slope and intercept per unit (~100 bytes each), so 10^6 pieces of a narrow net is ~1 GB and
#: minutes of Fraction arithmetic. Yarotsky's f_12 has 4096 pieces, far below.
PWL1D_MAX_PIECES: int = 1_000_000

#: Assumed bound on the relative error of libm ``pow`` (numpy's ``np.power`` on floats). It is
#: used only for lp balls with p not in {1, 2, inf}, whose dual norms need ``|a|^q``. glibc
#: documents at most 1 ulp (2^-52 relative) for ``pow`` on x86_64; we allow 64 ulps. For
#: p in {1, 2, inf} no ``pow`` is used and every bound is proven (robustexp.verify._numerics).
LIBM_POW_RELATIVE_ERROR: float = 2.0**-46

#: Working memory per batch chunk of the bound propagators (IBP, CROWN): the dense backward
#: coefficient matrices (batch x rows x width x 8 bytes, a few live at once) are chunked over the
#: batch to stay below this. 1 GiB keeps the 784-256-256-1 benchmark at chunks of ~40 points
#: (large enough for BLAS to run at full speed) while leaving room for other jobs.
LINEAR_BOUNDS_BUDGET_BYTES: int = 2**30

#: Bisection steps of the lp-ball projections onto ball ∩ box (on a multiplier in [0, 1] or
#: [0, max|x - c|]): 200 halvings shrink any float64 bracket below its resolution, so the
#: result is the projection up to rounding; each step is one vectorised pass.
PROJECTION_BISECTION_STEPS: int = 200

#: Active-set iterations choosing the Lagrange multiplier λ of the l2-ball constraint when a
#: linear function is minimised over l2 ball ∩ box (robustexp.verify._sets). Any λ >= 0 gives a
#: sound bound (weak duality); the iteration decreases λ monotonically towards the optimum and
#: changes the active set at most d times, but usually settles in 2-4 steps, so 8 is plenty.
DUAL_ACTIVE_SET_ITERATIONS: int = 8

# ---- Thm 2.3 hard instance (robustexp.data._hard_instances) ---------------------------------
#: Every coordinate of the l2 hard instance is a multiple of 2^-50. Coordinates have |x| <= 1,
#: so each is k*2^-50 with |k| <= 2^50 < 2^53: exactly representable, and sums c ± s of two
#: such numbers with |result| < 2 are exact too. All geometry (separation, ball membership) is
#: then a statement about these dyadic rationals, checked exactly. 2^-50 ~ 8.9e-16 is far below
#: any ε/√d of interest (rounding s = ε/√d up to the grid changes it by < 1e-12 relative for
#: ε/√d >= 1e-3).
HARD_INSTANCE_GRID_BITS: int = 50

#: The brute-force forcing check of the hard instance enumerates all 2^(Nd/2) labellings of
#: the probe points; each check is O(N²d) exact integer work. 2^16 labellings of tiny
#: instances take seconds; beyond that, pass an explicit list of labellings.
HARD_INSTANCE_MAX_LABELLINGS: int = 2**16

#: Worker threads over batch chunks in interval bound propagation (robustexp.verify._ibp).
#: numpy ufuncs and scipy's CSR product kernels release the GIL, so two chunks run in
#: parallel on the reference machines' 2 cores (measured 1.75x on a 10^7-weight sparse net);
#: capped by os.cpu_count(). 1 gives the single-threaded behaviour.
BOUND_PROPAGATION_THREADS: int = 2

#: ``interval_output_bounds(kernel="auto")`` switches to the lazy kernel
#: (robustexp.verify._lazy_ibp: depth-first, early exit on proven-dead ReLUs, compiled with
#: numba) for all-sparse nets with at least this many parameters. Below it the batched
#: BLAS/CSR kernel is as fast and needs no compilation (numba compiles once, ~2 s, then
#: caches on disk).
LAZY_IBP_MIN_PARAMETERS: int = 1_000_000
