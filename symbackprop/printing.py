"""LaTeX for the handouts: a SymPy LatexPrinter with the network's names and the seeds' ordering.

Symbols print as `network.latex_names` says (w_{11}, h_1, \\hat{y}, \\delta_3);
products put δ first, then weights, then values, then bracketed sums, so that
δ_1 = δ_3 w_{31} h_1 (1 − h_1) reads as in the seeds; sums put positive terms
first (ŷ − t, 1 − h_1) and weighted inputs before the bias. With `values`, each
symbol prints as its number instead: the "numbers substituted" stage of a hand
calculation, which keeps the expression's shape and never evaluates it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from symbackprop.graph import Network

# Rank of a symbol's kind in a product: δ first, then parameters, then values.
_DELTA, _LOSS, _PARAMETER, _VALUE, _TARGET = range(5)


MAX_DECIMALS = 20  # enough places to tell apart any two doubles of the size handouts show


def number(value: float, *, decimals: int = 6, unlike: float | None = None, fixed: bool = False,
           mantissa: int | None = None) -> str:  # fmt: skip
    """A value as a hand calculation writes it: `decimals` places, trailing zeros dropped.

    With `fixed`, trailing zeros stay (0.498440, not 0.49844), so that a right-aligned
    table column lines up on the decimal point.

    The rule for values too small for those places: a nonzero value below 1 in
    magnitude is written a \\times 10^{k} when its rounding to `decimals` places
    says less than its rounding to two significant digits (0.012 at 2 places is not
    0.01; 0.0000014 at 6 places is not 0.000001; anything that rounds to 0). The
    mantissa then keeps max(decimals, 2) significant digits, trailing zeros dropped:
    1.4 \\times 10^{-6}, 2.5 \\times 10^{-5}. Exact values (0.05, 0.01) and values
    the places already give to two significant digits (0.0496 → 0.05) stay as they are.

    Args:
        mantissa: significant digits of a value written a \\times 10^{k} (default max(decimals, 2));
            a grid of many values keeps its columns narrow with 3.
        unlike: another value this one is shown beside (a parameter before and after
            its update): places are added, up to MAX_DECIMALS, until the two print
            differently, so that a step smaller than the last place still shows.
            Print both with `unlike` set to the other to give them the same places.
    """
    if not math.isfinite(value):
        return r"\infty" if value > 0 else (r"-\infty" if value < 0 else r"\mathrm{NaN}")
    if unlike is not None and value != unlike:
        while decimals < MAX_DECIMALS and number(value, decimals=decimals) == number(unlike, decimals=decimals):
            decimals += 1
    text = f"{value:.{decimals}f}"
    if abs(value) < 1 and _significant(text) < 2 and float(text) != float(f"{value:.1e}"):
        digits, exponent = f"{value:.{(mantissa or max(decimals, 2)) - 1}e}".split("e")
        return rf"{_strip(digits)} \times 10^{{{int(exponent)}}}"
    if float(text) == 0:
        text = text.lstrip("-")  # never -0
    return text if fixed else (_strip(text) or "0")


def _significant(text: str) -> int:
    """Significant digits of a fixed-point number as printed, trailing zeros included (0.0100 has 3)."""
    digits = text.lstrip("-").replace(".", "").lstrip("0")
    return len(digits)


def _strip(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


class HandoutPrinter(LatexPrinter):
    """Expression LaTeX in the network's notation, optionally with numbers substituted."""

    printmethod = "_latex"

    def __init__(self, network: Network, *, values: Mapping[sympy.Symbol, float] | None = None,
                 decimals: int = 6) -> None:  # fmt: skip
        super().__init__({"mul_symbol": None, "ln_notation": True})
        self.network = network
        self.values = dict(values or {})
        self.decimals = decimals
        self._kind: dict[sympy.Symbol, int] = {}
        self._position: dict[sympy.Symbol, int] = {}
        ordered = [n.delta for n in network.neurons] + list(network.parameters)
        ordered += [*network.inputs, *(n.a for n in network.neurons), *(n.z for n in network.neurons)]
        for position, symbol in enumerate([network.loss_symbol, *ordered, *network.targets]):
            self._position.setdefault(symbol, position)
        for neuron in network.neurons:
            self._kind[neuron.delta] = _DELTA
        for symbol in network.parameters:
            self._kind[symbol] = _PARAMETER
        for symbol in network.targets:
            self._kind[symbol] = _TARGET
        self._kind[network.loss_symbol] = _LOSS

    # -- symbols and numbers -------------------------------------------------------------

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        if expr in self.values:
            return number(self.values[expr], decimals=self.decimals)
        return self.network.latex_names.get(expr) or super()._print_Symbol(expr, style)

    def _print_Float(self, expr: sympy.Float) -> str:
        return number(float(expr), decimals=self.decimals)

    def _is_negative_number(self, expr: sympy.Expr) -> bool:
        if expr in self.values:
            return self.values[expr] < 0 or number(self.values[expr], decimals=self.decimals).startswith("-")
        return False

    def parenthesize(self, item, level, is_neg=False, strict=False) -> str:  # noqa: D102 - LatexPrinter API
        # a negative number put in for a symbol needs brackets wherever the symbol did not
        text = super().parenthesize(item, level, is_neg=is_neg, strict=strict)
        if self._is_negative_number(item) and not text.startswith(r"\left("):
            return rf"\left({text}\right)"
        return text

    # -- ordering --------------------------------------------------------------------------

    def _symbol_key(self, symbol: sympy.Symbol) -> tuple[int, int]:
        return self._kind.get(symbol, _VALUE), self._position.get(symbol, len(self._position))

    def _factor_key(self, factor: sympy.Expr) -> tuple:
        if factor.is_Number:
            return (0,)
        if isinstance(factor, sympy.Symbol):
            return (1, *self._symbol_key(factor))
        base = factor.base if isinstance(factor, sympy.Pow) else factor
        if isinstance(base, sympy.Symbol):
            return (1, *self._symbol_key(base), 1)
        if isinstance(factor, sympy.Add):
            return (3, self._term_key(factor))
        return (2, sympy.default_sort_key(factor))

    def _term_key(self, term: sympy.Expr) -> tuple:
        coefficient, rest = term.as_coeff_Mul()
        negative = coefficient.is_negative is True
        if rest == 1 or rest.is_Number:
            return (negative, 0)
        symbols = sorted((self._symbol_key(s) for s in rest.free_symbols), key=lambda k: k[1])
        # a product (w x) before a lone parameter (b): the bias comes last, as the seeds write z
        lone_parameter = isinstance(rest, sympy.Symbol) and self._kind.get(rest) == _PARAMETER
        return (negative, 1, lone_parameter, [k[1] for k in symbols])

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        terms = sorted(expr.args, key=self._term_key)
        text = ""
        for i, term in enumerate(terms):
            coefficient, rest = term.as_coeff_Mul()
            if coefficient.is_negative:
                body = self._print_term(-term)
                text += f" - {body}" if i else f"-{body}"
            else:
                body = self._print_term(term)
                text += f" + {body}" if i else body
        return text

    def _print_term(self, term: sympy.Expr) -> str:
        if isinstance(term, sympy.Add):
            return rf"\left({self._print(term)}\right)"
        return self.parenthesize(term, PRECEDENCE["Add"], strict=True)

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        if coefficient.is_negative:
            return "-" + self.parenthesize(-expr, PRECEDENCE["Mul"], strict=True)
        numerator, denominator = sympy.fraction(rest, exact=True)
        if denominator != 1:
            fraction = rf"\frac{{{self._print(coefficient * numerator)}}}{{{self._print(denominator)}}}"
            return fraction
        factors = sorted(sympy.Mul.make_args(rest), key=self._factor_key)
        text = self.product(factors)
        if coefficient == 1:
            return text
        # ½ (ŷ − t)² and 2 ŷ, as the seeds write them; but 2 · 0.739088, which juxtaposed reads 20.739088
        joiner = r" \cdot " if self._prints_as_number(factors[0]) else " "
        return f"{self._print(coefficient)}{joiner}{text}"

    def _prints_as_number(self, factor: sympy.Expr) -> bool:
        """True when `factor` starts with a number once printed: a number, a substituted symbol, or a power of one."""
        base = factor.base if isinstance(factor, sympy.Pow) and factor.exp.is_Integer and factor.exp > 0 else factor
        return base.is_Number or base in self.values

    def product(self, factors: Sequence[sympy.Expr], *, separator: str | None = None) -> str:
        """Factors in the given order, juxtaposed for symbols and joined by · once numbers appear.

        Only sums and negative factors get brackets, so a chain reads (ŷ − t) · ŷ(1 − ŷ) · w_{31}.
        """
        level = PRECEDENCE["Mul"] if separator is None else PRECEDENCE["Add"]
        printed = [rf"\left({self._print(f)}\right)" if i and f.could_extract_minus_sign()
                   else self.parenthesize(f, level, strict=False) for i, f in enumerate(factors)]  # fmt: skip
        if separator is None:
            numeric = any(f.free_symbols & self.values.keys() or f.is_Number for f in factors)
            separator = r" \cdot " if numeric else " "
        return separator.join(printed)

    # -- derivatives -------------------------------------------------------------------------

    def _print_Derivative(self, expr: sympy.Derivative) -> str:
        (variable, count), = expr.variable_count
        power = f"^{{{count}}}" if count > 1 else ""
        return rf"\frac{{\partial{power} {self._print(expr.expr)}}}{{\partial {self._print(variable)}{power}}}"

    def partial(self, of: sympy.Symbol, wrt: sympy.Symbol) -> str:
        """∂of/∂wrt in Leibniz notation (names only, never numbers)."""
        names = HandoutPrinter(self.network, decimals=self.decimals)
        return names._print(sympy.Derivative(of, wrt, evaluate=False))

