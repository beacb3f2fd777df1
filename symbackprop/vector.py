"""Layer-wise matrix form of backpropagation, shown with SymPy matrix symbols and run as NumPy products.

    z⁽ˡ⁾ = W⁽ˡ⁾a⁽ˡ⁻¹⁾ + b⁽ˡ⁾,  a⁽ˡ⁾ = f(z⁽ˡ⁾)
    δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f'(z⁽ˡ⁾),  ∂L/∂W⁽ˡ⁾ = δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ,  ∂L/∂b⁽ˡ⁾ = δ⁽ˡ⁾

One MatrixSymbol stands for a whole layer, so an MNIST-sized network needs a
handful of symbols instead of one per weight. Only the output layer's δ, which
depends on the loss, is derived per component (on a one-layer copy of the
output layer, by `chain.derive`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.matrices.expressions import HadamardProduct
from sympy.printing.latex import LatexPrinter

from symbackprop import chain, graph, naming, numeric, ops
from symbackprop import spec as spec_module


@dataclass(frozen=True)
class Equation:
    """One line of the matrix form: `lhs` = `rhs`, both SymPy (matrix) expressions."""

    lhs: sympy.Expr
    rhs: sympy.Expr
    note: str = ""


@dataclass(frozen=True)
class Layer:
    """A non-input layer as matrices, and where its entries sit in the spec's parameter list."""

    index: int  # l, 1-based
    size: int
    fan_in: int
    activation: str
    W: sympy.MatrixSymbol
    b: sympy.MatrixSymbol | None
    z: sympy.MatrixSymbol
    a: sympy.MatrixSymbol
    delta: sympy.MatrixSymbol
    slope: sympy.MatrixSymbol  # f'(z⁽ˡ⁾), evaluated elementwise
    weight_index: np.ndarray  # (size, fan_in) positions in Spec.parameters; tied names share one
    bias_index: np.ndarray | None  # (size,)
    neurons: tuple[tuple[str, str, str], ...] = ()  # (z, a, δ) name of each neuron, as `solve` reports them


@dataclass(frozen=True)
class VectorForm:
    """The matrix equations of a spec's network, forward then backward, and the output δ rule."""

    spec: spec_module.Spec
    x: sympy.MatrixSymbol
    layers: tuple[Layer, ...]
    equations: tuple[Equation, ...]
    output: chain.Derivation  # the output layer alone: ŷ, L and δ per component
    latex_names: dict[str, str]  # MatrixSymbol name -> LaTeX

    @property
    def parameter_names(self) -> list[str]:
        return list(self.spec.parameters)

    def latex(self, expr: sympy.Expr) -> str:
        return _Printer(self.latex_names).doprint(expr)


class _Printer(LatexPrinter):
    """LaTeX with each layer's matrix symbol written as W^{(l)}, δ^{(l)}, f'(z^{(l)})."""

    def __init__(self, names: Mapping[str, str]) -> None:
        super().__init__()
        self._names = names

    def _print_MatrixSymbol(self, expr: sympy.MatrixSymbol) -> str:
        return self._names.get(expr.name, expr.name)


