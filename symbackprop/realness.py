"""Whether a part of a custom formula keeps its sign for every real z: proved, or refused with where it fails.

A root needs a radicand that is never negative, a log an argument that is always
positive, a division a divisor that is never zero. Proof comes from SymPy's
assumptions (z is a real symbol; exp, abs, σ, softplus … know their signs) or,
for a polynomial with rational coefficients, from counting its real roots. When
neither proves it, a probe over a wide grid of real z looks for a point where it
fails, confirmed in exact arithmetic, so the message can name it; a formula that
is neither proved nor disproved is refused all the same (the safe direction).
"""

from __future__ import annotations

import fractions
import math

import numpy as np
import sympy

from symbackprop import ops

Z = sympy.Symbol("z", real=True)
UNKNOWN = "unknown"
MAX_POLYNOMIAL_DEGREE = 64  # beyond it root counting is not attempted (the formula is refused later anyway)
_HOLDS = {"positive": "is_positive", "nonnegative": "is_nonnegative", "nonzero": "is_nonzero"}
_FAILS = {"positive": "is_nonpositive", "nonnegative": "is_negative", "nonzero": "is_zero"}
_NICE = (0, 1, -1, 0.5, -0.5, 2, -2, 3, -3, 5, -5, 10, -10, 20, -20, 50, -50, 100, -100, 1000, -1000)
_TINY = np.logspace(-8, -1, 29)
_LARGE = np.logspace(1.5, 6, 37)
GRID = np.concatenate([_NICE, np.round(np.linspace(-20, 20, 8001), 3), _TINY, -_TINY, _LARGE, -_LARGE])


def degree(expr: sympy.Expr) -> int:
    """The degree of `expr` as a polynomial in z, each function's argument counted inside its call."""
    if expr == Z:
        return 1
    if not expr.has(Z):
        return 0
    if isinstance(expr, sympy.Pow) and expr.exp.is_number:
        return math.ceil(abs(expr.exp) * degree(expr.base))
    parts = [degree(arg) for arg in expr.args]
    return sum(parts) if isinstance(expr, sympy.Mul) else max(parts)


def failure(arg: sympy.Expr, need: str) -> str | None:
    """None when `arg` is `need` ("positive", "nonnegative" or "nonzero") for every real z.

    Otherwise where it fails, as a phrase to follow "is undefined": "" for a
    constant, " for z < 5", " at z = -1", " for every z", or UNKNOWN when it can
    be neither proved nor disproved.
    """
    if not arg.has(Z):
        return None if _decide(arg, need) else ""
    if getattr(arg, _HOLDS[need]) is True:
        return None
    if getattr(arg, _FAILS[need]) is True:
        return " for every z"
    poly = _polynomial(arg)
    if poly is not None and poly.degree() == 1:
        return _linear(poly, need)
    if poly is not None and _polynomial_holds(poly, need):
        return None
    witness = _probe(arg, need)
    if witness is not None:
        return f" at z = {witness:g}"
    if poly is not None:
        (low, high), _ = poly.intervals()[0]  # it fails somewhere: near a real root
        return f" near z = {float(low + high) / 2:.4g}"
    return UNKNOWN


def _decide(value: sympy.Expr, need: str) -> bool | None:
    """Whether the constant `value` is `need`: True, False, or None when it cannot be evaluated."""
    known = getattr(value, _HOLDS[need])
    if known is not None:
        return bool(known)
    number = value.evalf(30)
    if not number.is_comparable:
        return False if number.is_extended_real is False else None  # a complex number, or not evaluable
    return bool({"positive": number > 0, "nonnegative": number >= 0, "nonzero": number != 0}[need])


def _polynomial(arg: sympy.Expr) -> sympy.Poly | None:
    if not arg.is_polynomial(Z) or degree(arg) > MAX_POLYNOMIAL_DEGREE:
        return None
    poly = sympy.Poly(arg, Z)
    return poly if poly.domain.is_QQ or poly.domain.is_ZZ else None


def _linear(poly: sympy.Poly, need: str) -> str:
    slope, intercept = poly.all_coeffs()
    root = f"{float(-intercept / slope):g}"
    if need == "nonzero":
        return f" at z = {root}"
    below = slope > 0  # a·z + b is negative below its root when a > 0
    strict = {"positive": ("≤", "≥"), "nonnegative": ("<", ">")}[need]
    return f" for z {strict[0] if below else strict[1]} {root}"


def _polynomial_holds(poly: sympy.Poly, need: str) -> bool:
    if need == "nonzero":
        return poly.count_roots() == 0
    if need == "positive":
        return poly.count_roots() == 0 and poly.LC() > 0
    # never negative: no sign change (every real root of even multiplicity) and positive far out
    _, factors = poly.sqf_list()
    return poly.LC() > 0 and all(f.count_roots() == 0 for f, times in factors if times % 2)


def _probe(arg: sympy.Expr, need: str) -> float | None:
    """A grid point where `arg` is not `need`, confirmed exactly; None when none is found."""
    # our own expression, built by the whitelist parser: lambdify never sees user text
    function = sympy.lambdify(Z, arg, modules=[ops.NUMPY_KERNELS, "numpy"])
    try:
        with np.errstate(all="ignore"):
            values = np.broadcast_to(np.asarray(function(GRID), dtype=float), GRID.shape)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    finite = np.isfinite(values)
    bad = {"positive": values <= 0, "nonnegative": values < 0, "nonzero": values == 0}[need] & finite
    for index in np.flatnonzero(bad)[:8]:
        point = float(GRID[index])
        exact = arg.xreplace({Z: sympy.Rational(fractions.Fraction(repr(point)))})
        if _decide(exact, need) is False:
            return point
    return None
