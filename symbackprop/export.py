"""Write a derivation as a standalone, readable Python module that needs only NumPy.

The module computes what the engine computes, in the same order: the forward
pass (z, h, ŷ), the loss, the δ's output layer first, then each gradient as
δ × source. Every function takes numbers or NumPy arrays of examples.

Nothing from the spec is pasted into the source: the title and the spec's file
name reach it only as `repr()` of a str (the docstring is a string literal), and
variables are the spec's names, which passed naming.check_custom_name (never np,
a kernel or a keyword), or internal identifiers (`_v0, _v1, …`) when asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import sympy
from sympy.printing.numpy import NumPyPrinter

from symbackprop import __version__, chain, naming, numeric
from symbackprop.errors import SymbackpropError

MAX_PARAMETERS = 5_000  # one line per parameter; beyond this the matrix form is the readable one

# NumPy kernels of our named activations, equal to ops.NUMPY_KERNELS value for value.
KERNELS = {
    "sigmoid": ('"""σ(z) = 1/(1 + e^(−z)), in the tanh form that never overflows."""',
                "return 0.5 * (1.0 + np.tanh(0.5 * z))"),
    "softplus": ('"""softplus(z) = ln(1 + e^z), without overflow."""', "return np.logaddexp(0.0, z)"),
    "relu": ('"""ReLU(z) = max(0, z)."""', "return np.maximum(z, 0.0)"),
    "step": ('"""ReLU\'(z): 1 for z > 0, else 0."""', "return np.where(z > 0, 1.0, 0.0)"),
    "leaky_relu": ('"""LeakyReLU(z): z for z > 0, else 0.01·z."""', "return np.where(z > 0, z, 0.01 * z)"),
    "leaky_step": ('"""LeakyReLU\'(z): 1 for z > 0, else 0.01."""', "return np.where(z > 0, 1.0, 0.01)"),
}  # fmt: skip


class CodePrinter(NumPyPrinter):
    """NumPy code with `np.` names, our activations as plain calls and Max as nested np.maximum.

    Symbols print as `identifiers` says; the code calls nothing but `np.…` and the kernels,
    never a Python builtin, so that no parameter name can shadow what it calls.
    """

    def __init__(self, identifiers: Mapping[sympy.Symbol, str]) -> None:
        super().__init__({"allow_unknown_functions": True, "fully_qualified_modules": True})
        self.identifiers = identifiers

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return self.identifiers[expr]

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"numpy.abs({self._print(expr.args[0])})"

    def _print_Max(self, expr: sympy.Max) -> str:
        text = self._print(expr.args[0])
        for arg in expr.args[1:]:
            text = f"numpy.maximum({text}, {self._print(arg)})"
        return text

    def _print_Min(self, expr: sympy.Min) -> str:
        text = self._print(expr.args[0])
        for arg in expr.args[1:]:
            text = f"numpy.minimum({text}, {self._print(arg)})"
        return text

    def doprint(self, expr, assign_to=None) -> str:  # type: ignore[override]
        return super().doprint(expr, assign_to).replace("numpy.", "np.")


@dataclass(frozen=True)
class Program:
    """The derivation as straight-line assignments: arguments, steps, loss and gradients.

    Every str but `names` is an identifier in the code; `names` are the parameters'
    names in the spec, in the order of `parameters`.
    """

    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    parameters: tuple[str, ...]
    forward: tuple[tuple[str, str], ...]  # (identifier, code) of z, h, ŷ
    loss: str  # identifier of the loss variable, assigned last in `forward_and_loss`
    loss_step: tuple[str, str]
    backward: tuple[tuple[str, str], ...]  # δ's, output layer first
    gradients: tuple[tuple[str, str], ...]  # parameter name -> code of ∂L/∂parameter
    kernels: tuple[str, ...]  # activation kernels the code calls
    names: tuple[str, ...]