def derive(spec: spec_module.Spec) -> VectorForm:
    """The matrix form of `spec`'s network; no symbol is created per weight."""
    lay = naming.layout(spec.layers, scheme=spec.naming, bias=spec.bias)
    position = {name: i for i, name in enumerate(spec.parameters)}

    def index(name: naming.Name) -> int:
        return position[spec.rename.get(name.ascii, name.ascii)]

    latex = {"x": "x", "t": "t"}
    x = sympy.MatrixSymbol("x", spec.layers[0], 1)
    layers, equations = [], []
    previous = x
    depth = len(spec.layers) - 1
    for l in range(1, depth + 1):
        size, fan_in = spec.layers[l], spec.layers[l - 1]
        out = l == depth
        a_name = "yhat" if out else f"h{l}"
        symbols = {
            "W": (f"W{l}", size, fan_in, rf"W^{{({l})}}"),
            "b": (f"b{l}", size, 1, rf"b^{{({l})}}"),
            "z": (f"z{l}", size, 1, rf"z^{{({l})}}"),
            "a": (a_name, size, 1, r"\hat{y}" if out else rf"h^{{({l})}}"),
            "delta": (f"delta{l}", size, 1, rf"\delta^{{({l})}}"),
            "slope": (f"fprime{l}", size, 1, rf"f_{{{l}}}'\!\left(z^{{({l})}}\right)"),
        }  # fmt: skip
        made = {}
        for key, (name, rows, cols, tex) in symbols.items():
            made[key] = sympy.MatrixSymbol(name, rows, cols)
            latex[name] = tex
        weight_index = np.array([[index(w) for w in row] for row in lay.weights[l - 1]], dtype=np.intp)
        has_bias = lay.biases[l - 1][0] is not None
        bias_index = np.array([index(b) for b in lay.biases[l - 1]], dtype=np.intp) if has_bias else None
        neurons = tuple((z.ascii, a.ascii, d.ascii) for z, a, d in zip(lay.pre_activations[l - 1], lay.activations[l - 1],
                                                                      lay.deltas[l - 1]))  # fmt: skip
        layer = Layer(l, size, fan_in, spec.activations[l - 1], made["W"], made["b"] if has_bias else None,
                      made["z"], made["a"], made["delta"], made["slope"], weight_index, bias_index, neurons)  # fmt: skip
        layers.append(layer)
        z_rhs = layer.W * previous + layer.b if has_bias else layer.W * previous
        equations.append(Equation(layer.z, z_rhs))
        kind = "over the whole layer" if layer.activation == ops.SOFTMAX else "elementwise"
        equations.append(Equation(layer.a, sympy.Function(_function_name(layer.activation))(layer.z), kind))
        previous = layer.a

    output = _output_derivation(spec)
    last = layers[-1]
    equations.append(Equation(last.delta, sympy.MatrixSymbol("dLdz", last.size, 1), _output_note(output)))
    latex["dLdz"] = r"\frac{\partial L}{\partial z^{(%d)}}" % last.index
    for layer, after in zip(reversed(layers[:-1]), reversed(layers[1:])):
        slope = spec.elementwise(layer.activation).derivative(sympy.Symbol(layer.z.name), sympy.Symbol(layer.a.name))
        equations.append(Equation(layer.delta, HadamardProduct(after.W.T * after.delta, layer.slope),
                                  f"{layer.slope.name} = {slope}, elementwise"))
    for layer in layers:
        source = x if layer.index == 1 else layers[layer.index - 2].a
        gradient_W = sympy.MatrixSymbol(f"dLdW{layer.index}", layer.size, layer.fan_in)
        latex[gradient_W.name] = r"\frac{\partial L}{\partial W^{(%d)}}" % layer.index
        equations.append(Equation(gradient_W, layer.delta * source.T))
        if layer.b is not None:
            gradient_b = sympy.MatrixSymbol(f"dLdb{layer.index}", layer.size, 1)
            latex[gradient_b.name] = r"\frac{\partial L}{\partial b^{(%d)}}" % layer.index
            equations.append(Equation(gradient_b, layer.delta))
    return VectorForm(spec, x, tuple(layers), tuple(equations), output, latex)


def _function_name(activation: str) -> str:
    return {"linear": "identity", ops.SOFTMAX: "softmax"}.get(activation, activation)


def _output_derivation(spec: spec_module.Spec) -> chain.Derivation:
    """The per-component chain rule of the output layer alone (loss and output activation)."""
    layers = (1, spec.layers[-1])
    names = naming.default_parameter_names(naming.layout(layers, scheme="neuron", bias="none"))
    proxy = dataclasses.replace(
        spec, layers=layers, activations=(spec.output_activation,), naming="neuron", bias="none",
        examples=(), parameters=dict.fromkeys(names, 0.0), frozen=(), rename={},
    )  # fmt: skip
    return chain.derive(graph.build(proxy), expand=False)


