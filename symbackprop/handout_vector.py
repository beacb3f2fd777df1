"""The handout's vector-form page: the network's matrix equations, layer by layer, and the shape of every matrix.

The equations are `vector.derive`'s own, printed by its printer; this module
adds what a page needs besides: each activation and its derivative written out
elementwise, the output δ's rule for this loss (ŷ − t where loss and activation
cancel, as `handout_output` decides), the update, and the shapes. Notes beside
the equations are `Phrase` keys for the language template, each said once, where
it first applies.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy
from sympy.printing.latex import LatexPrinter

from symbackprop import handout_output, handout_tables, ops, printing, vector
from symbackprop.printing import Latex
from symbackprop.spec import Example

EQUALS, LEFT_ARROW = Latex("="), Latex(r"\leftarrow")


@dataclass(frozen=True)
class Line:
    """One equation, `lhs relation rhs`; `note` is the template's words beside it (None: nothing to add)."""

    lhs: Latex
    rhs: Latex
    relation: Latex = EQUALS
    note: handout_tables.Phrase | None = None


@dataclass(frozen=True)
class Shape:
    """Symbols that share one shape, rows × columns; a column vector has one column."""

    symbols: tuple[Latex, ...]
    rows: int
    columns: int


@dataclass(frozen=True)
class VectorPage:
    """The matrix equations of one network, in the order a page shows them.

    Rows of equations are shown side by side: a layer's z and h, a δ and its f′, a
    layer's ∂L/∂W and ∂L/∂b. `update` holds for every layer l = 1 … `depth`.
    """

    depth: int  # non-input layers
    parameters: int
    forward: tuple[tuple[Line, ...], ...]  # per layer, input side first: z, then h (ŷ)
    backward: tuple[tuple[Line, ...], ...]  # the output δ, its rule for this loss, then each hidden δ with its f′
    gradients: tuple[tuple[Line, ...], ...]  # per layer, output layer first: ∂L/∂W, then ∂L/∂b
    update: tuple[Line, ...]  # W and b of a general layer l
    shapes: tuple[tuple[Shape, ...], ...]  # the input x, then per layer: W; b, z, h, δ
    batch: int  # examples whose gradients are averaged (1: a single example)
    tied: bool  # some parameter sits at several places: its gradient sums theirs
    frozen: int  # parameters the update leaves alone


def page(form: vector.VectorForm, examples: Sequence[Example]) -> VectorPage:
    """The vector-form page of `form` (from `vector.derive`) for the handout's `examples`.

    The examples decide whether the update follows the batch loss L̄, and whether a softmax
    output's δ may be written ŷ − t (every example's targets must sum to 1).
    """
    spec = form.spec
    layers = form.layers
    batch = len(examples)
    write = _Writer(form, examples, loss=r"\bar{L}" if batch > 1 else "L")
    equation = {e.lhs.name: e for e in form.equations}

    def shown(name: str, note: handout_tables.Phrase | None = None) -> Line:
        """One of vector.py's equations, as its printer writes it."""
        return write.line(equation[name].lhs, Latex(form.latex(equation[name].rhs)), note)

    forward = tuple((shown(layer.z.name), write.activation(layer)) for layer in layers)
    backward = [(shown(layers[-1].delta.name),), (write.output_rule(),)]
    for layer in reversed(layers[:-1]):
        slope = spec.elementwise(layer.activation).derivative(sympy.Symbol(layer.z.name), sympy.Symbol(layer.a.name))
        backward.append((shown(layer.delta.name, handout_tables.Phrase("hadamard")),
                         write.line(layer.slope, slope, handout_tables.Phrase("elementwise"))))  # fmt: skip
    gradients = tuple(
        (shown(f"dLdW{layer.index}"), *((shown(f"dLdb{layer.index}"),) if layer.b is not None else ()))
        for layer in reversed(layers)  # output layer first, as backpropagation goes
    )  # fmt: skip
    update = [write.step("W")] + ([write.step("b")] if any(layer.b is not None for layer in layers) else [])
    shapes = [(Shape((write.name(form.x),), spec.layers[0], 1),)]
    for layer in layers:
        vectors = ([layer.b] if layer.b is not None else []) + [layer.z, layer.a, layer.delta]
        shapes.append((Shape((write.name(layer.W),), layer.size, layer.fan_in),
                       Shape(tuple(map(write.name, vectors)), layer.size, 1)))  # fmt: skip
    return VectorPage(
        depth=len(layers), parameters=len(spec.parameters), forward=forward, backward=tuple(backward),
        gradients=gradients, update=tuple(update), shapes=tuple(shapes), batch=batch, tied=_tied(form),
        frozen=len(spec.frozen),
    )  # fmt: skip


