"""The command line: parse arguments, run a command, print, choose the exit code.

This is the only module that prints or exits. A user's mistake (SymbackpropError)
becomes one line on stderr and exit status 2. SymPy and NumPy are imported inside
the commands, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from symbackprop import __version__, numbers
from symbackprop.errors import SymbackpropError, did_you_mean, listing, printable, shorten

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
MAX_MESSAGE = 1_000  # characters of an error line


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors raised as SymbackpropError, so they exit 2 in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        if message.startswith("argument "):  # argparse's "argument --decimals: ...": the option says where
            raise SymbackpropError(message.removeprefix("argument "))
        command = self.prog.partition(" ")[2]  # "solve" of "symbackprop solve"; main prints "symbackprop:"
        raise SymbackpropError(f"{command}: {message}" if command else message)


def _whole(minimum: int, maximum: int | None = None, *, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from `minimum` (to `maximum`); the message gives the range."""
    valid = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}{unit}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number {valid}, got '{shorten(text)}'") from None
        if value < minimum or (maximum is not None and value > maximum):
            words = f"a whole number {valid}" if maximum is not None else valid
            raise argparse.ArgumentTypeError(f"must be {words}, got {shorten(text.strip())}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number above 0, by the rule of every number a user gives."""
    number = numbers.from_text(text, "", error=lambda _, what: argparse.ArgumentTypeError(shorten(what, limit=200)))
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {shorten(text.strip())}")
    return number


def _say(text: str, *, file: TextIO | None = None, end: str = "\n") -> None:
    """Print text that may hold a user's words (a title, names): control characters spelled out."""
    print(printable(text, keep="\n\t"), file=file or sys.stdout, end=end)


def _print_json(data: object) -> None:
    # json escapes C0 only; DEL, C1 and bidi controls can appear only inside strings, where \uXXXX is valid
    # allow_nan=False: strict JSON (RFC 8259); a non-finite value reaching here is a bug, not output
    print(printable(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False), keep="\n", json=True))


def _load(path: str):
    from symbackprop import api, spec

    loaded = spec.load(path)
    return loaded, api.derive(loaded)


def _selected(derivation, wanted: Sequence[str] | None) -> list[str]:
    names = list(derivation.gradients)
    for name in wanted or []:
        if name not in names:
            raise SymbackpropError(f"--param: no parameter named '{shorten(name)}'{did_you_mean(name, names)}; "
                                   f"parameters: {listing(names)}")  # fmt: skip
    return list(wanted) if wanted else names


def run_solve(args: argparse.Namespace) -> int:
    from symbackprop import api, report, spec

    loaded = spec.load(args.spec)
    if not loaded.examples:
        raise SymbackpropError(f"{args.spec}: inputs: missing; solve needs inputs and targets (or data) to compute numbers")
    solution, check = api.solve_checked(loaded)  # per weight, or by whole layers past api.PER_WEIGHT_SOLVE
    if args.json:
        _print_json(report.solution_json(loaded, solution, check))
    else:
        _say(report.solution_text(loaded, solution, check, decimals=args.decimals))
    return EXIT_OK


def run_derive(args: argparse.Namespace) -> int:
    from symbackprop import api, chain, report, spec

    if args.form == "vector":
        return _derive_vector(args)
    loaded = spec.load(args.spec)
    known = args.param and set(args.param) <= loaded.parameters.keys()
    derivation = api.derive(loaded, only=args.param if known else None)  # only what is asked; a wrong name is refused next
    names = _selected(derivation, args.param)
    if args.json:
        proof = chain.prove(derivation) if derivation.expanded_values is not None and not args.no_proof else None
        _print_json(report.derivation_json(derivation, names, proof))
    else:
        _say(report.derivation_text(derivation, names))
    return EXIT_OK


def run_check(args: argparse.Namespace) -> int:
    from symbackprop import check, student_sheet

    _, derivation = _load(args.spec)
    answers = student_sheet.load(args.answers)
    marking = check.check(derivation, answers, tolerance=args.tolerance, source=args.answers,
                          decimals=check.DECIMALS if args.decimals is None else args.decimals)
    if args.json:
        _print_json(check.marking_json(marking))
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        print(check.marking_text(marking, colour=colour))  # spells out the user's control characters itself, then colours
    return EXIT_OK if marking.ok else EXIT_FAILED


