"""Course options of a handout: --paper, --font-size and --no-check, through the CLI and the library."""

import pytest
from conftest import EXAMPLES
from pypdf import PdfReader
from test_render import needs_tex, pdf_text

import symbackprop as sbp
from symbackprop import cli, finite_diff, handout, render

SEED = str(EXAMPLES / "seed_2_2_1.yaml")
POINTS = {"a4": (595.3, 841.9), "letter": (612.0, 792.0)}  # ISO 216 and ANSI sizes in PostScript points


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_paper_sets_the_page_size(tmp_path, capsys, paper):
    needs_tex()
    out = tmp_path / "h.pdf"
    assert cli.main(["handout", SEED, "-o", str(out), "--paper", paper]) == 0, capsys.readouterr().err
    box = PdfReader(out).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(POINTS[paper], abs=0.5)


@pytest.mark.parametrize("size", [10, 11, 12])
def test_font_size_reaches_the_document_class(tmp_path, capsys, size):
    out = tmp_path / "h.tex"
    assert cli.main(["handout", SEED, "-o", str(out), "--font-size", str(size)]) == 0
    assert rf"\documentclass[{size}pt,a4paper,leqno]{{article}}" in out.read_text()


@pytest.mark.parametrize(("option", "value"), [("--paper", "a5"), ("--font-size", "13"), ("--font-size", "x")])
def test_other_sizes_are_refused_in_one_line(tmp_path, capsys, option, value):
    assert cli.main(["handout", SEED, "-o", str(tmp_path / "h.tex"), option, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and "internal error" not in err


def test_no_check_leaves_out_the_gradient_check(tmp_path, capsys):
    needs_tex()
    with_check, without = tmp_path / "with.pdf", tmp_path / "without.pdf"
    assert cli.main(["handout", SEED, "-o", str(with_check)]) == 0
    assert cli.main(["handout", SEED, "-o", str(without), "--no-check"]) == 0
    assert "Gradient check" in pdf_text(with_check) and "Gradient check" not in pdf_text(without)


def test_no_check_does_not_compute_finite_differences(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("finite differences computed")

    monkeypatch.setattr(finite_diff, "gradcheck", refuse)
    document = handout.build(sbp.derive(sbp.load_spec(SEED)), gradient_check=False)
    assert document.check is None and r"\section*{Gradient check}" not in render.latex(document)
