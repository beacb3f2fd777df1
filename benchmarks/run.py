"""Scale and speed of symbackprop against baselines run in the same process; prints one table (and --json).

    python benchmarks/run.py                 # everything, single thread and all threads (several minutes)
    python benchmarks/run.py --quick         # fewer repeats, no naive route, no 60-second derive row
    python benchmarks/run.py --json out.json # also write the rows as JSON, to compare runs

Each thread setting runs in a child process of its own, with the thread counts set
before NumPy, PyTorch and JAX start (threadpoolctl, torch.set_num_threads,
XLA_FLAGS): OpenBLAS, PyTorch and XLA size their pools once, at import.

Rows (ratio = ours / baseline; below 1 means ours is faster, except for the naive
route and the limits, where the baseline is the bar):
  derive+compile [8,8,8,8,8,1]  vs sympy.diff of the fully substituted loss (extrapolated per layer)
  growth exponent               log-log slope of derive+compile time over 5 sizes vs 1.2
  gradient, batch 100,000       our evaluators (fused numba loop, vector form, vector form on JAX) vs
                                hand-written NumPy, PyTorch autograd and jax.jit(jax.value_and_grad);
                                the ratio is our fastest over the fastest baseline
  gradient [784,128,10] b256    the same, on a wide layer
  first gradient                fresh process: imports, spec, evaluator, one batch gradient
  goal-3 sizes                  the CLI on wide networks, in a fresh process each, vs the issue's limits
  peak RSS                      [784,128,10] derivation + one batch gradient, fresh process, vs 1 GB
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"1 thread": 1, "all threads": os.cpu_count() or 1}


def thread_environment(threads: int) -> dict[str, str]:
    """Environment that fixes every pool's size before the libraries start."""
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads == 1 else ""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads), "XLA_FLAGS": flags}  # fmt: skip


