"""Handouts: golden .tex files, a compiled PDF whose numbers match an independent NumPy pass,
escaping of hostile titles, exercise/solutions/variants, PDF backends and failures.

Regenerate the golden files after an intended change with
    SYMBACKPROP_REGENERATE_GOLDEN=1 python -m pytest tests/test_render.py
and read the diff before committing it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symbackprop as sbp
from symbackprop import class_set, cli, handout, render, spec
from conftest import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("SYMBACKPROP_REGENERATE_GOLDEN") == "1"
IN_CI = os.environ.get("CI") == "true"


def derivation(name: str):
    return sbp.derive(sbp.load_spec(EXAMPLES / name))


def needs_tex():
    """Skip without a TeX, except in CI, where the PDF tests must run."""
    if render.backend() is None:
        if IN_CI:
            pytest.fail("CI=true but no LaTeX backend: .ci/run must install pdflatex (or the [pdf] extra)")
        pytest.skip("no LaTeX backend (install TeX Live or the [pdf] extra)")


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


# -- an independent oracle: the seeds' 2-2-1 sigmoid network by hand, in NumPy -----------------


def seed_by_hand() -> dict[str, float]:
    x = np.array([0.5, 0.1])
    t = 0.6
    W1 = np.array([[0.4, 0.3], [0.6, 0.9]])
    b1 = np.array([0.1, 0.2])
    w2 = np.array([0.5, 0.7])
    b2 = 0.3
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    z = W1 @ x + b1
    h = sigmoid(z)
    z3 = w2 @ h + b2
    y = sigmoid(z3)
    loss = 0.5 * (y - t) ** 2
    d3 = (y - t) * y * (1 - y)
    d = d3 * w2 * h * (1 - h)
    gradients = {"w11": d[0] * x[0], "w12": d[0] * x[1], "w21": d[1] * x[0], "w22": d[1] * x[1], "b1": d[0],
                 "b2": d[1], "w31": d3 * h[0], "w32": d3 * h[1], "b3": d3}  # fmt: skip
    values = {"h1": h[0], "h2": h[1], "z3": z3, "y": y, "L": loss, "delta3": d3, "delta1": d[0], "delta2": d[1]}
    values.update({f"grad_{k}": v for k, v in gradients.items()})
    old = {"w11": 0.4, "w12": 0.3, "w21": 0.6, "w22": 0.9, "b1": 0.1, "b2": 0.2, "w31": 0.5, "w32": 0.7, "b3": 0.3}
    values.update({f"new_{k}": old[k] - 0.1 * gradients[k] for k in old})
    return values


def shown(value: float) -> str:
    """How a value is displayed at 6 decimals (written here from the README's rule, not from the code)."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


# -- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "mode"),
    [("seed_2_2_1.yaml", "worked"), ("seed_2_2_1.yaml", "exercise"), ("softmax_2_3_2.yaml", "worked"),
     ("batch_2_2_1.yaml", "solutions")],
)  # fmt: skip
def test_golden_tex(spec, mode):
    text = render.latex(handout.build(derivation(spec), mode=mode))
    golden = GOLDEN / f"{Path(spec).stem}_{mode}.tex"
    if REGENERATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; run with SYMBACKPROP_REGENERATE_GOLDEN=1 to create it"
    assert stable(text) == stable(golden.read_text(encoding="utf-8"))


def stable(text: str) -> str:
    """The document with the gradient check's numbers masked: finite-difference noise varies by platform."""
    head, mark, check = text.partition(r"\section*{Gradient check}")
    return head + mark + re.sub(r"-?\d+(\.\d+)?( \\times 10\^\{-?\d+\})?", "#", check)


# -- the seed's numbers, in the .tex and in the PDF ---------------------------------------


def test_every_number_of_the_seed_appears_as_computed_by_hand():
    text = render.latex(handout.build(derivation("seed_2_2_1.yaml")))
    for name, value in seed_by_hand().items():
        assert shown(value) in text, name


