"""symbackprop: symbolic backpropagation, every ∂L/∂w by the chain rule, evaluated and checked.

    import symbackprop as sbp
    spec = sbp.load_spec("examples/seed_2_2_1.yaml")   # or sbp.build_spec(layers=[2, 2, 1], ...)
    derivation = sbp.derive(spec)                     # chains, factors, δ form, expanded form
    solution = sbp.solve(derivation)                  # forward, loss, gradients, updated
    check = sbp.gradcheck(derivation)                 # vs central finite differences
    sbp.prove(derivation)                             # vs sympy.diff of the expanded loss

The names are loaded on first use so that the command line starts without SymPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_spec": ("symbackprop.spec", "load"),
    "spec_from_dict": ("symbackprop.spec", "from_dict"),
    "Spec": ("symbackprop.spec", "Spec"),
    "Example": ("symbackprop.spec", "Example"),
    "build_spec": ("symbackprop.api", "build_spec"),
    "derive": ("symbackprop.api", "derive"),
    "solve": ("symbackprop.api", "solve"),
    "gradcheck": ("symbackprop.api", "gradcheck"),
    "solve_checked": ("symbackprop.api", "solve_checked"),
    "evaluator": ("symbackprop.api", "evaluator"),
    "prove": ("symbackprop.chain", "prove"),
    "Derivation": ("symbackprop.chain", "Derivation"),
    "Solution": ("symbackprop.numeric", "Solution"),
    "Evaluator": ("symbackprop.numeric", "Evaluator"),
    "SymbackpropError": ("symbackprop.errors", "SymbackpropError"),
    "SpecError": ("symbackprop.errors", "SpecError"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value
