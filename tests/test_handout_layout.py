"""Page layout a printer accepts, for every shipped example in every mode, with both TeX backends:
no line runs into the margin, no table splits with fewer than 3 rows on either side of a page
break, no heading is left at the foot of a page, and no page but the last is nearly empty.

Each handout is written by the command line as .tex and compiled here, twice, as render.compile_pdf
does (its safe options and file access), so the TeX log is kept. The pages are then read back:
their text with pdftotext, how far down the content reaches with pdftoppm, and where each table row
landed from the invisible PDF anchor that tables.tex.j2 puts in every row.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree

import pytest

from symbackprop import cli, render
from conftest import EXAMPLES

IN_CI = os.environ.get("CI") == "true"
MODES = ("worked", "exercise", "solutions")
TRAINING = ("separable.yaml", ["--train", "50", "--data", str(EXAMPLES / "separable.csv")])
# Shipped examples that make no handout, and what the one-line error of `handout` says about each.
REFUSED = {
    "mnist_like.yaml": "101,770 parameters is more than",  # too wide to write per weight
    "seed_answers.yaml": "forward: unknown key",  # a student's answers, for `check`, not a network
    "separable.yaml": "inputs: missing",  # training data only: laid out with TRAINING's options
}
MIN_ROWS = 3  # rows of a table on each side of a page break
UNBROKEN_ROWS = 6  # a table of at most this many rows stays on one page
MIN_FILL = 0.25  # of the text block's height, on every page but the last
UNDER_HEADING = 3  # printed rows a heading needs under it on its page: lines of text, formulas, table rows
SAME_ROW = 0.4  # a line that overlaps the row above by this much of its height is part of it (a fraction's parts)
ROW_ANCHOR = re.compile(r"tablerow\.(\d+)\.(\d+)\.(\d+)$")  # tablerow.<table>.<row>.<rows>, from tables.tex.j2
HEADING = re.compile(r"^\\(?:sub)*section\*\{(.*)\}\s*$", re.MULTILINE)
XHTML = "{http://www.w3.org/1999/xhtml}"
SAFE = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error"]  # as render.compile_pdf runs TeX
# Where the text block is once geometry (and a course header's includehead, includefoot) has placed it, in TeX pt.
PROBE = r"\AtBeginDocument{\typeout{text block: \the\dimexpr1in+\voffset+\topmargin+\headheight+\headsep\relax\space" \
        r"\the\textheight}}"
BP = 72 / 72.27  # PDF points per TeX point
DEPTH = 6.0  # PDF points the last line's descenders may reach below the text block


def _cases() -> list[tuple[str, list[str]]]:
    """(name, handout arguments) for every example that makes a handout, in every mode."""
    cases = []
    for spec in sorted(EXAMPLES.glob("*.yaml")):
        runs = [(spec.stem, [])] if spec.name not in REFUSED else []
        if spec.name == TRAINING[0]:
            runs.append((f"{spec.stem}_train", TRAINING[1]))
        for stem, extra in runs:
            cases += [(f"{stem}-{mode}", [str(spec), "--mode", mode, *extra]) for mode in MODES]
    return cases


CASES = dict(_cases())
def _backends() -> dict[str, str | None]:
    tinytex = render._tinytex_pdflatex()
    return {"pdflatex": shutil.which("pdflatex"), "tinytex": str(tinytex) if tinytex else None}


BACKENDS = _backends()


@dataclass(frozen=True)
class Row:
    text: str
    height: float  # PDF points; a heading's grows with its level's font size


@dataclass(frozen=True)
class Build:
    tex: str  # as the command line wrote it
    log: str  # TeX's log of the last run
    pdf: Path
    block: tuple[float, float]  # the text block's top and bottom, in PDF points from the top of the page


# -- building: every handout's .tex once, then every PDF once per backend ----------------------


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Each case's folder: handout.tex as the command line writes it for a user, and a logo beside it if any."""
    folder, made = tmp_path_factory.mktemp("tex"), {}
    for name, args in CASES.items():
        made[name] = folder / name
        made[name].mkdir()
        made_it = cli.main(["handout", *args, "-o", str(made[name] / "handout.tex")]) == 0
        assert made_it, f"{name}: `handout` refused it (its error is above); if it should, add it to REFUSED"
    return made


