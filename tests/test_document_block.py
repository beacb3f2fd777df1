"""The spec's document: block: parsing and its refusals, the course header template, the logo's
way into TeX (a checked copy under a name of ours), the CLI, and PDFs from both TeX backends.

The tests of the last section ("whole handouts") build handouts through `handout.build`,
so they need `handout.Document.course` (set from `spec.document`) and the header included
by `handout.tex.j2`; the others need only spec.py, render.py and header.tex.j2.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import EXAMPLES
from test_render import needs_tex

import symbackprop as sbp
from symbackprop import class_set, cli, handout, render, spec
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.printing import Latex

SEED = yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text())
FULL = {"course": "Machine Learning 1", "date": "Winter 2026", "author": "Dr. A. Lecturer",
        "institution": "University of Somewhere"}  # fmt: skip
HOSTILE = {"course": r"\input{/etc/passwd}", "institution": r"\immediate\write18{touch marker}",
           "author": r"\def\x{\x}\x", "date": "50% & #1 $x^2$ ~_{}"}  # fmt: skip


def png(width: int = 4, height: int = 4) -> bytes:
    """A valid RGB PNG, written by hand from the PNG specification (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((200, 40, 30)) * width for _ in range(height))  # filter byte 0, then pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def image(kind: str) -> bytes:
    """A small logo of `kind` (png, jpg or pdf) made by matplotlib and Pillow."""
    if kind == "png":
        return png()
    if kind == "jpg":
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (31, 59, 115)).save(buffer, format="JPEG")
        return buffer.getvalue()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(0.5, 0.5))
    figure.add_subplot().plot([0, 1], [0, 1])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="pdf", metadata={"CreationDate": None})
    return buffer.getvalue()


def spec_file(folder: Path, document: object, *, name: str = "spec.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump({**SEED, "document": document}, sort_keys=False, allow_unicode=True))
    return path


def course_of(document: object) -> spec.Course | None:
    return spec.from_dict({**SEED, "document": document}).document


# -- parsing -----------------------------------------------------------------------------------


def test_every_key_is_read_and_the_logo_is_found_beside_the_spec(tmp_path, monkeypatch):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "logo.png").write_bytes(png())
    path = spec_file(tmp_path / "specs", {**FULL, "logo": "logo.png"})
    monkeypatch.chdir(tmp_path)  # not the spec's folder: the logo is still found beside the spec
    assert spec.load(path).document == spec.Course(**FULL, logo=tmp_path / "specs" / "logo.png")


def test_the_shipped_example_has_every_key():
    loaded = spec.load(EXAMPLES / "course_header.yaml")
    assert loaded.document == spec.Course(**FULL, logo=EXAMPLES / "logo.png")
    assert spec.read_logo(loaded.document.logo)[0] == "png"


@pytest.mark.parametrize("document", [None, {}, {"course": "  "}])
def test_no_block_an_empty_one_or_blank_text_means_no_header(document):
    assert course_of(document) is None
    assert spec.from_dict(SEED).document is None


def test_keys_are_optional_and_text_is_kept_as_given():
    assert course_of({"date": "Winter 2026"}) == spec.Course(date="Winter 2026")
    assert course_of({"author": "Dr. Ünal Çelik – ML"}).author == "Dr. Ünal Çelik – ML"
    assert course_of(HOSTILE) == spec.Course(**HOSTILE)  # TeX specials are text; the template escapes them
    assert course_of({"course": "x" * spec.MAX_DOCUMENT_TEXT}).course == "x" * 120


def test_an_unquoted_date_is_kept_as_written(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SEED) + "document:\n  date: 2026-01-15\n")
    assert spec.load(path).document == spec.Course(date="2026-01-15")
    toml = tmp_path / "spec.toml"
    toml.write_text('layers = [2, 1]\nloss = "mse"\n\n[document]\ndate = 2026-01-15\n')
    assert spec.load(toml).document == spec.Course(date="2026-01-15")


def test_a_mapping_spec_reads_a_relative_logo_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "logo.png").write_bytes(png())
    monkeypatch.chdir(tmp_path)
    assert course_of({"logo": "logo.png"}).logo == tmp_path / "logo.png"
    with pytest.raises(SpecError, match="no such file"):
        spec.from_dict({**SEED, "document": {"logo": "logo.png"}}, folder=tmp_path / "elsewhere")


