"""``robustexp memorize``: build a Theorem 2.2 robust memorizer and check it three ways.

    robustexp memorize --data {synthetic,digits,FILE.npz} --norm {inf,2,1}
                       --construction {memorizer,nearest-margin,cube-memorizer}
                       [--N N] [--d d] [--eps EPS] [--radius R] [--seed S] [--task even-odd]
                       [--scale {cover,tight}] [--methods ibp,crown,pgd,milp]
                       [--time-budget S] [--save net.npz|net.onnx] [--json out.json]

``synthetic`` draws N points in the unit ℓp ball with 2ε-separated classes
(:func:`robustexp.data.separated_dataset`, ε = ``--eps``); ``digits`` is scikit-learn's
digits as a binary task (``--task``, needs the ``[data]`` extra) scaled into the unit ℓp
ball; ``FILE.npz`` holds a user's ``X`` (n, d) and ``y`` (n,) in {-1, +1}. For digits and
files ``--eps`` is an optional *claimed* ε (verified; default: the measured one).
``--radius`` defaults to ε/2 (ε measured).

Prints the data separation (ε and the closest pair), a size table (measured, exact formula,
theorem bound with its explicit constant), the proof certificate, and the robust training
accuracy from the generic verifiers (certified lower bound, attacked upper bound, whether
they meet, and which method decided how many points). Bad input — data that are not
separated, a radius outside the construction's condition, data outside the unit ball —
gives one line naming the closest pair or the violated condition, and exit status 2.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]

_CONSTRUCTIONS = {
    "memorizer": "memorizer",
    "nearest-margin": "nearest-margin",
    "cube-memorizer": "cube-memorizer",
}
_NORM_LABEL = {"inf": "linf", "2": "l2", "1": "l1"}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "memorize",
        help="build a Thm 2.2 robust memorizer, show its size and verify it",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "--data",
        required=True,
        metavar="{synthetic,digits,FILE.npz}",
        help="synthetic separated data, the digits task, or an .npz with X and y",
    )
    p.add_argument("--norm", required=True, choices=["inf", "2", "1"], help="the ℓp norm")
    p.add_argument(
        "--construction",
        default="memorizer",
        choices=sorted(_CONSTRUCTIONS),
        help="bump memorizer (default), nearest-margin network, or the ℓ∞ cube memorizer",
    )
    p.add_argument("--N", type=int, default=100, help="synthetic: number of points (100)")
    p.add_argument("--d", type=int, default=8, help="synthetic: dimension (8)")
    p.add_argument("--eps", type=float, help="synthetic: ε to generate (0.1); else: claimed ε")
    p.add_argument("--radius", type=float, help="robustness radius δ (default ε/2)")
    p.add_argument("--seed", type=int, default=0, help="synthetic data and attack seed (0)")
    p.add_argument("--task", default="even-odd", help="digits task: even-odd or a pair 'a-b'")
    p.add_argument("--scale", default="cover", choices=["cover", "tight"], help="ℓ2 Yarotsky scale")
    p.add_argument(
        "--methods",
        default="ibp,crown,pgd,milp",
        help="verifiers to run, comma-separated subset of ibp,crown,pgd,milp ('' for none)",
    )
    p.add_argument(
        "--time-budget", type=float, default=60.0, metavar="S", help="verification budget (60 s)"
    )
    p.add_argument("--save", metavar="NET.npz|NET.onnx", help="write the network")
    p.add_argument("--json", metavar="OUT.json", help="write everything printed as JSON")
    p.set_defaults(func=run)


def _load_data(args: argparse.Namespace, p: float) -> tuple[Any, Any, str, float | None]:
    """(X, y, description, claimed ε or None)."""
    from robustexp._errors import InvalidInputError

    if args.data == "synthetic":
        from robustexp.data import separated_dataset

        eps = 0.1 if args.eps is None else args.eps
        ds = separated_dataset(args.N, args.d, eps, p, domain="ball", seed=args.seed, measure=False)
        desc = f"synthetic: N = {ds.n}, d = {ds.d}, unit {_norm(p)} ball, ε = {eps:g}"
        return ds.X, ds.y, desc, None
    if args.data == "digits":
        from robustexp.data import digits_task

        ds = digits_task(args.task, p)
        return ds.X, ds.y, f"digits ({ds.name}): N = {ds.n}, d = {ds.d}", args.eps
    path = Path(args.data)
    if path.suffix != ".npz":
        raise InvalidInputError(
            f"--data must be synthetic, digits or a .npz file with X and y; got {args.data!r}"
        )
    from robustexp.data import load_dataset

    ds = load_dataset(path)
    return ds.X, ds.y, f"{path.name}: N = {ds.n}, d = {ds.d}", args.eps


def _norm(p: float) -> str:
    return "ℓ∞" if math.isinf(p) else f"ℓ{int(p)}"


def _construction(args: argparse.Namespace) -> Any:
    from robustexp._errors import InvalidInputError
    from robustexp.constructions import CONSTRUCTIONS

    name = f"{_CONSTRUCTIONS[args.construction]}-{_NORM_LABEL[args.norm]}"
    if name not in CONSTRUCTIONS:
        raise InvalidInputError(
            f"--construction {args.construction} exists only for --norm inf; got --norm {args.norm}"
        )
    return CONSTRUCTIONS[name]


def _methods(text: str) -> tuple[str, ...]:
    from robustexp._errors import InvalidInputError

    ms = tuple(m.strip() for m in text.split(",") if m.strip())
    bad = [m for m in ms if m not in ("ibp", "crown", "pgd", "milp")]
    if bad:
        raise InvalidInputError(f"--methods must be a subset of ibp,crown,pgd,milp; got {bad}")
    return ms


def run(args: argparse.Namespace) -> int:
    from robustexp._cli._common import format_table, write_json_atomic
    from robustexp._errors import InvalidInputError
    from robustexp.data import parse_norm, separation

    p = parse_norm(args.norm)
    c = _construction(args)
    methods = _methods(args.methods)
    if args.time_budget is not None and not args.time_budget > 0:
        raise InvalidInputError(f"--time-budget must be > 0; got {args.time_budget}")
    if args.save and Path(args.save).suffix not in (".npz", ".onnx"):
        raise InvalidInputError(f"--save must end in .npz or .onnx; got {args.save!r}")
    X, y, desc, claimed = _load_data(args, p)
    sep = separation(X, y, p)
    if sep.pair is not None and sep.distance_sq == 0:
        i, j = sep.pair
        raise InvalidInputError(
            f"data are not separated: points {i} (label {sep.pair_labels[0]:+d}) and {j} "
            f"(label {sep.pair_labels[1]:+d}) coincide"
        )
    eps = claimed if claimed is not None else sep.eps_max
    radius = args.radius if args.radius is not None else 0.5 * eps
    if not math.isfinite(radius):
        raise InvalidInputError("one class only: pass --radius explicitly")
    options: dict[str, Any] = {"eps": claimed}
    if p == 2.0 and "cube" not in c.name:
        options["scale"] = args.scale
    net = c.build(X, y, radius, **options)
    cert = c.certificate(X, y, radius, **options)
    out: dict[str, Any] = {"data": desc, "construction": c.name, "theorem": c.theorem}

    # ---- separation
    print(desc)
    if sep.pair is None:
        print(f"separation ({_norm(p)}): one class only, ε = ∞")
    else:
        (i, j), (yi, yj) = sep.pair, sep.pair_labels
        print(
            f"separation ({_norm(p)}): min inter-class distance 2ε = {sep.distance:.6g} "
            f"(ε = {sep.eps_max:.6g}); closest pair: points {i} ({yi:+d}) and {j} ({yj:+d})"
        )
    out["separation"] = sep.to_dict()
    rc = c.radius_condition
    print(
        f"construction: {c.name} ({c.theorem} [RECON]); radius δ = {radius:.6g}; "
        f"guarantee {rc.guarantee} (the theorem: {rc.theorem})"
    )
    out["radius"] = radius
    out["radius_condition"] = rc.as_dict()

    # ---- sizes
    size = net.size().as_dict()
    formula = c.size_formula().evaluate_all(c.size_arguments(X, y, radius, **options))
    rows = [[k, size[k], formula[k]] for k in formula]
    print()
    print(format_table(["size", "measured", "exact formula"], rows))
    bound_vals = c.bound_arguments(X, y, radius)
    first = bound_vals["N"] * bound_vals["d"] * math.log(bound_vals["d"] / radius)
    C = c.explicit_constant
    applies = C.applies(radius, None if eps is None or math.isinf(eps) else eps**2)
    print(
        f"theorem bound O({c.stated_bound}): first term N·d·ln(d/δ) = {first:.6g}; "
        f"explicit constant C = {C.value:g} ({C.valid_for}); parameters / (N d ln(d/δ)) = "
        f"{size['parameters'] / first:.4g}" + ("" if applies else " (outside the constant's range)")
    )
    out["size"] = {"measured": size, "formula": formula}
    out["bound"] = {
        "stated": str(c.stated_bound),
        "first_term": first,
        "constant": C.as_dict(),
        "ratio_to_first_term": size["parameters"] / first,
        "constant_applies": applies,
    }

    # ---- certificate
    print()
    print(f"certificate: {cert.conclusion}")
    out["certificate"] = cert.as_dict()

    # ---- generic verification
    if methods:
        from robustexp.verify import BallSpec, robust_accuracy

        rep = robust_accuracy(
            net,
            X,
            y,
            BallSpec(radius, p),
            methods=methods,
            time_budget=args.time_budget,
            seed=args.seed,
        )
        counts = rep.method_counts()
        by = (
            ", ".join(f"{m}: {n}" for m, n in sorted(counts.get("certified", {}).items())) or "none"
        )
        print(
            f"robust training accuracy ({_norm(p)}, δ = {radius:.6g}): certified "
            f"{100 * rep.certified_accuracy:.1f}% (by {by}), attacked "
            f"{100 * rep.attacked_accuracy:.1f}%, exact: {'yes' if rep.exact else 'no'} "
            f"[{rep.total_time:.1f} s]"
        )
        out["robust_accuracy"] = {
            "certified": rep.certified_accuracy,
            "attacked": rep.attacked_accuracy,
            "exact": rep.exact,
            "method_counts": counts,
            "time": rep.total_time,
            "notes": list(rep.notes),
        }

    # ---- save
    if args.save:
        path = Path(args.save)
        if path.suffix == ".onnx":
            from robustexp.verify import export_onnx

            export_onnx(net, path)
        elif path.suffix == ".npz":
            from robustexp.network import save_net

            save_net(path, net, construction=c.name, params={"radius": radius, **options})
        else:
            raise InvalidInputError(f"--save must end in .npz or .onnx; got {args.save!r}")
        print(f"saved {path}")
        out["saved"] = str(path)
    if args.json:
        write_json_atomic(args.json, out)
    return 0
