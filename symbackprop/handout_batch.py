"""A batch in the handout: each example's values marked (n), one line per example, and the batch means.

The network's formulas hold for every example; what differs is the values. In a
batch, every per-example quantity (x, t, z, h, ŷ, δ, L) prints with the example's
index as a superscript, L^{(n)} and δ_3^{(n)}, so that no line mixes examples,
and each gradient of the batch loss is written as the mean of the examples'
terms: ∂L̄/∂w = 1/N Σ_n δ^{(n)} · input^{(n)}.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import sympy

from symbackprop import printing
from symbackprop.graph import Network
from symbackprop.printing import Latex

MEAN_LOSS_NAME = r"\bar{L}"  # the batch loss, as the notation table defines it


@dataclass(frozen=True)
class ExampleLine:
    """One example's value of a quantity: question number, name with (n), numbers substituted, value."""

    number: int
    lhs: Latex
    substituted: Latex | None  # None when the sum is too long to write out (the tables have its terms)
    value: Latex


@dataclass(frozen=True)
class Mean:
    """A gradient of the batch loss written out: the mean in symbols, each example's product, their values."""

    number: int
    lhs: Latex
    symbolic: Latex
    products: tuple[Latex, ...]  # one row per worked example; none when each term is a single number (a bias)
    terms: Latex
    value: Latex


def indexed(network: Network, example: int | str) -> Network:
    """`network` whose per-example symbols (x, t, z, h, ŷ, δ, L) print with the superscript (example)."""
    per_example = {*network.inputs, *network.targets, network.loss_symbol}
    for neuron in network.neurons:
        per_example.update((neuron.z, neuron.a, neuron.delta))
    names = dict(network.latex_names)
    for symbol in per_example:
        name = names.get(symbol, symbol.name)
        base = f"{{{name}}}" if "^" in name else name  # a renamed symbol with its own superscript: no double ^
        names[symbol] = f"{base}^{{({example})}}"
    return dataclasses.replace(network, latex_names=names)


def mean_of(network: Network) -> Network:
    """`network` whose loss prints as the batch loss L̄, for ∂L̄/∂w."""
    return dataclasses.replace(network, latex_names={**network.latex_names, network.loss_symbol: MEAN_LOSS_NAME})


def mean(network: Network, *, number: int, parameter: sympy.Symbol, delta_form: sympy.Expr,
         values: Sequence[dict[sympy.Symbol, float]], per_example: Sequence[float], total: float,
         decimals: int, shown: int) -> Mean:  # fmt: skip
    """∂L̄/∂parameter as the mean of the examples' δ forms.

    Args:
        values: the worked examples' values (their products are written out).
        per_example: every example's gradient; the first `shown` are written as terms.
        total: the batch gradient.
    """
    count = len(per_example)
    fraction = rf"\frac{{1}}{{{count}}}"
    symbolic = Latex(rf"{fraction} \sum_{{n=1}}^{{{count}}} {printing.latex(delta_form, indexed(network, 'n'))}")
    products: tuple[Latex, ...] = ()
    if not delta_form.is_Symbol:
        # one row per example: a row of three products would run past a column beside a figure
        texts = [printing.latex(delta_form, network, values=v, decimals=decimals) for v in values]
        if delta_form.is_Add:  # a tied parameter: each example's term is a sum
            texts = [rf"\left({t}\right)" for t in texts]
        texts += [r"\dots"] if count > len(values) else []
        rows = [rf"{fraction}\bigl({texts[0]}", *(rf"\qquad + {t}" for t in texts[1:])]
        rows[-1] += r"\bigr)"
        products = tuple(map(Latex, rows))
    terms = printing.signed_sum(per_example[:shown], decimals=decimals) + (r" + \dots" if count > shown else "")
    return Mean(
        number=number, lhs=printing.partial(network.loss_symbol, parameter, mean_of(network)), symbolic=symbolic,
        products=products, terms=Latex(rf"{fraction}\left({terms}\right)"),
        value=Latex(printing.number(total, decimals=decimals)),
    )  # fmt: skip