def best_time(function, *, repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def sigmoid_spec(layers, **keys):
    from symbackprop import api

    return api.build_spec(layers=layers, loss=keys.pop("loss", "half_squared_error"), init={"seed": 0}, **keys)


def derive_and_compile(spec) -> None:
    from symbackprop import api, numeric

    numeric.Evaluator(api.derive(spec))


# --- derivation ----------------------------------------------------------------------------------


def naive_route(spec) -> float:
    """sympy.diff of the fully substituted loss: one parameter per layer timed, scaled by the layer's count."""
    import sympy

    from symbackprop import graph

    network = graph.build(spec)
    values: dict = {}
    for layer in network.layers:
        for n in layer:
            values[n.z] = network.z_definition(n).xreplace(values)
        for n in layer:
            values[n.a] = network.a_definition(n).xreplace(values)
    full = network.loss.xreplace(values)
    total = 0.0
    for layer in network.layers:
        names = {w for n in layer for w in n.weights} | {n.bias for n in layer if n.bias is not None}
        sample = layer[len(layer) // 2].weights[0]
        start = time.perf_counter()
        sympy.diff(full, sample)
        total += (time.perf_counter() - start) * len(names)
    return total


def growth(repeat: int) -> tuple[float, list[tuple[int, float]]]:
    ladder = [[6, 6, 6, 1], [10, 10, 10, 10, 1], [16, 16, 16, 16, 1], [20, 20, 20, 20, 1], [28, 28, 28, 28, 1]]
    points = []
    for layers in ladder:
        spec = sigmoid_spec(layers)
        connections = sum(a * b for a, b in zip(layers, layers[1:]))
        points.append((connections, best_time(lambda: derive_and_compile(spec), repeat=repeat)))
    import numpy as np

    x = np.log([c for c, _ in points])
    y = np.log([t for _, t in points])
    return float(np.polyfit(x, y, 1)[0]), points


# --- gradient evaluation -------------------------------------------------------------------------


def batch(layers, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (count, layers[0]))
    T = rng.uniform(0, 1, (count, layers[-1]))
    return X, T


def numpy_backprop(Ws, bs, X, T, output):
    """Hand-written vectorised backprop: sigmoid hidden layers, sigmoid+½SE or softmax+CE output."""
    import numpy as np

    activations = [X]
    for W, b in zip(Ws[:-1], bs[:-1]):
        activations.append(1.0 / (1.0 + np.exp(-(activations[-1] @ W.T + b))))
    Z = activations[-1] @ Ws[-1].T + bs[-1]
    if output == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        Y = E / E.sum(axis=1, keepdims=True)
        loss = -np.sum(T * np.log(Y)) / len(X)
        D = Y * T.sum(axis=1, keepdims=True) - T
    else:
        Y = 1.0 / (1.0 + np.exp(-Z))
        loss = 0.5 * np.sum((Y - T) ** 2) / len(X)
        D = (Y - T) * Y * (1 - Y)
    grads = []
    for l in range(len(Ws) - 1, -1, -1):
        grads.append((activations[l].T @ D / len(X), D.mean(axis=0)))
        if l:
            A = activations[l]
            D = (D @ Ws[l]) * A * (1 - A)
    return loss, grads


def jax_value_and_grad(jax, output):
    """jax.jit(jax.value_and_grad(loss)) of the same network, as a JAX user would write it."""

    def loss(Ws, bs, X, T):
        a = X
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = jax.nn.sigmoid(a @ W.T + b)
        Z = a @ Ws[-1].T + bs[-1]
        if output == "softmax":
            return -(T * jax.nn.log_softmax(Z, axis=1)).sum() / X.shape[0]
        return 0.5 * ((jax.nn.sigmoid(Z) - T) ** 2).sum() / X.shape[0]

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def torch_backprop(torch, Ws, bs, X, T, output):
    a = X
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = torch.sigmoid(torch.addmm(b, a, W.T))
    Z = torch.addmm(bs[-1], a, Ws[-1].T)
    if output == "softmax":
        loss = -(T * torch.log_softmax(Z, dim=1)).sum() / len(X)
    else:
        loss = 0.5 * ((torch.sigmoid(Z) - T) ** 2).sum() / len(X)
    return torch.autograd.grad(loss, [*Ws, *bs])


class Value:
    """A scalar with reverse-mode autodiff, in the style of micrograd (pure Python)."""

    __slots__ = ("data", "grad", "_back", "_parents")

    def __init__(self, data, parents=(), back=None):
        self.data, self.grad, self._parents, self._back = data, 0.0, parents, back

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))
        out._back = lambda: (setattr(self, "grad", self.grad + out.grad), setattr(other, "grad", other.grad + out.grad))
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))
        out._back = lambda: (setattr(self, "grad", self.grad + other.data * out.grad),
                             setattr(other, "grad", other.grad + self.data * out.grad))  # fmt: skip
        return out

    def sigmoid(self):
        s = 1.0 / (1.0 + math.exp(-self.data))
        out = Value(s, (self,))
        out._back = lambda: setattr(self, "grad", self.grad + s * (1 - s) * out.grad)
        return out

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if id(v) not in seen:
                seen.add(id(v))
                for p in v._parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            if v._back:
                v._back()


def micrograd_backprop(Ws, bs, X, T):
    params = [[[Value(w) for w in row] for row in W] for W in Ws]
    biases = [[Value(b) for b in bl] for bl in bs]
    total = Value(0.0)
    for x, t in zip(X, T):
        a = [Value(v) for v in x]
        for W, b in zip(params, biases):
            a = [sum((w * v for w, v in zip(row, a)), bj).sigmoid() for row, bj in zip(W, b)]
        for y, target in zip(a, t):
            diff = y + (-target)
            total = total + diff * diff * (0.5 / len(X))
    total.backward()


