"""A reader for the arithmetic the handouts print, evaluated in interval arithmetic.

Written for the round-trip test, independently of `symbackprop.printing`: it reads
the LaTeX subset a substituted line uses (numbers in fixed or a \\times 10^{k}
notation, + − \\cdot, implicit products, \\frac, powers, brackets, e^{…},
σ, tanh, ln, softplus, ReLU and the ReLU derivative 1[· > 0]) the way a reader
of the PDF would, and refuses what a reader could misread:

- TeX drops spaces in maths, so `2 0.739088` reads as the one number 20.739088;
- a number straight after a factor (`\\right) 0.3`) or a sign after an operator
  (`0.5 \\cdot -0.2`) is refused: it needs \\cdot or brackets;
- a power of a number in scientific notation needs brackets.

Every printed number stands for the interval it may have been rounded from, so the
value of an expression is an interval that contains the exact value whenever the
printed numbers are honest roundings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

FLOAT_SLACK = 1e-12  # relative: the float rounding of at most a few hundred interval operations


class ParseError(ValueError):
    """The text is not arithmetic the reader can read unambiguously."""


class Symbolic(ValueError):
    """The text names a quantity (ŷ, w_{11}, δ_3, ∂): the symbolic stage, not numbers."""


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    @staticmethod
    def exact(value: float) -> Interval:
        return Interval(value, value)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: Interval) -> Interval:
        return Interval(self.lo - other.hi, self.hi - other.lo)

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __mul__(self, other: Interval) -> Interval:
        products = [a * b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Interval(min(products), max(products))

    def __truediv__(self, other: Interval) -> Interval:
        if other.lo <= 0 <= other.hi:
            raise ParseError("division by an interval that contains 0")
        return self * Interval(1 / other.hi, 1 / other.lo)

    def power(self, n: int) -> Interval:
        if n < 0:
            return Interval.exact(1.0) / self.power(-n)
        ends = [self.lo**n, self.hi**n]
        if n % 2 == 0 and self.lo < 0 < self.hi:
            return Interval(0.0, max(ends))
        return Interval(min(ends), max(ends))

    def increasing(self, f: Callable[[float], float]) -> Interval:
        return Interval(f(self.lo), f(self.hi))

    def overlaps(self, other: Interval) -> bool:
        slack = FLOAT_SLACK * max(abs(self.lo), abs(self.hi), abs(other.lo), abs(other.hi), 1e-300)
        return self.lo <= other.hi + slack and other.lo <= self.hi + slack

    @property
    def mid(self) -> float:
        return (self.lo + self.hi) / 2


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def _softplus(z: float) -> float:
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _ln(z: float) -> float:
    if z <= 0:
        raise ParseError("ln of a number that is not positive")
    return math.log(z)


def _sqrt(z: float) -> float:
    if z < 0:
        raise ParseError("square root of a negative number")
    return math.sqrt(z)


FUNCTIONS: dict[str, Callable[[float], float]] = {
    r"\sigma": _sigmoid, r"\tanh": math.tanh, r"\ln": _ln, r"\exp": math.exp,
    "softplus": _softplus, "ReLU": lambda z: max(z, 0.0), "LeakyReLU": lambda z: z if z > 0 else 0.01 * z,
}  # fmt: skip
# commands and letters that name quantities: a part that has one is the symbolic stage
SYMBOL_COMMANDS = {r"\hat", r"\bar", r"\delta", r"\partial", r"\alpha", r"\beta", r"\gamma", r"\eta", r"\lambda",
                   r"\mathit", r"\sum", r"\prod", r"\theta", r"\mu"}  # fmt: skip
SIZED = {r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\biggl", r"\biggr"}
SPACING = {r"\,", r"\;", r"\!", r"\quad", r"\qquad", r"\displaystyle"}


@dataclass(frozen=True)
class Token:
    kind: str  # num, op, lparen, rparen, lbrace, rbrace, lbracket, rbracket, func, frac, sqrt, exp, indicator, caret, gt
    text: str
    value: Interval | None = None


_NUMBER = re.compile(r"\d[\d.\s]*")
_SCIENTIFIC = re.compile(r"\s*\\times\s*10\s*\^\s*\{\s*(-?\d+)\s*\}")
_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def _number(digits: str, exponent: int | None, *, decimals: int) -> Interval:
    """The interval a printed number was rounded from.

    Fixed point: `decimals` places with trailing zeros dropped (more if shown); a × 10^k:
    max(decimals, 2) significant digits, trailing zeros dropped (more if shown).
    """
    if digits.count(".") > 1:
        raise ParseError(f"'{digits}' is not one number (two numbers side by side?)")
    shown = len(digits.partition(".")[2])
    value = float(digits)
    if exponent is None:
        half = 0.5 * 10.0 ** -max(decimals, shown)
    else:
        half = 0.5 * 10.0 ** (exponent - max(shown, max(decimals, 2) - 1))
        value *= 10.0**exponent
    return Interval(value - half, value + half)


def tokenize(text: str, *, decimals: int) -> list[Token]:
    """Tokens of `text`; raises Symbolic at the first name of a quantity, ParseError at anything unknown."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isdigit():
            match = _NUMBER.match(text, i)
            digits = re.sub(r"\s+", "", match.group())  # TeX ignores spaces in maths: `2 0.7` reads 20.7
            i = match.start() + len(match.group().rstrip())
            scientific = _SCIENTIFIC.match(text, i)
            exponent = None
            if scientific:
                exponent = int(scientific.group(1))
                i = scientific.end()
            tokens.append(Token("num", digits if exponent is None else f"{digits}e{exponent}",
                                _number(digits, exponent, decimals=decimals)))  # fmt: skip
        elif c in "+-":
            tokens.append(Token("op", c))
            i += 1
        elif c in "(){}[]^>":
            kinds = {"(": "lparen", ")": "rparen", "{": "lbrace", "}": "rbrace", "[": "lbracket", "]": "rbracket",
                     "^": "caret", ">": "gt"}  # fmt: skip
            tokens.append(Token(kinds[c], c))
            i += 1
        elif c == "e" and text[i + 1 : i + 2] == "^":
            tokens.append(Token("exp", "e"))
            i += 1
        elif c.isalpha():
            raise Symbolic(f"'{c}' names a quantity")
        elif c == "\\":
            match = _COMMAND.match(text, i)
            command = match.group()
            i = match.end()
            if command in SIZED:
                continue  # \left( and \bigr) are brackets like ( and )
            if command == r"\cdot":
                tokens.append(Token("op", "*"))
            elif command in (r"\sigma", r"\tanh", r"\ln", r"\exp"):
                tokens.append(Token("func", command))
            elif command == r"\operatorname":
                name = re.match(r"\{([A-Za-z]+)\}", text[i:])
                if not name or name.group(1) not in FUNCTIONS:
                    raise ParseError(f"unknown function {text[i - 13 : i + 20]!r}")
                tokens.append(Token("func", name.group(1)))
                i += name.end()
            elif command == r"\mathbb" and text[i : i + 3] == "{1}":
                tokens.append(Token("indicator", r"\mathbb{1}"))
                i += 3
            elif command in (r"\frac", r"\sqrt"):
                tokens.append(Token(command[1:], command))
            elif command in SYMBOL_COMMANDS:
                raise Symbolic(f"{command} names a quantity")
            elif command in SPACING:
                continue
            else:
                raise ParseError(f"unknown command {command}")
        else:
            raise ParseError(f"unexpected character {c!r}")
    return tokens