class _Printer(LatexPrinter):
    """The vector form's names for scalar and matrix symbols alike; sums keep the order they are built in."""

    def __init__(self, names: Mapping[str, str]) -> None:
        super().__init__({"order": "none"})
        self._names = names

    def _print_Symbol(self, expr: sympy.Symbol, style: str = "plain") -> str:
        return self._names.get(expr.name) or super()._print_Symbol(expr, style)

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        return self._names.get(expr.name, expr.name)


class _Writer:
    """Lines of one form's page; each note is kept on the first line it applies to."""

    def __init__(self, form: vector.VectorForm, examples: Sequence[Example], *, loss: str) -> None:
        self.form = form
        self.examples = examples
        names = dict(form.latex_names)
        # a general layer l, for the update that every layer takes
        names.update(W=r"W^{(l)}", b=r"b^{(l)}", eta=r"\eta", dLdW=rf"\frac{{\partial {loss}}}{{\partial W^{{(l)}}}}",
                     dLdb=rf"\frac{{\partial {loss}}}{{\partial b^{{(l)}}}}")  # fmt: skip
        self.printer = _Printer(names)
        self.said: set[handout_tables.Phrase] = set()

    def name(self, symbol: sympy.Basic) -> Latex:
        return Latex(self.printer.doprint(symbol))

    def line(self, lhs: sympy.Basic, rhs: sympy.Basic | Latex, note: handout_tables.Phrase | None = None, *,
             relation: Latex = EQUALS) -> Line:  # fmt: skip
        text = rhs if isinstance(rhs, str) else self.name(rhs)
        if note in self.said:
            note = None
        self.said.add(note)
        return Line(self.name(lhs), text, relation, note)

    def activation(self, layer: vector.Layer) -> Line:
        """h = f(z): an elementwise activation written out (σ(z), ReLU(z)); softmax as vector.py writes it."""
        if layer.activation == ops.SOFTMAX:
            own = next(e for e in self.form.equations if e.lhs == layer.a)
            return self.line(own.lhs, Latex(self.form.latex(own.rhs)), handout_tables.Phrase("over_the_layer"))
        value = self.form.spec.elementwise(layer.activation).apply(sympy.Symbol(layer.z.name))
        return self.line(layer.a, value, handout_tables.Phrase("elementwise"))

    def output_rule(self) -> Line:
        """δ of the output layer for this loss: ŷ − t where they cancel, else the rule of one output."""
        output = self.form.output
        first = next(iter(output.deltas.values()))
        last = self.form.layers[-1]
        simple = handout_output.simplified(output, first, self.examples)
        if simple is not None:
            difference = sympy.MatAdd(last.a, -sympy.MatrixSymbol("t", last.size, 1), evaluate=False)
            return self.line(last.delta, difference, handout_tables.Phrase("output_delta_simplified", (simple.reason,)))
        network = output.network
        # the one-layer copy's names with the layer's index: its δ_1 is δ^{(L)}_1, its z_1 is z^{(L)}_1
        names = dict(network.latex_names)
        for j, neuron in enumerate(network.layers[0], start=1):
            index = "" if last.size == 1 else f"_{{{j}}}"
            names[neuron.delta] = rf"\delta^{{({last.index})}}{index}"
            names[neuron.z] = rf"z^{{({last.index})}}{index}"
        named = dataclasses.replace(network, latex_names=names)
        note = handout_tables.Phrase("output_delta_rule" if last.size == 1 else "output_delta_first")
        return Line(printing.latex(first.neuron.delta, named), printing.latex(first.definition, named), note=note)

    def step(self, name: str) -> Line:
        """W ← W − η ∂L/∂W for a general layer l (b alike)."""
        size = sympy.Symbol("n")
        value, gradient = sympy.MatrixSymbol(name, size, size), sympy.MatrixSymbol(f"dLd{name}", size, size)
        # MatMul(-1, η, G), not (−η)·G: the printer then subtracts the term instead of adding a negative one
        rhs = sympy.MatAdd(value, sympy.MatMul(-1, sympy.Symbol("eta"), gradient), evaluate=False)
        note = handout_tables.Phrase("every_layer") if name == "W" else None
        return self.line(value, rhs, note, relation=LEFT_ARROW)


def _tied(form: vector.VectorForm) -> bool:
    places = [index for layer in form.layers for index in
              (layer.weight_index.ravel().tolist() + ([] if layer.bias_index is None else layer.bias_index.tolist()))]
    return len(places) != len(set(places))
