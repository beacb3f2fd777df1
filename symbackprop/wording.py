"""The checker's words: every sentence about a student's values, from templates/check/<lang>.txt.j2."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jinja2

from symbackprop import render
from symbackprop.errors import SymbackpropError

FOLDER = "check"  # templates/check/
LANGUAGE = re.compile(r"[a-z]{2,3}")  # a language file's name, as for the handouts


class Words:
    """The language file of the checker's sentences: ``words("bias_left_out", bias="b1", z="z1")``.

    Plain text: the sentences go to a terminal, CSV, JSON and (escaped there) LaTeX and HTML.
    """

    def __init__(self, lang: str) -> None:
        if not LANGUAGE.fullmatch(lang):
            raise SymbackpropError(f"--lang: '{lang[:20]}' is not a language code; shipped: {', '.join(languages())}")
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder())), undefined=jinja2.StrictUndefined,
                                 autoescape=False, keep_trailing_newline=False)  # fmt: skip
        try:
            self.module = env.get_template(f"{lang}.txt.j2").module
        except jinja2.TemplateNotFound:
            raise SymbackpropError(f"--lang: the checker has no language '{lang}'; shipped: {', '.join(languages())}") from None
        self.lang = lang

    def __call__(self, key: str, **args: Any) -> str:
        return str(getattr(self.module, key)(**args)).strip()


def folder() -> Path:
    return render.shipped_templates() / FOLDER


def languages() -> list[str]:
    return sorted(path.name.split(".")[0] for path in folder().glob("*.txt.j2"))


@functools.lru_cache(maxsize=8)
def words(lang: str = "en") -> Words:
    """The checker's words in `lang` (read once per process)."""
    return Words(lang)
