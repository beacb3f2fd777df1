"""A whitelist parser for custom activation formulas, building SymPy objects directly.

A formula such as ``z / (1 + exp(-z))`` comes from a spec, so it is untrusted: it is
never given to eval, sympify or parse_expr (all of which run Python code). Python's
`ast` parses it in eval mode, and only numbers, the variable z, + − × ÷, powers with
small constant exponents, parentheses and the functions of FUNCTIONS are turned
into SymPy; everything else is refused with the offending part named.

Two further promises, each checked before any work that could break it:

* Real: the formula is a real number for every real z. A root or fractional power
  must be of something never negative, a log of something always positive, and a
  division by something never zero (so ``1/z`` is refused: a neuron whose z reached
  0 would give inf). The `realness` module proves each such part from SymPy's
  assumptions or, for polynomials, by counting real roots; what neither proves is
  refused, with a failing z when a probe finds one.
* Bounded: length, parts, nesting, calls inside calls, the degree (the product of
  nested exponents), the size of constant powers, and the operation counts of f and
  f' are all capped, so no formula can exhaust time or memory later on.
"""

from __future__ import annotations

import ast
import fractions
import math
from collections.abc import Callable

import sympy

from symbackprop import ops, realness

Z = realness.Z
MAX_LENGTH = 300
MAX_NODES = 120
MAX_DEPTH = 24
MAX_CALL_DEPTH = 8  # functions inside functions, e.g. tanh(tanh(z)) is 2
MAX_EXPONENT = 8
MAX_DEGREE = 16  # the polynomial degree, e.g. ((1 + z)**4)**4 is 16: expanded forms grow as its power
EXACT_INTEGER = 2**53  # numerators and denominators of constants, so compiled code gets ordinary numbers
MAX_CONSTANT_BITS = 256  # a power of a constant stays below 2**256 (about 1e77)
MAX_OPS = 120  # operations in f(z), counted by sympy.count_ops
MAX_DERIVATIVE_OPS = 400  # operations in f'(z): the product rule squares a long product
MAX_NUMBER = 1e6
MIN_NUMBER = 1e-6  # smaller nonzero numbers become fractions of huge integers, which NumPy cannot compute with

# erf is not offered: NumPy has no erf, so numbers and exported modules would need SciPy.
FUNCTIONS: dict[str, tuple[int, Callable[..., sympy.Expr]]] = {
    "exp": (1, sympy.exp),
    "log": (1, sympy.log),
    "ln": (1, sympy.log),
    "sqrt": (1, sympy.sqrt),
    "abs": (1, sympy.Abs),
    "tanh": (1, sympy.tanh),
    "sigmoid": (1, ops.sigmoid),
    "softplus": (1, ops.softplus),
    "relu": (1, ops.relu),
    "max": (2, sympy.Max),
    "min": (2, sympy.Min),
}
ALLOWED = "numbers, z, + - * / ** (small constant exponents), parentheses and " + ", ".join(FUNCTIONS)
KINKED = (sympy.Abs, sympy.Max, sympy.Min, ops.relu)

ROOT_FIX = "take roots of something never negative, e.g. sqrt(abs(z)) or sqrt(1 + z**2)"
LOG_FIX = "take logs of something always positive, e.g. log(1 + exp(z))"
DIVISION_FIX = "divide by something never zero, e.g. 1 + abs(z) or 1 + exp(-z)"


class FormulaError(ValueError):
    """The formula is not allowed; the message names the offending part."""


def parse(text: object) -> sympy.Expr:
    """Turn a formula in z into a real SymPy expression of bounded size, or raise FormulaError."""
    if not isinstance(text, str):
        raise FormulaError('must be a formula in z written as text, e.g. "z / (1 + exp(-z))"')
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"is {len(text)} characters long; the limit is {MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("is empty; write a formula in z, e.g. \"z / (1 + exp(-z))\"")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise FormulaError(f"'{text}' is not a formula ({ALLOWED})") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise FormulaError(f"has {nodes} parts; the limit is {MAX_NODES}")
    expr = _build(tree.body, depth=0, calls=0)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise FormulaError(f"'{text}' is not finite")
    for constant in expr.atoms(sympy.Rational):  # NumPy computes with doubles: 10**24 as an int stops it
        if abs(constant.p) > EXACT_INTEGER or constant.q > EXACT_INTEGER:
            raise FormulaError(f"the numbers combine into {sympy.Float(constant, 3)}, beyond what a double holds "
                               f"exactly (2**53); keep constants between {MIN_NUMBER:g} and {MAX_NUMBER:g}")
    if expr.has(sympy.I) or expr.is_extended_real is False:  # a backstop: every part was checked above
        raise FormulaError(f"'{text}' is not real")
    _check_size(expr, text)
    return expr


def is_kinked(expr: sympy.Expr) -> bool:
    """True when the formula has a corner (abs, max, min, relu) where f' jumps."""
    return expr.has(*KINKED)