def signed_sum(values: Sequence[float], *, decimals: int = 6) -> str:
    """a + b − c for numbers, as a sum is written: a negative term is subtracted, not added."""
    text = ""
    for i, value in enumerate(values):
        shown = number(value, decimals=decimals)
        if shown.startswith("-"):
            text += f" - {shown[1:]}" if i else shown
        else:
            text += f" + {shown}" if i else shown
    return text


class Latex(str):
    """Text that is LaTeX already (made by this printer or a template), so it is not escaped."""


def latex(expr: sympy.Expr, network: Network, *, values: Mapping[sympy.Symbol, float] | None = None,
          decimals: int = 6) -> str:  # fmt: skip
    """`expr` in the network's notation; with `values`, every known symbol replaced by its number."""
    return Latex(HandoutPrinter(network, values=values, decimals=decimals).doprint(expr))


def chain(factors: Sequence[sympy.Expr], network: Network, *, values: Mapping[sympy.Symbol, float] | None = None,
          decimals: int = 6) -> str:  # fmt: skip
    """A product in the order given (one chain-rule path), factors joined by ·."""
    printer = HandoutPrinter(network, values=values, decimals=decimals)
    return Latex(printer.product(list(factors), separator=r" \cdot "))


def wrapped_sum(terms: Sequence[sympy.Expr], network: Network, *, values: Mapping[sympy.Symbol, float],
                decimals: int = 6, per_row: int = 4) -> str:  # fmt: skip
    """A long sum with its numbers put in, `per_row` terms to a row of an align; later rows go on with \\quad + …."""
    printer = HandoutPrinter(network, values=values, decimals=decimals)
    shown = [printer._print(t) for t in terms]
    pieces = [shown[0], *(f"- {t[1:].lstrip()}" if t.startswith("-") else f"+ {t}" for t in shown[1:])]
    rows = [" ".join(pieces[i : i + per_row]) for i in range(0, len(pieces), per_row)]
    return Latex(" \\\\*\n&\\quad ".join(rows))


def elided_sum(terms: Sequence[sympy.Expr], network: Network, *, keep: int = 2) -> Latex:
    """A long sum written as its first `keep` terms, ⋯, and its last two (the last weight and the bias)."""
    printer = HandoutPrinter(network)
    shown = [printer._print(t) for t in terms]
    if len(shown) > keep + 3:
        shown = [*shown[:keep], r"\cdots", *shown[-2:]]
    return Latex(" + ".join(shown))


def partial(of: sympy.Symbol, wrt: sympy.Symbol, network: Network) -> str:
    """∂of/∂wrt with the network's names."""
    return Latex(HandoutPrinter(network).partial(of, wrt))