def run_mark(args: argparse.Namespace) -> int:
    from symbackprop import files, handout, marking, outputs

    students = marking.read_class(args.class_dir)
    found, unmatched = marking.answer_files(args.answers, students)
    reads = [("an answers file", path) for path in found.values()] + [("a student's spec", s.spec) for s in students]
    for option, path in (("-o", args.output), ("--plot", args.plot)):
        if path is not None:
            outputs.check_file(path, option=option, reads=reads)
    if args.feedback is not None:
        if not handout.LANGUAGE.fullmatch(args.lang):
            raise SymbackpropError(f"--lang: '{shorten(args.lang)}' is not a language code; valid: en, de, fr "
                                   "(or lang/<code>.tex.j2 in --templates)")  # fmt: skip
        outputs.check_folder(args.feedback, names=[f"{s.stem}_feedback.pdf" for s in students], reads=reads)
    results = marking.mark(students, found, credit=args.carried_forward_credit, decimals=args.decimals, lang=args.lang)
    if args.feedback is not None:
        marking.write_feedback(results, args.feedback, lang=args.lang, templates=args.templates)
    if args.output is not None:
        files.write_atomic(args.output, marking.grades_csv(results))
    if args.plot is not None:
        marking.plot(results, args.plot)
    if args.json:
        _print_json(marking.results_json(results))
    else:
        _say(marking.summary_text(results, unmatched=unmatched))
    return EXIT_FAILED if any(r.status == "unreadable" for r in results) else EXIT_OK


def run_handout(args: argparse.Namespace) -> int:
    from pathlib import Path

    from symbackprop import handout, outputs, render

    output = Path(args.output)
    reads = outputs.inputs(args.spec, data=args.data, templates=args.templates, roster=args.students)
    if args.variants is not None or args.students is not None:
        return _class_set(args, output, reads)
    if args.combine:
        raise SymbackpropError("--combine: only used with --variants N or --students roster.csv")
    else:
        outputs.check_file(output, option="-o", reads=reads)
        if output.suffix == ".pdf" and render.backend() is None:  # the .tex is written instead
            outputs.check_file(output.with_suffix(".tex"), option="-o", reads=reads)
    loaded, derivation = _load(args.spec)
    training = _handout_training(args, loaded)
    if args.seed is not None:
        raise SymbackpropError("--seed: only used with --variants N")
    if output.suffix not in (".pdf", ".tex"):
        raise SymbackpropError(f"-o: {output}: must end in .pdf or .tex (or be a directory, with --variants)")
    document = handout.build(derivation, mode=args.mode, decimals=args.decimals, params=args.param,
                             training=training, gradient_check=not args.no_check, paper=args.paper,
                             font_size=args.font_size, lang=args.lang, sections=args.sections, steps=args.steps)  # fmt: skip
    made = render.Handout(document, templates=args.templates)
    if output.suffix == ".pdf" and render.backend() is None:
        tex = made.write(output.with_suffix(".tex"))
        _say(f"symbackprop: {render.INSTALL_HINT}; wrote {tex} instead", file=sys.stderr)
        return EXIT_FAILED
    _say(f"wrote {made.write(output)}")
    return EXIT_OK


def _class_set(args: argparse.Namespace, output, reads) -> int:
    """handout --variants N / --students roster.csv: a class set in the folder -o."""
    from symbackprop import class_set, outputs, spec

    if args.variants is not None and args.students is not None:
        raise SymbackpropError("--variants: not with --students; the roster gives the class (one variant per student)")
    if args.train is not None:
        raise SymbackpropError("--train: not with --variants; a training section goes in a single handout")
    roster = class_set.read_roster(args.students) if args.students is not None else None
    loaded, derivation = _load(args.spec)
    sheets = class_set.sheets(loaded, seed=args.seed or 0, count=args.variants, roster=roster)
    outputs.check_folder(output, names=class_set.file_names(sheet.stem for sheet in sheets), reads=reads)
    _handout_training(args, loaded)  # --data and the other training options are refused without --train
    try:
        written = class_set.write(derivation, output, sheets, source=spec.read_mapping(args.spec), seed=args.seed or 0,
                                  combine=args.combine, decimals=args.decimals, params=args.param, templates=args.templates,
                                  gradient_check=not args.no_check, paper=args.paper, font_size=args.font_size,
                                  lang=args.lang, sections=args.sections, steps=args.steps)  # fmt: skip
    except OSError as exc:  # the folder could not be made (a race, or a file system that refuses)
        raise SymbackpropError(f"-o: {output}: cannot write the sheets there ({exc.strerror})") from None
    _say(f"wrote {len(written)} files in {output} ({len(sheets)} students: exercise sheet, answer key, spec and "
         "answers file each; class.csv lists them)")
    return EXIT_OK


