"""The command line: parse arguments, run a command, print, choose the exit code.

This is the only module that prints or exits. A user's mistake (SymbackpropError)
becomes one line on stderr and exit status 2. SymPy and NumPy are imported inside
the commands, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from symbackprop import __version__
from symbackprop.errors import SymbackpropError, did_you_mean

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors raised as SymbackpropError, so they exit 2 in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SymbackpropError(f"{self.prog}: {message}")


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _load(path: str):
    from symbackprop import api, spec

    loaded = spec.load(path)
    return loaded, api.derive(loaded)


def _selected(derivation, wanted: Sequence[str] | None) -> list[str]:
    names = list(derivation.gradients)
    for name in wanted or []:
        if name not in names:
            raise SymbackpropError(f"--param: no parameter named '{name}'{did_you_mean(name, names)}; parameters: {', '.join(names)}")
    return list(wanted) if wanted else names


def run_solve(args: argparse.Namespace) -> int:
    from symbackprop import finite_diff, numeric, report

    spec, derivation = _load(args.spec)
    if not spec.examples:
        raise SymbackpropError(f"{args.spec}: inputs: missing; solve needs inputs and targets (or data) to compute numbers")
    evaluator = numeric.Evaluator(derivation)
    solution = evaluator.solve(spec.examples, spec.parameters, learning_rate=spec.learning_rate, frozen=spec.frozen)
    check = finite_diff.gradcheck(evaluator, spec.examples, spec.parameters, solution.gradients)
    if args.json:
        _print_json(report.solution_json(derivation, solution, check))
    else:
        print(report.solution_text(derivation, solution, check, decimals=args.decimals))
    return EXIT_OK


def run_derive(args: argparse.Namespace) -> int:
    from symbackprop import chain, report

    _, derivation = _load(args.spec)
    names = _selected(derivation, args.param)
    if args.json:
        proof = chain.prove(derivation) if derivation.expanded_values is not None and not args.no_proof else None
        _print_json(report.derivation_json(derivation, names, proof))
    else:
        print(report.derivation_text(derivation, names))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    import os

    from symbackprop import check

    _, derivation = _load(args.spec)
    answers = check.load_answers(args.answers)
    marking = check.check(derivation, answers, tolerance=args.tolerance, source=args.answers)
    if args.json:
        _print_json(check.marking_json(marking))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(check.marking_text(marking, colour=colour))
    return EXIT_OK if marking.ok else EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbackprop", description="Symbolic backpropagation: derive, evaluate and check every ∂L/∂w.")
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    solve = commands.add_parser(
        "solve", help="forward pass, loss, every gradient and one update, checked by finite differences",
        description="Example: symbackprop solve examples/seed_2_2_1.yaml --json",
    )  # fmt: skip
    solve.add_argument("spec", help="network spec (.yaml, .json or .toml)")
    solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    solve.add_argument("--decimals", type=int, default=6, help="digits after the point in tables (default 6)")
    solve.set_defaults(run=run_solve)

    derive = commands.add_parser(
        "derive", help="the chain rule for each parameter: Leibniz chain, factors, δ form, expanded form",
        description="Example: symbackprop derive examples/seed_2_2_1.yaml --param w11",
    )  # fmt: skip
    derive.add_argument("spec", help="network spec (.yaml, .json or .toml)")
    derive.add_argument("--param", action="append", metavar="NAME", help="only this parameter (repeatable)")
    derive.add_argument("--json", action="store_true", help="print one JSON object")
    derive.add_argument("--no-proof", action="store_true", help="skip the sympy.diff cross-check in --json")
    derive.set_defaults(run=run_derive)

    check = commands.add_parser(
        "check", help="mark a hand calculation: right, wrong or carried forward, with the likely mistake",
        description="Example: symbackprop check examples/seed_2_2_1.yaml examples/seed_answers.yaml. "
        "Exit status 0 when every given value is right or carried forward, 1 when one is wrong.",
    )  # fmt: skip
    check.add_argument("spec", help="network spec (.yaml, .json or .toml) with one example")
    check.add_argument("answers", help="the student's values, shaped like solve --json (.yaml, .json or .toml)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--tolerance", type=float, metavar="X",
                       help="accept values within ±X instead of the precision each is written with")  # fmt: skip
    check.set_defaults(run=run_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
