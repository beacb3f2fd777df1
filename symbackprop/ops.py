"""Activations and losses: SymPy builders, local derivatives and stable NumPy kernels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy

LEAKY_SLOPE = sympy.Rational(1, 100)


class _RealFunction(sympy.Function):
    """A function real for every real argument.

    Told to SymPy as signs, because otherwise it asks tanh(w·σ(z)).is_real the slow way,
    exponentially in the nesting.
    """

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class _PositiveFunction(_RealFunction):
    """Real and positive for every real argument."""

    def _eval_is_positive(self) -> bool | None:
        return self.args[0].is_real


class _NonnegativeFunction(_RealFunction):
    """Real and never negative for every real argument."""

    def _eval_is_nonnegative(self) -> bool | None:
        return self.args[0].is_real


class sigmoid(_PositiveFunction):  # noqa: N801 - the printed name is the function's name
    """The logistic function σ(z) = 1/(1 + e^(−z)), kept whole so it prints as σ."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        return sympy.Rational(1, 2) if z == 0 else None

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-z))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _latex(self, printer, exp=None) -> str:
        body = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


class softplus(_PositiveFunction):  # noqa: N801
    """softplus(z) = ln(1 + e^z)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(z))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _latex(self, printer, exp=None) -> str:
        body = rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


class step(_NonnegativeFunction):  # noqa: N801
    """The ReLU derivative: 1 for z > 0, else 0 (the value 0 at the kink is a convention)."""

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        return (sympy.S.One if z > 0 else sympy.S.Zero) if z.is_Number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return sympy.Heaviside(z, 0)

    def _latex(self, printer, exp=None) -> str:
        return rf"\mathbb{{1}}\left[{printer._print(self.args[0])} > 0\right]"


class relu(_NonnegativeFunction):  # noqa: N801
    """relu(z) = max(0, z)."""

    @classmethod
    def eval(cls, z: sympy.Expr) -> sympy.Expr | None:
        return sympy.Max(0, z) if z.is_Number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return step(self.args[0])

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return sympy.Max(0, z)

    def _latex(self, printer, exp=None) -> str:
        body = rf"\operatorname{{ReLU}}\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


class leaky_step(_PositiveFunction):  # noqa: N801
    """The leaky-ReLU derivative: 1 for z > 0, else the slope α = 0.01."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return sympy.Piecewise((1, z > 0), (LEAKY_SLOPE, True))

    def _latex(self, printer, exp=None) -> str:
        arg = printer._print(self.args[0])
        return rf"\begin{{cases}}1 & {arg} > 0\\ \alpha & {arg} \le 0\end{{cases}}"