def test_exercise_sheet_has_blanks_and_no_answers():
    sheet = render.latex(handout.build(derivation("seed_2_2_1.yaml"), mode="exercise"))
    key = render.latex(handout.build(derivation("seed_2_2_1.yaml"), mode="solutions"))
    by_hand = seed_by_hand()
    for name in ("y", "L", "delta1", "grad_w11", "new_w11"):
        assert shown(by_hand[name]) not in sheet, name
        assert shown(by_hand[name]) in key, name
    assert sheet.count(r"&= \blank") == 19  # 6 forward + loss + 3 δ + 9 gradients
    assert "Answer key" in key and "Exercise sheet" in sheet


def test_seed_pdf_compiles_and_shows_the_numbers(tmp_path):
    needs_tex()
    out = tmp_path / "handout.pdf"
    assert cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(out)]) == 0
    text = pdf_text(out)
    for name, value in seed_by_hand().items():
        assert shown(value) in text, name
    assert "Worked example: a 2-2-1 sigmoid network" in text


# -- hostile text --------------------------------------------------------------------------


HOSTILE = r"\input{/etc/passwd} \write18{touch marker} 100% $x_1$ & #1 ~ ^ {}"


def test_hostile_title_is_escaped_in_one_pass():
    assert render.escape(r"\input{/etc/passwd}") == r"\textbackslash{}input\{/etc/passwd\}"
    assert render.escape("50% of $5 & #1_a^b~") == r"50\% of \$5 \& \#1\_a\textasciicircum{}b\textasciitilde{}"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=40))
def test_escaped_text_has_no_active_characters(text):
    escaped = render.escape(text)
    # strip every replacement we make; what is left must be free of TeX's special characters
    for replacement in sorted(render._SPECIAL.values(), key=len, reverse=True):
        escaped = escaped.replace(replacement, "")
    assert not set(escaped) & set("\\{}$&#%_^~")


def test_hostile_title_prints_literally_and_reads_nothing(tmp_path, monkeypatch):
    needs_tex()
    monkeypatch.chdir(tmp_path)
    spec = sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml", title=HOSTILE)
    document = handout.build(sbp.derive(spec))
    tex = render.latex(document)
    assert r"\input{/etc/passwd}" not in tex and r"\write18{" not in tex
    out = render.compile_pdf(tex, tmp_path / "hostile.pdf")
    text = pdf_text(out)
    assert r"\input{/etc/passwd}" in text
    assert r"\write18{touch marker}" in text
    assert "root:" not in text
    assert not (tmp_path / "marker").exists()


def test_templates_are_strict_about_undefined_names(tmp_path):
    (tmp_path / "handout.tex.j2").write_text(r"\documentclass{article}((( doc.no_such_field )))", encoding="utf-8")
    document = handout.build(derivation("seed_2_2_1.yaml"))
    with pytest.raises(sbp.SymbackpropError, match="no_such_field"):
        render.latex(document, templates=tmp_path)


def test_a_teachers_template_folder_overrides_one_template(tmp_path):
    shipped = (render.shipped_templates() / "preamble.tex.j2").read_text(encoding="utf-8")
    (tmp_path / "preamble.tex.j2").write_text(shipped + "% our school's preamble\n", encoding="utf-8")
    text = render.latex(handout.build(derivation("seed_2_2_1.yaml")), templates=tmp_path)
    assert "% our school's preamble" in text
    assert r"\begin{document}" in text  # the rest still comes from the shipped templates


# -- variants -------------------------------------------------------------------------------


def variant_sheets(d, folder, *, count: int, seed: int, source: Path) -> list[Path]:
    """The .tex sheets and keys of a class set of `count` numbered students (no PDFs)."""
    sheets = class_set.sheets(d.network.spec, seed=seed, count=count)
    written = class_set.write(d, folder, sheets, source=spec.read_mapping(source), seed=seed, pdf=False)
    return [p for p in written if p.suffix == ".tex"]