def _compile(command: str, source: Path, folder: Path) -> Build:
    """Compile a copy of the source folder, twice like render.compile_pdf; keep the last run's log.

    Only a \\typeout is added: it writes where the text block is to the log, and changes nothing on paper.
    """
    shutil.copytree(source, folder)
    tex = (source / "handout.tex").read_text(encoding="utf-8")
    assert tex.count(r"\begin{document}") == 1
    (folder / "handout.tex").write_text(tex.replace(r"\begin{document}", PROBE + r"\begin{document}"), encoding="utf-8")
    env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f"}
    for _ in range(2):
        run = subprocess.run([command, *SAFE, "handout.tex"], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, errors="replace", timeout=300, check=False)  # fmt: skip
        assert run.returncode == 0, f"{command} failed on {source.name}: {run.stdout[-1500:]}"
    log = (folder / "handout.log").read_text(errors="replace")
    top, height = map(float, re.search(r"^text block: ([\d.]+)pt ([\d.]+)pt$", log, flags=re.MULTILINE).groups())
    return Build(tex=tex, log=log, pdf=folder / "handout.pdf", block=(top * BP, (top + height) * BP))


def _needs(what: str, found: object) -> None:
    """Skip without a tool, except in CI, where these tests must run."""
    if found is None:
        if IN_CI:
            pytest.fail(f"CI=true but {what} is missing")
        pytest.skip(f"{what} is not installed")


def _needs_poppler() -> None:
    for tool in ("pdftotext", "pdftoppm"):
        _needs(f"{tool} (poppler-utils), to read the pages back", shutil.which(tool))


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def builds(request, sources, tmp_path_factory) -> dict[str, Build]:
    """Every case compiled with one backend: the system's pdflatex, or TinyTeX from the [pdf] extra."""
    command = BACKENDS[request.param]
    _needs(f"the {request.param} backend" + (" (the [pdf] extra)" if request.param == "tinytex" else ""), command)
    folder = tmp_path_factory.mktemp(request.param)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        done = pool.map(lambda name: _compile(command, sources[name], folder / name), CASES)
        return dict(zip(CASES, done))


# -- reading the pages back ------------------------------------------------------------------


def page_rows(build: Build) -> list[list[Row]]:
    """Each page's text in the text block as printed rows, top to bottom (no header, footer or page number).

    pdftotext puts a fraction's parts, sub- and superscripts and tall brackets on lines of their own; lines
    that overlap much in height are one printed row (a formula beside a figure, too). Lines of text overlap
    by a point or so at most.
    """
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", "-enc", "UTF-8", str(build.pdf), "-"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    xhtml = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", xhtml)  # glyphs without a Unicode name; not XML
    top, bottom = build.block
    pages = []
    for page in ElementTree.fromstring(xhtml).iter(f"{XHTML}page"):
        lines = sorted((float(line.get("yMin")), float(line.get("yMax")),
                        " ".join(word.text or "" for word in line.iter(f"{XHTML}word")))
                       for line in page.iter(f"{XHTML}line")
                       if top <= (float(line.get("yMin")) + float(line.get("yMax"))) / 2 <= bottom + DEPTH)  # fmt: skip
        rows: list[list] = []
        for line_top, line_bottom, text in lines:
            if rows and rows[-1][1] - line_top > SAME_ROW * (line_bottom - line_top):
                rows[-1][1] = max(rows[-1][1], line_bottom)
                rows[-1][2].append(text)
            else:
                rows.append([line_top, line_bottom, [text]])
        pages.append([Row(" ".join(texts), row_bottom - row_top) for row_top, row_bottom, texts in rows])
    return pages


def headings(tex: str) -> set[str]:
    """The section and subsection titles of a handout, as words (their maths dropped)."""
    titles = (re.sub(r"\\texorpdfstring\{.*?\}\{.*?\}|\$.*?\$", " ", title) for title in HEADING.findall(tex))
    return {_words(title) for title in titles}


def _words(text: str) -> str:
    return " ".join(re.findall(r"[A-Za-z0-9]+", text))