class leaky_relu(_RealFunction):  # noqa: N801
    """leaky_relu(z) = z for z > 0, else α·z with α = 0.01."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return leaky_step(self.args[0])

    def _eval_rewrite_as_exp(self, z: sympy.Expr, **kwargs) -> sympy.Expr:
        return sympy.Piecewise((z, z > 0), (LEAKY_SLOPE * z, True))

    def _latex(self, printer, exp=None) -> str:
        body = rf"\operatorname{{LeakyReLU}}\left({printer._print(self.args[0])}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


CUSTOM_FUNCTIONS = (sigmoid, softplus, step, relu, leaky_step, leaky_relu)


def to_standard_sympy(expr: sympy.Expr) -> sympy.Expr:
    """Rewrite our named functions into plain SymPy (exp, log, Max, Piecewise, Heaviside)."""
    # only ours: rewriting tanh too would copy its argument four times per level of nesting
    return expr.rewrite(list(CUSTOM_FUNCTIONS), sympy.exp) if expr.has(*CUSTOM_FUNCTIONS) else expr


def _stable_sigmoid(z):
    # tanh form: never overflows, unlike 1/(1 + exp(-z)) at z = -1000
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def _step(z):
    return (np.asarray(z) > 0).astype(float)


def _leaky_step(z):
    return np.where(np.asarray(z) > 0, 1.0, float(LEAKY_SLOPE))


NUMPY_KERNELS: dict[str, Callable] = {
    "sigmoid": _stable_sigmoid,
    "softplus": lambda z: np.logaddexp(0.0, z),
    "step": _step,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_step": _leaky_step,
    "leaky_relu": lambda z: np.where(np.asarray(z) > 0, z, float(LEAKY_SLOPE) * np.asarray(z)),
}

# The same functions in mpmath, for evaluating our expressions at 50 digits without rewriting them
# into Piecewise (which nests, and then folds, once per layer).
MPMATH_KERNELS: dict[str, Callable] = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "softplus": lambda z: mpmath.log1p(mpmath.exp(z)) if z < 0 else z + mpmath.log1p(mpmath.exp(-z)),
    "step": lambda z: mpmath.mpf(1) if z > 0 else mpmath.mpf(0),
    "relu": lambda z: z if z > 0 else mpmath.mpf(0),
    "leaky_step": lambda z: mpmath.mpf(1) if z > 0 else (mpmath.mpf(LEAKY_SLOPE.p) / LEAKY_SLOPE.q),
    "leaky_relu": lambda z: z if z > 0 else (mpmath.mpf(LEAKY_SLOPE.p) / LEAKY_SLOPE.q) * z,
}


@dataclass(frozen=True)
class Activation:
    """An elementwise activation a = f(z) with f' written in a and z, as students write it."""

    name: str
    definition_latex: str  # f(z) = ..., with z as the argument
    derivative_latex: str  # f'(z) = ..., in the seeds' terms
    apply: Callable[[sympy.Expr], sympy.Expr]
    derivative: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]  # (z, a) -> df/dz
    has_kink: bool = False

    @property
    def symbol_latex(self) -> str:
        """The function's own name as its definition writes it: \\sigma, \\tanh, \\operatorname{ReLU}, f."""
        return self.definition_latex.split("(z)")[0]


ELEMENTWISE: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            r"\sigma(z) = \frac{1}{1 + e^{-z}}",
            r"\sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr)",
            sigmoid,
            lambda z, a: a * (1 - a),
        ),
        Activation(
            "tanh",
            r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}",
            r"\tanh'(z) = 1 - \tanh^{2}(z)",
            sympy.tanh,
            lambda z, a: 1 - a**2,
        ),
        Activation(
            "relu",
            r"\operatorname{ReLU}(z) = \max(0, z)",
            r"\operatorname{ReLU}'(z) = \mathbb{1}[z > 0]",
            relu,
            lambda z, a: step(z),
            has_kink=True,
        ),
        Activation(
            "leaky_relu",
            r"\operatorname{LeakyReLU}(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases},\ \alpha = 0.01",
            r"\operatorname{LeakyReLU}'(z) = \begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases}",
            leaky_relu,
            lambda z, a: leaky_step(z),
            has_kink=True,
        ),
        Activation("linear", r"f(z) = z", r"f'(z) = 1", lambda z: z, lambda z, a: sympy.S.One),
        Activation(
            "softplus",
            r"\operatorname{softplus}(z) = \ln\left(1 + e^{z}\right)",
            r"\operatorname{softplus}'(z) = \sigma(z)",
            softplus,
            lambda z, a: sigmoid(z),
        ),
    )
}

def custom_activation(name: str, definition: sympy.Expr, z: sympy.Symbol) -> Activation:
    """An Activation from a user's formula f(z); its derivative is taken by SymPy."""
    slope = sympy.diff(definition, z)
    label = r"\operatorname{%s}" % name.replace("_", r"\_")
    return Activation(
        name,
        rf"{label}(z) = {sympy.latex(definition)}",
        rf"{label}'(z) = {sympy.latex(slope)}",
        lambda arg: definition.xreplace({z: arg}),
        lambda arg, a: slope.xreplace({z: arg}),
        has_kink=definition.has(sympy.Abs, sympy.Max, sympy.Min, relu),
    )


