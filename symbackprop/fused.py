"""Optional accelerator: the derivation as one compiled loop over examples (numba), NumPy otherwise.

For small networks and large batches the cost is in the elementwise work, not
in matrix products: NumPy makes a pass over memory for every z, h and δ. Here
the same straight-line code that `export` prints runs once per example inside
a numba-compiled loop, split into chunks over the cores, and the gradients are
summed as it goes. Without numba (the `fast` extra), `FusedEvaluator` falls
back to the exported NumPy code, which gives the same numbers.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping

import numpy as np

from symbackprop import chain, export

# Scalar versions of export.KERNELS, for code compiled by numba. The sigmoid uses exp, which is
# faster than tanh here and equal to the tanh form to rounding (exp(1000) = inf gives 0, not an error).
_SCALAR_KERNELS = '''
def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))

def softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))

def relu(z):
    return z if z > 0 else 0.0

def step(z):
    return 1.0 if z > 0 else 0.0

def leaky_relu(z):
    return z if z > 0 else 0.01 * z

def leaky_step(z):
    return 1.0 if z > 0 else 0.01
'''


def available() -> bool:
    """True when numba is installed (pip install "symbackprop[fast]")."""
    return importlib.util.find_spec("numba") is not None


class FusedEvaluator:
    """Mean loss and mean gradients of a batch in one pass per example.

    Args:
        derivation: a per-weight derivation (chain.derive).
        use_numba: compile with numba (default: when it is installed and can compile every
            formula, else the NumPy code); True raises when numba cannot; False: NumPy code.
    """

    def __init__(self, derivation: chain.Derivation, *, use_numba: bool | None = None) -> None:
        # internal identifiers: the loop's own variables (n, c, i, size, X, …) are valid parameter names
        self.program = export.program(derivation, internal=True)
        self.parameter_names = list(self.program.names)
        self.uses_numba = available() if use_numba is None else use_numba
        self._run = None
        if self.uses_numba:
            from numba.core.errors import NumbaError

            try:
                self._run = _compile_numba(self.program)
            except NumbaError:  # a formula numba cannot type, e.g. a custom activation's Piecewise
                if use_numba:
                    raise
                self.uses_numba = False
        if self._run is None:
            self._run = _compile_numpy(derivation)

    def flat(self, parameters: Mapping[str, float]) -> np.ndarray:
        return np.array([float(parameters[name]) for name in self.parameter_names])

    def gradients(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, mean gradient in parameter order) for a batch (examples × columns)."""
        inputs = np.ascontiguousarray(inputs, dtype=float)
        targets = np.ascontiguousarray(targets, dtype=float)
        totals = self._run(inputs, targets, np.ascontiguousarray(flat, dtype=float))
        return float(totals[0]), totals[1:]


def _source(prog: export.Program) -> str:
    """A numba-compilable function summing loss and gradients over chunks of examples."""
    body = ["def run(X, T, P):"]
    body += [f"    {name} = P[{i}]" for i, name in enumerate(prog.parameters)]
    count = len(prog.parameters) + 1
    body += [
        "    n = X.shape[0]",
        "    chunks = max(1, min(n, numba.get_num_threads()))",
        "    size = (n + chunks - 1) // chunks",
        f"    partial = np.zeros((chunks, {count}))",
        "    for c in numba.prange(chunks):",
        *(f"        acc{k} = 0.0" for k in range(count)),
        "        for i in range(c * size, min(n, (c + 1) * size)):",
        *(f"            {name} = X[i, {k}]" for k, name in enumerate(prog.inputs)),
        *(f"            {name} = T[i, {k}]" for k, name in enumerate(prog.targets)),
        *(f"            {name} = {code}" for name, code in (*prog.forward, prog.loss_step, *prog.backward)),
        f"            acc0 += {prog.loss}",
        *(f"            acc{k} += {code}" for k, (_, code) in enumerate(prog.gradients, start=1)),
        *(f"        partial[c, {k}] = acc{k}" for k in range(count)),
        "    return partial.sum(axis=0) / n",
    ]  # fmt: skip
    return "\n".join(body) + "\n"


def _compile_numba(prog: export.Program):
    import numba

    if "NUMBA_THREADING_LAYER" not in os.environ:
        # OpenMP's spinning workers collapse (10× slower) when the cores are shared with other
        # processes; numba's own work queue degrades gracefully. Set the variable to choose another.
        numba.config.THREADING_LAYER = "workqueue"

    namespace: dict = {"math": math, "np": np, "numba": numba}
    exec(_SCALAR_KERNELS, namespace)  # our own fixed source, not user input
    for name in export.KERNELS:
        namespace[name] = numba.njit(namespace[name])
    # The generated code is printed from our own expressions over internal identifiers (_v0, _v1, …).
    exec(_source(prog), namespace)
    # Compiled now, for C-ordered float arrays, so that a formula numba cannot type fails here.
    signature = "f8[::1](f8[:, ::1], f8[:, ::1], f8[::1])"
    flags = {"reassoc", "contract", "nsz", "arcp"}  # not ninf/nnan: exp(1000) = inf must stay inf
    return numba.njit(signature, parallel=True, fastmath=flags, cache=False)(namespace["run"])


def _compile_numpy(derivation: chain.Derivation):
    namespace: dict = {}
    exec(export.module_source(derivation), namespace)  # user text only as repr(), names checked (see export)
    names = namespace["PARAMETERS"]

    def run(X: np.ndarray, T: np.ndarray, P: np.ndarray) -> np.ndarray:
        loss, grads = namespace["mean_gradients"](X, T, dict(zip(names, P)))
        return np.array([loss, *grads.values()])

    return run
