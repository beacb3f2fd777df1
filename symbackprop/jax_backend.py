"""Optional backend: the vector form's forward and backward pass compiled whole by JAX (XLA), float64 on the CPU.

The equations are the vector form's own (`symbackprop.vector`): the activations,
their slopes and the output layer's loss and δ are our SymPy expressions handed
to `sympy.lambdify(..., modules="jax")`, and the backward pass is the δ rule, not
JAX's autodiff. XLA then fuses the elementwise work of each layer into its matrix
products, which NumPy cannot. Importing JAX switches it to 64-bit floats for the
whole process (jax_enable_x64), as our numbers are float64 everywhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import sympy

from symbackprop import ops, vector
from symbackprop.errors import SymbackpropError


def available() -> bool:
    """True when JAX is installed (pip install "symbackprop[jax]")."""
    return importlib.util.find_spec("jax") is not None


def _jax():
    try:
        import jax
    except ImportError:
        raise SymbackpropError("the jax evaluator needs JAX: pip install 'symbackprop[jax]'") from None
    jax.config.update("jax_enable_x64", True)
    return jax


def _kernels(jax) -> dict[str, Callable]:
    """Our activation functions in jax.numpy, by the names SymPy prints them with (as ops.NUMPY_KERNELS)."""
    jnp = jax.numpy
    slope = float(ops.LEAKY_SLOPE)
    return {
        "sigmoid": jax.nn.sigmoid,  # XLA's logistic: one fused op, not exp, add and divide
        "softplus": lambda z: jnp.logaddexp(0.0, z),
        "step": lambda z: jnp.where(z > 0, 1.0, 0.0),
        "relu": lambda z: jnp.maximum(z, 0.0),
        "leaky_step": lambda z: jnp.where(z > 0, 1.0, slope),
        "leaky_relu": lambda z: jnp.where(z > 0, z, slope * z),
    }


class JaxEvaluator(vector.VectorEvaluator):
    """`vector.VectorEvaluator` whose batch gradient is one XLA program (compiled per batch shape)."""

    def __init__(self, form: vector.VectorForm) -> None:
        super().__init__(form)
        jax = _jax()
        jnp = jax.numpy
        modules = [_kernels(jax), "jax"]
        z, a = sympy.Symbol("z", real=True), sympy.Symbol("a", real=True)
        apply, slope = [], []
        for layer in form.layers[:-1]:
            activation = form.spec.elementwise(layer.activation)
            apply.append(sympy.lambdify([z], activation.apply(z), modules=modules))
            slope.append(sympy.lambdify([z, a], activation.derivative(z, a), modules=modules))
        output = vector.compile_output(form.output, modules=modules, xp=jnp)
        places = self._places
        size = self.size
        parts = [part for w, b in places for part in (w, b) if part is not None]
        in_order = not self._tied and all(block is not None for _, block in parts)

        def affine(W, b, source, *, rows: bool = False):
            # rows: the source is the batch as given, one example per row. dot_general's contracting
            # dimensions instead of transposes: XLA then copies nothing
            product = jnp.einsum("jk,ek->je" if rows else "jk,ke->je", W, source)
            return product if b is None else product + b[:, None]

        def run(flat, X, T):
            # the column form, one example per column, as the equations are written: each neuron's
            # values are one contiguous row, which the output layer's expressions take one by one
            matrices = [(vector.take(flat, *w), None if b is None else vector.take(flat, *b)) for w, b in places]
            # Wᵀ gathered as a matrix of its own (a few hundred numbers): the backward products are then
            # plain row-major products, which XLA hands to its fast kernel; a transposed operand is not
            transposed = [flat[w[0].T] for w, _ in places]
            activations, zs = [X], []
            for (W, b), f in zip(matrices[:-1], apply):
                zs.append(affine(W, b, activations[-1], rows=not zs))
                activations.append(jnp.broadcast_to(f(zs[-1]), zs[-1].shape))
            losses, delta, _ = output(affine(*matrices[-1], activations[-1], rows=len(matrices) == 1), T.T)
            count = X.shape[0]
            pieces = []  # (index, values) of every weight and bias gradient
            for l in range(len(matrices) - 1, -1, -1):
                # the mean taken on the small results, not on δ: one pass less over the batch
                pieces.append((places[l][0], jnp.einsum("je,ke->jk" if l else "je,ek->jk", delta, activations[l]) / count))
                if places[l][1] is not None:
                    pieces.append((places[l][1], delta.sum(axis=1) / count))
                if l:
                    delta = (transposed[l] @ delta) * slope[l - 1](zs[l - 1], activations[l])
            if in_order:  # each piece is one block of the flat vector: concatenate them in its order
                pieces.sort(key=lambda piece: piece[0][1].start)
                return losses, jnp.concatenate([values.ravel() for _, values in pieces])
            index = np.concatenate([i.ravel() for (i, _), _ in pieces])
            return losses, jnp.zeros(size).at[index].add(jnp.concatenate([v.ravel() for _, v in pieces]))

        def mean(flat, X, T):
            losses, gradient = run(flat, X, T)
            return losses.mean(), gradient

        self._asarray = jnp.asarray
        self._losses_and_gradient = jax.jit(run)
        self._mean = jax.jit(mean)

    def _arguments(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple:
        # jnp.asarray leaves arrays already on the device as they are: a caller may keep its batches there
        return self._asarray(flat, dtype=float), self._asarray(inputs, dtype=float), self._asarray(targets, dtype=float)

    def gradients(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> vector.Gradients:
        """Loss per example and mean gradient for a batch, as `vector.VectorEvaluator.gradients`."""
        losses, gradient = self._losses_and_gradient(*self._arguments(inputs, targets, flat))
        return vector.Gradients(np.asarray(losses), np.asarray(gradient))

    def value_and_gradient(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, mean gradient) of a batch, the per-example losses left on the device."""
        loss, gradient = self._mean(*self._arguments(inputs, targets, flat))
        return float(loss), np.asarray(gradient)