def test_every_logo_kind_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, kind in (("a.png", "png"), ("b.JPG", "jpg"), ("c.jpeg", "jpg"), ("d.pdf", "pdf")):
        data = image(kind)
        (tmp_path / name).write_bytes(data)
        assert course_of({"logo": name}).logo == tmp_path / name
        assert spec.read_logo(tmp_path / name) == (kind, data)


CHOICES = "valid keys: course, date, author, institution, logo, points"
ADVICE = "use Latin letters, Greek letters or common maths symbols"
TEXT_ERRORS = [
    ([1, 2], "document: must be a mapping with the keys course, date, author, institution, logo, points; got a list"),
    ("ML 1", "document: must be a mapping with the keys course, date, author, institution, logo, points; got a string"),
    ({"cours": "x"}, f"document.cours: unknown key (did you mean 'course'?); {CHOICES}"),
    ({"title": "x"}, f"document.title: unknown key; {CHOICES}"),
    ({"course": 101}, "document.course: must be text, got a number; put it in quotes"),
    ({"author": ["A", "B"]}, "document.author: must be text, got a list; put it in quotes"),
    ({"institution": {"name": "U"}}, "document.institution: must be text, got a mapping; put it in quotes"),
    ({"date": True}, "document.date: must be text, got a boolean; put it in quotes"),
    ({"course": "x" * 121}, "document.course: is 121 characters long; a header line takes at most 120"),
    ({"course": "机器学习"}, f"document.course: the character '机' (U+673A) cannot be typeset; {ADVICE}"),
    ({"author": "A\u200bB"}, f"document.author: the character U+200B (ZERO WIDTH SPACE) cannot be typeset; {ADVICE}"),
    ({"date": "Winter\x1b[31m"}, f"document.date: the character U+001B (a control character) cannot be typeset; {ADVICE}"),
    ({"institution": "U \u202eevil"}, f"document.institution: the character U+202E (RIGHT-TO-LEFT OVERRIDE) cannot be typeset; {ADVICE}"),
    ({"course": "ML 🎓"}, f"document.course: the character '🎓' (U+1F393) cannot be typeset; {ADVICE}"),
    ({"logo": 3}, "document.logo: must be the name of a .png, .jpg or .pdf file, got a number"),
    ({"logo": ""}, "document.logo: must be the name of a .png, .jpg or .pdf file, got an empty name"),
    ({"logo": "logo.gif"}, "document.logo: 'logo.gif' must end in .png, .jpg, .jpeg or .pdf"),
    ({"logo": "/dev/zero"}, "document.logo: '/dev/zero' must end in .png, .jpg, .jpeg or .pdf"),
    ({"logo": "/etc/passwd"}, "document.logo: '/etc/passwd' must end in .png, .jpg, .jpeg or .pdf"),
]


@pytest.mark.parametrize(("document", "message"), TEXT_ERRORS, ids=[m[:40] for _, m in TEXT_ERRORS])
def test_bad_values_are_refused_by_key_path(document, message):
    with pytest.raises(SpecError) as caught:
        course_of(document)
    assert str(caught.value) == message


def _special_logos(folder: Path) -> list[tuple[str, str]]:
    """(name, what it is) of logos that must be refused, made in `folder`."""
    (folder / "folder.png").mkdir()
    (folder / "zero.png").symlink_to("/dev/zero")
    (folder / "null.pdf").symlink_to("/dev/null")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "dangling.png").symlink_to(folder / "nowhere.png")
    os.mkfifo(folder / "fifo.png")
    return [("folder.png", "a directory"), ("zero.png", "a character device"), ("null.pdf", "a character device"),
            ("fifo.png", "a FIFO")]  # fmt: skip


posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs, /dev/zero and /dev/null are POSIX")


@posix
def test_special_files_are_refused_without_reading_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, kind in _special_logos(tmp_path):  # a FIFO read would wait forever; /dev/zero would never end
        with pytest.raises(SpecError) as caught:
            course_of({"logo": name})
        assert str(caught.value) == (f"document.logo: '{name}' is {kind}, not a regular file; "
                                     "give a .png, .jpg or .pdf file")  # fmt: skip
    for name in ("missing.png", "dangling.png"):
        with pytest.raises(SpecError) as caught:
            course_of({"logo": name})
        assert str(caught.value) == f"document.logo: '{name}': no such file (looked for {tmp_path / name})"
    with pytest.raises(SpecError, match=r"^document.logo: 'loop.png' cannot be read \(.*\); give a .png"):
        course_of({"logo": "loop.png"})


