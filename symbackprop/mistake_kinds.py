"""The catalogue of calculation mistakes, each built as a change to the symbolic steps of `mistakes.Program`."""

from __future__ import annotations

from collections.abc import Callable

import sympy

from symbackprop import mistakes, ops
from symbackprop.chain import Delta, Factor
from symbackprop.wording import Words

CROSS_ENTROPIES = ("binary_cross_entropy", "cross_entropy")
SQUARED = ("half_squared_error", "squared_error", "mse")
KINK_SLOPES = {"1": sympy.S.One, "½": sympy.S.Half}  # what students take for ReLU′(0) instead of this sheet's 0
WRONG_SLOPES = {  # an activation's derivative mistaken for another's, in terms of its output a: (words, slope)
    "tanh": (("sigmoid_for_tanh", lambda a: a * (1 - a)), ("tanh_square_left_out", lambda a: 1 - a)),
    "sigmoid": (("tanh_for_sigmoid", lambda a: 1 - a**2),),
}  # fmt: skip


def catalogue(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """Every mistake that applies to `program`'s network, the commonest first, each said in `say`'s language."""
    return [
        *_loss_scale(program, say), *_sign_flipped(program, say), *_kink_slope(program, say),
        *_activation_derivatives(program, say), *_wrong_values(program, say), *_updated_weights(program, say),
        *_update_rule(program, say), *_bias_left_out(program, say), *_wrong_weights(program, say),
        *_bce_factor_kept(program, say), *_sum_forgotten(program, say), *_bias_gradient(program, say),
        *_wrong_derivatives(program, say), *_exp_sign(program, say), *_cross_entropy_slips(program, say),
        *_mean_forgotten(program, say),
        *(mistakes.Mistake("rounded_early", say("rounded_early", decimals=d), rounding=d)
          for d in mistakes.ROUNDING_DECIMALS),
    ]  # fmt: skip


def _output_deltas(program: mistakes.Program) -> list[Delta]:
    network = program.derivation.network
    return [program.derivation.deltas[n.delta] for n in network.layers[-1]]


def _rebuild(delta: Delta, replace: Callable[[Factor], sympy.Expr | None]) -> sympy.Expr:
    """δ as the sum over its Leibniz terms of the product of factors, some replaced."""
    total = sympy.S.Zero
    for term in delta.terms:
        product = sympy.S.One
        for factor in term:
            changed = replace(factor)
            product *= factor.expression if changed is None else changed
        total += product
    return total


def _loss_derivative_scaled(program: mistakes.Program, scale: sympy.Expr) -> dict[sympy.Symbol, sympy.Expr]:
    """Output δ's with ∂L/∂ŷ multiplied by `scale`."""
    network = program.derivation.network
    is_loss_factor = lambda f: f.of == network.loss_symbol  # noqa: E731
    return {
        d.neuron.delta: _rebuild(d, lambda f: scale * f.expression if is_loss_factor(f) else None)
        for d in _output_deltas(program)
    }


def _loss_scale(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    network = program.derivation.network
    loss = network.spec.loss
    if loss == "half_squared_error":
        scale, kind = 2, "half_dropped"
    elif loss in ("squared_error", "mse"):
        scale, kind = sympy.Rational(1, 2), "half_added"
    else:
        return []
    changes = {network.loss_symbol: scale * network.loss, **_loss_derivative_scaled(program, scale)}
    return [mistakes.Mistake(kind, say(kind), changes)]


def _sign_flipped(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    text = say("sign_flipped", squared=program.derivation.network.spec.loss in SQUARED)
    return [mistakes.Mistake("sign_flipped", text, _loss_derivative_scaled(program, sympy.S.NegativeOne))]


def _where(program: mistakes.Program, layer: int) -> str | int:
    """A layer as the words place it: "output", or a hidden layer's number."""
    return "output" if layer == len(program.derivation.network.layers) else layer


def _output_name(program: mistakes.Program, layer: int) -> sympy.Symbol:
    return sympy.Symbol("ŷ" if layer == len(program.derivation.network.layers) else "h")


def _slope_changed(program: mistakes.Program, layer: int,
                   replace: Callable[[Factor], sympy.Expr]) -> dict[sympy.Symbol, sympy.Expr]:  # fmt: skip
    """The δ's of `layer` with each neuron's local ∂a/∂z factor replaced."""
    neurons = {n.a: n for n in program.derivation.network.layers[layer - 1]}
    local = lambda f: f.of in neurons and f.wrt == neurons[f.of].z  # noqa: E731
    return {
        d.neuron.delta: _rebuild(d, lambda f: replace(f) if local(f) else None)
        for d in program.derivation.deltas.values()
        if d.neuron.layer == layer
    }


def _per_layer(kind: str, key: str, found: list[tuple[dict, dict]], say: Words) -> list[mistakes.Mistake]:
    """One mistake per layer (the words' arguments and the changes), and the same in every layer when there are several."""
    found = [(args, changes) for args, changes in found if changes]
    made = [mistakes.Mistake(kind, say(key, **args), changes) for args, changes in found]
    if len(found) > 1:
        everywhere = {s: e for _, changes in found for s, e in changes.items()}
        made.append(mistakes.Mistake(kind, say(key, **{**found[0][0], "where": "every"}), everywhere))
    return made


def _sloped_layers(program: mistakes.Program) -> list[int]:
    network = program.derivation.network
    return [layer for layer in range(1, len(network.layers) + 1)
            if network.activation(layer) not in (ops.SOFTMAX, "linear")]  # fmt: skip


def _activation_derivatives(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """f' left out, f(z) used for f'(z), or f' taken at z instead of from h: per layer, then everywhere."""
    network = program.derivation.network
    variants: dict[str, list[tuple[dict, dict]]] = {k: [] for k in ("derivative_left_out", "activation_for_derivative", "derivative_at_z")}  # fmt: skip
    z = sympy.Symbol("z")
    for layer in _sloped_layers(program):
        rule = network.elementwise(layer).derivative
        a = _output_name(program, layer)
        derivative, at_z, where = _plain(rule(z, a)), _plain(rule(z, z)), _where(program, layer)
        variants["derivative_left_out"].append((dict(derivative=derivative, where=where),
                                                _slope_changed(program, layer, lambda f: sympy.S.One)))  # fmt: skip
        variants["activation_for_derivative"].append(
            (dict(name=network.activation(layer), a=str(a), derivative=derivative, where=where),
             _slope_changed(program, layer, lambda f: f.of)))  # fmt: skip
        if at_z != derivative:  # f' that does not depend on h (ReLU) is the same at z
            variants["derivative_at_z"].append(
                (dict(a=str(a), at_z=at_z, derivative=derivative, where=where),
                 _slope_changed(program, layer, lambda f: f.expression.xreplace({f.of: f.wrt}))))  # fmt: skip
    return [m for kind, found in variants.items() for m in _per_layer(kind, kind, found, say)]


def _wrong_derivatives(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """Another activation's derivative (σ′ in a tanh layer), or tanh′ as 1 − h: per layer, then everywhere."""
    network = program.derivation.network
    by_slip: dict[str, list[tuple[dict, dict]]] = {}  # "every layer" joins the same slip, not two different ones
    for layer in _sloped_layers(program):
        for key, slope in WRONG_SLOPES.get(network.activation(layer), ()):
            by_slip.setdefault(key, []).append(
                (dict(a=str(_output_name(program, layer)), where=_where(program, layer)),
                 _slope_changed(program, layer, lambda f, slope=slope: slope(f.of))))  # fmt: skip
    return [m for key, found in by_slip.items() for m in _per_layer("wrong_derivative", key, found, say)]


def _kink_slope(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """ReLU′(0) taken as 1 or ½ where a z lies exactly on the kink (this sheet takes 0)."""
    network = program.derivation.network
    made = []
    for layer in _sloped_layers(program):
        if network.activation(layer) != "relu":
            continue
        for written, slope in KINK_SLOPES.items():
            on_kink = lambda f, slope=slope: sympy.Piecewise((slope, sympy.Eq(f.wrt, 0)), (f.expression, True))  # noqa: E731
            made.append(mistakes.Mistake("kink_derivative", say("kink_derivative", slope=written, where=_where(program, layer)),
                                         _slope_changed(program, layer, on_kink)))  # fmt: skip
    return made


def _plain(expr: sympy.Expr) -> str:
    """An expression as a student writes it: h·(1 − h)."""
    return sympy.sstr(expr).replace("**", "^").replace("*", "·").replace(" - ", " − ")


def _wrong_values(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """A neighbouring input or hidden value used for another (x1 for x2), or z for h, in one z or one gradient.

    Neighbours only (the values either side on the sheet), as for weights: a few mistakes per value, not a square.
    """
    network = program.derivation.network
    made = []

    def swaps(step_symbol: sympy.Symbol, label: str, expression: sympy.Expr, layer: int) -> None:
        sources = network.sources(layer)
        hidden = {n.a: n.z for n in network.layers[layer - 2]} if layer > 1 else {}
        for k, source in enumerate(sources):
            if source not in expression.free_symbols:
                continue
            neighbours = [sources[i] for i in (k - 1, k + 1) if 0 <= i < len(sources)]
            for other in neighbours + ([hidden[source]] if source in hidden else []):
                changed = expression.xreplace({source: other})
                text = say("wrong_value_used", other=str(other), value=str(source), step=label)
                made.append(mistakes.Mistake("wrong_value_used", text, {step_symbol: changed}))

    for neuron in network.neurons:
        swaps(neuron.z, neuron.z.name, network.z_definition(neuron), neuron.layer)
    for name, gradient in program.derivation.gradients.items():
        layers = {o.neuron.layer for o in gradient.occurrences if o.source is not None}
        if len(layers) == 1:
            swaps(program.gradient_symbols[name], f"∂L/∂{name}", gradient.delta_form, layers.pop())
    return made


def _updated_weights(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """A hidden δ computed with the next layer's weights already updated."""
    network = program.derivation.network
    by_symbol = {p: p.name for p in network.parameters}
    made = []
    for symbol, delta in program.derivation.deltas.items():
        if delta.neuron.layer == len(network.layers):
            continue
        weights = [nxt.weights[delta.neuron.index] for nxt in network.layers[delta.neuron.layer]]
        new = {w: program.updated_symbols[by_symbol[w]] for w in weights}
        names = ", ".join(w.name for w in weights)
        made.append(mistakes.Mistake("updated_weights_used", say("updated_weights_used", weights=names, delta=str(symbol)),
                                     {symbol: delta.definition.xreplace(new)}))  # fmt: skip
    return made


def _update_rule(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """w + η·g, w − g, w unchanged or w − η²·g instead of w − η·g, for every trainable parameter."""
    spec = program.derivation.network.spec
    ascent, no_rate, unchanged, rate_twice = {}, {}, {}, {}
    for name, gradient in program.derivation.gradients.items():
        if name in spec.frozen:
            continue
        g, new, w = program.gradient_symbols[name], program.updated_symbols[name], gradient.parameter
        ascent[new] = w + program.eta * g
        no_rate[new] = w - g
        unchanged[new] = w
        rate_twice[new] = w - program.eta**2 * g
    made = [mistakes.Mistake(kind, say(kind), changes) for kind, changes in
            (("gradient_ascent", ascent), ("learning_rate_left_out", no_rate), ("no_update", unchanged))]  # fmt: skip
    if spec.learning_rate != 1:  # with η = 1, η² = η and nothing changes
        made.append(mistakes.Mistake("learning_rate_twice", say("learning_rate_twice"), rate_twice))
    return made


def _bias_left_out(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """One neuron's bias left out of its z."""
    network = program.derivation.network
    return [
        mistakes.Mistake("bias_left_out", say("bias_left_out", bias=str(n.bias), z=str(n.z)),
                         {n.z: network.z_definition(n).xreplace({n.bias: sympy.S.Zero})})
        for n in network.neurons
        if n.bias is not None
    ]  # fmt: skip


def _bias_gradient(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """∂L/∂b taken as 0, or as δ·b, where it is δ·1: the bias's input is 1."""
    derivation = program.derivation
    biases = {n.bias for n in derivation.network.neurons if n.bias is not None}
    gradients = {program.gradient_symbols[name]: g for name, g in derivation.gradients.items() if g.parameter in biases}
    if not gradients:
        return []
    return [
        mistakes.Mistake("bias_gradient", say("bias_gradient_zero"), {s: sympy.S.Zero for s in gradients}),
        mistakes.Mistake("bias_gradient", say("bias_gradient_times_b"),
                         {s: g.delta_form * g.parameter for s, g in gradients.items()}),
    ]  # fmt: skip


def _wrong_weights(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """A neighbouring weight used for another: in one z (w12 for w11, or transposed w21 for w12), or in one hidden δ.

    Neighbours only (the weights either side on the sheet): a wide layer adds a few mistakes per weight, not a square.
    """
    network = program.derivation.network
    made = []

    def swap(step_symbol: sympy.Symbol, expression: sympy.Expr, weight: sympy.Symbol, other: sympy.Symbol) -> None:
        if other != weight and weight in expression.free_symbols:
            text = say("wrong_weight", other=str(other), weight=str(weight), step=str(step_symbol))
            made.append(mistakes.Mistake("wrong_weight", text, {step_symbol: expression.xreplace({weight: other})}))

    def neighbours(weights: tuple[sympy.Symbol, ...], k: int) -> list[sympy.Symbol]:
        return [weights[i] for i in (k - 1, k + 1) if 0 <= i < len(weights)]  # w31 ↔ w32: the next one on the sheet

    for neuron in network.neurons:
        same_layer = network.layers[neuron.layer - 1]
        for k, weight in enumerate(neuron.weights):
            for other in neighbours(neuron.weights, k):
                swap(neuron.z, network.z_definition(neuron), weight, other)
            if k < len(same_layer) and neuron.index < len(same_layer[k].weights):  # indices swapped: w_kj for w_jk
                swap(neuron.z, network.z_definition(neuron), weight, same_layer[k].weights[neuron.index])
    for symbol, delta in program.derivation.deltas.items():
        if delta.neuron.layer == len(network.layers):
            continue
        for nxt in network.layers[delta.neuron.layer]:
            for other in neighbours(nxt.weights, delta.neuron.index):
                swap(symbol, delta.definition, nxt.weights[delta.neuron.index], other)
    return made


def _sum_forgotten(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """A hidden δ with one path kept: δ_j = f′(z_j)·w_ij·δ_i instead of the sum over the next layer's i."""
    made = []
    for symbol, delta in program.derivation.deltas.items():
        if len(delta.terms) < 2 or delta.neuron.layer == len(program.derivation.network.layers):
            continue
        for term in delta.terms:
            kept = term[0].wrt  # the next layer's z on this path
            product = sympy.Mul(*(f.expression for f in term))
            made.append(mistakes.Mistake("sum_forgotten", say("sum_forgotten", kept=str(kept), delta=str(symbol)),
                                         {symbol: product}))  # fmt: skip
    return made


def _bce_factor_kept(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """With sigmoid and binary cross-entropy, σ′ kept: δ = (ŷ − t)·ŷ·(1 − ŷ) instead of ŷ − t."""
    network = program.derivation.network
    if network.spec.loss != "binary_cross_entropy":
        return []
    changes = {}
    for delta in _output_deltas(program):
        n = delta.neuron
        local = [f.expression for term in delta.terms for f in term if f.of == n.a and f.wrt == n.z]
        changes[n.delta] = delta.definition * local[0]
    return [mistakes.Mistake("bce_factor_kept", say("bce_factor_kept"), changes)]


def _exp_sign(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """e^(+z) for e^(−z) in one sigmoid neuron: σ(−z) = 1 − σ(z)."""
    network = program.derivation.network
    return [
        mistakes.Mistake("exp_sign", say("exp_sign", z=str(n.z), a=str(n.a)),
                         {n.a: network.a_definition(n, stable=True).xreplace({n.z: -n.z})})
        for n in network.neurons
        if network.activation(n.layer) == "sigmoid"
    ]  # fmt: skip


def _cross_entropy_slips(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """In the cross-entropy's value: log10 for ln, or its minus sign dropped."""
    network = program.derivation.network
    if network.spec.loss not in CROSS_ENTROPIES:
        return []
    ln10 = sympy.log(10)
    common = network.loss.replace(sympy.log, lambda x: sympy.log(x) / ln10 if x != 10 else sympy.log(x))
    return [
        mistakes.Mistake("log10", say("log10"), {network.loss_symbol: common}),
        mistakes.Mistake("ce_sign_dropped", say("ce_sign_dropped"), {network.loss_symbol: -network.loss}),
    ]  # fmt: skip


def _mean_forgotten(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """MSE without its 1/K over K outputs: the loss and the output δ's K times too large."""
    network = program.derivation.network
    outputs = len(network.outputs)
    if network.spec.loss != "mse" or outputs < 2:
        return []
    changes = {network.loss_symbol: outputs * network.loss, **_loss_derivative_scaled(program, outputs)}
    return [mistakes.Mistake("mean_forgotten", say("mean_forgotten", outputs=outputs), changes)]


def batch_means(program: mistakes.Program, say: Words) -> list[mistakes.Mistake]:
    """A batch's means: the sum taken instead, divided by N twice, or one example's value taken for the mean."""
    count = len(program.copies)
    means = [program.derivation.network.loss_symbol, *program.gradient_symbols.values()]

    def total(symbol: sympy.Symbol) -> sympy.Expr:
        return sympy.Add(*(copy[symbol] for copy in program.copies))

    made = [
        mistakes.Mistake("batch_sum", say("batch_sum", count=count), {s: total(s) for s in means}),
        mistakes.Mistake("batch_divided_twice", say("batch_divided_twice", count=count),
                         {s: total(s) / count**2 for s in means}),
    ]  # fmt: skip
    made += [
        mistakes.Mistake("batch_one_example", say("batch_one_example", number=n),
                         {s: copy[s] for s in means})
        for n, copy in enumerate(program.copies, start=1)
    ]  # fmt: skip
    return made