def test_variants_are_reproducible_and_each_has_its_own_key(tmp_path):
    d = derivation("seed_2_2_1.yaml")
    source = EXAMPLES / "seed_2_2_1.yaml"
    first = variant_sheets(d, tmp_path / "a", count=3, seed=7, source=source)
    again = variant_sheets(d, tmp_path / "b", count=3, seed=7, source=source)
    other = variant_sheets(d, tmp_path / "c", count=3, seed=8, source=source)
    assert [p.name for p in first] == [p.name for p in again] == [
        "student_1.tex", "student_1_key.tex", "student_2.tex", "student_2_key.tex", "student_3.tex", "student_3_key.tex"]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(first, again))
    assert any(p.read_bytes() != q.read_bytes() for p, q in zip(first, other))
    sheets = [p.read_text() for p in first if not p.stem.endswith("_key")]
    assert len(set(sheets)) == 3  # every student has their own numbers

    # each key holds that student's loss, computed here by hand from the student's numbers
    spec = d.network.spec
    for i, key in enumerate(p for p in first if p.stem.endswith("_key")):
        examples, parameters = handout.variant(spec, seed=7, index=i + 1)
        x, t = np.array(examples[0].inputs), examples[0].targets[0]
        p = parameters
        sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        h = sigmoid(np.array([[p["w11"], p["w12"]], [p["w21"], p["w22"]]]) @ x + [p["b1"], p["b2"]])
        y = sigmoid(p["w31"] * h[0] + p["w32"] * h[1] + p["b3"])
        assert shown(0.5 * (y - t) ** 2) in key.read_text(), key.name
        assert all(round(v, 2) == v for v in parameters.values())


def test_variant_targets_respect_the_loss():
    spec = sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml")
    for index in range(1, 6):
        examples, _ = handout.variant(spec, seed=1, index=index)
        assert sorted(examples[0].targets) == [0.0, 1.0]


# -- PDF backends, failures, atomic writes ----------------------------------------------------


def test_compile_failure_reports_latex_errors_and_keeps_the_old_file(tmp_path):
    needs_tex()
    out = tmp_path / "handout.pdf"
    out.write_bytes(b"the previous handout")
    broken = "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n"
    with pytest.raises(render.LatexError, match="Undefined control sequence"):
        render.compile_pdf(broken, out)
    assert out.read_bytes() == b"the previous handout"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handout.log", "handout.pdf"]  # TeX's log is kept


def test_without_tex_the_cli_writes_the_tex_and_says_how_to_get_a_pdf(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render, "backend", lambda: None)
    out = tmp_path / "handout.pdf"
    status = cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(out)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_FAILED
    assert not out.exists() and (tmp_path / "handout.tex").is_file()
    assert err.count("\n") == 1 and 'pip install "symbackprop[pdf]"' in err


def test_backend_prefers_latexmk_then_pdflatex_then_tinytex(monkeypatch, tmp_path):
    found = {"latexmk": "/usr/bin/latexmk", "pdflatex": "/usr/bin/pdflatex"}
    monkeypatch.setattr(shutil, "which", lambda name: found.get(name))
    assert render.backend()[0] == "latexmk"
    found.pop("latexmk")
    assert render.backend() == ["pdflatex"]
    found.pop("pdflatex")
    fake = tmp_path / "pdflatex"
    fake.write_text("")
    monkeypatch.setattr(render, "_tinytex_pdflatex", lambda: fake)
    assert render.backend() == [str(fake)]
    monkeypatch.setattr(render, "_tinytex_pdflatex", lambda: None)
    assert render.backend() is None