@pytest.mark.parametrize(
    ("name", "content", "label"),
    [("fake.png", b"GIF89a\x01\x00", "PNG"), ("fake.jpg", png(), "JPEG"), ("fake.pdf", b"<html>%PDF-1.4", "PDF"),
     ("empty.png", b"", "PNG"), ("script.jpeg", b"#!/bin/sh\nrm -rf /\n", "JPEG")],
)  # fmt: skip
def test_content_must_match_the_suffix(tmp_path, monkeypatch, name, content, label):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SpecError) as caught:
        course_of({"logo": name})
    assert str(caught.value) == (f"document.logo: '{name}' is not a {label} file (its first bytes are not {label}'s); "
                                 "give a .png, .jpg or .pdf file whose content matches its suffix")  # fmt: skip


def test_a_logo_over_5_mib_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "big.png").write_bytes(png() + b"\0" * spec.MAX_LOGO_BYTES)
    (tmp_path / "fits.png").write_bytes(png().ljust(spec.MAX_LOGO_BYTES, b"\0"))
    with pytest.raises(SpecError) as caught:
        course_of({"logo": "big.png"})
    assert str(caught.value) == "document.logo: 'big.png' is larger than the limit of 5 MiB for a logo"
    assert course_of({"logo": "fits.png"}).logo == tmp_path / "fits.png"


def test_a_spec_file_error_names_the_file_and_line(tmp_path):
    (tmp_path / "logo.png").write_bytes(b"not a png")
    path = spec_file(tmp_path, {"course": "ML", "logo": "logo.png"})
    line = path.read_text().splitlines().index("  logo: logo.png") + 1
    with pytest.raises(SpecError) as caught:
        spec.load(path)
    assert str(caught.value).startswith(f"{path}:{line}: document.logo: 'logo.png' is not a PNG file")
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(SEED) + "document:\n  course: ML\n  autor: Me\n")
    with pytest.raises(SpecError) as caught:
        spec.load(tmp_path / "typo.yaml")
    assert str(caught.value) == (f"{tmp_path / 'typo.yaml'}:{len(yaml.safe_dump(SEED).splitlines()) + 3}: "
                                 f"document.autor: unknown key (did you mean 'author'?); {CHOICES}")  # fmt: skip


# -- the header template and the logo's name ---------------------------------------------------


def header(course: spec.Course | None, logo: str | None = None) -> str:
    return render.environment().get_template("header.tex.j2").render(
        doc=SimpleNamespace(course=course), logo=None if logo is None else Latex(logo))


def test_no_course_no_header_at_all():
    assert header(None) == ""


def test_the_header_escapes_every_text_and_names_only_our_logo_file(tmp_path):
    text = header(spec.Course(**HOSTILE, logo=tmp_path / "evil{x}.png"), logo="logo.png")
    assert r"\textbackslash{}input\{/etc/passwd\}" in text
    assert r"\textbackslash{}immediate\textbackslash{}write18\{touch marker\}" in text
    assert r"50\% \& \#1 \$x\textasciicircum{}2\$ \textasciitilde{}\_\{\}" in text
    assert r"\input{" not in text and r"\write18{" not in text
    assert re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", text) == ["logo.png"]
    assert str(tmp_path) not in text and "evil" not in text
    assert "includegraphics" not in header(spec.Course(course="ML"))


def test_logo_names_are_ours():
    assert render.logo_name("png") == "logo.png"
    assert render.logo_name("jpg", "out/handout.tex") == "handout-logo.jpg"
    assert render.logo_name("pdf", Path("sheets/Week 1 – naïve {x}.tex")) == "Week_1___na_ve__x_-logo.pdf"


@pytest.mark.parametrize("name", ["../logo.png", "/etc/passwd.png", "a b.png", "x}.png", "logo.gif", "handout.pdf",
                                  "handout.png"])  # fmt: skip
def test_compile_pdf_refuses_asset_names_not_of_our_making(tmp_path, name):
    with pytest.raises(ValueError, match="not a name of logo_name's making"):
        render.compile_pdf("\\relax", tmp_path / "out.pdf", command=["false"], assets={name: png()})


# -- PDFs: the header on every page, the logo copied into the build directory ------------------


def backends() -> list:
    tinytex = render._tinytex_pdflatex()
    return [pytest.param(["pdflatex"], id="pdflatex"),
            pytest.param([str(tinytex)] if tinytex else None, id="tinytex")]  # fmt: skip


