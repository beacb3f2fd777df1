"""Optional accelerator: the derivation as one compiled loop over examples (numba), cached on disk.

For small networks and large batches the cost is in the elementwise work, not
in matrix products: NumPy makes a pass over memory for every z, h and δ. Here
the same straight-line code that `export` prints runs once per example inside
a numba-compiled loop, and the gradients are summed as it goes.

Compiling takes seconds to minutes (it grows faster than the code), so the
generated module is written to a cache folder under the hash of its source and
numba keeps the machine code beside it: a network compiled once starts at once
in every later process. A network not compiled yet is compiled in a background
process while the vector form (symbackprop.vector) answers, and one with more
than MAX_COMPILED parameters is never compiled: the vector form is as fast there.
Without numba (the `fast` extra), or for a formula numba cannot type, the
exported NumPy code gives the same numbers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from symbackprop import chain, export, vector

MAX_COMPILED = 400  # parameters: [8, 8, 8, 8, 8, 1] (297) compiles in about 14 s, [32, 32, 32, 1] in minutes

# Scalar versions of export.KERNELS, for code compiled by numba. The sigmoid uses exp, which is
# faster than tanh here and equal to the tanh form to rounding (exp(1000) = inf gives 0, not an error).
_SCALAR_KERNELS = '''
@numba.njit(cache=True)
def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


@numba.njit(cache=True)
def softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


@numba.njit(cache=True)
def relu(z):
    return z if z > 0 else 0.0


@numba.njit(cache=True)
def step(z):
    return 1.0 if z > 0 else 0.0


@numba.njit(cache=True)
def leaky_relu(z):
    return z if z > 0 else 0.01 * z


@numba.njit(cache=True)
def leaky_step(z):
    return 1.0 if z > 0 else 0.01
'''

# Run in a child process: compiles the module at argv[1] (numba writes its cache beside it), then marks it done.
# The module is registered under its file's stem, as `_load` does: numba's cache records the module's name.
_COMPILE = (
    "import importlib.util, pathlib, sys\n"
    "spec = importlib.util.spec_from_file_location(pathlib.Path(sys.argv[1]).stem, sys.argv[1])\n"
    "module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "open(sys.argv[2], 'w').close()\n"
)


def available() -> bool:
    """True when numba is installed (pip install "symbackprop[fast]")."""
    return importlib.util.find_spec("numba") is not None


class FusedEvaluator:
    """Mean loss and mean gradients of a batch in one pass per example.

    Args:
        derivation: a per-weight derivation (chain.derive).
        use_numba: None (default): the compiled loop when numba is installed, from the disk
            cache or, until a background compile is done, the vector form; True: compile now,
            waiting, and raise when numba cannot; False: the exported NumPy code.
    """

    def __init__(self, derivation: chain.Derivation, *, use_numba: bool | None = None) -> None:
        self.parameter_names = [p.name for p in derivation.network.parameters]
        self._run = None
        self._numba = False
        self._compiling: tuple[subprocess.Popen, Path, Path] | None = None
        self._vector: vector.VectorEvaluator | None = None
        if use_numba is None and available():
            self._start(derivation)
        elif use_numba:
            self._run, self._numba = _load(*_module(_program(derivation))), True  # a NumbaError goes to the caller
        if self._run is None and self._compiling is None:
            self._run = _compile_numpy(derivation)

    @property
    def uses_numba(self) -> bool:
        """True once the compiled loop answers (False while it compiles, or when it cannot)."""
        self._poll()
        return self._numba

    def _start(self, derivation: chain.Derivation) -> None:
        """The compiled loop from the cache; else compile it in a child process, the vector form answering meanwhile."""
        module = None
        if len(self.parameter_names) <= MAX_COMPILED:
            try:
                module = _module(_program(derivation))
            except OSError:  # no cache folder we may write: the vector form, never compiled
                module = None
        if module is not None and module[1].exists():
            self._run, self._numba = _load(*module), True
            return
        self._vector = vector.VectorEvaluator(vector.derive(derivation.network.spec))
        if module is not None:
            command = [sys.executable, "-c", _COMPILE, *map(str, module)]
            # close_fds=False lets Python use posix_spawn instead of fork (our descriptors are not inherited
            # anyway): forking a process that runs threads (JAX's, BLAS's) can deadlock the child
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, close_fds=False)  # fmt: skip
            self._compiling = (child, *module)

    def _poll(self, *, wait: bool = False) -> None:
        """Switch to the compiled loop once the child process has compiled it."""
        if self._compiling is None:
            return
        child, path, done = self._compiling
        if (child.wait() if wait else child.poll()) is None:
            return
        self._compiling = None
        if done.exists():  # else numba could not compile a formula: the vector form stays
            self._run, self._numba, self._vector = _load(path, done), True, None

    def wait(self) -> FusedEvaluator:
        """Wait for a background compile to finish (benchmarks time the compiled loop, not the fallback)."""
        self._poll(wait=True)
        return self

    def flat(self, parameters: Mapping[str, float]) -> np.ndarray:
        return np.array([float(parameters[name]) for name in self.parameter_names])

    def as_dict(self, flat: np.ndarray) -> dict[str, float]:
        return dict(zip(self.parameter_names, map(float, flat)))

    def gradients(self, inputs: np.ndarray, targets: np.ndarray, flat: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss, mean gradient in parameter order) for a batch (examples × columns)."""
        self._poll()
        inputs = np.ascontiguousarray(inputs, dtype=float)
        targets = np.ascontiguousarray(targets, dtype=float)
        flat = np.ascontiguousarray(flat, dtype=float)
        if self._vector is not None:  # the parameter order of both is the spec's
            result = self._vector.gradients(inputs, targets, flat)
            return result.loss, result.flat
        totals = self._run(inputs, targets, flat)
        return float(totals[0]), totals[1:]

    value_and_gradient = gradients  # the name every evaluator answers to (api.evaluator)