def _output_note(output: chain.Derivation) -> str:
    first = next(iter(output.deltas.values()))
    which = "" if len(output.deltas) == 1 else " of output 1"
    return f"componentwise, ∂L/∂z{which} = {first.definition}"


def text(form: VectorForm) -> str:
    """The matrix equations as plain text, one per line."""
    lines = []
    for equation in form.equations:
        rhs = str(equation.rhs).replace("HadamardProduct", "hadamard")
        lines.append(f"{equation.lhs} = {rhs}" + (f"    [{equation.note}]" if equation.note else ""))
    return "\n".join(lines)


def latex_lines(form: VectorForm) -> list[str]:
    """The matrix equations in LaTeX (for handouts), one per equation."""
    return [f"{form.latex(e.lhs)} = {form.latex(e.rhs)}" for e in form.equations]


# --- symbolic proof against the per-weight derivation ------------------------------------------


def prove(form: VectorForm, derivation: chain.Derivation) -> dict[str, bool]:
    """Check that the matrix equations, written out entry by entry, give the per-weight gradients.

    Raises:
        ValueError: the derivation was made without expanded forms.
    """
    entries = explicit_gradients(form, derivation)
    return {name: chain._is_zero(entry - derivation.gradients[name].expanded) for name, entry in entries.items()}


def explicit_gradients(form: VectorForm, derivation: chain.Derivation) -> dict[str, sympy.Expr]:
    """Each ∂L/∂p from the matrix equations with every matrix written out, in x, t and parameters.

    Every MatrixSymbol is replaced by the explicit matrix of the per-weight
    network's symbols; the products δ⁽ˡ⁾(a⁽ˡ⁻¹⁾)ᵀ then give one entry per
    weight (a tied name sums its entries), and the δ's and h's are written in
    inputs, targets and parameters.

    Raises:
        ValueError: the derivation was made without expanded forms.
    """
    if derivation.expanded_values is None:
        raise ValueError("the derivation has no expanded forms; derive with expand=True")
    network = derivation.network
    explicit: dict[sympy.MatrixSymbol, sympy.Matrix] = {form.x: sympy.Matrix(network.inputs)}
    for layer, neurons in zip(form.layers, network.layers):
        explicit[layer.W] = sympy.Matrix([list(n.weights) for n in neurons])
        if layer.b is not None:
            explicit[layer.b] = sympy.Matrix([n.bias for n in neurons])
        explicit[layer.a] = sympy.Matrix([n.a for n in neurons])
        explicit[layer.delta] = sympy.Matrix([n.delta for n in neurons])
        explicit[layer.slope] = sympy.Matrix([_slope(network, n) for n in neurons])
    last = network.layers[-1]
    explicit[sympy.MatrixSymbol("dLdz", len(last), 1)] = sympy.Matrix([derivation.deltas[n.delta].definition for n in last])
    # δ⁽ˡ⁾ as the matrix equations define it, output layer first, so each entry is in h's and ŷ's only.
    for equation in form.equations:
        if equation.lhs.name.startswith("delta"):
            explicit[equation.lhs] = sympy.Matrix(equation.rhs.xreplace(explicit).doit())

    names = form.parameter_names
    totals: dict[str, sympy.Expr] = {name: sympy.S.Zero for name in names}
    for equation in form.equations:
        name = equation.lhs.name
        if not name.startswith("dLd"):
            continue
        layer = form.layers[int(name[4:]) - 1]
        matrix = sympy.Matrix(equation.rhs.xreplace(explicit).doit())
        where = layer.weight_index if name.startswith("dLdW") else layer.bias_index[:, None]
        for (i, j), entry in np.ndenumerate(where):
            totals[names[entry]] += matrix[i, j]
    values = derivation.expanded_values
    return {name: total.xreplace(values) for name, total in totals.items()}


def _slope(network: graph.Network, neuron: graph.Neuron) -> sympy.Expr:
    if neuron.layer == len(network.layers):
        return sympy.S.One  # the output layer's slope is folded into its δ rule
    return chain.hidden_derivative(network, neuron)