class _Parser:
    """Recursive descent: expr := [sign] term {± term}; term := power {(\\cdot | implicit) power}."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            raise ParseError(f"expected {text or kind} at token {self.i}, found {token.text if token else 'the end'}")
        self.i += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind and (text is None or token.text == text)

    def whole(self) -> Interval:
        value = self.expr()
        if self.peek() is not None:
            raise ParseError(f"unread text from token {self.i}: {' '.join(t.text for t in self.tokens[self.i:])}")
        return value

    def expr(self) -> Interval:
        negative = False
        if self.at("op", "-") or self.at("op", "+"):
            negative = self.take("op").text == "-"
        value = self.term()
        value = -value if negative else value
        while self.at("op", "+") or self.at("op", "-"):
            sign = self.take("op").text
            right = self.term()
            value = value + right if sign == "+" else value - right
        return value

    def term(self) -> Interval:
        value = self.power()
        while True:
            if self.at("op", "*"):
                self.take("op")
                if self.at("op"):
                    raise ParseError(r"a sign straight after \cdot: the number needs brackets")
                value = value * self.power()
            elif self.peek() is not None and self.peek().kind in ("lparen", "frac", "func", "exp", "sqrt", "indicator"):
                value = value * self.power()  # juxtaposition: 2 \left(…\right), 0.5 \sigma(…)
            elif self.at("num") or self.at("lbrace"):
                raise ParseError(f"'{self.peek().text}' follows a factor without an operator")
            else:
                return value

    def power(self) -> Interval:
        scientific = self.at("num") and "e" in self.peek().text
        base = self.primary()
        if self.at("caret"):
            if scientific:
                raise ParseError("a power of a number in scientific notation needs brackets")
            self.take("caret")
            return self._raise(base, self.exponent())
        return base

    def exponent(self) -> Interval:
        """A power's exponent: ^{2} is the whole number 2, not a rounded value."""
        whole = [self.peek(k) for k in range(3)]
        if None not in whole and [t.kind for t in whole] == ["lbrace", "num", "rbrace"] and whole[1].text.isdigit():
            self.i += 3
            return Interval.exact(float(whole[1].text))
        return self.group()

    @staticmethod
    def _raise(base: Interval, exponent: Interval) -> Interval:
        n = round(exponent.mid)
        if exponent.hi - exponent.lo > 1e-3 or abs(exponent.mid - n) > 1e-3:
            raise ParseError("only whole-number powers are read (e^{…} aside)")
        return base.power(n)

    def group(self) -> Interval:
        self.take("lbrace")
        value = self.expr()
        self.take("rbrace")
        return value

    def bracketed(self) -> Interval:
        self.take("lparen")
        value = self.expr()
        self.take("rparen")
        return value

    def primary(self) -> Interval:
        token = self.peek()
        if token is None:
            raise ParseError("expression ends too early")
        if token.kind == "num":
            self.i += 1
            return token.value
        if token.kind == "lparen":
            return self.bracketed()
        if token.kind == "lbrace":
            return self.group()
        if token.kind == "frac":
            self.i += 1
            return self.group() / self.group()
        if token.kind == "sqrt":
            self.i += 1
            return self.group().increasing(_sqrt)
        if token.kind == "exp":
            self.i += 1
            self.take("caret")
            return self.group().increasing(math.exp)
        if token.kind == "func":
            self.i += 1
            exponent = None
            if self.at("caret"):  # \tanh^{2}{\left(x\right)}
                self.take("caret")
                exponent = self.exponent()
            if self.at("lbrace"):  # SymPy wraps the argument: \ln{\left(x \right)}
                self.take("lbrace")
                argument = self.bracketed()
                self.take("rbrace")
            else:
                argument = self.bracketed()
            value = argument.increasing(FUNCTIONS[token.text])
            return value if exponent is None else self._raise(value, exponent)
        if token.kind == "indicator":  # 1[a > b]
            self.i += 1
            self.take("lbracket")
            left = self.expr()
            self.take("gt")
            right = self.expr()
            self.take("rbracket")
            if left.lo > right.hi:
                return Interval.exact(1.0)
            return Interval.exact(0.0) if left.hi <= right.lo else Interval(0.0, 1.0)
        raise ParseError(f"unexpected '{token.text}' at token {self.i}")


def evaluate(text: str, *, decimals: int) -> Interval:
    """The interval of values `text` can stand for, its numbers printed at `decimals`.

    Raises:
        Symbolic: the text names a quantity.
        ParseError: the text is not arithmetic the reader can read unambiguously.
    """
    return _Parser(tokenize(text, decimals=decimals)).whole()
