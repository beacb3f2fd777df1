"""Names of every parameter and intermediate quantity, in ASCII and in LaTeX.

Schemes (see README, "Naming"):
  neuron      neurons 1, 2, 3, … across the non-input layers; weight w{j}{k}
              (w{j}_{k} once an index has two digits), bias b{j}
  sequential  weights w1, w2, … layer by layer, by receiving then source neuron;
              biases b1, b2, … the same way
  layer       W{l}_{j}_{k} and b{l}_{j}, the textbook W^(l)_jk and b^(l)_j
Intermediates: z and h per neuron (z{j}, h{j}; z{l}_{j}, h{l}_{j} with layer
naming), outputs y (y1, y2, … when there are several) and targets t (t1, …).

Which names a user may choose (rename: and custom activation names). A name is a
letter, then letters, digits or _ (the whole string: "w1\n" is refused). The
engine never runs code in a user's name: numeric.py compiles over internal
symbols `_v0, _v1, …` (no user name starts with _), so a name such as e,
maximum, sum or where cannot shadow NumPy or Python there. What is still refused:
  - Python keywords, and the generated names x…, t…, y…, z…, h…, delta…, L;
  - RESERVED: what SymPy prints into `derive --json` expressions other than a
    symbol (exp, Max, Heaviside, E, pi, our activations sigmoid, step, …) and what
    `sympy.parse_expr` writes into the code it evaluates (Integer, Float, Symbol, …),
    so every expression reads back with a local_dict of the names; and `np`, the
    one global the exported module's functions use besides the activation kernels;
  - a name whose LaTeX would equal another quantity's (`latex_clash`): w_12 beside
    w12, alpha beside alpha_, x1_ beside the input x1, eta beside the learning rate.
SymPy names that never appear in our expressions (beta, gamma, zeta, Lambda, re,
Sum, sin, N, S, O, Q) and NumPy or Python names (e, maximum, select, sum, abs,
print) are allowed: they read back and compute as any other name.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

SCHEMES = ("neuron", "sequential", "layer")
BIAS_MODES = ("per_neuron", "per_layer", "none")
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # used with fullmatch: "w1\n" is not a name
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
}  # fmt: skip
# Names that are not symbols in a printed expression, or in the code parse_expr evaluates,
# or in the exported module (see the module docstring).
RESERVED = {
    # functions and constants sympy.sstr can print in our expressions (formulas, their derivatives)
    "exp", "log", "sqrt", "Abs", "sign", "tanh", "Max", "Min", "Heaviside", "Piecewise",
    "E", "pi", "I", "oo", "zoo", "nan",
    # our activations as SymPy functions, printed by name; also the exported module's kernels
    "sigmoid", "softplus", "relu", "step", "leaky_relu", "leaky_step",
    # what parse_expr's standard transformations write into the code it evaluates
    "Integer", "Float", "Rational", "Symbol", "Function",
    # the exported module's NumPy
    "np",
}  # fmt: skip
# LaTeX of notation every handout uses, and of what some activations add to it.
NOTATION = {r"\eta": "the learning rate η"}
ACTIVATION_NOTATION = {
    "sigmoid": (r"\sigma", "the sigmoid σ"),
    "softplus": (r"\sigma", "the sigmoid σ (softplus' = σ)"),
    "leaky_relu": (r"\alpha", "the leaky ReLU slope α"),
}


@dataclass(frozen=True)
class Name:
    """One quantity's name: an identifier for code and JSON, and its LaTeX."""

    ascii: str
    latex: str


def _pair(j: int, k: int) -> str:
    return f"{j}{k}" if j < 10 and k < 10 else f"{j}_{k}"


def _pair_latex(j: int, k: int) -> str:
    return f"{j}{k}" if j < 10 and k < 10 else f"{j},{k}"


def is_generated_intermediate(name: str) -> bool:
    """True for names symbackprop gives to inputs, targets, outputs, z, h, δ and the loss L."""
    return name == "L" or bool(re.fullmatch(r"(x|t|y|z|h|delta)\d*(_\d+)?", name))


