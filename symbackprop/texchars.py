"""Unicode in user text for LaTeX: Greek letters and common maths symbols mapped, Latin accents kept, the rest refused.

pdfLaTeX with T1 fonts and UTF-8 input typesets ASCII, Latin-1 and the accented
letters of Latin Extended-A itself. Greek letters and the symbols below become
maths commands (in \\ensuremath, so they work in text and in maths). Anything else
(CJK, emoji, zero-width and bidi marks, combining marks that do not compose with
the letter before them) would stop TeX deep inside a temporary file, so it is
refused with the field and the character named.
"""

from __future__ import annotations

import unicodedata

from symbackprop.errors import SymbackpropError

ADVICE = "use Latin letters, Greek letters or common maths symbols"

_GREEK = {
    "α": r"\alpha", "β": r"\beta", "γ": r"\gamma", "δ": r"\delta", "ε": r"\varepsilon", "ζ": r"\zeta",
    "η": r"\eta", "θ": r"\theta", "ι": r"\iota", "κ": r"\kappa", "λ": r"\lambda", "μ": r"\mu", "ν": r"\nu",
    "ξ": r"\xi", "ο": "o", "π": r"\pi", "ρ": r"\rho", "ς": r"\varsigma", "σ": r"\sigma", "τ": r"\tau",
    "υ": r"\upsilon", "φ": r"\varphi", "χ": r"\chi", "ψ": r"\psi", "ω": r"\omega",
    "ϵ": r"\epsilon", "ϑ": r"\vartheta", "ϕ": r"\phi", "ϖ": r"\varpi", "ϱ": r"\varrho",
    "Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi", "Π": r"\Pi", "Σ": r"\Sigma",
    "Υ": r"\Upsilon", "Φ": r"\Phi", "Ψ": r"\Psi", "Ω": r"\Omega",
    # capitals drawn like Latin ones have no command of their own
    "Α": r"\mathrm{A}", "Β": r"\mathrm{B}", "Ε": r"\mathrm{E}", "Ζ": r"\mathrm{Z}", "Η": r"\mathrm{H}",
    "Ι": r"\mathrm{I}", "Κ": r"\mathrm{K}", "Μ": r"\mathrm{M}", "Ν": r"\mathrm{N}", "Ο": r"\mathrm{O}",
    "Ρ": r"\mathrm{P}", "Τ": r"\mathrm{T}", "Χ": r"\mathrm{X}",
}  # fmt: skip
_SYMBOLS = {
    "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim", "∝": r"\propto",
    "≪": r"\ll", "≫": r"\gg", "−": "-", "∓": r"\mp", "⋅": r"\cdot", "∘": r"\circ", "∗": r"\ast",
    "→": r"\to", "←": r"\leftarrow", "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow",
    "⇔": r"\Leftrightarrow", "↦": r"\mapsto", "↑": r"\uparrow", "↓": r"\downarrow",
    "∂": r"\partial", "∇": r"\nabla", "∑": r"\sum", "∏": r"\prod", "∫": r"\int", "√": r"\surd",
    "∞": r"\infty", "∈": r"\in", "∉": r"\notin", "⊂": r"\subset", "⊆": r"\subseteq", "∪": r"\cup",
    "∩": r"\cap", "∀": r"\forall", "∃": r"\exists", "∅": r"\emptyset", "′": r"\prime", "…": r"\ldots",
    "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "ℓ": r"\ell",
}  # fmt: skip
_PUNCTUATION = {"–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''"}

LATEX: dict[str, str] = {
    **{char: rf"\ensuremath{{{command}}}" for char, command in {**_GREEK, **_SYMBOLS}.items()},
    **{char: "{" + text + "}" for char, text in _PUNCTUATION.items()},  # braces: no ligature with what follows
}
# Latin-1 and Latin Extended-A letters that T1's UTF-8 support lacks
_NOT_IN_T1 = set("ĦħĸĿŀŉŦŧſ")


def typesettable(char: str) -> bool:
    """Whether pdfLaTeX with T1 fonts prints `char` as it is, or LATEX maps it."""
    if char in LATEX or char in "\t\n\r" or " " <= char <= "~":
        return True
    return "\u00a0" <= char <= "\u017f" and char not in _NOT_IN_T1


def normalize(text: str) -> str:
    """`text` in composed form (NFC): e followed by a combining acute becomes é."""
    return unicodedata.normalize("NFC", text)


def first_unsupported(text: str) -> str | None:
    """The first character of (normalized) `text` that cannot be typeset, or None."""
    return next((char for char in normalize(text) if not typesettable(char)), None)


def refusal(where: str, char: str) -> str:
    """The one-line message for a character that cannot be typeset; invisible ones by name."""
    code, category = f"U+{ord(char):04X}", unicodedata.category(char)
    name = unicodedata.name(char, "a control character" if category == "Cc" else "unnamed")
    visible = category[0] not in "CMZ"  # not a control, format, combining mark or separator
    shown = f"'{char}' ({code})" if visible else f"{code} ({name})"
    return f"{where}: the character {shown} cannot be typeset; {ADVICE}"


def check(where: str, text: str) -> str:
    """`text`, normalized, if every character can be typeset.

    Raises:
        SymbackpropError: names `where` and the first character that cannot be typeset.
    """
    char = first_unsupported(text)
    if char is not None:
        raise SymbackpropError(refusal(where, char))
    return normalize(text)