def _handout_training(args: argparse.Namespace, loaded):
    """The training run a handout's --train asks for, or None."""
    from pathlib import Path

    from symbackprop import handout, train

    if args.train is None:
        used = [flag for flag, value in (("--data", args.data), ("--batch-size", args.batch_size),
                                         ("--train-seed", args.train_seed)) if value is not None]  # fmt: skip
        if used:
            raise SymbackpropError(f"{used[0]}: only used with --train EPOCHS")
        return None
    if args.train < 1:
        raise SymbackpropError(f"--train: must be at least 1 epoch, got {args.train}")
    if args.data:
        data, source = train.load_csv(args.data, loaded), Path(args.data).name
    else:
        data, source = train.spec_data(loaded), None
    batch_size = 32 if args.batch_size is None else args.batch_size
    return handout.trained(loaded, data, epochs=args.train, batch_size=batch_size, seed=args.train_seed or 0, source=source)


def _derive_vector(args: argparse.Namespace) -> int:
    from symbackprop import api, chain, spec, vector

    if args.param:
        raise SymbackpropError("--param: only with --form weights; the vector form shows whole layers")
    loaded = spec.load(args.spec)
    form = vector.derive(loaded)
    proof = None
    if chain.expandable(loaded.layers) and not args.no_proof:
        proof = vector.prove(form, api.derive(loaded, expand=True))
    if args.json:
        _print_json({
            "form": "vector",
            "layers": list(loaded.layers),
            "equations": [{"lhs": str(e.lhs), "rhs": str(e.rhs), "latex": f"{form.latex(e.lhs)} = {form.latex(e.rhs)}",
                           "note": e.note} for e in form.equations],
            "equals_per_weight_form": proof,
        })  # fmt: skip
    else:
        _say(vector.text(form))
        if proof is not None:
            verdict = "all equal" if all(proof.values()) else "DIFFER: " + listing([n for n, ok in proof.items() if not ok])
            _say(f"\nEntry by entry against the per-weight chain rule ({len(proof)} parameters): {verdict}")
    return EXIT_OK


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [name.strip() for name in text.split(",") if name.strip()]