def custom_latex(name: str) -> str:
    """LaTeX for a user-chosen parameter name: w_a1 → w_{a1}, alpha → \\alpha, w7 → w_{7}."""
    head, _, tail = name.partition("_")
    match = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)
    if match and not tail:
        head, tail = match.groups()
    base = rf"\{head}" if head in GREEK else (head if len(head) == 1 else rf"\mathit{{{head}}}")
    return f"{base}_{{{tail.replace('_', ',')}}}" if tail else base


@dataclass(frozen=True)
class Layout:
    """Default names of a network's weights, biases and intermediates, layer by layer.

    Index [l][j][k] of `weights` is the weight into neuron j of non-input layer
    l+1 from neuron k of the layer before; `biases[l][j]` is None without biases.
    """

    weights: tuple[tuple[tuple[Name, ...], ...], ...]
    biases: tuple[tuple[Name | None, ...], ...]
    pre_activations: tuple[tuple[Name, ...], ...]
    activations: tuple[tuple[Name, ...], ...]  # hidden h's, then the outputs ŷ
    deltas: tuple[tuple[Name, ...], ...]
    inputs: tuple[Name, ...]
    targets: tuple[Name, ...]


def layout(layers: tuple[int, ...], *, scheme: str, bias: str) -> Layout:
    """Name every quantity of a network with `layers` neurons per layer."""
    n_in, n_out = layers[0], layers[-1]
    inputs = tuple(Name(f"x{k}", f"x_{{{k}}}") for k in range(1, n_in + 1))
    single = n_out == 1
    targets = tuple(Name("t", "t") if single else Name(f"t{k}", f"t_{{{k}}}") for k in range(1, n_out + 1))
    outputs = tuple(Name("y", r"\hat{y}") if single else Name(f"y{k}", rf"\hat{{y}}_{{{k}}}") for k in range(1, n_out + 1))

    weights, biases, zs, hs, deltas = [], [], [], [], []
    neuron = 0  # global neuron number for the neuron scheme
    weight_count = bias_count = 0  # running numbers for the sequential scheme
    depth = len(layers) - 1
    for l in range(1, depth + 1):
        size, fan_in = layers[l], layers[l - 1]
        layer_w, layer_b, layer_z, layer_h, layer_d = [], [], [], [], []
        for j_local in range(1, size + 1):
            neuron += 1
            row = []
            for k in range(1, fan_in + 1):
                weight_count += 1
                if scheme == "neuron":
                    row.append(Name(f"w{_pair(neuron, k)}", f"w_{{{_pair_latex(neuron, k)}}}"))
                elif scheme == "sequential":
                    row.append(Name(f"w{weight_count}", f"w_{{{weight_count}}}"))
                else:
                    row.append(Name(f"W{l}_{j_local}_{k}", f"W^{{({l})}}_{{{_pair_latex(j_local, k)}}}"))
            layer_w.append(tuple(row))
            if bias == "none":
                layer_b.append(None)
            elif bias == "per_layer":
                layer_b.append(Name(f"b{l}", f"b_{{{l}}}") if scheme != "layer" else Name(f"b{l}", f"b^{{({l})}}"))
            elif scheme == "layer":
                layer_b.append(Name(f"b{l}_{j_local}", f"b^{{({l})}}_{{{j_local}}}"))
            else:
                bias_count += 1
                number = neuron if scheme == "neuron" else bias_count
                layer_b.append(Name(f"b{number}", f"b_{{{number}}}"))
            if scheme == "layer":
                layer_z.append(Name(f"z{l}_{j_local}", f"z^{{({l})}}_{{{j_local}}}"))
                layer_h.append(Name(f"h{l}_{j_local}", f"h^{{({l})}}_{{{j_local}}}"))
                layer_d.append(Name(f"delta{l}_{j_local}", rf"\delta^{{({l})}}_{{{j_local}}}"))
            else:
                layer_z.append(Name(f"z{neuron}", f"z_{{{neuron}}}"))
                layer_h.append(Name(f"h{neuron}", f"h_{{{neuron}}}"))
                layer_d.append(Name(f"delta{neuron}", rf"\delta_{{{neuron}}}"))
        weights.append(tuple(layer_w))
        biases.append(tuple(layer_b))
        zs.append(tuple(layer_z))
        hs.append(tuple(layer_h) if l < depth else outputs)
        deltas.append(tuple(layer_d))
    return Layout(tuple(weights), tuple(biases), tuple(zs), tuple(hs), tuple(deltas), inputs, targets)


