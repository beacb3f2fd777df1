"""Plain-text tables and JSON-ready dicts for `solve` and `derive` (the CLI prints them)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sympy

from symbackprop import chain, graph, numbers, ops
from symbackprop.errors import listing
from symbackprop.finite_diff import GradCheck
from symbackprop.numeric import Solution
from symbackprop.spec import Spec

MAX_EXAMPLE_COLUMNS = 6


def _value(values) -> float | list[float]:
    return float(values[0]) if len(values) == 1 else [float(v) for v in values]


def solution_json(spec: Spec, solution: Solution, check: GradCheck) -> dict[str, Any]:
    """The `solve --json` contract: loss, forward, gradients, updated, gradcheck (+ deltas)."""
    return {
        "loss": solution.loss,
        "forward": {name: _value(v) for name, v in solution.forward.items()},
        "deltas": {name: _value(v) for name, v in solution.deltas.items()},
        "gradients": solution.gradients,
        "updated": solution.updated,
        "frozen": list(spec.frozen),
        "gradcheck": {
            "checked": len(check.rows),  # a sample of the parameters of a wide network (finite_diff.sample)
            "parameters": len(solution.gradients),
            "max_rel_error": numbers.or_null(check.max_relative_error),
            "ok": check.ok,
            "near_kink": check.near_kink,
            "rows": {r.name: {"chain_rule": r.chain_rule, "finite_difference": numbers.or_null(r.finite_difference),
                              "rel_error": numbers.or_null(r.relative_error), "near_kink": r.near_kink}
                     for r in check.rows},
        },  # fmt: skip
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    line = lambda cells: "  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def _describe(spec) -> str:
    shape = "-".join(map(str, spec.layers))
    acts = spec.activations[0] if len(set(spec.activations)) == 1 else ", ".join(spec.activations)
    return f"network {shape}, activation {acts}, loss {spec.loss}, learning rate η = {spec.learning_rate:g}"


def solution_text(spec: Spec, solution: Solution, check: GradCheck, *, decimals: int = 6) -> str:
    """A readable report: forward pass, loss, gradients with updates, gradient check."""
    fmt = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    count = len(solution.losses)
    shown = min(count, MAX_EXAMPLE_COLUMNS)
    columns = ["value"] if count == 1 else [f"example {i + 1}" for i in range(shown)]
    lines = [spec.title] if spec.title else []
    lines.append(_describe(spec))
    if count > 1:
        lines.append(f"batch of {count} examples: loss and gradients are means over the batch"
                     + (f" (first {shown} shown)" if shown < count else ""))  # fmt: skip
    lines += ["", "Forward pass"]
    lines += _table(["quantity", *columns], [[n, *map(fmt, v[:shown])] for n, v in solution.forward.items()])
    lines += ["", f"Loss  L = {fmt(solution.loss)}" + (" (mean over the batch)" if count > 1 else "")]
    lines += ["", "Error signals δ = ∂L/∂z"]
    lines += _table(["delta", *columns], [[n, *map(fmt, v[:shown])] for n, v in solution.deltas.items()])
    lines += ["", f"Gradients and one gradient-descent step, w ← w − η·∂L/∂w with η = {spec.learning_rate:g}"]
    rows = []
    for name, gradient in solution.gradients.items():
        note = "frozen" if name in spec.frozen else ""
        rows.append([name, fmt(spec.parameters[name]), fmt(gradient), fmt(solution.updated[name]), note])
    lines += _table(["parameter", "value", "∂L/∂parameter", "updated", ""], rows)
    verdict = "ok" if check.ok else "MISMATCH"
    sampled = f", {len(check.rows):,} of {len(solution.gradients):,} parameters" if len(check.rows) < len(solution.gradients) else ""
    lines += ["", f"Gradient check (central finite differences{sampled}): max relative error {check.max_relative_error:.1e}, {verdict}"]
    if check.near_kink:
        lines.append(f"  not compared, the difference straddles a ReLU kink (z = 0): {listing(check.near_kink)}")
    return "\n".join(lines)


def _partial(factor: chain.Factor) -> str:
    return f"∂{factor.of}/∂{factor.wrt}"


@functools.lru_cache(maxsize=8192)  # the same factors recur along every path through a layer
def _text(expr: sympy.Expr) -> str:
    return sympy.sstr(expr)


def activation_definitions(derivation: chain.Derivation) -> dict[str, dict[str, str]]:
    """Each layer's activation as the derivation uses it: a = f(z) and the local factor ∂a/∂z."""
    network = derivation.network
    result = {}
    for layer, neurons in enumerate(network.layers, start=1):
        neuron = neurons[0]
        definition = f"{neuron.a} = {_text(network.a_definition(neuron))}"
        if network.activation(layer) == ops.SOFTMAX:
            slope = f"d{neuron.a}/d{neuron.z} = {_text(chain.output_derivative(network, 0, 0))}"
            if len(neurons) > 1:
                slope += f", d{neuron.a}/d{neurons[1].z} = {_text(chain.output_derivative(network, 0, 1))}"
        else:
            local = network.elementwise(layer).derivative(neuron.z, neuron.a)
            slope = f"d{neuron.a}/d{neuron.z} = {_text(local)}"
        result[f"layer {layer}"] = {"name": network.activation(layer), "definition": definition, "derivative": slope}
    return result