def program(derivation: chain.Derivation, *, internal: bool = False) -> Program:
    """Print every assignment of the derivation as NumPy code.

    Args:
        internal: name the variables `_v0, _v1, …` instead of the spec's names, for code
            that is compiled, not read, and uses identifiers of its own.
    """
    network = derivation.network
    forward_steps = numeric.forward_assignments(derivation)
    loss_symbol, loss_expr = numeric.loss_assignment(derivation)
    symbols = [*network.inputs, *network.targets, *network.parameters, *(s for s, _ in forward_steps),
               loss_symbol, *derivation.deltas]  # fmt: skip
    if internal:
        identifiers = {s: i.name for s, i in naming.internal_symbols(symbols).items()}
    else:
        identifiers = {s: s.name for s in symbols}
    printer = CodePrinter(identifiers)
    name = identifiers.__getitem__
    forward = [(name(s), printer.doprint(e)) for s, e in forward_steps]
    loss_step = (name(loss_symbol), printer.doprint(loss_expr))
    backward = [(name(s), printer.doprint(d.definition)) for s, d in derivation.deltas.items()]
    gradients = [(p, printer.doprint(g.delta_form)) for p, g in derivation.gradients.items()]
    code = " ".join(c for _, c in [*forward, loss_step, *backward, *gradients])
    used = tuple(k for k in KERNELS if re.search(rf"\b{k}\(", code))
    return Program(
        tuple(map(name, network.inputs)), tuple(map(name, network.targets)), tuple(map(name, network.parameters)),
        tuple(forward), loss_step[0], loss_step, tuple(backward), tuple(gradients), used,
        tuple(p.name for p in network.parameters),
    )  # fmt: skip


def check_size(count: int) -> None:
    """Raise SymbackpropError when `count` parameters are too many to write one per line."""
    if count > MAX_PARAMETERS:
        raise SymbackpropError(
            f"export: {count:,} parameters is more than the {MAX_PARAMETERS:,} that export writes one line each "
            "(--max-parameters N raises it; derive --form vector shows whole layers)"
        )


def module_source(derivation: chain.Derivation, *, source: str = "") -> str:
    """The text of a standalone module with `loss`, `gradients` and `mean_gradients`.

    Raises:
        SymbackpropError: the network has more than MAX_PARAMETERS parameters.
    """
    check_size(len(derivation.gradients))
    spec = derivation.network.spec
    prog = program(derivation)
    arguments = ", ".join([*prog.inputs, *prog.targets, *prog.parameters])
    shape = "-".join(map(str, spec.layers))
    title = spec.title or f"a {shape} network"
    docstring = [
        f"Loss and gradients of {title}.",
        "",
        f"Network {shape}, activations {', '.join(spec.activations)}, loss {spec.loss}.",
        f"Generated by symbackprop {__version__}" + (f" from {source}" if source else "") + "; needs only NumPy.",
        "Every argument is a number or a NumPy array with one entry per example.",
    ]
    lines = [
        *_docstring(docstring),
        "",
        "import numpy as np",
        "",
        f"INPUTS = {prog.inputs!r}",
        f"TARGETS = {prog.targets!r}",
        f"PARAMETERS = {prog.names!r}",
    ]
    for name in prog.kernels:
        doc, body = KERNELS[name]
        lines += ["", "", f"def {name}(z):", f"    {doc}", f"    {body}"]
    forward = [f"    {name} = {code}" for name, code in prog.forward]
    loss_line = f"    {prog.loss_step[0]} = {prog.loss_step[1]}"
    lines += ["", "", f"def loss({arguments}):", '    """The loss L of each example."""', *forward, loss_line,
              f"    return {prog.loss}"]  # fmt: skip
    lines += ["", "", f"def gradients({arguments}):",
              '    """∂L/∂p of each example for every parameter p: forward pass, δ\'s output layer first, then δ × source."""',
              *forward, loss_line, *(f"    {name} = {code}" for name, code in prog.backward),
              "    return {"]  # fmt: skip
    lines += [f"        {name!r}: {code}," for name, code in prog.gradients]
    lines += ["    }"]
    lines += [
        "", "",
        "def mean_gradients(inputs, targets, parameters):",
        '    """Mean loss and mean gradients over a batch.',
        "",
        "    inputs: array (examples × len(INPUTS)); targets: array (examples × len(TARGETS));",
        "    parameters: mapping of every name in PARAMETERS to its value.",
        "    Returns (mean loss, {name: mean ∂L/∂name}).",
        '    """',
        "    inputs = np.asarray(inputs, dtype=float)",
        "    targets = np.asarray(targets, dtype=float)",
        "    columns = [*inputs.T, *targets.T, *(float(parameters[name]) for name in PARAMETERS)]",
        "    count = inputs.shape[0]",
        "    mean = lambda values: float(np.mean(np.broadcast_to(values, (count,))))",
        "    grads = gradients(*columns)",
        "    return mean(loss(*columns)), {name: mean(value) for name, value in grads.items()}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _docstring(lines: list[str]) -> list[str]:
    """A module docstring holding `lines` as text, each line one repr() literal, joined by Python.

    Adjacent string literals in brackets are one constant, so this is the module's
    __doc__; repr() is what makes any title or file name (quotes, backslashes,
    newlines, \\N{…}) a literal that means exactly that text.
    """
    text = "\n".join(lines) + "\n"
    return ["(", *(f"    {str(line)!r}" for line in text.splitlines(keepends=True)), ")"]
