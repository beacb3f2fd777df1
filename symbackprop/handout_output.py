"""The output δ where loss and output activation cancel: δ = ŷ − t for cross-entropy after a sigmoid or softmax.

The handout writes such a δ in its general form (∂L/∂ŷ · ∂ŷ/∂z, summed over the
outputs for a softmax), then the simplified form. The simplification is shown
only when SymPy confirms it on this derivation's own δ, and, where it needs the
targets to sum to 1, only when every example's targets do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, ops
from symbackprop.spec import Example

# (output activation, loss) -> the reason the template gives for the simplification
CANCELLING = {
    ("sigmoid", "binary_cross_entropy"): "sigmoid_cross_entropy",  # σ′ = ŷ(1 − ŷ) cancels ∂L/∂ŷ's denominators
    (ops.SOFTMAX, "cross_entropy"): "softmax_cross_entropy",  # the ŷ's cancel; Σ_k t_k = 1 does the rest
}
NEEDS_ONE_HOT = {"softmax_cross_entropy"}


@dataclass(frozen=True)
class Simplified:
    """δ_k = ŷ_k − t_k, and which cancellation gives it (the template says why in words)."""

    reason: str
    expression: sympy.Expr


def simplified(derivation: chain.Derivation, delta: chain.Delta, examples: Sequence[Example]) -> Simplified | None:
    """The simplified form of an output δ, or None when this loss and activation do not cancel."""
    network = derivation.network
    neuron = delta.neuron
    if neuron.layer != len(network.layers):
        return None
    reason = CANCELLING.get((network.activation(neuron.layer), network.spec.loss))
    if reason is None:
        return None
    simple = neuron.a - network.targets[neuron.index]
    difference = sympy.expand(delta.definition - simple)
    if reason in NEEDS_ONE_HOT:
        if not all(math.isclose(sum(e.targets), 1.0, abs_tol=1e-12) for e in examples):
            return None
        *others, last = network.targets
        difference = sympy.expand(difference.xreplace({last: 1 - sympy.Add(*others)}))
    return Simplified(reason, simple) if difference == 0 else None
