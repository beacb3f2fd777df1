"""Class sets: one variant per student of a roster or a count, with each student's spec, answer template and a class list.

For each student the folder gets the exercise sheet and its key (`render.write_documents`),
the student's own spec (`<stem>.yaml`: what `solve` and `check` take, with that sheet's
numbers) and a blank answers file in the shape `check` reads (`<stem>_answers.yaml`, from the
template answers.yaml.j2); then `class.json` (each student's files and questions, for
`marking`) and, last, `class.csv`: one row per student, for people and spreadsheets.
`<stem>` is the roster's id, or student_01 .. student_30 without a roster.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from symbackprop import chain, check, files, handout, render, texchars
from symbackprop import spec as spec_module
from symbackprop.errors import SymbackpropError, listing, printable, shorten

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # a roster id names files: letters, digits, _ and - only
RESERVED_ENDINGS = ("_key", "_answers")  # an id ending so would name another student's key or answers
CLASS_FILES = ("class.csv", "class.json", "class_sheets.pdf", "class_keys.pdf")
CLASS_LIST = "class.json"  # what `marking` reads: each student's files and their questions' names and points
MAX_NAME = 80  # characters of a student's name: one header line
ANSWERS_TEMPLATE = "answers.yaml.j2"
CSV_COLUMNS = ("id", "name", "number", "seed", "code", "sheet", "key", "spec", "answers")  # student i: variant i of seed
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


class RosterError(SymbackpropError):
    """A roster file is malformed; the message names its file and line."""


class Sheet(NamedTuple):
    """One student's exercise sheet and key: their files' stem, who they are, their numbers."""

    stem: str  # student_07 or the roster's id: the sheet is <stem>.pdf, the key <stem>_key.pdf
    student: handout.Student
    examples: tuple[spec_module.Example, ...]
    parameters: Mapping[str, float]


@dataclass(frozen=True)
class Entry:
    """One student of a roster: an id that names their files, and their name (may be empty)."""

    id: str
    name: str


def read_roster(path: str | Path) -> tuple[Entry, ...]:
    """Read a roster CSV with the columns id and name (others are ignored), one student a row.

    Raises:
        InputFileError: the file cannot be read.
        RosterError: no id or name column, an id that cannot name a file or is given twice,
            a name TeX cannot typeset, or no students; the message gives the file and line.
    """
    text = files.read_text(path)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RosterError(f"{path}: not a CSV file ({exc})") from None
    if not rows:
        raise RosterError(f"{path}: empty; the first line names the columns: id,name")
    header = [cell.strip().lower() for cell in rows[0]]
    missing = [column for column in ("id", "name") if column not in header]
    if missing:
        found = listing([printable(shorten(c)) for c in header]) or "none"
        raise RosterError(f"{path}:1: no column {' or '.join(missing)}; the first line names the columns, "
                          f"e.g. id,name (found: {found})")  # fmt: skip
    at_id, at_name = header.index("id"), header.index("name")
    entries: list[Entry] = []
    first: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line, often the last one
        cells = [*row, "", ""]
        entry = Entry(_id(cells[at_id].strip(), f"{path}:{line}"), _name(cells[at_name].strip(), f"{path}:{line}"))
        folded = entry.id.casefold()  # Student1 and student1 name one file on macOS and Windows
        if folded in first:
            raise RosterError(f"{path}:{line}: id '{entry.id}' is given twice (first on line {first[folded]}); "
                              "each student needs an id of their own")  # fmt: skip
        first[folded] = line
        entries.append(entry)
    if not entries:
        raise RosterError(f"{path}: no students; add one line per student under the header: id,name")
    return tuple(entries)


def _id(text: str, where: str) -> str:
    if not ID.fullmatch(text):
        raise RosterError(f"{where}: id '{printable(shorten(text))}' cannot name a file; use 1 to 40 letters, "
                          "digits, _ and -, starting with a letter or digit")  # fmt: skip
    if text.lower().endswith(RESERVED_ENDINGS) or f"{text.lower()}.csv" in CLASS_FILES or f"{text.lower()}.pdf" in CLASS_FILES:
        raise RosterError(f"{where}: id '{text}' would name another file of the class set (ids must not end in "
                          f"{' or '.join(RESERVED_ENDINGS)}, nor be {', '.join(Path(f).stem for f in CLASS_FILES)})")  # fmt: skip
    return text


def _name(text: str, where: str) -> str:
    char = texchars.first_unsupported(text)
    if char is not None:
        raise RosterError(texchars.refusal(f"{where}: name", char))
    text = texchars.normalize(text)
    if len(text) > MAX_NAME:
        raise RosterError(f"{where}: name is {len(text)} characters long; a sheet's header takes at most {MAX_NAME}")
    return text


def sheets(spec: spec_module.Spec, *, seed: int, count: int | None = None, roster: Sequence[Entry] | None = None,
           decimals: int = check.DECIMALS) -> list[Sheet]:  # fmt: skip
    """Each student's sheet: the roster's students in order, or `count` numbered ones; student i gets variant i of `seed`.

    `decimals`: the precision the sheets ask answers to; `mark` checks them to it.

    Raises:
        SymbackpropError: neither or both of count and roster, or a count below 1.
    """
    if (count is None) == (roster is None):
        raise SymbackpropError("a class set needs either --variants N or --students roster.csv, not both")
    if count is not None and count < 1:
        raise SymbackpropError(f"--variants: must be at least 1, got {count}")
    people = list(roster) if roster is not None else [None] * count
    width = len(str(len(people)))
    made = []
    for i, entry in enumerate(people, start=1):
        examples, parameters = handout.variant(spec, seed=seed, index=i)
        number = f"{i:0{width}d}"
        student = handout.Student(number, handout.variant_code(examples, parameters), decimals,
                                  name=None if entry is None else entry.name or None, id=None if entry is None else entry.id)
        made.append(Sheet(f"student_{number}" if entry is None else entry.id, student, examples, parameters))
    return made


def file_names(stems: Iterable[str]) -> list[str]:
    """Every file a class set of these students writes (the logo's copies aside): what -o must not replace."""
    names = [f"{stem}{end}" for stem in stems
             for end in (".tex", ".pdf", "_key.tex", "_key.pdf", ".yaml", "_answers.yaml")]  # fmt: skip
    return [*names, *CLASS_FILES]


def write(derivation: chain.Derivation, folder: str | Path, class_sheets: Sequence[Sheet], *,
          source: Mapping[str, Any], seed: int, templates: str | Path | None = None, pdf: bool = True,
          combine: bool = False, jobs: int | None = None, **options: Any) -> list[Path]:  # fmt: skip
    """Write the class set: sheets and keys, each student's spec and answer template, then class.json and class.csv.

    Args:
        source: the spec file's mapping (`spec.read_mapping`); each student's spec is it with their numbers.
        combine: also class_sheets.pdf and class_keys.pdf (needs `pdf`), for printing the class in two runs.
        jobs: TeX runs at a time (default: one per core).
        options: `handout.build`'s (not mode, examples, parameters or student, which each sheet sets).

    Returns:
        The files written, class.csv last (a folder with it is complete).
    """
    folder = Path(folder)
    if combine and pdf:
        _pypdf()  # before the TeX runs, not after them
    questions: list[tuple[handout.Question, ...]] = []

    def documents() -> Iterator[tuple[str, handout.Document]]:  # built one by one while TeX works on the last ones
        for sheet in class_sheets:
            key = handout.build(derivation, mode="solutions", examples=sheet.examples, parameters=sheet.parameters,
                                student=sheet.student, **options)  # fmt: skip
            questions.append(key.questions)
            yield from render.sheet_and_key(sheet.stem, key)

    written = render.write_documents(folder, documents(), templates=templates, pdf=pdf, jobs=jobs)
    spec = derivation.network.spec
    template = render.text_environment(templates).get_template(ANSWERS_TEMPLATE)
    rows, listed = [], []
    for sheet, asked in zip(class_sheets, questions):
        spec_file = files.write_atomic(folder / f"{sheet.stem}.yaml", student_spec(source, spec, sheet))
        written.append(spec_file)
        answers = ""
        if asked:  # check marks one example and one step: other sheets get no answers file
            text = template.render(sheet=sheet, spec_file=spec_file.name, sections=_sections(asked))
            answers = files.write_atomic(folder / f"{sheet.stem}_answers.yaml", text).name
            written.append(folder / answers)
        rows.append([sheet.student.id or sheet.stem, sheet.student.name or "", sheet.student.number, seed,
                     sheet.student.code, f"{sheet.stem}.pdf", f"{sheet.stem}_key.pdf", spec_file.name, answers])  # fmt: skip
        listed.append({"id": sheet.student.id or sheet.stem, "name": sheet.student.name or "", "stem": sheet.stem,
                       "number": sheet.student.number, "code": sheet.student.code, "spec": spec_file.name, "answers": answers,
                       "questions": [{"number": q.number, "answer": q.answer, "points": q.points} for q in asked]})  # fmt: skip
    if combine and pdf:
        written.append(combined([folder / f"{sheet.stem}.pdf" for sheet in class_sheets], folder / "class_sheets.pdf"))
        written.append(combined([folder / f"{sheet.stem}_key.pdf" for sheet in class_sheets], folder / "class_keys.pdf"))
    contents = {"seed": seed, "decimals": class_sheets[0].student.decimals if class_sheets else check.DECIMALS, "students": listed}
    written.append(files.write_atomic(folder / CLASS_LIST, json.dumps(contents, ensure_ascii=False, indent=1) + "\n"))
    written.append(files.write_atomic(folder / "class.csv", class_csv(rows)))
    return written


def combined(pdfs: Sequence[Path], output: Path) -> Path:
    """One PDF of `pdfs` in order, each starting on an odd page (a blank page before it when needed), for duplex printing."""
    writer = _pypdf().PdfWriter()
    for pdf in pdfs:
        if len(writer.pages) % 2:  # the last student ended on a front page: their back stays blank
            writer.add_blank_page()
        writer.append(str(pdf))
    writer.add_metadata({"/Producer": "symbackprop"})  # pypdf's version would make the same class set differ by library
    buffer = io.BytesIO()
    writer.write(buffer)
    return files.write_atomic(output, buffer.getvalue())


def student_spec(source: Mapping[str, Any], spec: spec_module.Spec, sheet: Sheet) -> str:
    """The spec file `source` with the student's inputs, targets and parameters: it reproduces their sheet's numbers."""
    mine = {key: value for key, value in source.items() if key not in ("inputs", "targets", "data", "parameters", "init")}
    if len(sheet.examples) == 1:
        mine["inputs"], mine["targets"] = list(sheet.examples[0].inputs), list(sheet.examples[0].targets)
    else:
        mine["data"] = [{"inputs": list(e.inputs), "targets": list(e.targets)} for e in sheet.examples]
    mine["parameters"] = dict(sheet.parameters)
    if spec.document is not None and spec.document.logo is not None:  # the spec's own folder no longer says where it is
        mine["document"] = {**source["document"], "logo": str(spec.document.logo)}
    # the floats are written as repr writes them, which reads back as the same double
    return yaml.safe_dump(mine, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def _sections(questions: Sequence[handout.Question]) -> list[tuple[str, list[tuple[str, int]]]]:
    """The questions grouped as the answers file nests them: (section, [(name, question number)]), in page order."""
    grouped: dict[str, list[tuple[str, int]]] = {}
    for question in questions:
        section, _, name = question.answer.partition(".")
        grouped.setdefault(section, []).append((name, question.number))
    return list(grouped.items())


def class_csv(rows: Sequence[Sequence[object]]) -> str:
    """The class list as CSV (see `inert_csv`)."""
    return inert_csv(CSV_COLUMNS, rows)


def inert_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A header line and rows as CSV; a cell a spreadsheet would run as a formula (=, +, -, @ first) starts with '."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[inert(cell) for cell in row] for row in rows])
    return out.getvalue()


def inert(cell: object) -> object:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a ' before it."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(_FORMULA_START) else cell


def _pypdf() -> Any:
    try:
        import pypdf
    except ImportError:
        raise SymbackpropError('--combine: needs pypdf; pip install "symbackprop[class]"') from None
    return pypdf
