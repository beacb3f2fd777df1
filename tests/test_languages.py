"""The German and French language templates: the same macros as the English one, no English left on the page,
and umlauts and accents that come out of both TeX backends as letters.

Oracles: the English template's macro names and argument names (jinja2 Macro.arguments); the English
rendering of the same document (its headings sit at the same places); `pdftotext` of the compiled PDF.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import jinja2
import pytest

import symbackprop as sbp
from symbackprop import handout, mistakes, render, spec as spec_module, train
from conftest import EXAMPLES

LANGUAGES = ("de", "fr")
# headings the English template words, which must not reach a German or French page
ENGLISH_HEADINGS = (
    "The network", "Notation and definitions", "The rules of backpropagation", "Common mistakes", "Forward pass",
    "Backward pass", "Error signals", "Gradient check", "Gradient-descent step", "Input and target",
    "Every example", "All values", "One gradient-descent step", "Parameters before and after",
)  # fmt: skip
# a heading may read the same in both languages only when it is that language's word too
SAME_WORD = {"de": {"Training"}, "fr": {"Gradients"}}
# what the handout's own words must show in the PDF: letters with umlauts and accents, read back as such
READ_BACK = {
    "de": ("Vorwärtsdurchlauf", "Rückwärtsdurchlauf", "Fehlersignale", "Häufige Fehler", "Gradientenprüfung",
           "Eingabe und Zielwert:", "Verdeckte Schicht", "Lernrate"),
    "fr": ("Propagation avant", "Les règles de la rétropropagation", "Signaux d'erreur", "Erreurs fréquentes",
           "Vérification du gradient", "Entrée et cible :", "couche cachée", "taux d'apprentissage"),
}  # fmt: skip
HEADING = re.compile(r"^\\(?:sub)*section\*\{(.*)\}\s*$", re.MULTILINE)
BOLD = re.compile(r"\\textbf\{([^{}$]*)\}")


def macros(env: jinja2.Environment, lang: str) -> dict[str, tuple[str, ...]]:
    """The language template's macros, by name, with their argument names."""
    module = env.get_template(f"lang/{lang}.tex.j2").module
    return {name: tuple(value.arguments) for name, value in vars(module).items() if isinstance(value, jinja2.runtime.Macro)}


def shipped_examples() -> list[Path]:
    """Every example spec with numbers to work through (seed_answers.yaml is a student's answers, not a spec)."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name == "seed_answers.yaml":
            continue
        if spec_module.load(path).examples:
            found.append(path)
    return found


def seed_document(**options) -> handout.Document:
    spec = spec_module.load(EXAMPLES / "seed_2_2_1.yaml")
    return handout.build(sbp.derive(spec), **options)


def in_language(document: handout.Document, lang: str) -> str:
    return render.latex(dataclasses.replace(document, lang=lang))


def assert_no_english(english: str, translated: str, lang: str) -> None:
    for heading in ENGLISH_HEADINGS:
        assert heading not in translated, f"{lang}: the English '{heading}' is on the page"
    # the same document in both languages has its headings at the same places: none may stay English
    body = lambda tex: tex.split(r"\begin{document}", 1)[1]  # noqa: E731 - the preamble's course header is user text
    pairs = [(HEADING, "heading"), (BOLD, "bold heading")]
    for pattern, what in pairs:
        theirs, ours = pattern.findall(body(english)), pattern.findall(body(translated))
        assert len(theirs) == len(ours), f"{lang}: {len(ours)} {what}s, English has {len(theirs)}"
        kept = [e for e, t in zip(theirs, ours) if e == t and e not in SAME_WORD[lang]]
        assert not kept, f"{lang}: {what}s left in English: {kept}"


# --- the templates ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_template_defines_the_english_macros_with_the_same_arguments(lang):
    env = render.environment()
    english, translated = macros(env, "en"), macros(env, lang)
    assert english, "the English template defines no macros"
    assert sorted(set(english) - set(translated)) == [], f"lang/{lang}.tex.j2 lacks these macros"
    assert sorted(set(translated) - set(english)) == [], f"lang/{lang}.tex.j2 has macros the English one has not"
    differing = {name: (english[name], translated[name]) for name in english if english[name] != translated[name]}
    assert differing == {}, "(English, translated) argument names differ"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_mistake_kind_is_worded_in_the_language(lang):
    """Each kind the English box words has its own wording, not the bare key the fallback prints."""
    env = render.environment()
    english = env.get_template("lang/en.tex.j2").module
    translated = env.get_template(f"lang/{lang}.tex.j2").module
    for kind in mistakes.KINDS:
        bare = render.escape(kind)  # what the fallback branch prints
        if str(english.mistake(kind)).strip() == bare:
            continue  # English has no words for it either: the rules box does not list it
        words = str(translated.mistake(kind)).strip()
        assert words not in (bare, str(english.mistake(kind)).strip()), f"{lang}: {kind} is not translated"


# --- the handouts -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", shipped_examples(), ids=lambda p: p.stem)
def test_handout_of_every_example_has_no_english_heading(path, lang):
    derivation = sbp.derive(spec_module.load(path))
    for mode in ("worked", "exercise"):
        document = handout.build(derivation, mode=mode)
        assert_no_english(in_language(document, "en"), in_language(document, lang), lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_training_section_and_several_steps_have_no_english_heading(lang):
    spec = spec_module.load(EXAMPLES / "seed_2_2_1.yaml")
    run = handout.trained(spec, train.spec_data(spec), epochs=3, batch_size=1)
    document = handout.build(sbp.derive(spec), training=run, steps=2)
    english, translated = in_language(document, "en"), in_language(document, lang)
    assert_no_english(english, translated, lang)
    assert "epoch" not in translated.lower().replace("epoche", "")  # the axis, the result and the table header


# --- the PDF, with both TeX backends ------------------------------------------------------------


def backends():
    found = [pytest.param(["pdflatex"] if shutil.which("pdflatex") else None, id="pdflatex")]
    tinytex = render._tinytex_pdflatex()
    found.append(pytest.param([str(tinytex)] if tinytex else None, id="tinytex"))
    return found


def pdftotext(path: Path) -> str:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")  # ligatures, no-break spaces; TeX's ' is a ’
    return " ".join(text.split())


@pytest.mark.parametrize("command", backends())
@pytest.mark.parametrize("lang", LANGUAGES)
def test_seed_handout_compiles_and_its_umlauts_and_accents_read_back(tmp_path, lang, command):
    if command is None:
        pytest.skip("this TeX is not installed (pdflatex on the PATH, or the [pdf] extra's TinyTeX)")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is needed to read the PDF back")
    tex = in_language(seed_document(), lang)
    pdf = render.compile_pdf(tex, tmp_path / f"seed_{lang}.pdf", command=command)
    text = pdftotext(pdf)
    for words in READ_BACK[lang]:
        assert words in text, f"{lang}: '{words}' is not in the PDF's text"
    assert {"de": "Rückwärts", "fr": "rétropropagation"}[lang] in text
    for garbled in ("Ã", "Â", "\ufffd"):  # UTF-8 read as Latin-1, or a glyph TeX could not map
        assert garbled not in text