# --- numbers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gradients:
    """One batch: loss per example and the mean gradient, both flat in Spec.parameters order."""

    losses: np.ndarray
    flat: np.ndarray

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses))


class VectorEvaluator:
    """Forward and backward pass of a `VectorForm` with NumPy matrix products.

    Arrays hold one example per row, so each layer is one product A⁽ˡ⁻¹⁾(W⁽ˡ⁾)ᵀ,
    the transpose of the column form shown. Parameters travel as one flat vector
    in the spec's order.
    """

    def __init__(self, form: VectorForm) -> None:
        self.form = form
        self.size = len(form.spec.parameters)
        z, a = sympy.Symbol("z", real=True), sympy.Symbol("a", real=True)
        self._apply: list[Callable] = []
        self._slope: list[Callable] = []
        for layer in form.layers[:-1]:
            activation = form.spec.elementwise(layer.activation)
            self._apply.append(_kernel([z], activation.apply(z)))
            self._slope.append(_kernel([z, a], activation.derivative(z, a)))
        self._output = compile_output(form.output)
        every = [l.weight_index.ravel() for l in form.layers] + [l.bias_index for l in form.layers if l.bias_index is not None]
        self._places = [((l.weight_index, _block(l.weight_index)),
                         None if l.bias_index is None else (l.bias_index, _block(l.bias_index))) for l in form.layers]
        self._flat: tuple[Mapping[str, float], np.ndarray] | None = None
        self._tied = np.unique(np.concatenate(every)).size != self.size or sum(map(len, every)) != self.size

    def flat(self, parameters: Mapping[str, float]) -> np.ndarray:
        """Parameter values as one vector in the spec's order."""
        if self._flat is None or self._flat[0] is not parameters:  # a gradient check asks once per parameter
            names = self.form.parameter_names
            self._flat = (parameters, np.fromiter(map(parameters.__getitem__, names), dtype=float, count=len(names)))
        return self._flat[1].copy()

    def as_dict(self, flat: np.ndarray) -> dict[str, float]:
        return dict(zip(self.form.parameter_names, map(float, flat)))

    def matrices(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(W⁽ˡ⁾, b⁽ˡ⁾) per layer; a tied name puts its one value at each of its places."""
        return [(take(flat, *w), None if b is None else take(flat, *b)) for w, b in self._places]

    def _forward(self, inputs: np.ndarray, flat: np.ndarray) -> tuple[list, list[np.ndarray], list[np.ndarray]]:
        """(W, b) per layer, pre-activations per layer (output's last) and activations (inputs first)."""
        matrices = self.matrices(flat)
        activations = [np.asarray(inputs, dtype=float)]
        zs = []
        for (W, b), apply in zip(matrices[:-1], self._apply):
            zs.append(_affine(W, b, activations[-1]))
            activations.append(np.broadcast_to(apply(zs[-1]), zs[-1].shape))
        zs.append(_affine(*matrices[-1], activations[-1]))
        return matrices, zs, activations

    def _backward(self, matrices: list, zs: list[np.ndarray], activations: list[np.ndarray],
                  targets: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:  # fmt: skip
        """Loss per example, δ per layer (examples × neurons, first layer first) and the outputs ŷ."""
        losses, delta, outputs = self._output(zs[-1].T, np.asarray(targets, dtype=float).T)
        deltas = [delta.T]
        for l in range(len(matrices) - 1, 0, -1):
            deltas.insert(0, (deltas[0] @ matrices[l][0]) * self._slope[l - 1](zs[l - 1], activations[l]))
        return losses, deltas, outputs.T

    def gradients(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> Gradients:
        """Loss per example and mean gradient for a batch (inputs: examples × inputs)."""
        count = inputs.shape[0]
        matrices, zs, activations = self._forward(inputs, flat)
        losses, deltas, _ = self._backward(matrices, zs, activations, targets)
        # δᵀA sums δ(a)ᵀ over the batch and comes out row-major, as the flat vector stores W
        per_layer = [((delta.T / count) @ source, None if b is None else delta.sum(axis=0) / count)
                     for delta, source, (_, b) in zip(deltas, activations, matrices)]  # fmt: skip
        return Gradients(losses, self._scatter(per_layer))

    def value_and_gradient(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, mean gradient) of a batch: what every evaluator answers (see api.evaluator)."""
        result = self.gradients(inputs, targets, flat)
        return result.loss, result.flat

    def losses_and_kinks(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Loss per example, and the z of each ReLU-like neuron (rows) per example (columns)."""
        matrices, zs, activations = self._forward(inputs, flat)
        losses = self._output(zs[-1].T, np.asarray(targets, dtype=float).T)[0]
        kinked = [z.T for z, layer in zip(zs, self.form.layers) if self._has_kink(layer)]
        return losses, np.concatenate(kinked) if kinked else np.empty((0, inputs.shape[0]))

    def _has_kink(self, layer: Layer) -> bool:
        return layer.activation != ops.SOFTMAX and self.form.spec.elementwise(layer.activation).has_kink

    def loss_along(self, examples: Sequence[spec_module.Example], parameters: Mapping[str, float],
                   name: str) -> Callable[[float], tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """`losses_and_kinks` as a function of parameter `name`'s value alone (for finite differences)."""
        inputs, targets = _arrays(examples)
        moved = self.flat(parameters)
        where = self.form.parameter_names.index(name)

        def at(value: float) -> tuple[np.ndarray, np.ndarray]:
            moved[where] = value
            return self.losses_and_kinks(inputs, targets, moved)

        return at

    def solve(self, examples: Sequence[spec_module.Example], parameters: Mapping[str, float], *,
              learning_rate: float, frozen: Sequence[str] = ()) -> numeric.Solution:  # fmt: skip
        """What `numeric.Evaluator.solve` gives, by whole layers: each neuron's values and each parameter's gradient."""
        inputs, targets = _arrays(examples)
        flat = self.flat(parameters)
        with np.errstate(all="ignore"):  # overflow is reported below, by name, not as a warning
            matrices, zs, activations = self._forward(inputs, flat)
            losses, deltas, outputs = self._backward(matrices, zs, activations, targets)
            # per example: δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ for each weight, δ⁽ˡ⁾ᵢ for each bias
            per_layer = [(delta[:, :, None] * source[:, None, :], None if b is None else delta)
                         for delta, source, (_, b) in zip(deltas, activations, matrices)]  # fmt: skip
            per_example = self._scatter(per_layer, rows=inputs.shape[0])
        forward, delta_values = {}, {}
        for layer, z, a in zip(self.form.layers, zs, [*activations[1:], outputs]):
            forward |= {names[0]: z[:, j] for j, names in enumerate(layer.neurons)}
            forward |= {names[1]: np.array(a[:, j]) for j, names in enumerate(layer.neurons)}
        for layer, delta in reversed(list(zip(self.form.layers, deltas))):  # output layer first, as the chain rule goes
            delta_values |= {names[2]: delta[:, j] for j, names in enumerate(layer.neurons)}
        names = self.form.parameter_names
        gradients = per_example.mean(axis=0)
        checked = [*forward.items(), ("L", losses), *delta_values.items()]
        if not np.isfinite(per_example).all():  # named one by one only when one of them is not finite
            checked += [(f"dL/d{name}", per_example[:, i]) for i, name in enumerate(names)]
        numeric.check_finite(checked)
        frozen_set = set(frozen)
        updated = {name: float(value) if name in frozen_set else float(value) - learning_rate * float(g)
                   for name, value, g in zip(names, flat, gradients)}  # fmt: skip
        return numeric.Solution(forward, np.array(losses, dtype=float), delta_values,
                                {name: per_example[:, i] for i, name in enumerate(names)},
                                dict(zip(names, map(float, gradients))), updated)  # fmt: skip

    def _scatter(self, per_layer: list[tuple[np.ndarray, np.ndarray | None]], *, rows: int | None = None) -> np.ndarray:
        """Matrix gradients back to one flat vector (one per example, with `rows`); a tied name sums its places."""
        places = [(w, gW) for (w, _), (gW, _) in zip(self._places, per_layer)]
        places += [(b, gb) for (_, b), (_, gb) in zip(self._places, per_layer) if gb is not None]
        lead = () if rows is None else (rows,)
        if not self._tied:
            flat = np.empty((*lead, self.size))
            for (index, block), values in places:
                flat[..., block if block is not None else index.ravel()] = values.reshape(*lead, -1)
            return flat
        index = np.concatenate([i.ravel() for (i, _), _ in places])
        values = np.concatenate([v.reshape(*lead, -1) for _, v in places], axis=-1)
        if rows is None:
            return np.bincount(index, weights=values, minlength=self.size)
        flat = np.zeros((rows, self.size))
        np.add.at(flat.T, index, values.T)
        return flat


def _block(index: np.ndarray) -> slice | None:
    """The slice of the flat vector that `index` covers in order, when it is one block."""
    start = int(index.flat[0])
    return slice(start, start + index.size) if np.array_equal(index.ravel(), np.arange(start, start + index.size)) else None


def take(flat: np.ndarray, index: np.ndarray, block: slice | None) -> np.ndarray:
    """A layer's matrix (or bias vector) out of the flat parameter vector (NumPy or JAX arrays alike).

    In the default network order each layer's weights are one block: a view, no copy.
    """
    return flat[block].reshape(index.shape) if block is not None else flat[index]


def _affine(W: np.ndarray, b: np.ndarray | None, source: np.ndarray) -> np.ndarray:
    product = source @ W.T
    return product if b is None else product + b


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp is about three times faster than the tanh form on wide layers; exp(709+) = inf gives 0
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _kernel(arguments: list[sympy.Symbol], expr: sympy.Expr) -> Callable:
    return sympy.lambdify(arguments, expr, modules=[{"sigmoid": _sigmoid}, ops.NUMPY_KERNELS, "numpy"])


def compile_output(output: chain.Derivation, *, modules: Sequence = (ops.NUMPY_KERNELS, "numpy"), xp=np) -> Callable:
    """(Z, T) of the output layer, one row per output -> (loss per example, δ matrix, ŷ matrix).

    Args:
        modules: lambdify's modules; xp: the array module (NumPy, or jax.numpy for the JAX backend).
    """
    network = output.network
    layer = network.layers[0]
    zs = [n.z for n in layer]
    assignments = [(n.a, network.a_definition(n, stable=True)) for n in layer]
    loss = numeric.loss_assignment(output)
    deltas = [output.deltas[n.delta].definition for n in layer]
    # Written in z and t only, so that common subexpressions (softmax's max and sum) are found
    # across all outputs at once and computed once.
    values = dict(assignments)
    exprs = [loss[1].xreplace(values), *(d.xreplace(values) for d in deltas), *(a for _, a in assignments)]
    compiled = sympy.lambdify([*zs, *network.targets], exprs, modules=list(modules), cse=True)
    count = len(layer)

    def run(Z: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        values = compiled(*Z, *T)
        shape = Z.shape[1:]
        rows = lambda part: xp.stack([xp.broadcast_to(v, shape) for v in part])  # noqa: E731
        return xp.broadcast_to(values[0], shape), rows(values[1 : 1 + count]), rows(values[1 + count :])

    return run


def solve_gradients(form: VectorForm, examples: Sequence[spec_module.Example],
                    parameters: Mapping[str, float]) -> dict[str, float]:  # fmt: skip
    """Mean gradient of each parameter over `examples`, by the matrix form."""
    evaluator = VectorEvaluator(form)
    return evaluator.as_dict(evaluator.gradients(*_arrays(examples), evaluator.flat(parameters)).flat)


def _arrays(examples: Sequence[spec_module.Example]) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of `examples` as (examples × columns) arrays."""
    return (np.array([e.inputs for e in examples], dtype=float).reshape(len(examples), -1),
            np.array([e.targets for e in examples], dtype=float).reshape(len(examples), -1))  # fmt: skip