def needs(command: list[str] | None) -> list[str]:
    needs_tex()
    if command is None or shutil.which(command[0]) is None:
        pytest.skip(f"{'TinyTeX (the [pdf] extra)' if command is None else command[0]} is not installed")
    for tool in ("pdftotext", "pdfimages", "pdfinfo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (poppler-utils) is not installed")
    return command


def pages(pdf: Path) -> list[str]:
    """Each page's text, by pdftotext."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(p), "-l", str(p), str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout for p in range(1, count + 1)]  # fmt: skip


def image_pages(pdf: Path) -> list[int]:
    """The page of every image in the PDF, by pdfimages -list (soft masks left out)."""
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    return [int(row.split()[0]) for row in listing.splitlines()[2:] if row.split()[2] == "image"]


def assert_header_on_every_page(pdf: Path, *, course: str, institution: str, logo: bool = True) -> None:
    text = pages(pdf)
    assert len(text) >= 2
    for number, page in enumerate(text, 1):
        assert course in page and institution in page, f"page {number} has no course header"
    if logo:
        assert image_pages(pdf) == list(range(1, len(text) + 1))


def standalone(course: spec.Course, logo: str | None) -> str:
    """A three-page document with the header, in the handout's own preamble packages (geometry, hyperref)."""
    body = "\n\n".join(["Backpropagation by hand. " * 60] * 14)
    return ("\\documentclass[11pt,a4paper]{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
            "\\usepackage{lmodern}\n\\usepackage[margin=2cm]{geometry}\n\\usepackage{tikz}\n"
            "\\usepackage[hidelinks]{hyperref}\n" + header(course, logo)
            + "\\title{Handout}\\author{}\\date{}\n\\begin{document}\n\\maketitle\n" + body + "\n\\end{document}\n")  # fmt: skip


@pytest.mark.parametrize("command", backends())
def test_compile_pdf_copies_the_logo_and_the_header_is_on_every_page(tmp_path, command):
    command = needs(command)
    out = render.compile_pdf(standalone(spec.Course(**FULL), "logo.png"), tmp_path / "out.pdf", command=command,
                             assets={"logo.png": png()})  # fmt: skip
    assert_header_on_every_page(out, course="Machine Learning 1", institution="University of Somewhere")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pdf"]  # the logo stayed in the build directory


@pytest.mark.parametrize("kind", ["png", "jpg", "pdf"])
def test_every_logo_kind_compiles(tmp_path, kind):
    command = needs(["pdflatex"])
    name = render.logo_name(kind)
    out = render.compile_pdf(standalone(spec.Course(course="ML", institution="U"), name), tmp_path / "out.pdf",
                             command=command, assets={name: image(kind)})  # fmt: skip
    if kind == "pdf":  # a PDF logo is embedded as a form, not an image
        assert all("ML" in page for page in pages(out))
    else:
        assert_header_on_every_page(out, course="ML", institution="U")


LONGEST = spec.Course(**{key: (f"{word} " * 30)[:spec.MAX_DOCUMENT_TEXT]
                         for key, word in zip(spec.HEADER_TEXT, ("Alpha", "Delta", "Omega", "Beta"))})  # fmt: skip


