"""A quiz's HTML: the Jinja2 environment of templates/quiz/, its escaping, and the words for each mistake.

Every value a template prints is HTML-escaped (autoescape), and its braces are
written as character references, so that no user text or LaTeX can open a
Moodle cloze blank ``{1:NUMERICAL:…}``; the browser still shows (and MathJax
still reads) the braces. User text is printed through the `plain` filter, inside
an element MathJax and Moodle's filters skip, so a title such as ``\\(x\\)`` is
shown as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jinja2
import markupsafe

from symbackprop import quiz, render
from symbackprop.errors import SymbackpropError

FOLDER = "quiz"  # templates/quiz/
NOT_MATHS = "nolink tex2jax_ignore"  # classes MathJax (2 and 3) and Moodle's filters leave alone


def escape(value: object) -> markupsafe.Markup:
    """HTML text of `value` with { and } as character references (our own markup passes as it is)."""
    if isinstance(value, markupsafe.Markup):
        return value
    return markupsafe.Markup(str(markupsafe.escape(value)).replace("{", "&#123;").replace("}", "&#125;"))


def plain(value: object) -> markupsafe.Markup:
    """User text, shown as written: escaped, and out of reach of MathJax and Moodle's filters."""
    return markupsafe.Markup(f'<span class="{NOT_MATHS}">{escape(value)}</span>')


def environment() -> jinja2.Environment:
    """The quiz templates' environment: HTML autoescape, braces escaped, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(render.shipped_templates() / FOLDER)),
        autoescape=True, finalize=escape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )  # fmt: skip
    env.filters["plain"] = plain
    return env


class Words:
    """The language file templates/quiz/lang/<lang>.html.j2 and the quiz's templates."""

    def __init__(self, lang: str) -> None:
        self.env = environment()
        try:
            self.module = self.env.get_template(f"lang/{lang}.html.j2").module
        except jinja2.TemplateNotFound:
            shipped = ", ".join(sorted(p.name.split(".")[0] for p in (render.shipped_templates() / FOLDER / "lang").glob("*.html.j2")))
            raise SymbackpropError(f"--lang: no quiz language '{lang}'; shipped: {shipped}") from None

    def say(self, key: str, *args: Any) -> markupsafe.Markup:
        return markupsafe.Markup(str(getattr(self.module, key)(*args)).strip())

    def causes(self, causes: Sequence[quiz.Cause]) -> markupsafe.Markup:
        """The feedback for a wrong value: each mistake that gives it, in the language file's words.

        A kind the language file has no ``mistake_<kind>`` macro for is said with the catalogue's sentence.
        """
        said = [self.say(f"mistake_{c.kind}", c.explanation) if hasattr(self.module, f"mistake_{c.kind}")
                else self.say("mistake_other", c.explanation) for c in causes]  # fmt: skip
        return self.say("either", said) if len(said) > 1 else said[0]

    def render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(words=self.module, **values)
