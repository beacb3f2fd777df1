"""The equations of one gradient-descent step: each quantity in symbols, with its numbers put in, and its value.

`Layout` builds them in page order (so question numbers increase down the pages):
the forward pass (z then a per neuron), the loss, each δ and each gradient as the
chain rule over its paths, its local factors, the δ form and the numbers. A batch
gives each example's line under its own name, δ^{(n)}, and each gradient as a mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, graph, handout_batch, handout_figure, handout_output, numeric, ops, printing
from symbackprop.handout_tables import TABLE_COLUMNS
from symbackprop.printing import Latex
from symbackprop.spec import Example

INLINE_FAN_IN = 5  # wider sums are written with their symbols elided and their numbers over several rows
LISTED_PATHS, LISTED_FACTORS = 8, 7  # longer chain-rule sums do not fit a line; the δ form stands for them
WIDE_LAYER = 4  # a layer with more neurons shows its first neuron in full, the rest in a table


@dataclass(frozen=True)
class Step:
    """One quantity as a hand calculation writes it: symbols, numbers substituted, value."""

    number: int
    lhs: Latex
    symbolic: Latex
    substituted: Latex | None
    value: Latex


@dataclass(frozen=True)
class Derivative:
    """∂L/∂(something) written out: Leibniz paths, local factors, δ form, numbers, value.

    A single example gives one chain of numbers (`substituted`, `values`, `value`).
    A batch gives a δ one numbered line per example (`examples`) and a gradient the
    mean over the examples (`mean`); `number` is then None, the lines carry the numbers.
    """

    number: int | None
    name: str
    lhs: Latex
    paths: tuple[Latex, ...] | None  # one line per chain-rule path; None when too many
    path_count: int
    path_expressions: tuple[Latex, ...] | None
    path_values: tuple[Latex, ...] | None  # each local factor's value (single example only)
    delta_form: Latex | None
    substituted: tuple[Latex, ...]  # per worked example
    values: tuple[Latex, ...]  # per worked example
    mean: handout_batch.Mean | None  # a batch gradient: the mean written out
    value: Latex
    frozen: bool
    figure: handout_figure.Figure | None
    examples: tuple[handout_batch.ExampleLine, ...] = ()  # a batch δ: one line per worked example
    simplified: Latex | None = None  # an output δ that simplifies to ŷ − t
    why: str | None = None  # which cancellation simplifies it (handout_output.CANCELLING); the template says why


def values(derivation: chain.Derivation, examples: Sequence[Example], parameters: Mapping[str, float],
            solution: numeric.Solution) -> list[dict[sympy.Symbol, float]]:  # fmt: skip
    network = derivation.network
    per_example = []
    for i, example in enumerate(examples):
        values = {p: float(parameters[p.name]) for p in network.parameters}
        values.update(zip(network.inputs, example.inputs))
        values.update(zip(network.targets, example.targets))
        for neuron in network.neurons:
            values[neuron.z] = float(solution.forward[neuron.z.name][i])
            values[neuron.a] = float(solution.forward[neuron.a.name][i])
            values[neuron.delta] = float(solution.deltas[neuron.delta.name][i])
        values[network.loss_symbol] = float(solution.losses[i])
        per_example.append(values)
    return per_example


class Layout:
    """Equation builders for one derivation, its worked examples' values and a display precision."""

    def __init__(self, derivation: chain.Derivation, decimals: int, values: list[dict[sympy.Symbol, float]], *,
                 batch: bool, numbered: int = 0, listed: int = LISTED_PATHS) -> None:  # fmt: skip
        self.derivation = derivation
        self.network = derivation.network
        self.decimals = decimals
        self.values = values
        self.batch = batch
        self.count = numbered  # question numbers, in the order the handout asks them; `numbered` already asked
        self.listed = listed  # a gradient's chain-rule paths are listed up to this many

    def _next(self) -> int:
        self.count += 1
        return self.count

    def tex(self, expr: sympy.Expr, example: int | None = None) -> Latex:
        values = None if example is None else self.values[example]
        return printing.latex(expr, self.network, values=values, decimals=self.decimals)

    def names(self, example: int) -> graph.Network:
        """The network as example `example` (0-based) names its values: marked L^{(1)}, z_1^{(1)} in a batch."""
        return handout_batch.indexed(self.network, example + 1) if self.batch else self.network

    def named(self, expr: sympy.Expr, example: int) -> Latex:
        """`expr` in symbols, with example `example`'s names."""
        return printing.latex(expr, self.names(example), decimals=self.decimals)

    def number(self, value: float) -> Latex:
        return Latex(printing.number(value, decimals=self.decimals))

    def evaluate(self, expr: sympy.Expr, example: int) -> float:
        numbers = {s: sympy.Float(v) for s, v in self.values[example].items()}
        return float(ops.to_standard_sympy(expr).xreplace(numbers).evalf())

    def forward_steps(self, example: int) -> tuple[Step, ...]:
        """z then a of each neuron; a wide layer shows its first neuron, the table has the rest."""
        steps = []
        network = self.network
        for layer in network.layers:
            shown = layer if len(layer) <= WIDE_LAYER else layer[:1]
            for neuron in shown:
                definition = network.z_definition(neuron)
                numbers = self.tex(definition, example)
                symbolic = self.named(definition, example)
                if len(neuron.weights) > INLINE_FAN_IN:  # the symbols elided, the numbers over several rows
                    terms = [w * a for w, a in zip(neuron.weights, network.sources(neuron.layer))]
                    terms += [neuron.bias] if neuron.bias is not None else []
                    symbolic = printing.elided_sum(terms, self.names(example))
                    numbers = printing.wrapped_sum(terms, network, values=self.values[example], decimals=self.decimals)
                steps.append(Step(self._next(), self.named(neuron.z, example), symbolic, numbers,
                                  self.number(self.values[example][neuron.z])))  # fmt: skip
            for neuron in shown:
                definition = network.a_definition(neuron)
                numbers = self.tex(definition, example)  # σ(0.33): the activation of the number just computed
                steps.append(Step(self._next(), self.named(neuron.a, example), self.named(definition, example), numbers,
                                  self.number(self.values[example][neuron.a])))  # fmt: skip
        return tuple(steps)

    def loss_step(self, example: int, loss: float) -> Step:
        network = self.network
        return Step(self._next(), self.named(network.loss_symbol, example), self.named(network.loss, example),
                    self.tex(network.loss, example), self.number(loss))  # fmt: skip

    def mean_loss(self, solution: numeric.Solution) -> Step:
        count = len(solution.losses)
        terms = printing.signed_sum(solution.losses[:TABLE_COLUMNS], decimals=self.decimals)
        if count > TABLE_COLUMNS:
            terms += r" + \dots"
        symbolic = Latex(rf"\frac{{1}}{{{count}}} \sum_{{n=1}}^{{{count}}} L^{{(n)}}")
        return Step(self._next(), Latex(handout_batch.MEAN_LOSS_NAME), symbolic, Latex(rf"\frac{{1}}{{{count}}}\left({terms}\right)"),
                    self.number(solution.loss))  # fmt: skip

    def _path_values(self, chains: Sequence[chain.Chain]) -> tuple[Latex, ...] | None:
        """Each path's local factors as numbers (single example only; a batch has one set each)."""
        if len(self.values) != 1:
            return None
        return _sum_lines([printing.chain([sympy.Float(self.evaluate(f.expression, 0)) for f in c], self.network,
                                          decimals=self.decimals) for c in chains])  # fmt: skip

    def _paths(self, chains: Sequence[chain.Chain]) -> tuple[tuple[Latex, ...], tuple[Latex, ...]]:
        partials = [Latex(r" \cdot ".join(printing.partial(f.of, f.wrt, self.network) for f in c)) for c in chains]
        expressions = [printing.chain([f.expression for f in c], self.network) for c in chains]
        return _sum_lines(partials), _sum_lines(expressions)

    def delta(self, symbol: sympy.Symbol, simplified: handout_output.Simplified | None = None) -> Derivative:
        """δ = ∂L/∂z: its paths and factors, then numbers (one numbered line per example in a batch)."""
        delta = self.derivation.deltas[symbol]
        z = delta.neuron.z
        lhs = Latex(rf"{self.tex(symbol)} = {printing.partial(self.network.loss_symbol, z, self.network)}")
        values = tuple(self.number(v[symbol]) for v in self.values)
        if len(delta.terms) > INLINE_FAN_IN:  # too many paths to list: δ_j = f'(z_j) Σ_i w_ij δ_i, its sum over rows
            local = delta.terms[0][-1].expression
            h = self.tex(delta.neuron.a)
            products = [sympy.Mul(*(f.expression for f in term[:-1]), evaluate=False) for term in delta.terms]
            # two products to a row: the row before them also holds f'(z) and the bracket
            sums = [printing.wrapped_sum(products, self.network, values=v, decimals=self.decimals, per_row=2) for v in self.values]
            substituted = tuple(Latex(rf"{self.tex(local, i)} \cdot \bigl({sums[i]}\bigr)") for i in range(len(self.values)))
            return Derivative(
                number=None if self.batch else self._next(), name=symbol.name, lhs=lhs,
                paths=None, path_count=len(delta.terms), path_expressions=None, path_values=None,
                delta_form=Latex(rf"= {self.tex(local)} \sum_i \delta_i \frac{{\partial z_i}}{{\partial {h}}}"),
                substituted=() if self.batch else substituted, values=() if self.batch else values,
                mean=None, value=values[0], frozen=False, figure=None,
                examples=self._example_lines(symbol, substituted, values),
            )  # fmt: skip
        paths, expressions = self._paths(delta.terms)
        if simplified is not None:
            substituted = tuple(self.tex(simplified.expression, i) for i in range(len(self.values)))
        elif len(delta.terms) == 1:  # the numbers in the same order as the factors above them
            factors = [f.expression for f in delta.terms[0]]
            substituted = tuple(printing.chain(factors, self.network, values=v, decimals=self.decimals) for v in self.values)
        else:
            substituted = tuple(self.tex(delta.definition, i) for i in range(len(self.values)))
        return Derivative(
            number=None if self.batch else self._next(), name=symbol.name, lhs=lhs,
            paths=paths, path_count=len(paths), path_expressions=expressions, path_values=None,
            delta_form=None if len(delta.terms) == 1 or simplified else Latex("= " + self.tex(delta.definition)),
            substituted=() if self.batch else substituted, values=() if self.batch else values,
            mean=None, value=values[0], frozen=False, figure=None,
            examples=self._example_lines(symbol, substituted, values),
            simplified=None if simplified is None else self.tex(simplified.expression),
            why=None if simplified is None else simplified.reason,
        )  # fmt: skip

    def _example_lines(self, symbol: sympy.Symbol, substituted: Sequence[Latex] | None,
                       values: Sequence[Latex]) -> tuple[handout_batch.ExampleLine, ...]:  # fmt: skip
        """A batch's δ^{(n)} = numbers = value, one numbered line per worked example (none for a single example)."""
        if not self.batch:
            return ()
        return tuple(handout_batch.ExampleLine(self._next(), self.named(symbol, i),
                                               None if substituted is None else substituted[i], values[i])
                     for i in range(len(self.values)))  # fmt: skip

    def gradient(self, name: str, solution: numeric.Solution) -> Derivative:
        gradient = self.derivation.gradients[name]
        network = self.network
        paths = expressions = None
        values = None
        if gradient.chains is not None and len(gradient.chains) <= self.listed and max(map(len, gradient.chains)) <= LISTED_FACTORS:
            paths, expressions = self._paths(gradient.chains)
            values = self._path_values(gradient.chains)
        spec = network.spec
        hidden = any(o.neuron.layer < len(network.layers) for o in gradient.occurrences)
        figure = None
        if hidden and gradient.chains is not None and paths is not None:
            figure = handout_figure.figure(self.derivation, spec.parameters, self.decimals, highlight=gradient.chains, labels=False)
        per_example = solution.per_example_gradients[name]
        mean = None
        if self.batch:
            mean = handout_batch.mean(network, number=self._next(), parameter=gradient.parameter,
                                      delta_form=gradient.delta_form, values=self.values, per_example=per_example,
                                      total=solution.gradients[name], decimals=self.decimals, shown=TABLE_COLUMNS)  # fmt: skip
        return Derivative(
            number=None if self.batch else self._next(), name=name,
            lhs=printing.partial(network.loss_symbol, gradient.parameter, network),
            paths=paths, path_count=sum(_path_count(network, o.neuron) for o in gradient.occurrences),
            path_expressions=expressions, path_values=values, delta_form=Latex("= " + self.tex(gradient.delta_form)),
            substituted=() if self.batch else (self.tex(gradient.delta_form, 0),),
            values=() if self.batch else (self.number(per_example[0]),),
            mean=mean, value=self.number(solution.gradients[name]), frozen=name in spec.frozen, figure=figure,
        )  # fmt: skip


def _sum_lines(terms: Sequence[str]) -> tuple[Latex, ...]:
    """Rows of a sum in an align: "= a", then "+ b", or "− c" for a term that starts with a minus."""
    rows = []
    for i, term in enumerate(terms):
        if i == 0:
            rows.append(Latex(f"= {term}"))
        elif term.startswith("-"):
            rows.append(Latex(rf"\quad - {term[1:].lstrip()}"))
        else:
            rows.append(Latex(rf"\quad + {term}"))
    return tuple(rows)


def _path_count(network, neuron) -> int:
    """Chain-rule paths from L down to `neuron`'s z (a softmax output reaches L through every ŷ)."""
    if neuron.layer == len(network.layers):
        return len(network.outputs) if network.activation(neuron.layer) == ops.SOFTMAX else 1
    return sum(_path_count(network, after) for after in network.layers[neuron.layer])
