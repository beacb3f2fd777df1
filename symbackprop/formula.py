"""A whitelist parser for custom activation formulas, building SymPy objects directly.

A formula such as ``z / (1 + exp(-z))`` comes from a spec, so it is untrusted: it is
never given to eval, sympify or parse_expr (all of which run Python code). Python's
`ast` parses it in eval mode, and only numbers, the variable z, + − × ÷, powers with
small constant exponents, parentheses and the functions of FUNCTIONS are turned
into SymPy; everything else is refused with the offending part named. Length,
node count and nesting are bounded so that no formula can exhaust time or memory.
"""

from __future__ import annotations

import ast
import fractions
import math
from collections.abc import Callable

import sympy

from symbackprop import ops

Z = sympy.Symbol("z", real=True)
MAX_LENGTH = 300
MAX_NODES = 120
MAX_DEPTH = 24
MAX_EXPONENT = 8
MAX_NUMBER = 1e6

FUNCTIONS: dict[str, tuple[int, Callable[..., sympy.Expr]]] = {
    "exp": (1, sympy.exp),
    "log": (1, sympy.log),
    "ln": (1, sympy.log),
    "sqrt": (1, sympy.sqrt),
    "abs": (1, sympy.Abs),
    "tanh": (1, sympy.tanh),
    "erf": (1, sympy.erf),
    "sigmoid": (1, ops.sigmoid),
    "softplus": (1, ops.softplus),
    "relu": (1, ops.relu),
    "max": (2, sympy.Max),
    "min": (2, sympy.Min),
}
ALLOWED = "numbers, z, + - * / ** (small constant exponents), parentheses and " + ", ".join(FUNCTIONS)
KINKED = (sympy.Abs, sympy.Max, sympy.Min, ops.relu)


class FormulaError(ValueError):
    """The formula is not allowed; the message names the offending part."""


def parse(text: object) -> sympy.Expr:
    """Turn a formula in z into a SymPy expression, or raise FormulaError."""
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
    expr = _build(tree.body, depth=0)
    if expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise FormulaError(f"'{text}' is not finite")
    return expr


def is_kinked(expr: sympy.Expr) -> bool:
    """True when the formula has a corner (abs, max, min, relu) where f' jumps."""
    return expr.has(*KINKED)


def _number(value: object, node: ast.AST) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FormulaError(f"'{ast.unparse(node)}' is not allowed ({ALLOWED})")
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise FormulaError(f"the number {ast.unparse(node)} is too large (limit {MAX_NUMBER:g})")
    exact = fractions.Fraction(repr(value)) if isinstance(value, float) else fractions.Fraction(value)
    return sympy.Rational(exact.numerator, exact.denominator)


def _exponent(node: ast.AST) -> sympy.Expr:
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


def _build(node: ast.AST, *, depth: int) -> sympy.Expr:
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
        operand = _build(node.operand, depth=deeper)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _build(node.left, depth=deeper)
        if isinstance(node.op, ast.Pow):
            return left ** _exponent(node.right)
        right = _build(node.right, depth=deeper)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                raise FormulaError(f"'{ast.unparse(node)}' divides by zero")
            return left / right
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name not in FUNCTIONS:
            raise FormulaError(f"unknown function '{name}'; allowed: {', '.join(FUNCTIONS)}")
        arity, build = FUNCTIONS[name]
        if len(node.args) != arity:
            raise FormulaError(f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}")
        return build(*(_build(arg, depth=deeper) for arg in node.args))
    raise FormulaError(f"'{ast.unparse(node)}' is not allowed ({ALLOWED})")
