"""A teacher's week, timed: a class set of sheets and keys, and marking a class, before and after; prints one table.

    python benchmarks/class_set.py              # 30 students' sheets and keys, 200 answer sheets marked
    python benchmarks/class_set.py --quick      # 10 students, 40 sheets

Rows (ratio = after / before; below 1 means faster):
  class set (sheet + key PDFs)  before: each document built on its own and compiled one after another with
                                render.backend() (latexmk: its own passes); after: class_set.write (one build
                                per student for both documents, TeX runs in parallel across cores, one
                                pdflatex pass where the first student's auxiliary files already fit)
  marking                       before: one `symbackprop check` process per sheet (timed on a few, scaled);
                                after: marking.mark, every sheet in one process on one derivation
The load average is printed: other processes on the machine share its cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbackprop import api, check, class_set, handout, marking, render, spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "seed_2_2_1.yaml"
SEED = 7


def class_set_before(folder: Path, count: int) -> float:
    """The way before class sets: each sheet and key built alone, compiled one after another."""
    loaded = spec.load(SPEC)
    derivation = api.derive(loaded)
    sheets = class_set.sheets(loaded, seed=SEED, count=count)
    start = time.perf_counter()
    for sheet in sheets:
        for mode, suffix in (("exercise", ""), ("solutions", "_key")):
            document = handout.build(derivation, mode=mode, examples=sheet.examples, parameters=sheet.parameters,
                                     student=sheet.student)  # fmt: skip
            render.compile_pdf(render.latex(document), folder / f"{sheet.stem}{suffix}.pdf")
    return time.perf_counter() - start


def class_set_after(folder: Path, count: int, *, pdf: bool = True) -> float:
    start = time.perf_counter()
    loaded = spec.load(SPEC)
    sheets = class_set.sheets(loaded, seed=SEED, count=count)
    class_set.write(api.derive(loaded), folder, sheets, source=spec.read_mapping(SPEC), seed=SEED, pdf=pdf)
    return time.perf_counter() - start


def answer_sheets(folder: Path, answers: Path) -> None:
    """Every student's template filled with their exact values to 4 decimals; every third has δ1 wrong."""
    answers.mkdir()
    for i, student in enumerate(marking.read_class(folder)):
        values = check.expected_values(api.derive(spec.load(student.spec)))
        if i % 3 == 0:
            values["deltas.delta1"] *= 2
        lines, section = [], None
        for line in (folder / f"{student.stem}_answers.yaml").read_text().splitlines():
            if match := re.fullmatch(r"(\w+):", line):
                section = match.group(1)
            elif match := re.fullmatch(r"(\s*)(\w+): ~(.*)", line):
                name = match.group(2) if match.group(2) == "loss" else f"{section}.{match.group(2)}"
                line = f"{match.group(1)}{match.group(2)}: {values[name]:.4f}{match.group(3)}"
            lines.append(line)
        (answers / f"{student.stem}_answers.yaml").write_text("\n".join(lines) + "\n")


def marking_before(folder: Path, answers: Path, sample: int) -> float:
    """One `check` process per sheet, as a teacher would script it before `mark`; per sheet."""
    students = marking.read_class(folder)[:sample]
    start = time.perf_counter()
    for student in students:
        subprocess.run([sys.executable, "-m", "symbackprop", "check", str(student.spec),
                        str(answers / f"{student.stem}_answers.yaml")], capture_output=True, check=False)  # fmt: skip
    return (time.perf_counter() - start) / len(students)


def marking_after(folder: Path, answers: Path) -> float:
    start = time.perf_counter()
    students = marking.read_class(folder)
    found, _ = marking.answer_files([answers], students)
    marking.mark(students, found)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 students and 40 answer sheets")
    args = parser.parse_args()
    count, marked = (10, 40) if args.quick else (30, 200)
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        (work / "before").mkdir()
        before = class_set_before(work / "before", count)
        after = class_set_after(work / "after", count)
        rows.append((f"class set of {count} (sheet + key)", before, after))
        class_set_after(work / "marking", marked, pdf=False)
        answer_sheets(work / "marking", work / "answers")
        per_sheet = marking_before(work / "marking", work / "answers", sample=5)
        rows.append((f"marking {marked} sheets", per_sheet * marked, marking_after(work / "marking", work / "answers")))
    print(f"{os.cpu_count()} cores; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after (other processes share the cores)")
    print(f"{'':34} {'before':>9} {'after':>9} {'ratio':>7}")
    for name, first, second in rows:
        print(f"{name:34} {first:8.1f}s {second:8.1f}s {second / first:7.2f}")


if __name__ == "__main__":
    main()