def _program(derivation: chain.Derivation) -> export.Program:
    # internal identifiers: the loop's own variables (n, i, X, …) are valid parameter names
    return export.program(derivation, internal=True)


def _source(prog: export.Program) -> str:
    """A module with a numba function summing loss and gradients over the examples."""
    count = len(prog.parameters) + 1
    body = [
        "import math", "", "import numba", "import numpy as np", "", _SCALAR_KERNELS, "",
        # not ninf/nnan: exp(1000) = inf must stay inf; no parallel: it slows compiling 1.3-2.7x for nothing on 2 cores
        '@numba.njit("f8[::1](f8[:, ::1], f8[:, ::1], f8[::1])", fastmath={"reassoc", "contract", "nsz", "arcp"}, cache=True)',
        "def run(X, T, P):",
        *(f"    {name} = P[{i}]" for i, name in enumerate(prog.parameters)),
        "    n = X.shape[0]",
        *(f"    acc{k} = 0.0" for k in range(count)),
        "    for i in range(n):",
        *(f"        {name} = X[i, {k}]" for k, name in enumerate(prog.inputs)),
        *(f"        {name} = T[i, {k}]" for k, name in enumerate(prog.targets)),
        *(f"        {name} = {code}" for name, code in (*prog.forward, prog.loss_step, *prog.backward)),
        f"        acc0 += {prog.loss}",
        *(f"        acc{k} += {code}" for k, (_, code) in enumerate(prog.gradients, start=1)),
        f"    totals = np.empty({count})",
        *(f"    totals[{k}] = acc{k} / n" for k in range(count)),
        "    return totals",
    ]  # fmt: skip
    return "\n".join(body) + "\n"


def cache_folder() -> Path:
    """Where compiled loops are kept: $SYMBACKPROP_CACHE, else symbackprop/ in the user's cache folder."""
    if os.environ.get("SYMBACKPROP_CACHE"):
        return Path(os.environ["SYMBACKPROP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "symbackprop"


def _module(prog: export.Program) -> tuple[Path, Path]:
    """The generated module's file, written once under the hash of its source, and its compiled marker."""
    source = _source(prog)
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    folder = cache_folder()
    path = folder / f"fused_{digest}.py"
    if not path.exists():  # rewriting it would change its time stamp and void numba's cache of it
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".fused_{digest}.{os.getpid()}.tmp"
        partial.write_text(source)
        os.replace(partial, path)
    return path, path.with_suffix(".done")


def _load(path: Path, done: Path):
    """Import the generated module: from numba's cache when compiled before, else compiling it now."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "run"):  # a second evaluator of the same network in this process finds it loaded
        try:
            spec.loader.exec_module(module)  # code printed from our own expressions, internal identifiers
        except BaseException:
            del sys.modules[spec.name]
            raise
    done.touch()
    return module.run


def _compile_numpy(derivation: chain.Derivation):
    namespace: dict = {}
    exec(export.module_source(derivation), namespace)  # user text only as repr(), names checked (see export)
    names = namespace["PARAMETERS"]

    def run(X: np.ndarray, T: np.ndarray, P: np.ndarray) -> np.ndarray:
        loss, grads = namespace["mean_gradients"](X, T, dict(zip(names, P)))
        return np.array([loss, *grads.values()])

    return run