def test_tex_output_is_written_atomically(tmp_path):
    out = tmp_path / "handout.tex"
    assert cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(out)]) == 0
    assert out.read_text().startswith(r"\documentclass")
    assert [p.name for p in tmp_path.iterdir()] == ["handout.tex"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-o", "handout.docx"], "must end in .pdf or .tex"),
        (["-o", "h.tex", "--seed", "3"], "--seed: only used with --variants"),
        (["-o", "h.tex", "--param", "w99"], "--param: no parameter named 'w99'"),
        (["-o", "h.tex", "--decimals", "40"], "--decimals: must be a whole number from 0 to 12"),
        (["-o", "h.tex", "--templates", "no/such/folder"], "--templates: no/such/folder: not a directory"),
        (["-o", "out", "--variants", "0"], "--variants: must be at least 1"),
    ],
)
def test_cli_mistakes_are_one_line_and_exit_2(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), *arguments]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_param_chooses_what_is_written_in_full():
    document = handout.build(derivation("seed_2_2_1.yaml"), params=["w11", "b3"])
    assert [g.name for g in document.passes[0].gradients] == ["b3", "w11"]  # output layer first, as backpropagation goes
    in_tables = [row.cells[0] for table in document.passes[0].gradient_tables for row in table.rows]
    assert len(in_tables) == 7


def test_decimals_round_the_display_only():
    by_hand = seed_by_hand()
    text = render.latex(handout.build(derivation("seed_2_2_1.yaml"), decimals=3))
    assert f"{by_hand['y']:.3f}" in text and shown(by_hand["y"]) not in text
    # the update uses the full-precision gradient, not the rounded one shown
    assert f"{by_hand['new_w31']:.3f}" in text


def test_jupyter_shows_the_backward_pass():
    made = render.make(derivation("seed_2_2_1.yaml"))
    shown_latex = made._repr_latex_()
    assert shown_latex.startswith("$$") and shown_latex.endswith("$$") and "= =" not in shown_latex
    assert r"\frac{\partial L}{\partial w_{11}}" in shown_latex and shown(seed_by_hand()["grad_w11"]) in shown_latex


def test_jupyter_shows_a_batch_by_example_and_mean():
    import yaml
    from reference import numpy_fd_gradients

    raw = yaml.safe_load((EXAMPLES / "batch_2_2_1.yaml").read_text())
    shown_latex = render.make(derivation("batch_2_2_1.yaml"))._repr_latex_()
    for n in (1, 2, 3):
        assert rf"\delta_{{3}}^{{({n})}} &= " in shown_latex  # each example's δ under its own name
    expected = numpy_fd_gradients(raw, raw["parameters"])
    for name in ("w31", "w11", "b2"):
        row = next(line for line in shown_latex.split(r" \\ ") if rf"\partial {name[0]}_{{{name[1:]}}}}}" in line)
        assert row.startswith(r"\frac{\partial \bar{L}}")  # the gradient of the batch's mean loss
        assert float(row.rsplit("= ", 1)[1].split(r"\end")[0]) == pytest.approx(expected[name], abs=1e-6)


def test_big_network_is_concise():
    # wide and deep: one neuron per layer written out, the δ form instead of thousands of paths, grids, the vector form
    document = handout.build(derivation("big.yaml"))
    step = document.passes[0]
    assert document.concise and document.figure is None and document.vector_page is not None
    assert len(step.gradients) == 5  # one weight per non-input layer
    assert all(g.paths is None or len(g.paths) <= handout.CONCISE_PATHS for g in step.gradients)
    assert step.forward_table is None and step.gradient_tables == () and step.forward_grids and step.gradient_grids
    assert [row.cells[0] for row in step.updates.rows] == ["w_{33,1}", "w_{25,1}", "w_{17,1}", "w_{91}", "w_{11}"]  # output layer first


def test_small_networks_are_written_in_full():
    for name in ("seed_2_2_1.yaml", "softmax_2_3_2.yaml", "batch_2_2_1.yaml", "classifier_2_1_1.yaml"):
        document = handout.build(derivation(name))
        assert not document.concise and document.vector_page is None and not document.passes[0].gradient_grids


@pytest.mark.parametrize("spec", ["seed_2_2_1.yaml", "softmax_2_3_2.yaml", "batch_2_2_1.yaml", "big.yaml"])
def test_no_line_runs_off_the_page(tmp_path, spec):
    needs_tex()
    if shutil.which("pdflatex") is None:
        pytest.skip("the overfull-box check reads pdflatex's log")
    (tmp_path / "h.tex").write_text(render.latex(handout.build(derivation(spec))), encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "h.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "h.log").read_text(errors="replace")
    assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log
