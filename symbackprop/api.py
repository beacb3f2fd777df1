"""The library's entry points: spec → derivation → numbers → checks, one call each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from symbackprop import chain, finite_diff, fused, graph, numeric, vector
from symbackprop import spec as spec_module
from symbackprop.errors import SymbackpropError

# One expression per parameter costs about 0.3 ms to derive and compile: 50,000 take some 20 s.
MAX_PER_WEIGHT = 50_000
# Numbers per weight cost about 1 ms a parameter to compile (10,201 parameters: 10 s); past this many,
# `solve_checked` works on whole layers, in a few matrix products per layer (see README, cost model).
PER_WEIGHT_SOLVE = 1_000


def build_spec(**keys: Any) -> spec_module.Spec:
    """Build a spec from keyword arguments with the spec file's keys, e.g. ``layers=[2, 2, 1]``."""
    return spec_module.from_dict(keys)


def derive(spec: spec_module.Spec, *, expand: bool | None = None, only: Sequence[str] | None = None) -> chain.Derivation:
    """Build `spec`'s network and derive ∂L/∂p for every parameter (or those named in `only`) by the chain rule.

    Raises:
        SymbackpropError: the network has more than MAX_PER_WEIGHT parameters.
    """
    check_per_weight(len(spec.parameters))
    return chain.derive(graph.build(spec), expand=expand, only=None if only is None else set(only))


def check_per_weight(count: int) -> None:
    """Refuse, before any work, a network too large to derive and compile one expression per parameter."""
    if count > MAX_PER_WEIGHT:
        raise SymbackpropError(
            f"{count:,} parameters is more than the {MAX_PER_WEIGHT:,} that the per-parameter chain rule handles "
            "(--max-parameters N raises it; derive --form vector and train work on whole layers)"
        )


def solve(derivation: chain.Derivation, *, parameters: Mapping[str, float] | None = None,
          examples: Sequence[spec_module.Example] | None = None) -> numeric.Solution:  # fmt: skip
    """Forward pass, loss, gradients (mean over the examples) and one gradient-descent step."""
    return numeric.solve(derivation, parameters=parameters, examples=examples)


# Batch gradients: `vector` (NumPy matrix products; no compiling, any size), `fused` (numba loop over
# examples, per-weight code, up to fused.MAX_COMPILED parameters) and `jax` (the vector form compiled
# by XLA; the `jax` extra). benchmarks/run.py races them; see README, "Choosing an evaluator".
EVALUATORS = ("vector", "fused", "jax")


def evaluator(spec: spec_module.Spec, *, kind: str = "vector"):
    """An evaluator of `spec`'s batch gradients: `flat(parameters)`, `value_and_gradient(X, T, flat)`, `as_dict(flat)`.

    Every kind gives the same numbers to rounding, in the spec's parameter order.

    Raises:
        SymbackpropError: an unknown kind, or jax without JAX installed.
    """
    if kind == "vector":
        return vector.VectorEvaluator(vector.derive(spec))
    if kind == "fused":
        return fused.FusedEvaluator(derive(spec))
    if kind == "jax":
        from symbackprop import jax_backend  # imports JAX, which takes a second: only when asked for

        return jax_backend.JaxEvaluator(vector.derive(spec))
    raise SymbackpropError(f"evaluator: unknown kind '{kind}'; valid: {', '.join(EVALUATORS)}")


def solve_checked(spec: spec_module.Spec) -> tuple[numeric.Solution, finite_diff.GradCheck]:
    """One gradient-descent step of `spec` and its finite-difference check, as `symbackprop solve` reports them.

    Up to PER_WEIGHT_SOLVE parameters (and MAX_PER_WEIGHT) the numbers come from
    the per-weight derivation; past it from the layer-wise matrix form, which gives
    the same quantities (every z, h, δ and gradient, by name) to rounding.
    """
    if len(spec.parameters) <= min(PER_WEIGHT_SOLVE, MAX_PER_WEIGHT):
        evaluator = numeric.Evaluator(derive(spec))
    else:
        evaluator = vector.VectorEvaluator(vector.derive(spec))
    solution = evaluator.solve(spec.examples, spec.parameters, learning_rate=spec.learning_rate, frozen=spec.frozen)
    return solution, finite_diff.gradcheck(evaluator, spec.examples, spec.parameters, solution.gradients)


def gradcheck(derivation: chain.Derivation, *, parameters: Mapping[str, float] | None = None,
              examples: Sequence[spec_module.Example] | None = None,
              names: Sequence[str] | None = None) -> finite_diff.GradCheck:  # fmt: skip
    """Compare the chain-rule gradients with central finite differences of the loss."""
    spec = derivation.network.spec
    parameters = spec.parameters if parameters is None else parameters
    examples = spec.examples if examples is None else examples
    evaluator = numeric.Evaluator(derivation)
    solution = evaluator.solve(examples, parameters, learning_rate=spec.learning_rate, frozen=spec.frozen)
    return finite_diff.gradcheck(evaluator, examples, parameters, solution.gradients, names=names)
