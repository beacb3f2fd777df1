"""The library's entry points: spec → derivation → numbers → checks, one call each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from symbackprop import chain, finite_diff, graph, numeric
from symbackprop import spec as spec_module
from symbackprop.errors import SymbackpropError

# One expression per parameter costs about 0.3 ms to derive and compile: 50,000 take some 20 s.
MAX_PER_WEIGHT = 50_000


def build_spec(**keys: Any) -> spec_module.Spec:
    """Build a spec from keyword arguments with the spec file's keys, e.g. ``layers=[2, 2, 1]``."""
    return spec_module.from_dict(keys)


def derive(spec: spec_module.Spec, *, expand: bool | None = None) -> chain.Derivation:
    """Build `spec`'s network and derive ∂L/∂p for every parameter by the chain rule.

    Raises:
        SymbackpropError: the network has more than MAX_PER_WEIGHT parameters.
    """
    check_per_weight(len(spec.parameters))
    return chain.derive(graph.build(spec), expand=expand)


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
