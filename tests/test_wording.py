"""The checker's sentences come from templates/check/<lang>.txt.j2: every language has every one, in its own words."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

import symbackprop as sbp
from symbackprop import check, mistakes, student_sheet, wording
from symbackprop.errors import SymbackpropError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NETWORKS = [
    yaml.safe_load((EXAMPLES / name).read_text())
    for name in ("seed_2_2_1.yaml", "classifier_2_1_1.yaml", "batch_2_2_1.yaml", "softmax_2_3_2.yaml")
] + [
    dict(layers=[2, 2, 2], activation=["tanh", "sigmoid"], loss="mse", inputs=[0.35, 0.9], targets=[0.1, 0.8]),
    dict(layers=[2, 2, 1], activation=["relu", "sigmoid"], loss="half_squared_error", inputs=[0.5, 0.25], targets=[1]),
]
TRANSLATED = [lang for lang in wording.languages() if lang != "en"]


def macros(lang: str) -> dict[str, list[str]]:
    module = wording.words(lang).module
    return {name: list(macro.arguments) for name, macro in inspect.getmembers(module) if hasattr(macro, "arguments")}


def test_the_shipped_languages():
    assert wording.languages() == ["de", "en", "fr"]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_sentence_has_a_translation_with_the_same_arguments(lang):
    assert macros(lang) == macros("en")


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_mistake_of_every_network_is_said_in_the_language(lang):
    for raw in NETWORKS:
        prog = mistakes.program(sbp.derive(sbp.build_spec(**raw)))
        english = mistakes.catalogue(prog)
        translated = mistakes.catalogue(prog, lang=lang)
        assert [m.kind for m in translated] == [m.kind for m in english]
        for a, b in zip(english, translated):
            assert b.explanation and b.explanation != a.explanation, (lang, a.explanation)


def test_a_diagnosis_in_german(tmp_path):
    derivation = sbp.derive(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml"))
    answers = student_sheet.from_mapping({"forward": {"z1": "0.3300", "z2": "0.9500"}})
    (_, z2) = check.check(derivation, answers, lang="de").marks
    assert z2.diagnosis == "passt zu: in z2 wurde x1 statt x2 verwendet; oder zwei Ziffern wurden vertauscht: 0.9500 statt 0.5900"
    # by hand: δ3 = (ŷ − t)·ŷ(1 − ŷ) = 0.0268; with the ½ dropped, twice that
    (delta3,) = check.check(derivation, student_sheet.from_mapping({"deltas": {"delta3": "0.0536"}}), lang="de").marks
    assert delta3.diagnosis == "das ½ des quadratischen Fehlers ½(ŷ − t)² wurde weggelassen: ein Faktor 2 zu groß"


@pytest.mark.parametrize("lang", ["xx", "../en", "EN", ""])
def test_an_unknown_language_is_one_clear_error(lang):
    with pytest.raises(SymbackpropError, match="--lang: .*shipped: de, en, fr"):
        wording.Words(lang)
