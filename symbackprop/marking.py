"""Mark a class: each student's answers against their own spec with `check`, points, grades and a class summary.

A class set's folder (`class_set.write`) lists each student's spec and questions in
class.json. Every answers file named like a template (`<stem>_answers.yaml`, or .json /
.toml) is checked against its student's spec; points are full for a correct value,
`credit` times full for one carried forward, none for a wrong or missing one. The
derivation is built once for the class: every variant has the same network, so each
student's numbers go into the same derivation.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from symbackprop import (
    api,
    chain,
    check,
    class_set,
    files,
    handout,
    printing,
    render,
    student_sheet,
)
from symbackprop import spec as spec_module
from symbackprop.errors import AnswersError, InputFileError, SymbackpropError
from symbackprop.printing import Latex

STATUSES = ("marked", "missing", "blank", "unreadable")  # of a student's sheet
ANSWER_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
SHOWN_MISTAKES = 10  # most common mistakes in the terminal summary
FEEDBACK_TEMPLATE = "feedback.tex.j2"
FEEDBACK_DECIMALS = 6  # of the exact values on a feedback sheet, as the keys show them


@dataclass(frozen=True)
class Question:
    """One question of a student's sheet, as class.json lists it."""

    number: int
    answer: str  # the answers-file path, e.g. deltas.delta3
    points: float


@dataclass(frozen=True)
class Student:
    """One student of a class set, as class.json lists them."""

    id: str
    name: str
    stem: str
    code: str
    spec: Path
    questions: tuple[Question, ...]
    decimals: int  # the precision the class set's sheets ask for

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)


@dataclass(frozen=True)
class Result:
    """One student's marks: how their sheet was read, the points per question and the first wrong step."""

    student: Student
    status: str  # of STATUSES
    points: dict[int, float]  # question number -> points earned
    marking: check.Marking | None  # None unless marked
    problem: str = ""  # why an unreadable sheet could not be read (file and line)
    source: Path | None = None  # the answers file

    @property
    def total(self) -> float:
        return sum(self.points.values())


def read_class(folder: str | Path) -> tuple[Student, ...]:
    """The students of a class set's folder, from its class.json.

    Raises:
        SymbackpropError: the folder holds no class set (or one made for batches, which check cannot mark).
    """
    folder = Path(folder)
    listed = folder / class_set.CLASS_LIST
    if not listed.is_file():
        raise SymbackpropError(f"{folder}: no {class_set.CLASS_LIST}; give the folder a class set was written to "
                               "(symbackprop handout SPEC --variants N -o FOLDER)")  # fmt: skip
    with files.parse_errors(listed):
        data = json.loads(files.read_text(listed))
    students = tuple(
        Student(s["id"], s["name"], s["stem"], s["code"], folder / s["spec"],
                tuple(Question(q["number"], q["answer"], float(q["points"])) for q in s["questions"]), data["decimals"])
        for s in data["students"]
    )  # fmt: skip
    if any(not s.questions for s in students):
        raise SymbackpropError(f"{listed}: these sheets have no answers files (a batch, or several steps); "
                               "mark checks one example and one step")  # fmt: skip
    return students


def answer_files(answers: Sequence[str | Path], students: Sequence[Student]) -> tuple[dict[str, Path], list[Path]]:
    """Each student's answers file among `answers` (folders and files), by stem; and the files that name no student.

    Raises:
        SymbackpropError: a path that does not exist, or two files for one student.
    """
    found: dict[str, Path] = {}
    unmatched: list[Path] = []
    stems = {s.stem for s in students}
    for given in answers:
        path = Path(given)
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if p.suffix.lower() in ANSWER_SUFFIXES and p.stem.endswith("_answers"))
        elif path.exists():
            candidates = [path]
        else:
            raise SymbackpropError(f"{path}: no such file or folder of answers")
        for candidate in candidates:
            stem = candidate.stem.removesuffix("_answers")
            if stem not in stems or not candidate.stem.endswith("_answers"):
                unmatched.append(candidate)
            elif stem in found:
                raise SymbackpropError(f"{candidate}: a second answers file for {stem} (the first is {found[stem]}); keep one")
            else:
                found[stem] = candidate
    return found, unmatched


