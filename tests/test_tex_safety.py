"""TeX cannot be turned against the user: no file read, no command run, no endless run."""

import time
from pathlib import Path

import pytest
from conftest import EXAMPLES
from test_render import needs_tex, pdf_text

import symbackprop as sbp
from symbackprop import handout, render

LOOP = r"\def\loop{\loop}\loop"
TITLES = [
    r"\openin5=/etc/passwd \read5 to\secret \secret",
    r"\immediate\write18{touch marker}",
    LOOP,
    r"\catcode`\^^M=13 \input /etc/hostname",
]


@pytest.mark.parametrize("title", TITLES)
def test_hostile_titles_are_printed_not_run(tmp_path, monkeypatch, title):
    needs_tex()
    monkeypatch.chdir(tmp_path)
    spec = sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml", title=title)
    tex = render.latex(handout.build(sbp.derive(spec)))
    # an endless loop would hit the time limit and raise; a short one proves it never ran
    out = render.compile_pdf(tex, tmp_path / "out.pdf", timeout=60)
    text = pdf_text(out)
    assert title.split()[0] in text
    assert "root:" not in text
    assert not (tmp_path / "marker").exists()


def tex_processes() -> set[int]:
    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if b"tex" in (entry / "cmdline").read_bytes().split(b"\0")[0]:
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def test_a_looping_template_is_stopped_by_the_time_limit(tmp_path):
    needs_tex()
    tex = "\\documentclass{article}\\begin{document}" + LOOP + "\\end{document}\n"
    earlier = tmp_path / "out.pdf"
    earlier.write_bytes(b"earlier output")
    before = tex_processes()
    with pytest.raises(render.LatexError, match=r"no result after 3 s; the output was not written"):
        render.compile_pdf(tex, earlier, timeout=3)
    assert earlier.read_bytes() == b"earlier output"
    if Path("/proc").is_dir():  # no TeX process (latexmk's pdflatex included) may outlive the limit
        time.sleep(0.5)
        assert tex_processes() <= before