def words(pdf: Path, page: int = 1) -> list[tuple[str, float, float]]:
    """(word, left x, right x) of every word on a page, by pdftotext -bbox."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    found = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html)
    return [(word, float(left), float(right)) for left, right, word in found]


@pytest.mark.parametrize("command", backends())  # they ship different fancyhdr versions
@pytest.mark.parametrize("logo", [None, "logo.png"])
@pytest.mark.parametrize("course", [LONGEST, spec.Course(**FULL), spec.Course(date="Winter 2026")], ids=["longest", "full", "date"])
def test_the_header_is_as_tall_as_its_text_and_nothing_overlaps(tmp_path, course, logo, command):
    """Long text wraps in its column; fancyhdr would warn if the header were taller than the room made for it."""
    command = needs(command)
    (tmp_path / "h.tex").write_text(standalone(course, logo), encoding="utf-8")
    (tmp_path / "logo.png").write_bytes(png(40, 10))  # a wide logo: its width is bounded too
    run = subprocess.run([*command, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "h.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "h.log").read_text(errors="replace")
    assert "fancyhdr Warning" not in log and "Overfull" not in log
    assert all("Winter 2026" in page or "Delta" in page for page in pages(tmp_path / "h.pdf"))
    if course is LONGEST:  # the left column (course, institution) ends before the right one (author, date) starts
        placed = words(tmp_path / "h.pdf")
        left = max(right for word, _, right in placed if word in ("Alpha", "Beta"))
        assert left < min(start for word, start, _ in placed if word in ("Omega", "Delta"))


def test_without_the_asset_tex_cannot_read_the_users_file(tmp_path):
    """The header names only the fixed name: TeX finds no logo unless compile_pdf put one there."""
    command = needs(["pdflatex"])
    (tmp_path / "logo.png").write_bytes(png())  # beside the output, but not in TeX's build directory
    with pytest.raises(render.LatexError, match="logo.png"):
        render.compile_pdf(standalone(spec.Course(course="ML"), "logo.png"), tmp_path / "out.pdf", command=command)


def test_hostile_header_text_is_printed_not_run(tmp_path, monkeypatch):
    command = needs(["pdflatex"])
    monkeypatch.chdir(tmp_path)
    out = render.compile_pdf(standalone(course_of(HOSTILE), None), tmp_path / "out.pdf", command=command, timeout=60)
    first = pages(out)[0]
    assert r"\input{/etc/passwd}" in first and r"\immediate\write18{touch marker}" in first
    assert "50% & #1 $x^2$" in first
    assert "root:" not in first and not (tmp_path / "marker").exists()


# -- the command line ----------------------------------------------------------------------------


BAD_BLOCKS = [
    ({"course": 3}, "document.course: must be text"),
    ({"course": "x" * 500}, "document.course: is 500 characters long"),
    ({"author": "\x07bell"}, "document.author: the character U+0007"),
    ({"logo": "missing.png"}, "document.logo: 'missing.png': no such file"),
    ({"logo": "folder.png"}, "document.logo: 'folder.png' is a directory"),
    ({"logo": "zero.png"}, "document.logo: 'zero.png' is a character device"),
    ({"logo": "fifo.png"}, "document.logo: 'fifo.png' is a FIFO"),
    ({"logo": "fake.png"}, "document.logo: 'fake.png' is not a PNG file"),
    ({"logo": "big.png"}, "document.logo: 'big.png' is larger than the limit of 5 MiB"),
    ({"cours": "ML"}, "document.cours: unknown key (did you mean 'course'?)"),
]


@posix
@pytest.mark.parametrize(("document", "words"), BAD_BLOCKS, ids=[w.split(":")[0] + w[-12:] for _, w in BAD_BLOCKS])
def test_cli_refuses_a_bad_block_in_one_line(tmp_path, capsys, document, words):
    _special_logos(tmp_path)
    (tmp_path / "fake.png").write_bytes(b"GIF89a")
    (tmp_path / "big.png").write_bytes(png() + b"\0" * spec.MAX_LOGO_BYTES)
    path = spec_file(tmp_path, document)
    out = tmp_path / "x.pdf"
    assert cli.main(["handout", str(path), "-o", str(out)]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"symbackprop: error: {path}:") and words in err
    assert not out.exists()


@posix
def test_a_link_to_a_special_file_through_the_real_command(tmp_path):
    (tmp_path / "logo.png").symlink_to("/dev/zero")
    path = spec_file(tmp_path, {"course": "ML", "logo": "logo.png"})
    done = subprocess.run([sys.executable, "-m", "symbackprop", "handout", str(path), "-o", str(tmp_path / "x.pdf")],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    line = len(yaml.safe_dump(SEED).splitlines()) + 3  # document:, course:, then logo:
    message = f"symbackprop: error: {path}:{line}: document.logo: 'logo.png' is a character device, not a regular file"
    assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize(
    "command",
    [["solve", "{spec}", "--json"], ["derive", "{spec}", "--json"], ["export", "{spec}"],
     ["check", "{spec}", str(EXAMPLES / "seed_answers.yaml"), "--json"], ["train", "{spec}", "--epochs", "3", "--json"],
     ["derive", "{spec}", "--form", "vector"]],
    ids=lambda c: c[0] + ("-vector" if "vector" in c else ""),
)  # fmt: skip
def test_other_commands_ignore_the_block(tmp_path, capsys, command):
    (tmp_path / "with" / "logo.png").parent.mkdir()
    (tmp_path / "with" / "logo.png").write_bytes(png())
    plain = spec_file(tmp_path / "plain", None)  # same file name, so export's docstring names the same file
    with_block = spec_file(tmp_path / "with", {**FULL, "logo": "logo.png"})
    outputs = []
    for path in (plain, with_block):
        status = cli.main([part.format(spec=path) for part in command])
        outputs.append((status, capsys.readouterr()))
    assert outputs[0][0] in (0, 1) and outputs[0] == outputs[1]


# -- whole handouts (wired: handout.Document.course and the include in handout.tex.j2) -----------


def course_handout(*, mode: str = "worked") -> handout.Document:
    return handout.build(sbp.derive(sbp.load_spec(EXAMPLES / "course_header.yaml")), mode=mode)


def test_build_carries_the_course():
    assert course_handout().course == spec.load(EXAMPLES / "course_header.yaml").document
    plain = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")))
    assert plain.course is None and "fancyhdr" not in render.latex(plain)


@pytest.mark.parametrize("command", backends())
def test_the_example_handout_has_the_header_and_logo_on_every_page(tmp_path, command):
    command = needs(command)
    document = course_handout()
    name = render.logo_name("png")
    text = render.latex(document, logo=name)
    assert str(EXAMPLES) not in text  # the logo's real path never reaches TeX
    out = render.compile_pdf(text, tmp_path / "handout.pdf", command=command,
                             assets={name: (EXAMPLES / "logo.png").read_bytes()})  # fmt: skip
    assert_header_on_every_page(out, course="Machine Learning 1", institution="University of Somewhere")
    assert all("Dr. A. Lecturer" in page and "Winter 2026" in page for page in pages(out))


def test_the_cli_writes_the_example_handout(tmp_path, capsys):
    needs(["pdflatex"])
    out = tmp_path / "handout.pdf"
    assert cli.main(["handout", str(EXAMPLES / "course_header.yaml"), "-o", str(out), "--mode", "exercise"]) == 0
    assert_header_on_every_page(out, course="Machine Learning 1", institution="University of Somewhere")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.pdf"]


def test_a_tex_output_gets_its_logo_beside_it_under_a_derived_name(tmp_path):
    out = render.Handout(course_handout()).write(tmp_path / "Week 1.tex")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Week 1.tex", "Week_1-logo.png"]
    assert (tmp_path / "Week_1-logo.png").read_bytes() == (EXAMPLES / "logo.png").read_bytes()
    text = out.read_text()
    assert re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", text) == ["Week_1-logo.png"]
    assert str(EXAMPLES) not in text
    if render.backend() is not None and shutil.which("pdflatex"):  # the pair compiles where it was written
        subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", out.name],
                       cwd=tmp_path, capture_output=True, check=True, timeout=120)  # fmt: skip
        assert image_pages(tmp_path / "Week 1.pdf")


def test_latex_alone_has_no_logo_file_to_name():
    text = render.Handout(course_handout()).latex()
    assert "Machine Learning 1" in text and "includegraphics" not in text


@posix
def test_the_logo_is_checked_again_when_the_handout_is_written(tmp_path):
    (tmp_path / "logo.png").write_bytes(png())
    document = handout.build(sbp.derive(sbp.load_spec(spec_file(tmp_path, {"course": "ML", "logo": "logo.png"}))))
    (tmp_path / "logo.png").unlink()
    (tmp_path / "logo.png").symlink_to("/dev/zero")  # swapped after the spec was read
    for output in ("out.tex", "out.pdf"):
        with pytest.raises(SymbackpropError, match=r"^document.logo: '.*logo.png' is a character device"):
            render.Handout(document).write(tmp_path / output)
    assert not (tmp_path / "out.tex").exists() and not (tmp_path / "out.pdf").exists()
    forged = dataclasses.replace(document, course=spec.Course(course="ML", logo=Path("/etc/passwd")))
    with pytest.raises(SymbackpropError, match="must end in .png"):  # a Course made in Python is checked too
        render.Handout(forged).write(tmp_path / "out.pdf")


def test_variants_each_sheet_names_its_own_logo(tmp_path):
    loaded = sbp.load_spec(EXAMPLES / "course_header.yaml")
    derivation = sbp.derive(loaded)
    written = class_set.write(derivation, tmp_path, class_set.sheets(loaded, seed=1, count=2),
                              source=spec.read_mapping(EXAMPLES / "course_header.yaml"), seed=1, pdf=False)  # fmt: skip
    written = [p for p in written if p.suffix == ".tex"]
    assert [p.name for p in written] == ["student_1.tex", "student_1_key.tex", "student_2.tex", "student_2_key.tex"]
    for sheet in written:
        logo = f"{sheet.stem}-logo.png"
        assert (tmp_path / logo).read_bytes() == (EXAMPLES / "logo.png").read_bytes()
        assert f"{{{logo}}}" in sheet.read_text()