def mark(students: Sequence[Student], answers: Mapping[str, Path], *, credit: float = 1.0,
         decimals: int | None = None, lang: str = "en") -> list[Result]:  # fmt: skip
    """Mark every student: their answers file (by stem) against their own spec.

    Args:
        credit: the share of a question's points for a value carried forward (0 to 1).
        decimals: the precision asked for (check's --decimals); by default the one the sheets asked for.
        lang: the language of the diagnoses (templates/check/<lang>.txt.j2).

    Raises:
        SymbackpropError: a bad credit, or a student's spec that cannot be read (the class set is damaged).
    """
    if not 0 <= credit <= 1:
        raise SymbackpropError(f"--carried-forward-credit: must be from 0 to 1, got {credit:g}")
    derivations = _Derivations()
    results = []
    for student in students:
        path = answers.get(student.stem)
        if path is None:
            results.append(Result(student, "missing", {q.number: 0.0 for q in student.questions}, None))
            continue
        try:
            given = student_sheet.load(path)
        except AnswersError as exc:
            if exc.what.startswith("no values given"):  # the template handed in as it was
                results.append(Result(student, "blank", {q.number: 0.0 for q in student.questions}, None, source=path))
                continue
            results.append(Result(student, "unreadable", {q.number: 0.0 for q in student.questions}, None, str(exc), path))
            continue
        except InputFileError as exc:
            results.append(Result(student, "unreadable", {q.number: 0.0 for q in student.questions}, None, str(exc), path))
            continue
        try:
            marking = check.check(derivations.of(student.spec), given, source=str(path), lang=lang,
                                  decimals=student.decimals if decimals is None else decimals)  # fmt: skip
        except AnswersError as exc:  # a quantity the network does not have
            results.append(Result(student, "unreadable", {q.number: 0.0 for q in student.questions}, None, str(exc), path))
            continue
        results.append(Result(student, "marked", _points(student, marking, credit), marking, source=path))
    return results


def _points(student: Student, marking: check.Marking, credit: float) -> dict[int, float]:
    status = {m.name: m.status for m in marking.marks}
    share = {"correct": 1.0, "carried_forward": credit}
    return {q.number: q.points * share.get(status.get(q.answer, ""), 0.0) for q in student.questions}


class _Derivations:
    """One derivation for the class: a student's spec with the same network reuses it with their numbers."""

    def __init__(self) -> None:
        self._built: list[tuple[spec_module.Spec, chain.Derivation]] = []  # (the network without numbers, its derivation)

    def of(self, path: Path) -> chain.Derivation:
        spec = spec_module.load(path)
        shape = dataclasses.replace(spec, examples=(), parameters={}, title="", document=None)
        for known, derivation in self._built:
            if known == shape:
                return dataclasses.replace(derivation, network=dataclasses.replace(derivation.network, spec=spec))
        derivation = api.derive(spec)
        self._built.append((shape, derivation))
        return derivation


def grades_csv(results: Sequence[Result]) -> str:
    """One row per student: id, name, status, points, max points, each question's points, first wrong step, diagnosis."""
    numbers = sorted({q.number for r in results for q in r.student.questions})
    columns = ["id", "name", "status", "points", "max_points", *(f"q{n}" for n in numbers), "first_wrong", "diagnosis",
               "problem"]  # fmt: skip
    rows = []
    for r in results:
        root = r.marking.root_cause if r.marking is not None else None
        rows.append([r.student.id, r.student.name, r.status, _number(r.total), _number(r.student.max_points),
                     *(_number(r.points[n]) if n in r.points else "" for n in numbers),
                     root.name if root else "", root.diagnosis if root else "", r.problem])  # fmt: skip
    return class_set.inert_csv(columns, rows)


def _number(value: float) -> str:
    return f"{value:g}"


def summary(results: Sequence[Result]) -> dict[str, Any]:
    """The class at a glance: points (mean, distribution), the questions most often wrong, the mistakes found with counts."""
    totals = [r.total for r in results]
    wrong: collections.Counter[tuple[int, str]] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    example: dict[str, str] = {}
    for r in results:
        if r.marking is None:
            continue
        by_name = {q.answer: q.number for q in r.student.questions}
        for m in r.marking.marks:
            if m.status == "wrong":
                wrong[(by_name.get(m.name, 0), m.name)] += 1
                for kind in m.mistakes:
                    kinds[kind] += 1
                    example.setdefault(kind, m.diagnosis)
    return {
        "students": len(results),
        "statuses": {status: sum(r.status == status for r in results) for status in STATUSES},
        "max_points": max((r.student.max_points for r in results), default=0.0),
        "mean": statistics.fmean(totals) if totals else 0.0,
        "median": statistics.median(totals) if totals else 0.0,
        "distribution": [{"points": p, "students": c} for p, c in sorted(collections.Counter(totals).items())],
        "most_often_wrong": [{"question": n, "answer": name, "students": c}
                             for (n, name), c in sorted(wrong.items(), key=lambda item: (-item[1], item[0][0]))],  # fmt: skip
        "mistakes": [{"kind": kind, "count": c, "example": example[kind]} for kind, c in kinds.most_common()],
    }


def results_json(results: Sequence[Result]) -> dict[str, Any]:
    """``mark --json``: each student's points and first wrong step, and the class summary."""
    students = []
    for r in results:
        root = r.marking.root_cause if r.marking is not None else None
        students.append({
            "id": r.student.id, "name": r.student.name, "code": r.student.code, "status": r.status,
            "points": r.total, "max_points": r.student.max_points,
            "questions": {str(n): p for n, p in sorted(r.points.items())},
            "first_wrong": None if root is None else {"answer": root.name, "diagnosis": root.diagnosis},
            "problem": r.problem or None, "answers": None if r.source is None else str(r.source),
        })  # fmt: skip
    return {"students": students, "summary": summary(results)}