def _check_size(expr: sympy.Expr, text: str) -> None:
    total = realness.degree(expr)
    if total > MAX_DEGREE:
        raise FormulaError(f"'{text}' has degree {total} in z; the limit is {MAX_DEGREE}")
    ops_count = sympy.count_ops(expr)
    if ops_count > MAX_OPS:
        raise FormulaError(f"'{text}' has {ops_count} operations; the limit is {MAX_OPS}")
    slope_ops = sympy.count_ops(sympy.diff(expr, Z))
    if slope_ops > MAX_DERIVATIVE_OPS:
        raise FormulaError(f"the derivative of '{text}' has {slope_ops} operations; the limit is "
                           f"{MAX_DERIVATIVE_OPS}; write a shorter formula")  # fmt: skip


def _number(value: object, node: ast.AST) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormulaError(f"'{ast.unparse(node)}' is not allowed ({ALLOWED})")
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise FormulaError(f"the number {ast.unparse(node)} is too large (limit {MAX_NUMBER:g})")
    if value and abs(value) < MIN_NUMBER:
        raise FormulaError(f"the number {ast.unparse(node)} is too small (limit {MIN_NUMBER:g}, or 0)")
    exact = fractions.Fraction(repr(value)) if isinstance(value, float) else fractions.Fraction(value)
    return sympy.Rational(exact.numerator, exact.denominator)


def _exponent(node: ast.AST) -> sympy.Rational:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if not isinstance(node, ast.Constant):
        raise FormulaError(f"the exponent '{ast.unparse(node)}' must be a constant number")
    value = sign * _number(node.value, node)
    if abs(value) > MAX_EXPONENT:
        raise FormulaError(f"the exponent {ast.unparse(node)} is too large (limit ±{MAX_EXPONENT})")
    return value


def _power(base: sympy.Expr, exponent: sympy.Rational, node: ast.AST) -> sympy.Expr:
    """base**exponent, refused before it is built when too big or not real."""
    part = ast.unparse(node)
    if isinstance(base, sympy.Rational) and base != 0:
        bits = abs(base.p).bit_length() + base.q.bit_length()
        if bits * abs(exponent) > MAX_CONSTANT_BITS:
            raise FormulaError(f"the power {part} is too large (constants up to about 1e77)")
    total = math.ceil(realness.degree(base) * abs(exponent))
    if total > MAX_DEGREE:
        raise FormulaError(f"{part} has degree {total} in z; the limit is {MAX_DEGREE} (the product of nested exponents)")
    if not exponent.is_integer:
        need = "nonnegative" if exponent > 0 else "positive"
        _require(base, need, part, "is not real", ROOT_FIX)
    elif exponent < 0:
        _require(base, "nonzero", part, "is undefined", DIVISION_FIX)
    return base**exponent


def _require(arg: sympy.Expr, need: str, part: str, verb: str, fix: str) -> None:
    where = realness.failure(arg, need)
    if where is None:
        return
    if where == realness.UNKNOWN:
        adjective = "real" if verb == "is not real" else "defined"
        raise FormulaError(f"{part} cannot be shown to be {adjective} for every real z; {fix}")
    raise FormulaError(f"{part} {verb}{where}; {fix}")


def _call(name: str, args: list[sympy.Expr], node: ast.AST) -> sympy.Expr:
    part = ast.unparse(node)
    if name == "sqrt":
        _require(args[0], "nonnegative", part, "is not real", ROOT_FIX)
    elif name in ("log", "ln"):
        _require(args[0], "positive", part, "is undefined", LOG_FIX)
    return FUNCTIONS[name][1](*args)


def _build(node: ast.AST, *, depth: int, calls: int) -> sympy.Expr:
    if depth > MAX_DEPTH:
        raise FormulaError(f"is nested more than {MAX_DEPTH} levels deep")
    deeper = depth + 1
    if isinstance(node, ast.Constant):
        return _number(node.value, node)
    if isinstance(node, ast.Name):
        if node.id == "z":
            return Z
        raise FormulaError(f"unknown name '{node.id}'; the only variable is z")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, depth=deeper, calls=calls)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _build(node.left, depth=deeper, calls=calls)
        if isinstance(node.op, ast.Pow):
            return _power(left, _exponent(node.right), node)
        right = _build(node.right, depth=deeper, calls=calls)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise FormulaError(f"'{ast.unparse(node)}' divides by zero")
            _require(right, "nonzero", ast.unparse(node), "is undefined", DIVISION_FIX)
            return left / right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name not in FUNCTIONS:
            raise FormulaError(f"unknown function '{name}'; allowed: {', '.join(FUNCTIONS)}")
        arity = FUNCTIONS[name][0]
        if len(node.args) != arity:
            raise FormulaError(f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
        if calls >= MAX_CALL_DEPTH:
            raise FormulaError(f"has functions nested more than {MAX_CALL_DEPTH} deep, e.g. tanh(tanh(...)); "
                               f"the limit is {MAX_CALL_DEPTH}")  # fmt: skip
        return _call(name, [_build(arg, depth=deeper, calls=calls + 1) for arg in node.args], node)
    raise FormulaError(f"'{ast.unparse(node)}' is not allowed ({ALLOWED})")