def run_train(args: argparse.Namespace) -> int:
    from symbackprop import outputs, spec, train

    if args.plot:
        outputs.check_file(args.plot, option="--plot", reads=outputs.inputs(args.spec, data=args.data))
    loaded = spec.load(args.spec)
    if args.data:
        data = train.load_csv(args.data, loaded, input_columns=_names(args.inputs), target_columns=_names(args.targets))
    elif args.inputs or args.targets:
        raise SymbackpropError("--inputs/--targets: choose CSV columns, so they need --data FILE.csv")
    else:
        data = train.spec_data(loaded)
    bar = None
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm

            bar = tqdm(total=args.epochs, unit="epoch", file=sys.stderr, leave=False)
        except ImportError:
            bar = None

    def progress(epoch: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.update(1)

    try:
        result = train.train(loaded, data, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                             learning_rate=args.learning_rate, progress=progress if bar is not None else None,
                             evaluator=args.evaluator)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if args.plot:
        train.plot(result.loss_history, args.plot, title=loaded.title)
    if args.json:
        _print_json({"loss_history": result.loss_history, "final_loss": result.final_loss,
                     "parameters": result.parameters, "examples": int(data.inputs.shape[0]),
                     "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed})  # fmt: skip
        return EXIT_OK
    history = result.loss_history
    last = f", epoch {len(history)} {result.final_loss:.6g}" if len(history) > 1 else ""
    count = data.inputs.shape[0]
    lines = [f"{count} example{'s' * (count != 1)}, {args.epochs} epoch{'s' * (args.epochs != 1)}, "
             f"batch size {args.batch_size}, seed {args.seed}",
             f"mean loss: epoch 1 {history[0]:.6g}{last}"]  # fmt: skip
    width = max(map(len, result.parameters))
    lines += [f"  {name.ljust(width)}  {value: .6f}" for name, value in result.parameters.items()]
    if args.plot:
        lines.append(f"wrote {args.plot}")
    _say("\n".join(lines))
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from symbackprop import api, export, files, outputs, spec

    if args.output is not None:
        outputs.check_file(args.output, option="-o", reads=outputs.inputs(args.spec))
    loaded = spec.load(args.spec)
    export.check_size(len(loaded.parameters))  # before deriving: a wide network's derivation takes a while
    source = export.module_source(api.derive(loaded), source=Path(args.spec).name)
    if args.output is None:
        _say(source, end="")
        return EXIT_OK
    files.write_atomic(args.output, source)
    _say(f"wrote {args.output}")
    return EXIT_OK


def run_quiz(args: argparse.Namespace) -> int:
    from pathlib import Path

    from symbackprop import files, outputs, quiz

    suffix = {"moodle": ".xml", "qti": ".zip"}[args.format]
    if Path(args.output).suffix.lower() != suffix:
        raise SymbackpropError(f"-o: {args.output}: a --format {args.format} quiz is a {suffix} file; give a name ending in {suffix}")
    outputs.check_file(args.output, option="-o", reads=outputs.inputs(args.spec))
    _, derivation = _load(args.spec)
    document = quiz.build(derivation, variants=args.variants, seed=args.seed, questions=args.questions, params=args.param,
                          decimals=args.decimals, tolerance=args.tolerance, lang=args.lang)  # fmt: skip
    if args.format == "moodle":
        from symbackprop import quiz_moodle

        data = quiz_moodle.xml(document)
    else:
        from symbackprop import quiz_qti

        data = quiz_qti.package(document)
    files.write_atomic(args.output, data)
    asked = len(document.variants[0].blanks)
    _say(f"wrote {args.output} ({args.variants} variants, {asked} values asked in each)")
    return EXIT_OK


def _global_options(parser: argparse.ArgumentParser, *, default: object) -> argparse.ArgumentParser:
    parser.add_argument("--debug", action="store_true", default=default, help="show the Python traceback of an error")
    parser.add_argument("--max-parameters", type=_whole(1), metavar="N", default=default,
                        help="refuse networks with more than N parameters (defaults: 2,000,000 for train, solve and "
                        "derive --form vector, 50,000 for derive and check, 5,000 for export, 2,000 for handout)")  # fmt: skip
    return parser


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbackprop", description="Symbolic backpropagation: derive, evaluate and check every ∂L/∂w.")
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    _global_options(parser, default=None)
    parser.set_defaults(debug=False)
    # the same options after the command; SUPPRESS keeps a command from resetting what came before it
    after = _global_options(_Parser(add_help=False), default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    solve = commands.add_parser(
        "solve", parents=[after], help="forward pass, loss, every gradient and one update, checked by finite differences",
        description="Example: symbackprop solve examples/seed_2_2_1.yaml --json",
    )  # fmt: skip
    solve.add_argument("spec", help="network spec (.yaml, .json or .toml)")
    solve.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    solve.add_argument("--decimals", type=_whole(0, 15), default=6, help="digits after the point in tables (default 6)")
    solve.set_defaults(run=run_solve)

    derive = commands.add_parser(
        "derive", parents=[after], help="the chain rule for each parameter: Leibniz chain, factors, δ form, expanded form",
        description="Example: symbackprop derive examples/seed_2_2_1.yaml --param w11",
    )  # fmt: skip
    derive.add_argument("spec", help="network spec (.yaml, .json or .toml)")
    derive.add_argument("--param", action="append", metavar="NAME", help="only this parameter (repeatable)")
    derive.add_argument("--json", action="store_true", help="print one JSON object")
    derive.add_argument("--no-proof", action="store_true", help="skip the sympy.diff cross-check in --json")
    derive.add_argument("--form", choices=("weights", "vector"), default="weights",
                        help="weights (default): one chain per parameter; vector: layer-wise matrix equations, "
                        "for networks too wide to write per weight")  # fmt: skip
    derive.set_defaults(run=run_derive)

    check = commands.add_parser(
        "check", parents=[after], help="mark a hand calculation: right, wrong or carried forward, with the likely mistake",
        description="Example: symbackprop check examples/seed_2_2_1.yaml examples/seed_answers.yaml. "
        "Exit status 0 when every given value is right or carried forward, 1 when one is wrong.",
    )  # fmt: skip
    check.add_argument("spec", help="network spec (.yaml, .json or .toml) with one example")
    check.add_argument("answers", help="the student's values, shaped like solve --json (.yaml, .json or .toml)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--tolerance", type=_positive, metavar="X",
                       help="accept values within ±X instead of the precision each is written with")  # fmt: skip
    check.add_argument("--decimals", type=_whole(0, 12), metavar="N",
                       help="the precision the sheet asks for: a value must agree to N decimals (or to its own, if finer; default 4)")
    check.set_defaults(run=run_check)

    handout = commands.add_parser(
        "handout", parents=[after], help="the derivation written out as a LaTeX/PDF handout, exercise sheet or answer key",
        description="Example: symbackprop handout examples/seed_2_2_1.yaml -o handout.pdf; "
        "symbackprop handout spec.yaml -o sheets/ --variants 30 --seed 7 (a class set: an exercise sheet, a key, a spec "
        "and an answers file per student, and class.csv); symbackprop handout spec.yaml -o class/ --students roster.csv; "
        "symbackprop handout examples/separable.yaml --train 200 --data examples/separable.csv -o trained.pdf "
        "(with a training section and its loss curve).",
    )  # fmt: skip
    handout.add_argument("spec", help="network spec (.yaml, .json or .toml) with inputs and targets (or data)")
    handout.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="handout.pdf or handout.tex; a directory with --variants or --students")  # fmt: skip
    handout.add_argument("--mode", choices=("worked", "exercise", "solutions"), default="worked",
                         help="worked (default): everything; exercise: questions with blanks; solutions: the key")  # fmt: skip
    handout.add_argument("--variants", type=_whole(1), metavar="N", help="N students, each with their own numbers")
    handout.add_argument("--students", metavar="ROSTER.csv",
                         help="one variant per student of a roster (columns id,name; others ignored): files named by id, "
                         "name and id printed on the sheet")  # fmt: skip
    handout.add_argument("--seed", type=_whole(0), metavar="S", help="seed of the variants' numbers (default 0)")
    handout.add_argument("--combine", action="store_true",
                         help="with a class set, also class_sheets.pdf and class_keys.pdf, each student from an odd page (duplex)")
    handout.add_argument("--param", action="append", metavar="NAME",
                         help="write this parameter's gradient in full (repeatable; default: all of a small network)")  # fmt: skip
    handout.add_argument("--decimals", type=_whole(0, 12), default=6, help="digits after the point in displayed numbers (default 6)")
    handout.add_argument("--templates", metavar="DIR", help="folder of *.tex.j2 templates that replace the shipped ones")
    handout.add_argument("--paper", choices=("a4", "letter"), default="a4", help="paper size (default a4)")
    handout.add_argument("--font-size", type=int, choices=(10, 11, 12), default=11, metavar="{10,11,12}",
                         help="font size in points (default 11)")  # fmt: skip
    handout.add_argument("--no-check", action="store_true", help="leave out the gradient check against finite differences")
    handout.add_argument("--lang", default="en", metavar="CODE",
                         help="language of the handout's words: en, de or fr (default en), or lang/CODE.tex.j2 in --templates")
    handout.add_argument("--sections", type=_names, metavar="A,B,...",
                         help="what to show, of rules, forward, loss, backward, update, check, training, vector (default: all but "
                         "vector, which a large network's concise handout adds); e.g. --sections forward for the forward pass only")  # fmt: skip
    handout.add_argument("--steps", type=_whole(1, 10), default=1, metavar="N",
                         help="gradient-descent steps worked in full, each from the last one's new values (default 1, at most 10)")
    handout.add_argument("--train", type=_whole(1, unit=" epoch"), metavar="EPOCHS",
                         help="add a training section: EPOCHS of mini-batch gradient descent and the loss curve")  # fmt: skip
    handout.add_argument("--data", metavar="FILE.csv",
                         help="train on examples from a CSV file with a header line (default: the spec's data)")  # fmt: skip
    handout.add_argument("--batch-size", type=_whole(1), metavar="N", help="examples per training step (default 32)")
    handout.add_argument("--train-seed", type=_whole(0), metavar="S", help="seed of the training's shuffling (default 0)")
    handout.set_defaults(run=run_handout)

    mark = commands.add_parser(
        "mark", parents=[after], help="mark a class set's answers files: grades, and the mistakes the class made",
        description="Example: symbackprop handout examples/seed_2_2_1.yaml --variants 30 --seed 7 -o class/, "
        "then symbackprop mark class/ answers/ -o grades.csv --feedback feedback/ --plot mistakes.png. Each <stem>_answers.yaml is "
        "checked against that student's spec (as check does); a missing or blank sheet scores 0. "
        "Exit status 1 when a sheet could not be read (the others are still marked), 0 otherwise.",
    )  # fmt: skip
    mark.add_argument("class_dir", metavar="CLASS_DIR", help="the folder handout --variants / --students wrote")
    mark.add_argument("answers", nargs="+", metavar="ANSWERS",
                      help="a folder of answers files named like the templates (student_01_answers.yaml), or the files")  # fmt: skip
    mark.add_argument("-o", "--output", metavar="GRADES.csv", help="write one row per student: points, per question, first wrong step")
    mark.add_argument("--json", action="store_true", help="print each student's marks and the class summary as JSON")
    mark.add_argument("--carried-forward-credit", type=float, default=1.0, metavar="X",
                      help="share of a question's points for a value that follows from the student's own wrong earlier values (default 1.0)")  # fmt: skip
    mark.add_argument("--decimals", type=_whole(0, 12), metavar="N",
                      help="a value must agree to N decimals (or to its own, if finer; default: what the sheets asked, 4)")
    mark.add_argument("--plot", metavar="FILE.png", help="draw the points histogram and the mistake counts (matplotlib)")
    mark.add_argument("--feedback", metavar="DIR",
                      help="write <id>_feedback.pdf per student: answers, exact values, verdicts, points, first wrong step")
    mark.add_argument("--lang", default="en", metavar="CODE", help="language of the diagnoses and the feedback sheets: en, de or fr (default en)")
    mark.add_argument("--templates", metavar="DIR", help="folder of *.tex.j2 templates that replace the shipped ones")
    mark.set_defaults(run=run_mark)

    train = commands.add_parser(
        "train", parents=[after], help="mini-batch gradient descent with the derived gradients, on the spec's data or a CSV file",
        description="Example: symbackprop train examples/separable.yaml --data examples/separable.csv --epochs 500 "
        "--batch-size 32 --plot loss.png --json. The CSV's first line names the columns; by default the first "
        "columns are the inputs and the last the targets, in network order.",
    )  # fmt: skip
    train.add_argument("spec", help="network spec (.yaml, .json or .toml); its data is used without --data")
    train.add_argument("--data", metavar="FILE.csv", help="examples from a CSV file with a header line")
    train.add_argument("--inputs", metavar="A,B,...", help="CSV columns of the inputs, by name, in network order")
    train.add_argument("--targets", metavar="T,...", help="CSV columns of the targets, by name, in network order")
    train.add_argument("--epochs", type=_whole(1), default=100, help="passes over the data (default 100)")
    train.add_argument("--batch-size", type=_whole(1), default=32, help="examples per gradient step (default 32)")
    train.add_argument("--learning-rate", type=_positive, metavar="ETA", help="step size η (default: the spec's)")
    train.add_argument("--seed", type=_whole(0), default=0, help="seed of the shuffling (default 0)")
    train.add_argument("--evaluator", choices=("vector", "fused", "jax"), default="vector",
                       help="vector (default): NumPy matrix products; fused: a compiled loop per example (numba, the "
                       "fast extra); jax: the vector form compiled by XLA (the jax extra). Same numbers to rounding")
    train.add_argument("--plot", metavar="FILE.png", help="write the loss curve (needs matplotlib)")
    train.add_argument("--json", action="store_true", help="print loss_history, final_loss and parameters as JSON")
    train.set_defaults(run=run_train)

    export = commands.add_parser(
        "export", parents=[after], help="write the loss and gradients as a standalone Python module that needs only NumPy",
        description="Example: symbackprop export examples/seed_2_2_1.yaml -o grad.py",
    )  # fmt: skip
    export.add_argument("spec", help="network spec (.yaml, .json or .toml)")
    export.add_argument("-o", "--output", metavar="FILE.py", help="where to write the module (default: print it)")
    export.set_defaults(run=run_export)

    quiz = commands.add_parser(
        "quiz", parents=[after], help="a quiz for Moodle (cloze) or Canvas (QTI), one variant per student, feedback per mistake",
        description="Example: symbackprop quiz examples/seed_2_2_1.yaml --format moodle --variants 50 --seed 7 -o backprop.xml; "
        "symbackprop quiz examples/seed_2_2_1.yaml --format qti --variants 50 --seed 7 -o backprop.zip (Canvas). "
        "Student i gets the numbers of handout --variants with the same seed.",
    )  # fmt: skip
    quiz.add_argument("spec", help="network spec (.yaml, .json or .toml) with one example")
    quiz.add_argument("-o", "--output", required=True, metavar="OUT", help="quiz.xml (moodle) or quiz.zip (qti)")
    quiz.add_argument("--format", choices=("moodle", "qti"), default="moodle",
                      help="moodle (default): Moodle XML, a cloze question per variant; qti: a QTI 1.2 zip for Canvas")  # fmt: skip
    quiz.add_argument("--variants", type=_whole(1, 1000), default=1, metavar="N", help="N students' variants (default 1)")
    quiz.add_argument("--seed", type=_whole(0), default=0, metavar="S", help="seed of the variants' numbers (default 0)")
    quiz.add_argument("--questions", type=_names, metavar="A,B,...",
                      help="what to ask, of forward, loss, backward, update (default all)")  # fmt: skip
    quiz.add_argument("--param", action="append", metavar="NAME",
                      help="ask the gradient and update of this parameter only (repeatable; default all)")  # fmt: skip
    quiz.add_argument("--decimals", type=_whole(0, 12), default=4, metavar="N",
                      help="decimal places asked; answers within half a unit in the last place are right (default 4)")  # fmt: skip
    quiz.add_argument("--tolerance", type=_positive, metavar="X", help="accept answers within ±X instead")
    quiz.add_argument("--lang", default="en", metavar="CODE", help="language of the quiz's words: en, de or fr (default en)")
    quiz.set_defaults(run=run_quiz)
    return parser


@contextlib.contextmanager
def _parameter_limit(limit: int | None) -> Iterator[None]:
    """--max-parameters: this run's limit for every spec load and per-parameter derivation, then the defaults again."""
    if limit is None:
        yield
        return
    from symbackprop import api, export, handout, spec

    defaults = spec.MAX_PARAMETERS, api.MAX_PER_WEIGHT, handout.MAX_PARAMETERS, export.MAX_PARAMETERS
    spec.MAX_PARAMETERS = api.MAX_PER_WEIGHT = handout.MAX_PARAMETERS = export.MAX_PARAMETERS = limit
    try:
        yield
    finally:
        spec.MAX_PARAMETERS, api.MAX_PER_WEIGHT, handout.MAX_PARAMETERS, export.MAX_PARAMETERS = defaults


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    import signal
    import threading

    parser = _parser()
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    received = [signal.SIGINT]

    def stop(signum: int, _frame: object) -> None:
        # SIGTERM (timeout, kill) as Ctrl-C: every `finally` then cleans up (TeX's process group,
        # the build folder, a half-written output); a second signal must not cut that cleanup short
        received[0] = signum
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)
        raise KeyboardInterrupt

    handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {name: signal.signal(name, stop) for name in handled}
    try:
        args = parser.parse_args(argv)
        run: Callable[[argparse.Namespace], int] = args.run
        with _parameter_limit(args.max_parameters):
            return run(args)
    except SymbackpropError as exc:
        if debug:
            raise
        # messages are one line by design; the cap keeps an echoed value of a megabyte off the terminal
        print(f"symbackprop: error: {printable(shorten(str(exc), limit=MAX_MESSAGE))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"symbackprop: stopped by {signal.Signals(received[0]).name}", file=sys.stderr)
        return 128 + received[0]
    except BrokenPipeError:  # the reader (head, less) stopped early: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush is quiet
        return EXIT_OK
    except Exception as exc:  # a bug, not the user's mistake: one line, the traceback on request
        if debug:
            raise
        print(f"symbackprop: internal error: {type(exc).__name__}: {printable(shorten(str(exc), limit=300))} "
              "(run with --debug for the traceback)", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    finally:
        for name, handler in previous.items():
            signal.signal(name, signal.SIG_DFL if handler is None else handler)