def default_parameter_names(lay: Layout) -> list[str]:
    """Every parameter name in network order (weights then bias, layer by layer), once each."""
    names: list[str] = []
    for layer_w, layer_b in zip(lay.weights, lay.biases):
        for row in layer_w:
            names.extend(w.ascii for w in row)
        for b in layer_b:
            if b is not None:
                names.append(b.ascii)
    return list(dict.fromkeys(names))


def check_custom_name(name: object) -> str | None:
    """Return why `name` cannot name a parameter or an activation, or None when it can."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return f"{name!r} is not a valid name (a letter, then letters, digits or _)"
    if keyword.iskeyword(name) or name in RESERVED:
        return f"'{name}' is reserved (a Python keyword or a function name)"
    if name == "L":
        return "'L' is the name of the loss"
    if is_generated_intermediate(name):
        return f"'{name}' is the name of an input, target, output, z, h or delta"
    return None


def parameter_latex(name: str, defaults: Mapping[str, str]) -> str:
    """LaTeX of a parameter called `name`: a default name's own (a tie), else custom_latex.

    `defaults` maps every default parameter name to its LaTeX (`default_latex`).
    """
    return defaults.get(name) or custom_latex(name)


def default_latex(lay: Layout) -> dict[str, str]:
    """Every default parameter name -> its LaTeX, in network order."""
    return {n.ascii: n.latex for layer_w, layer_b in zip(lay.weights, lay.biases)
            for n in [*(w for row in layer_w for w in row), *(b for b in layer_b if b)]}  # fmt: skip


def _looks(latex: str) -> str:
    # braces and spaces do not change what is typeset: w_{7} and w_7 look the same
    return re.sub(r"[{}\s]", "", latex)


def latex_clash(lay: Layout, rename: Mapping[str, str], *, activations: Sequence[str] = ()) -> tuple[str, str] | None:
    """The first renamed parameter that would typeset like another quantity, as (where, why).

    Distinct parameters must print differently, and differently from every input,
    target, output, z, h, δ, the loss L and the notation (η; σ and α when an
    activation uses them). Returns None when every name prints uniquely.
    """
    if not rename:
        return None  # default names print uniquely
    defaults = default_latex(lay)
    seen: dict[str, str] = {}  # what a LaTeX string looks like -> what prints that way
    for latex, what in NOTATION.items():
        seen[_looks(latex)] = what
    for activation in activations:
        if activation in ACTIVATION_NOTATION:
            latex, what = ACTIVATION_NOTATION[activation]
            seen[_looks(latex)] = what
    generated = [*lay.inputs, *lay.targets, Name("L", "L")]
    for group in (lay.pre_activations, lay.activations, lay.deltas):
        generated += [name for layer in group for name in layer]
    for name in generated:
        seen.setdefault(_looks(name.latex), name.ascii)
    renamed_from = {new: old for old, new in rename.items()}
    for default in defaults:
        final = rename.get(default, default)
        looks = _looks(parameter_latex(final, defaults))
        other = seen.setdefault(looks, final)
        if other != final:
            culprit = final if final in renamed_from else other
            where = f"rename.{renamed_from.get(culprit, culprit)}"
            printed = parameter_latex(culprit, defaults)
            return where, f"'{culprit}' would print as {printed}, the same as {other if culprit == final else final}"
    return None


def internal_symbols(symbols: Sequence[sympy.Symbol]) -> dict[sympy.Symbol, sympy.Symbol]:
    """Each distinct symbol -> `_v0`, `_v1`, … in the order given: the names generated code uses.

    No name a user may choose starts with _ (NAME_PATTERN), and the NumPy and mpmath star
    imports in lambdify's namespace skip such names, so these collide with nothing.
    """
    return {symbol: sympy.Symbol(f"_v{i}", real=True) for i, symbol in enumerate(dict.fromkeys(symbols))}
