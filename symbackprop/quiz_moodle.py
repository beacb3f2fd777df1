"""A quiz as Moodle XML: one category named after the spec's title, one cloze question per variant.

Each asked quantity is a NUMERICAL blank, ``{1:NUMERICAL:=value:tolerance#feedback~%0%wrong:tolerance#feedback…}``.
Moodle's cloze parser (question/type/multianswer/questiontype.php) ends a feedback at
the first ``~`` or ``}`` without a backslash before it, then decodes HTML entities
and unescapes ``\\}`` and ``\\#`` only: a ``\\~``, ``\\\\``, ``\\"`` or ``\\/`` would be shown
with its backslash. So `cloze_text` escapes } and # with a backslash, as Moodle
documents, and writes ~, \\, " and / as character references, which the parser
decodes to the character itself; & is escaped once more, so that the feedback's own
entities (&lt; of a user's <script>) come out of that decoding still escaped.
The XML itself is built with ElementTree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import markupsafe

from symbackprop import quiz, quiz_html

PENALTY = "0.3333333"  # Moodle's default for a question tried again in adaptive mode
_CLOZE = str.maketrans({"&": "&amp;", "}": "\\}", "#": "\\#", "~": "&#126;", "\\": "&#92;", '"': "&#34;", "/": "&#47;"})


def cloze_text(html: str) -> str:
    """HTML as Moodle's cloze parser reads a feedback: it decodes this back to `html`, and no ~ or } ends it early."""
    return html.translate(_CLOZE)


def number(value: float) -> str:
    """A value as a cloze NUMERICAL answer: every digit Python keeps (Moodle's pattern takes 1e-05 as well)."""
    return repr(float(value))


def blank(item: quiz.Blank, words: quiz_html.Words) -> markupsafe.Markup:
    """One NUMERICAL blank: the correct value first (Moodle takes the first answer that matches), then each mistake's."""
    tolerance = number(item.tolerance)
    answers = [f"={number(item.value)}:{tolerance}#{cloze_text(words.say('correct'))}"]
    answers += [f"%0%{number(w.value)}:{tolerance}#{cloze_text(words.causes(w.causes))}" for w in item.wrong]
    return markupsafe.Markup("{1:NUMERICAL:" + "~".join(answers) + "}")


def xml(document: quiz.Quiz) -> bytes:
    """The Moodle XML file of `document` (UTF-8)."""
    words = quiz_html.Words(document.lang)
    title = document.title or markupsafe.Markup(words.say("default_title")).unescape()
    root = ET.Element("quiz")
    category = ET.SubElement(root, "question", type="category")
    # Moodle splits a category path at "/" and reads "//" as a slash in a name
    _text(category, "category", "$course$/top/" + title.replace("/", "//"))
    _text(category, "info", words.say("category_info", len(document.variants), document.seed), format="html")
    for variant in document.variants:
        question = ET.SubElement(root, "question", type="cloze")
        name = markupsafe.Markup(words.say("question_name", title, f"{variant.number:0{len(str(len(document.variants)))}d}"))
        _text(question, "name", name.unescape())
        fields = {b.name: blank(b, words) for b in variant.blanks}
        _text(question, "questiontext", _question(document, variant, words, fields), format="html")
        _text(question, "generalfeedback", words.render("solution.html.j2", blanks=variant.blanks, decimals=document.decimals),
              format="html")  # fmt: skip
        ET.SubElement(question, "penalty").text = PENALTY
        ET.SubElement(question, "hidden").text = "0"
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _question(document: quiz.Quiz, variant: quiz.Variant, words: quiz_html.Words,
              fields: dict[str, markupsafe.Markup] | None) -> str:  # fmt: skip
    sections = tuple(dict.fromkeys(b.section for b in variant.blanks))
    return words.render("question.html.j2", course=document.course, architecture=document.architecture,
                        data=variant.data, decimals=document.decimals, blanks=variant.blanks, sections=sections,
                        fields=fields)  # fmt: skip


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> None:
    """<tag attributes><text>text</text></tag>, Moodle's shape for every text field."""
    # a plain str: ElementTree escapes with str.replace, which markupsafe.Markup overrides to escape once more
    ET.SubElement(ET.SubElement(parent, tag, **attributes), "text").text = str(text)