def fill(build: Build, folder: Path) -> list[float]:
    """How far down each page's text block its content reaches (text, formulas, rules, figures), from 0 to 1."""
    dpi = 36
    subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(build.pdf), str(folder / "page")], check=True)
    top, bottom = (round(y / 72 * dpi) for y in build.block)
    reach = bottom + round(DEPTH / 72 * dpi)
    fractions = []
    for image in sorted(folder.glob("page-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
        width, _, pixels = _pgm(image)
        inked = [y for y in range(top, reach) if min(pixels[y * width:(y + 1) * width]) < 128]
        fractions.append(min(1.0, (max(inked) - top) / (bottom - top)) if inked else 0.0)
    return fractions


def _pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary PGM (pdftoppm -gray): width, height and one byte per pixel."""
    data = path.read_bytes()
    magic, width, height, depth, pixels = data.split(maxsplit=4)
    assert magic == b"P5" and depth == b"255"
    return int(width), int(height), pixels


def table_rows(pdf: Path) -> dict[int, list[tuple[int, int, int]]]:
    """Each table's rows as (row, rows in the table, page), from the anchors tables.tex.j2 puts in them."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    tables: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for name, destination in reader.named_destinations.items():
        found = ROW_ANCHOR.match(str(name))
        if found:
            table, row, rows = map(int, found.groups())
            tables[table].append((row, rows, reader.get_destination_page_number(destination) + 1))
    return {table: sorted(rows) for table, rows in sorted(tables.items())}


# -- the tests -------------------------------------------------------------------------------


def test_every_example_makes_a_handout_or_is_refused_with_its_reason(tmp_path, capsys):
    assert {p.name for p in EXAMPLES.glob("*.yaml")} >= set(REFUSED)
    for name, reason in REFUSED.items():
        assert cli.main(["handout", str(EXAMPLES / name), "-o", str(tmp_path / "h.tex")]) == 2, name
        error = capsys.readouterr().err
        assert error.startswith("symbackprop: error: ") and reason in error, name
    assert not (tmp_path / "h.tex").exists()


@pytest.mark.parametrize("case", list(CASES))
def test_no_overfull_box(builds, case):
    overfull = re.findall(r"^Overfull \\[hv]box .*$", builds[case].log, flags=re.MULTILINE)
    assert not overfull, overfull


@pytest.mark.parametrize("case", CASES)
def test_tables_keep_three_rows_each_side_of_a_page_break(builds, case):
    _needs_poppler()
    tables = table_rows(builds[case].pdf)
    assert tables, "no table row anchors: tables.tex.j2 marks every row"
    for table, rows in tables.items():
        count = rows[0][1]
        assert [row for row, _, _ in rows] == list(range(1, count + 1)), f"table {table}: rows missing"
        per_page = defaultdict(int)
        for _, _, page in rows:
            per_page[page] += 1
        pages = sorted(per_page)
        assert pages == list(range(pages[0], pages[-1] + 1)), f"table {table} skips a page: {dict(per_page)}"
        if count <= UNBROKEN_ROWS:
            assert len(pages) == 1, f"table {table} of {count} rows is split: {dict(per_page)}"
        elif len(pages) > 1:
            assert per_page[pages[0]] >= MIN_ROWS, f"table {table} starts with too few rows: {dict(per_page)}"
            assert per_page[pages[-1]] >= MIN_ROWS, f"table {table} ends with too few rows: {dict(per_page)}"


@pytest.mark.parametrize("case", CASES)
def test_every_heading_has_lines_under_it_on_its_page(builds, case):
    _needs_poppler()
    titles = headings(builds[case].tex)
    assert {"Forward pass", "Backward pass", "Update"} <= titles  # the titles were read
    pages = page_rows(builds[case])
    for number, (rows, following) in enumerate(pairwise(pages), start=1):
        for heading in (row for row in rows[-UNDER_HEADING:] if _words(row.text) in titles):
            # all it heads is on this page when the next page opens a part of its level or a higher one
            opening = following[0] if following else Row("", 0.0)
            ended = _words(opening.text) in titles and opening.height >= heading.height - 0.5
            assert ended, f"page {number} ends with the heading {heading.text!r}: {[r.text for r in rows[-UNDER_HEADING:]]}"


@pytest.mark.parametrize("case", CASES)
def test_no_nearly_empty_page_before_the_last(builds, case, tmp_path):
    _needs_poppler()
    fractions = fill(builds[case], tmp_path)
    short = {page: f"{f:.0%}" for page, f in enumerate(fractions[:-1], start=1) if f < MIN_FILL}
    assert not short, f"pages filled less than {MIN_FILL:.0%}: {short}"


@pytest.mark.parametrize("case", list(CASES))
def test_question_numbers_stand_in_one_column(builds, case):
    """Every "(n)" of a numbered question starts at the same distance from the left edge, on every page."""
    _needs_poppler()
    build = builds[case]
    if r"\qnum{" not in build.tex:
        pytest.skip("no numbered questions")
    boxes = subprocess.run(["pdftotext", "-bbox", str(build.pdf), "-"], capture_output=True, text=True, check=True).stdout
    margin = 2 * 72 / 2.54  # the preamble's 2 cm, in PDF points
    # "(n)" words: the question numbers, and superscripts such as W^{(1)} that are no question's number
    at_margin = {int(n) for x, n in re.findall(r'<word xMin="([\d.]+)"[^>]*>\((\d+)\)</word>', boxes)
                 if abs(float(x) - margin) < 0.5}  # fmt: skip
    asked = {int(n) for n in re.findall(r"\\qnum\{(\d+)\}", build.tex)}
    assert asked <= at_margin, sorted(asked - at_margin)  # every question's number stands at the left margin