def derivation_text(derivation: chain.Derivation, names: Sequence[str]) -> str:
    """For each parameter: the Leibniz chain, its factors, the δ form and the expanded form."""
    network = derivation.network
    spec = network.spec
    lines = [spec.title] if spec.title else []
    lines += [_describe(spec), f"loss {spec.loss}: L = {_text(network.loss)}"]
    for layer, entry in activation_definitions(derivation).items():
        lines.append(f"{layer}, {entry['name']}: {entry['definition']} (first neuron), {entry['derivative']}")
    lines.append("")
    lines.append("Error signals (each computed once, reused by every gradient below):")
    for symbol, delta in derivation.deltas.items():
        leibniz = " + ".join(" · ".join(_partial(f) for f in term) for term in delta.terms)
        lines.append(f"  {symbol} = ∂L/∂{delta.neuron.z} = {leibniz}")
        lines.append(f"         = {_text(delta.definition)}")
    for name in names:
        gradient = derivation.gradients[name]
        lines += ["", f"∂L/∂{name}" + ("   (frozen: not updated)" if name in spec.frozen else "")]
        if gradient.chains is None:
            lines.append(f"  chain: {len(gradient.occurrences)} place(s), too many paths to list; see the δ form")
        else:
            lines.append("  chain:   " + " + ".join(" · ".join(_partial(f) for f in c) for c in gradient.chains))
            lines.append("  factors: " + " + ".join(" · ".join(f"({_text(f.expression)})" for f in c) for c in gradient.chains))
        lines.append(f"  δ form:  {_text(gradient.delta_form)}")
        if gradient.expanded is not None:
            lines.append(f"  in inputs, targets and parameters: {_text(gradient.expanded)}")
    return "\n".join(lines)


def _factor_json(factor: chain.Factor) -> dict[str, str]:
    return {"of": factor.of.name, "wrt": factor.wrt.name, "expression": _text(factor.expression)}


def symbol_table(network: graph.Network) -> dict[str, list[str]]:
    """Every name an expression of `network` can contain, by kind.

    Any expression text of `derive --json` reads back with
    ``sympy.parse_expr(text, local_dict={n: sympy.Symbol(n, real=True) for each name})``:
    naming.RESERVED keeps out the names SymPy prints or the parser writes itself.
    """
    intermediates = [s.name for n in network.neurons for s in (n.z, n.a)]
    intermediates += [n.delta.name for n in network.neurons] + [network.loss_symbol.name]
    return {
        "inputs": [s.name for s in network.inputs],
        "targets": [s.name for s in network.targets],
        "parameters": [s.name for s in network.parameters],
        "intermediates": intermediates,
    }


def derivation_json(derivation: chain.Derivation, names: Sequence[str], proof: dict[str, bool] | None) -> dict[str, Any]:
    """The `derive --json` contract: per parameter its chains, factors, δ form, expression and symbols.

    `symbols` at the top names every symbol of the network (`symbol_table`); each
    parameter's `symbols` names those its `expression` uses.
    """
    network = derivation.network
    spec = network.spec
    result: dict[str, Any] = {
        "title": spec.title,
        "layers": list(spec.layers),
        "symbols": symbol_table(network),
        "loss": {"name": spec.loss, "expression": _text(network.loss)},
        "activations": activation_definitions(derivation),
        "deltas": {
            symbol.name: {
                "neuron": delta.neuron.z.name,
                "terms": [[_factor_json(f) for f in term] for term in delta.terms],
                "definition": _text(delta.definition),
            }
            for symbol, delta in derivation.deltas.items()
        },
        "parameters": {},
    }
    for name in names:
        gradient = derivation.gradients[name]
        entry: dict[str, Any] = {
            "frozen": name in spec.frozen,
            "chains": None if gradient.chains is None else [[_factor_json(f) for f in c] for c in gradient.chains],
            "delta_form": _text(gradient.delta_form),
        }
        if gradient.expanded is not None:
            expression = ops.to_standard_sympy(gradient.expanded)
            used = expression.free_symbols
            entry["expression"] = _text(expression)
            entry["symbols"] = {
                "inputs": [s.name for s in network.inputs if s in used],
                "targets": [s.name for s in network.targets if s in used],
                "parameters": [s.name for s in network.parameters if s in used],
            }
        if proof is not None:
            entry["proof"] = proof[name]
        result["parameters"][name] = entry
    return result