def summary_text(results: Sequence[Result], *, unmatched: Iterable[Path] = ()) -> str:
    """The class summary for the terminal."""
    s = summary(results)
    counts = ", ".join(f"{s['statuses'][k]} {k}" for k in STATUSES if s["statuses"][k])
    lines = [f"{s['students']} students ({counts}); mean {s['mean']:.4g} of {s['max_points']:g} points, median {s['median']:.4g}"]
    lines.append("points: " + ", ".join(f"{d['points']:g} ×{d['students']}" for d in s["distribution"]))
    if s["most_often_wrong"]:
        lines.append("most often wrong: " + ", ".join(f"question {w['question']} ({w['answer']}) ×{w['students']}"
                                                      for w in s["most_often_wrong"][:SHOWN_MISTAKES]))  # fmt: skip
    for m in s["mistakes"][:SHOWN_MISTAKES]:
        lines.append(f"  {m['count']} × {m['kind']}: {m['example']}")
    for r in results:
        if r.status == "unreadable":
            lines.append(f"unreadable: {r.problem}")
    lines += [f"not a student's answers file: {path}" for path in unmatched]
    return "\n".join(lines)


@dataclass(frozen=True)
class FeedbackRow:
    """One question on a student's feedback: what they wrote beside the exact value, the verdict and the points."""

    number: int
    label: Latex  # the quantity as the key's answer table writes it (handout.labels)
    given: str  # as the student wrote it; empty when not answered
    exact: Latex
    status: str  # correct, carried_forward, wrong or unanswered
    points: float
    max_points: float


@dataclass(frozen=True)
class FirstWrong:
    number: int
    label: Latex
    diagnosis: str  # check's words: plain text, escaped by the template


@dataclass(frozen=True)
class Feedback:
    """A student's feedback sheet (templates/feedback.tex.j2); `title`, `name`, `id` and `problem` are plain text."""

    title: str
    lang: str
    name: str
    id: str
    code: str
    status: str  # of STATUSES
    problem: str
    points: float
    max_points: float
    rows: tuple[FeedbackRow, ...]
    first_wrong: FirstWrong | None


def feedback(results: Sequence[Result], *, lang: str = "en", decimals: int = FEEDBACK_DECIMALS) -> list[Feedback]:
    """Each student's feedback: every question of their sheet, answered or not, with the exact value to `decimals`."""
    derivations = _Derivations()
    made = []
    for r in results:
        derivation = derivations.of(r.student.spec)
        exact = check.expected_values(derivation)
        labels = handout.labels(derivation)
        marks = {m.name: m for m in r.marking.marks} if r.marking is not None else {}
        rows = tuple(FeedbackRow(q.number, labels[q.answer], marks[q.answer].given.text if q.answer in marks else "",
                                 Latex(printing.number(exact[q.answer], decimals=decimals, fixed=True)),
                                 marks[q.answer].status if q.answer in marks else "unanswered", r.points[q.number], q.points)
                     for q in r.student.questions)  # fmt: skip
        root = r.marking.root_cause if r.marking is not None else None
        numbers = {q.answer: q.number for q in r.student.questions}
        made.append(Feedback(derivation.network.spec.title, lang, r.student.name, r.student.id, r.student.code, r.status,
                             _short(r.problem, r.source), r.total, r.student.max_points, rows,
                             None if root is None else FirstWrong(numbers.get(root.name, 0), labels[root.name], root.diagnosis)))  # fmt: skip
    return made


def _short(problem: str, source: Path | None) -> str:
    """The problem with the answers file named by its name alone: the student knows no teacher's folder."""
    return problem.replace(str(source), source.name) if source is not None else problem


def write_feedback(results: Sequence[Result], folder: str | Path, *, lang: str = "en", templates: str | Path | None = None,
                   jobs: int | None = None) -> list[Path]:  # fmt: skip
    """One PDF per student, <stem>_feedback.pdf in `folder`, compiled in parallel.

    Raises:
        SymbackpropError: no TeX, an unknown language, or a template that fails.
        LatexError: a feedback sheet did not compile.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    texts = [(render.render_text(FEEDBACK_TEMPLATE, templates=templates, lang=lang, doc=sheet),
              folder / f"{r.student.stem}_feedback.pdf") for r, sheet in zip(results, feedback(results, lang=lang))]  # fmt: skip
    return render.compile_all(texts, jobs=jobs)


def plot(results: Sequence[Result], path: str | Path) -> Path:
    """The points histogram and the mistake counts, as a PNG (needs matplotlib: the [plot] extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot, ticker
    except ImportError:
        raise SymbackpropError('--plot: needs matplotlib; pip install "symbackprop[plot]"') from None
    s = summary(results)
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    left.bar([d["points"] for d in s["distribution"]], [d["students"] for d in s["distribution"]], width=0.8)
    left.set_xlabel("points")
    left.set_ylabel("students")
    mistakes = s["mistakes"][:SHOWN_MISTAKES][::-1]
    right.barh([m["kind"].replace("_", " ") for m in mistakes], [m["count"] for m in mistakes], height=0.6)
    right.set_xlabel("times found")
    for counted in (left.yaxis, right.xaxis):  # counts of students and of mistakes: whole numbers
        counted.set_major_locator(ticker.MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    pyplot.close(figure)
    return files.write_atomic(path, buffer.getvalue(), option="--plot")
