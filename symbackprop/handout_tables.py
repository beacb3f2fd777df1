"""The handout's tables and the order they list parameters in: output layer first, as backpropagation goes.

Numbers in tables have a fixed number of places, so that the template can align
them on the decimal point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from symbackprop import chain, finite_diff, numeric, printing
from symbackprop.printing import Latex

TABLE_COLUMNS = 6  # examples per table


@dataclass(frozen=True)
class Phrase:
    """Words for people, by key: the language template (templates/lang/<lang>.tex.j2) has a macro of that name.

    Python says what is shown; the template says it, in the handout's language.
    """

    key: str
    args: tuple[object, ...] = ()


FROZEN = Phrase("frozen")


@dataclass(frozen=True)
class Row:
    cells: tuple[Latex, ...]
    note: Phrase | None = None


@dataclass(frozen=True)
class Table:
    caption: Phrase
    header: tuple[Latex | Phrase, ...]  # a Phrase is a column's name in words, the rest maths
    rows: tuple[Row, ...]
    notes: tuple[Phrase, ...] = ()  # what the marks in its cells mean (handout_grids), said under the table




@dataclass(frozen=True)
class GradientCheck:
    """The gradient check section: the table and its verdict."""

    table: Table
    ok: bool
    max_relative_error: Latex
    parameters: int  # of the network; the table may check a sample of them




def backward_order(derivation: chain.Derivation) -> list[str]:
    """Parameter names in the order backpropagation reaches them: output layer first, then each layer before it.

    Within a layer the network's order is kept (w31, w32, b3).
    """
    gradients = derivation.gradients
    layer = {name: max((o.neuron.layer for o in g.occurrences), default=0) for name, g in gradients.items()}
    return sorted(gradients, key=lambda name: -layer[name])




def scientific(value: float) -> Latex:
    """A relative error as 2.3 × 10^{-11} (0 when the two estimates agree exactly)."""
    if value == 0:
        return Latex("0")
    mantissa, exponent = f"{value:.1e}".split("e")
    return Latex(rf"{mantissa} \times 10^{{{int(exponent)}}}")


def forward_table(derivation: chain.Derivation, solution: numeric.Solution, decimals: int) -> Table:
    network = derivation.network
    count = len(solution.losses)
    shown = min(count, TABLE_COLUMNS)
    columns = [Phrase("value")] if count == 1 else [Latex(rf"n = {i + 1}") for i in range(shown)]
    header = (Latex(""), *columns)
    cell = lambda v: Latex(printing.number(v, decimals=decimals, fixed=True))  # noqa: E731 - aligned on the point
    rows = []
    for neuron in network.neurons:
        for symbol in (neuron.z, neuron.a):
            values = solution.forward[symbol.name][:shown]
            rows.append(Row((Latex(network.latex(symbol)), *(cell(v) for v in values))))
    rows.append(Row((Latex("L^{(n)}"), *(cell(v) for v in solution.losses[:shown]))))
    for symbol in derivation.deltas:
        values = solution.deltas[symbol.name][:shown]
        rows.append(Row((Latex(network.latex(symbol)), *(cell(v) for v in values))))
    caption = Phrase("all_values") if count == 1 else Phrase("every_example", (shown, count))
    return Table(caption, header, tuple(rows))


def gradient_tables(derivation: chain.Derivation, solution: numeric.Solution, full: Sequence[str],
                     decimals: int) -> tuple[Table, ...]:  # fmt: skip
    network = derivation.network
    tables = []
    for layer in reversed(network.layers):  # output layer first, as backpropagation goes
        names = []
        for neuron in layer:
            names += [w.name for w in neuron.weights]
            if neuron.bias is not None:
                names.append(neuron.bias.name)
        names = [n for n in dict.fromkeys(names) if n not in full]
        if not names:
            continue
        rows = []
        for name in names:
            gradient = derivation.gradients[name]
            rows.append(Row((printing.partial(network.loss_symbol, gradient.parameter, network),
                             printing.latex(gradient.delta_form, network),
                             Latex(printing.number(solution.gradients[name], decimals=decimals, fixed=True)))))  # fmt: skip
        header = (Phrase("gradient"), Phrase("delta_form"), Phrase("value"))
        tables.append(Table(Phrase("other_parameters", (layer[0].layer,)), header, tuple(rows)))
    return tuple(tables)


def update_table(derivation: chain.Derivation, parameters: Mapping[str, float], solution: numeric.Solution,
                  decimals: int, order: Sequence[str]) -> Table:  # fmt: skip
    network = derivation.network
    spec = network.spec
    by_name = {p.name: p for p in network.parameters}
    number = lambda v: Latex(printing.number(v, decimals=decimals, fixed=True))  # noqa: E731
    # old and new with the places that tell them apart: a step below the last place still shows
    step = lambda v, other: Latex(printing.number(v, decimals=decimals, unlike=other, fixed=True))  # noqa: E731
    rows = tuple(
        Row((Latex(network.latex(by_name[name])), step(parameters[name], solution.updated[name]),
             number(solution.gradients[name]), step(solution.updated[name], parameters[name])),
            FROZEN if name in spec.frozen else None)
        for name in order
    )  # fmt: skip
    loss = r"\bar{L}" if len(solution.losses) > 1 else "L"  # a batch steps along the mean's gradient
    header = (Phrase("parameter"), Phrase("old_value"), Latex(rf"\partial {loss} / \partial w"), Phrase("new_value"))
    return Table(Phrase("one_step"), header, rows)


def check_table(derivation: chain.Derivation, check: finite_diff.GradCheck, decimals: int,
                 order: Sequence[str]) -> Table:  # fmt: skip
    network = derivation.network
    by_name = {p.name: p for p in network.parameters}
    digits = decimals + 4  # enough places to see where the two estimates part
    position = {name: i for i, name in enumerate(order)}
    rows = tuple(
        Row((Latex(network.latex(by_name[r.name])), Latex(printing.number(r.chain_rule, decimals=digits, fixed=True)),
             Latex(printing.number(r.finite_difference, decimals=digits, fixed=True)),
             scientific(r.relative_error)))
        for r in sorted(check.rows, key=lambda r: position[r.name])
    )  # fmt: skip
    header = (Phrase("parameter"), Phrase("chain_rule"), Phrase("finite_difference"), Phrase("relative_error"))
    return Table(Phrase("check_caption"), header, rows)