SOFTMAX = "softmax"
SOFTMAX_DEFINITION_LATEX = r"\hat{y}_j = \frac{e^{z_j}}{\sum_i e^{z_i}}"
SOFTMAX_DERIVATIVE_LATEX = r"\frac{\partial \hat{y}_i}{\partial z_j} = \hat{y}_i\left(\mathbb{1}[i = j] - \hat{y}_j\right)"
ACTIVATION_NAMES = (*ELEMENTWISE, SOFTMAX)


def softmax(zs: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
    """Softmax outputs e^{z_k} / Σ_j e^{z_j} for a layer's pre-activations."""
    total = sympy.Add(*(sympy.exp(z) for z in zs))
    return [sympy.exp(z) / total for z in zs]


def softmax_derivative(ys: Sequence[sympy.Symbol], i: int, k: int) -> sympy.Expr:
    """∂y_i/∂z_k = y_i (1[i = k] − y_k), in the outputs' symbols."""
    return ys[i] * ((1 if i == k else 0) - ys[k])


@dataclass(frozen=True)
class Loss:
    """A loss L(ŷ, t) summed over the K outputs of one example."""

    name: str
    definition_latex: str
    build: Callable[[Sequence[sympy.Symbol], Sequence[sympy.Symbol]], sympy.Expr]
    requires_output: str | None = None  # an output activation the loss only makes sense with


def _squared(ys, ts) -> sympy.Expr:
    return sympy.Add(*((y - t) ** 2 for y, t in zip(ys, ts)))


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "half_squared_error",
            r"L = \frac{1}{2}\sum_{j} (\hat{y}_j - t_j)^2",
            lambda ys, ts: sympy.Rational(1, 2) * _squared(ys, ts),
        ),
        Loss("squared_error", r"L = \sum_{j} (\hat{y}_j - t_j)^2", _squared),
        Loss(
            "mse",
            r"L = \frac{1}{K}\sum_{j=1}^{K} (\hat{y}_j - t_j)^2",
            lambda ys, ts: _squared(ys, ts) / len(ys),
        ),
        Loss(
            "binary_cross_entropy",
            r"L = -\sum_{j} \bigl[t_j \ln \hat{y}_j + (1 - t_j) \ln (1 - \hat{y}_j)\bigr]",
            lambda ys, ts: -sympy.Add(*(t * sympy.log(y) + (1 - t) * sympy.log(1 - y) for y, t in zip(ys, ts))),
            requires_output="sigmoid",
        ),
        Loss(
            "cross_entropy",
            r"L = -\sum_{j} t_j \ln \hat{y}_j",
            lambda ys, ts: -sympy.Add(*(t * sympy.log(y) for y, t in zip(ys, ts))),
            requires_output=SOFTMAX,
        ),
    )
}


def stable_loss_from_logits(
    loss: str, output_activation: str, zs: Sequence[sympy.Symbol], ts: Sequence[sympy.Symbol]
) -> sympy.Expr | None:
    """The loss written in the output pre-activations, for the pairs whose ŷ form overflows.

    Cross-entropy of a saturated sigmoid or softmax needs ln(0) in the ŷ form;
    these forms are equal to it and finite for any z.
    """
    if loss == "binary_cross_entropy" and output_activation == "sigmoid":
        return sympy.Add(*(t * softplus(-z) + (1 - t) * softplus(z) for z, t in zip(zs, ts)))
    if loss == "cross_entropy" and output_activation == SOFTMAX:
        peak = sympy.Max(*zs)
        log_total = peak + sympy.log(sympy.Add(*(sympy.exp(z - peak) for z in zs)))
        return -sympy.Add(*(t * (z - log_total) for z, t in zip(zs, ts)))
    return None


def stable_softmax(zs: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
    """Softmax with the largest z subtracted first, equal to `softmax` and overflow-free."""
    peak = sympy.Max(*zs)
    return softmax([z - peak for z in zs])