def race(functions: dict, *, repeat: int, block: int = 5) -> dict:
    """Best time of each function, taking turns so that a busy moment hits all of them alike.

    Each turn is a block of consecutive calls, and the first of a block does not count: after
    PyTorch's turn its OpenMP threads keep spinning for a while, and a call straight after
    would be timed against them.
    """
    for function in functions.values():
        function()
    best = {name: math.inf for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            function()
            for _ in range(block):
                start = time.perf_counter()
                function()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def micrograd_seconds(spec, X, T, *, sample: int = 200) -> float:
    from symbackprop import vector

    evaluator = vector.VectorEvaluator(vector.derive(spec))
    matrices = evaluator.matrices(evaluator.flat(spec.parameters))
    Ws, bs = [W for W, _ in matrices], [b for _, b in matrices]
    return best_time(lambda: micrograd_backprop(Ws, bs, X[:sample], T[:sample]), repeat=1, warmup=0) * len(X) / sample


def peers(matrices, X, T, output, libraries) -> dict:
    """The baselines' gradient functions on the same weights and batch."""
    Ws = [W for W, _ in matrices]
    bs = [b for _, b in matrices]
    functions = {"hand-written NumPy": lambda: numpy_backprop(Ws, bs, X, T, output)}
    torch, jax = libraries.get("torch"), libraries.get("jax")
    if torch is not None:
        tW = [torch.tensor(W, requires_grad=True) for W in Ws]
        tb = [torch.tensor(b, requires_grad=True) for b in bs]
        tX, tT = torch.tensor(X), torch.tensor(T)
        functions["PyTorch autograd"] = lambda: torch_backprop(torch, tW, tb, tX, tT, output)
    if jax is not None:
        step = jax_value_and_grad(jax, output)
        arguments = ([jax.numpy.asarray(W) for W in Ws], [jax.numpy.asarray(b) for b in bs],
                     jax.numpy.asarray(X), jax.numpy.asarray(T))  # fmt: skip
        functions["JAX jit(value_and_grad)"] = lambda: jax.block_until_ready(step(*arguments))
    return functions


def ours(spec, X, T, libraries, *, fused_loop: bool) -> dict:
    """Our evaluators' gradient functions (api.evaluator), the fused loop compiled before timing."""
    from symbackprop import api

    kinds = ["vector", *(["fused"] if fused_loop else []), *(["jax"] if libraries.get("jax") is not None else [])]
    functions = {}
    for kind in kinds:
        evaluator = api.evaluator(spec, kind=kind)
        if kind == "fused" and not evaluator.wait().uses_numba:
            continue
        # the JAX baseline has its batch on the device already: so does ours
        inputs, targets = (libraries["jax"].numpy.asarray(X), libraries["jax"].numpy.asarray(T)) if kind == "jax" else (X, T)
        functions[f"ours: {kind}"] = bind(evaluator.value_and_gradient, inputs, targets, evaluator.flat(spec.parameters))
    return functions


def bind(function, *arguments):
    return lambda: function(*arguments)


def gradient_rows(case: str, spec, X, T, output, libraries, *, repeat: int, fused_loop: bool) -> list[dict]:
    from symbackprop import vector

    evaluator = vector.VectorEvaluator(vector.derive(spec))
    matrices = evaluator.matrices(evaluator.flat(spec.parameters))
    mine = ours(spec, X, T, libraries, fused_loop=fused_loop)
    theirs = peers(matrices, X, T, output, libraries)
    times = race({**mine, **theirs}, repeat=repeat)
    best_ours = min(mine, key=times.__getitem__)
    best_peer = min(theirs, key=times.__getitem__)
    rows = [{"case": case, "who": name, "seconds": times[name]} for name in (*mine, *theirs)]
    rows.append({"case": case, "who": f"ratio {best_ours} / {best_peer}", "ratio": times[best_ours] / times[best_peer]})
    return rows


FIRST_GRADIENT = """
import sys, time
start = time.perf_counter()
sys.path.insert(0, sys.argv[1])
kind, layers = sys.argv[2], [int(n) for n in sys.argv[3].split(",")]
import numpy as np
rng = np.random.default_rng(0)
X, T = rng.uniform(-1, 1, (1000, layers[0])), rng.uniform(0, 1, (1000, layers[-1]))
if kind in ("torch", "jax"):
    Ws = [rng.uniform(-1, 1, (b, a)) for a, b in zip(layers, layers[1:])]
    bs = [rng.uniform(-1, 1, b) for b in layers[1:]]
if kind == "torch":
    import torch
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    a = torch.tensor(X)
    for W, b in zip(tW, tb):
        a = torch.sigmoid(torch.addmm(b, a, W.T))
    loss = 0.5 * ((a - torch.tensor(T)) ** 2).sum() / len(X)
    torch.autograd.grad(loss, [*tW, *tb])
elif kind == "jax":
    import jax
    jax.config.update("jax_enable_x64", True)
    def loss(Ws, bs, X, T):
        a = X
        for W, b in zip(Ws, bs):
            a = jax.nn.sigmoid(a @ W.T + b)
        return 0.5 * ((a - T) ** 2).sum() / X.shape[0]
    jax.block_until_ready(jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(Ws, bs, X, T))
else:
    from symbackprop import api
    spec = api.build_spec(layers=layers, loss="half_squared_error", init={"seed": 0})
    evaluator = api.evaluator(spec, kind=kind)
    evaluator.value_and_gradient(X, T, evaluator.flat(spec.parameters))
print(time.perf_counter() - start)
"""


def first_gradient(kind: str, layers, *, cache: str, threads: int) -> float:
    environment = {**thread_environment(threads), "SYMBACKPROP_CACHE": cache}
    out = subprocess.run([sys.executable, "-c", FIRST_GRADIENT, str(ROOT), kind, ",".join(map(str, layers))],
                         capture_output=True, text=True, check=True, env=environment)  # fmt: skip
    return float(out.stdout.strip())


def first_gradient_rows(libraries, *, threads: int) -> list[dict]:
    """Fresh processes: our evaluators with nothing cached, the fused loop compiled before, and the peers."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        warm = str(Path(folder) / "warm")
        for layers in ([2, 2, 1], [4, 8, 8, 2], [8, 8, 8, 8, 8, 1], [32, 32, 32, 1]):
            case = f"first gradient {layers}, fresh process"
            for kind in ("vector", "fused"):
                empty = tempfile.mkdtemp(dir=folder)
                rows.append({"case": case, "who": f"ours: {kind}" + (" (nothing cached)" if kind == "fused" else ""),
                             "seconds": first_gradient(kind, layers, cache=empty, threads=threads)})  # fmt: skip
            compiled_by_child(layers, empty)  # its compile, still running, would slow the next rows
            compile_into(layers, warm)
            rows.append({"case": case, "who": "ours: fused (compiled before)",
                         "seconds": first_gradient("fused", layers, cache=warm, threads=threads)})
            for peer in ("torch", "jax"):
                if libraries.get(peer) is not None:
                    rows.append({"case": case, "who": peer, "seconds": first_gradient(peer, layers, cache=warm, threads=threads)})
    return rows


def compiled_by_child(layers, cache: str, *, timeout: float = 300) -> None:
    """Wait for the background compile a fresh process left running in `cache` (none past fused.MAX_COMPILED)."""
    from symbackprop import fused

    count = sum(a * b + b for a, b in zip(layers, layers[1:]))
    deadline = time.monotonic() + timeout
    while count <= fused.MAX_COMPILED and not list(Path(cache).glob("*.done")) and time.monotonic() < deadline:
        time.sleep(0.2)


def compile_into(layers, cache: str) -> None:
    """Compile the fused loop of `layers` into `cache` (nothing past fused.MAX_COMPILED parameters)."""
    from symbackprop import api, fused

    previous = os.environ.get("SYMBACKPROP_CACHE")
    os.environ["SYMBACKPROP_CACHE"] = cache
    try:
        fused.FusedEvaluator(api.derive(sigmoid_spec(layers))).wait()
    finally:
        if previous is None:
            del os.environ["SYMBACKPROP_CACHE"]
        else:
            os.environ["SYMBACKPROP_CACHE"] = previous


# --- goal-3 sizes: the CLI in a fresh process ------------------------------------------------------


def cli_seconds(arguments: list[str], *, timeout: float) -> float:
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "symbackprop", *arguments], capture_output=True, check=True,
                       timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    except subprocess.TimeoutExpired:
        return math.inf
    return time.perf_counter() - start


def size_rows(*, quick: bool) -> list[dict]:
    import numpy as np
    import yaml

    from symbackprop import naming

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        def write(name, layers, **keys):
            raw = {"layers": layers, "loss": "mse", "inputs": [0.5] * layers[0], "targets": [0.3] * layers[-1], **keys}
            path = Path(folder) / name
            path.write_text(json.dumps(raw) if name.endswith(".json") else yaml.safe_dump(raw))
            return str(path)

        wide = write("wide.yaml", [100, 100, 1], init={"seed": 0, "scale": 0.1})
        deep = write("deep.yaml", [300, 300, 300, 1], init={"seed": 0, "scale": 0.1})
        rows.append({"case": "solve [100,100,1] (10,201 parameters)", "who": "ours", "seconds": cli_seconds(["solve", wide], timeout=120), "limit": 3})
        rows.append({"case": "solve [300,300,300,1] (180,901 parameters)", "who": "ours", "seconds": cli_seconds(["solve", deep], timeout=120), "limit": 10})
        if not quick:
            rows.append({"case": "derive --param w11 [300,300,300,1]", "who": "ours",
                         "seconds": cli_seconds(["derive", deep, "--param", "w11", "--max-parameters", "200000"], timeout=120), "limit": 2})  # fmt: skip
        names = naming.default_parameter_names(naming.layout((784, 128, 10), scheme="neuron", bias="per_neuron"))
        values = dict(zip(names, np.random.default_rng(0).uniform(-0.1, 0.1, len(names)).round(4).tolist()))
        for suffix in ("json", "yaml"):
            path = write(f"explicit.{suffix}", [784, 128, 10], parameters=values, activation=["sigmoid", "softmax"],
                         loss="cross_entropy", targets=[0.0] * 9 + [1.0])  # fmt: skip
            rows.append({"case": f"load 101,770 explicit parameters ({suffix.upper()})", "who": "ours",
                         "seconds": load_seconds(path), "limit": 1})
    return rows


LOAD = "import sys, time; sys.path.insert(0, sys.argv[1]); from symbackprop import spec; s = time.perf_counter(); spec.load(sys.argv[2]); print(time.perf_counter() - s)"


def load_seconds(path: str) -> float:
    out = subprocess.run([sys.executable, "-c", LOAD, str(ROOT), path], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


PEAK_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from symbackprop import spec as spec_module, vector
spec = spec_module.load(sys.argv[1] + "/examples/mnist_like.yaml")
evaluator = vector.VectorEvaluator(vector.derive(spec))
rng = np.random.default_rng(0)
evaluator.gradients(rng.uniform(0, 1, (256, 784)), np.eye(10)[rng.integers(0, 10, 256)], evaluator.flat(spec.parameters))
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (larger) parent process.
print(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")))
"""


def peak_rss_mb() -> float:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(ROOT)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


# --- one thread setting, in a child process --------------------------------------------------------


def libraries_for(threads: int) -> dict:
    """PyTorch and JAX (float64) when installed, with `threads` threads; BLAS limited by threadpoolctl."""
    libraries = {}
    try:
        import torch

        torch.set_num_threads(threads)
        libraries["torch"] = torch
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        libraries["jax"] = jax
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    return libraries


def child(threads: int, *, repeat: int) -> list[dict]:
    import numpy as np

    from symbackprop import api

    libraries = libraries_for(threads)
    rows = []
    for layers in ([2, 2, 1], [4, 8, 8, 2]):
        X, T = batch(layers, 100_000)
        case = f"gradient {layers} batch 100,000"
        rows += gradient_rows(case, sigmoid_spec(layers), X, T, "sigmoid", libraries, repeat=repeat, fused_loop=True)
        rows.append({"case": case, "who": "micrograd-style pure Python (200 examples, extrapolated)",
                     "seconds": micrograd_seconds(sigmoid_spec(layers), X, T)})
    spec = api.build_spec(layers=[784, 128, 10], activation=["sigmoid", "softmax"], loss="cross_entropy",
                          init={"seed": 0, "scale": 0.05, "decimals": 4})  # fmt: skip
    rng = np.random.default_rng(0)
    X, T = rng.uniform(0, 1, (256, 784)), np.eye(10)[rng.integers(0, 10, 256)]
    rows += gradient_rows("gradient [784,128,10] batch 256", spec, X, T, "softmax", libraries, repeat=repeat, fused_loop=False)
    rows += first_gradient_rows(libraries, threads=threads)
    return rows


# --- the whole run --------------------------------------------------------------------------------


def machine() -> dict:
    import numpy as np
    import sympy

    try:
        from threadpoolctl import threadpool_info

        blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")} for i in threadpool_info()]
    except ImportError:
        blas = "threadpoolctl not installed"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    versions = {"python": platform.python_version(), "numpy": np.__version__, "sympy": sympy.__version__}
    for name in ("numba", "torch", "jax"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "blas": blas, "versions": versions}


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def print_table(rows: list[dict]) -> None:
    header = ("case", "threads", "who", "time", "ratio / limit")
    lines = []
    for row in rows:
        if "ratio" in row:
            cells = (row["case"], row.get("threads", ""), row["who"], "", f"{row['ratio']:.2f}")
        else:
            limit = row.get("limit")
            verdict = "" if limit is None else (f"≤ {limit} s: " + ("met" if row["seconds"] <= limit else "NOT met"))
            cells = (row["case"], row.get("threads", ""), row["who"], seconds(row["seconds"]), verdict)
        lines.append(tuple(map(str, cells)))
    widths = [max(len(r[i]) for r in (header, *lines)) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |")


def seconds(value: float) -> str:
    if value == math.inf:
        return "timed out"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no naive route, no 60-second derive row")
    parser.add_argument("--json", metavar="FILE", help="also write the machine, load averages and rows as JSON")
    parser.add_argument("--threads", choices=[*SETTINGS, "both"], default="both", help="thread settings to run")
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)  # one setting, rows as JSON on stdout
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    if args.child is not None:
        json.dump(child(args.child, repeat=repeat), sys.stdout)
        return

    sys.path.insert(0, str(ROOT))
    report = {"machine": machine(), "load_average": {"start": load_average()}, "rows": []}
    print(f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; BLAS {report['machine']['blas']}; "
          f"{report['machine']['versions']}")  # fmt: skip
    print(f"load average at the start: {report['load_average']['start']} (other work on the cores makes every time larger)")
    rows = report["rows"]
    for label, threads in SETTINGS.items():
        if args.threads not in ("both", label):
            continue
        command = [sys.executable, __file__, "--child", str(threads), *(["--quick"] if args.quick else [])]
        out = subprocess.run(command, capture_output=True, text=True, check=True, env=thread_environment(threads))
        rows += [{**row, "threads": label} for row in json.loads(out.stdout)]
        report["load_average"][label] = load_average()

    big = sigmoid_spec([8, 8, 8, 8, 8, 1])
    derive_and_compile(big)  # imports and caches warmed
    mine = best_time(lambda: derive_and_compile(big), repeat=3, warmup=0)
    rows.append({"case": "derive+compile [8,8,8,8,8,1], 297 parameters", "who": "ours", "seconds": mine})
    if not args.quick:
        naive = naive_route(big)
        rows.append({"case": "derive+compile [8,8,8,8,8,1], 297 parameters", "who": "naive sympy.diff (extrapolated)", "seconds": naive})
        rows.append({"case": "derive+compile [8,8,8,8,8,1], 297 parameters", "who": "ratio naive / ours", "ratio": naive / mine})
    exponent, points = growth(3 if args.quick else 5)
    rows.append({"case": f"growth of derive+compile ({points[0][0]}–{points[-1][0]} connections)",
                 "who": "log-log slope (goal ≤ 1.20)", "ratio": exponent})  # fmt: skip
    rows += size_rows(quick=args.quick)
    peak = peak_rss_mb()
    rows.append({"case": "peak RSS, [784,128,10] derive + one batch gradient (MB)", "who": "ours / 1024 MB", "ratio": peak / 1024})
    report["load_average"]["end"] = load_average()
    print_table(rows)
    print(f"load average at the end: {report['load_average']['end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
