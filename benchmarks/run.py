"""Scale and speed of symbackprop against baselines run in the same process; prints one table.

    python benchmarks/run.py            # everything (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # fewer repeats, smaller naive sample

Rows (ours vs baseline, ratio = ours / baseline; below 1 means ours is faster,
except for the naive route and the memory row, where the baseline is the bar):
  derive+compile [8,8,8,8,8,1]  vs the naive route: sympy.diff of the fully substituted
                                loss, one parameter per layer timed, extrapolated per layer
  growth exponent               log-log slope of derive+compile time over ≥ 4 sizes vs 1.2
  gradient, batch 100,000       fused evaluator vs hand-written NumPy, PyTorch autograd,
                                micrograd-style pure Python (timed on 200 examples, extrapolated)
  gradient [784,128,10] b256    vector form vs hand-written NumPy and PyTorch
  peak RSS                      [784,128,10] derivation + one batch gradient, fresh process, vs 1 GB
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from symbackprop import api, fused, graph, numeric, vector  # noqa: E402

THREADS = 2


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
    return api.build_spec(layers=layers, loss=keys.pop("loss", "half_squared_error"), init={"seed": 0}, **keys)


def derive_and_compile(spec) -> None:
    numeric.Evaluator(api.derive(spec))


# --- derivation ----------------------------------------------------------------------------------


def naive_route(spec) -> float:
    """sympy.diff of the fully substituted loss: one parameter per layer timed, scaled by the layer's count."""
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
    x = np.log([c for c, _ in points])
    y = np.log([t for _, t in points])
    return float(np.polyfit(x, y, 1)[0]), points


# --- gradient evaluation -------------------------------------------------------------------------


def batch(layers, count, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (count, layers[0]))
    T = rng.uniform(0, 1, (count, layers[-1]))
    return X, T


def numpy_backprop(Ws, bs, X, T, output):
    """Hand-written vectorised backprop: sigmoid hidden layers, sigmoid+½SE or softmax+CE output."""
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


def torch_tensors(torch, Ws, bs, X, T):
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    return tW, tb, torch.tensor(X), torch.tensor(T)


def contest(ours, matrices, X, T, output, *, torch, repeat) -> dict:
    """Race our gradient against hand-written NumPy and (when installed) PyTorch on the same weights."""
    Ws = [W for W, _ in matrices]
    bs = [b for _, b in matrices]
    contenders = {"ours": ours, "hand-written NumPy": lambda: numpy_backprop(Ws, bs, X, T, output)}
    if torch is not None:
        tW, tb, tX, tT = torch_tensors(torch, Ws, bs, X, T)
        contenders["PyTorch autograd (CPU)"] = lambda: torch_backprop(torch, tW, tb, tX, tT, output)
    return race(contenders, repeat=repeat)


def gradient_rows(layers, count, repeat, torch):
    spec = sigmoid_spec(layers)
    X, T = batch(layers, count)
    evaluator = fused.FusedEvaluator(api.derive(spec))
    flat = evaluator.flat(spec.parameters)
    matrices = vector.VectorEvaluator(vector.derive(spec)).matrices(flat)
    times = contest(lambda: evaluator.gradients(X, T, flat), matrices, X, T, "sigmoid", torch=torch, repeat=repeat)
    Ws = [W for W, _ in matrices]
    bs = [b for _, b in matrices]
    sample = 200
    per_example = best_time(lambda: micrograd_backprop(Ws, bs, X[:sample], T[:sample]), repeat=1, warmup=0) / sample
    times["micrograd-style Python (extrapolated)"] = per_example * count
    label = f"gradient {layers} batch {count:,} ({'numba' if evaluator.uses_numba else 'numpy'} fused)"
    ours = times.pop("ours")
    return [(label, ours, name, value) for name, value in times.items()]


def wide_rows(repeat, torch):
    spec = api.build_spec(layers=[784, 128, 10], activation=["sigmoid", "softmax"], loss="cross_entropy",
                          init={"seed": 0, "scale": 0.05, "decimals": 4})  # fmt: skip
    evaluator = vector.VectorEvaluator(vector.derive(spec))
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (256, 784))
    T = np.eye(10)[rng.integers(0, 10, 256)]
    flat = evaluator.flat(spec.parameters)
    matrices = evaluator.matrices(flat)
    times = contest(lambda: evaluator.gradients(X, T, flat), matrices, X, T, "softmax", torch=torch, repeat=repeat)
    ours = times.pop("ours")
    return [("gradient [784,128,10] batch 256 (vector form)", ours, name, value) for name, value in times.items()]


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
    root = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, root], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


# --- table ---------------------------------------------------------------------------------------


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.0f} µs"


def machine() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} {i.get('architecture') or ''}".strip() for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {THREADS} threads, load average {load} at the start; "
            f"Python {platform.python_version()}, NumPy {np.__version__} ({blas}), SymPy {sympy.__version__}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeat = 3 if args.quick else 10
    try:
        import torch

        torch.set_num_threads(THREADS)
    except ImportError:
        torch = None
    rows = []
    header_line = f"machine: {machine()}"

    big = sigmoid_spec([8, 8, 8, 8, 8, 1])
    derive_and_compile(big)  # imports and caches warmed
    ours = best_time(lambda: derive_and_compile(big), repeat=3, warmup=0)
    rows.append(("derive+compile [8,8,8,8,8,1], 297 parameters", seconds(ours),
                 "naive sympy.diff per parameter (extrapolated)", seconds(naive := naive_route(big)),
                 f"{naive / ours:.0f}× faster"))  # fmt: skip
    exponent, points = growth(3 if args.quick else 5)
    span = f"{points[0][0]}–{points[-1][0]} connections, {len(points)} sizes"
    rows.append((f"growth of derive+compile ({span})", f"exponent {exponent:.2f}", "goal exponent", "≤ 1.20",
                 "met" if exponent <= 1.2 else "not met"))  # fmt: skip

    for layers in ([2, 2, 1], [4, 8, 8, 2]):
        for label, mine, baseline, theirs in gradient_rows(layers, 100_000, repeat, torch):
            rows.append((label, seconds(mine), baseline, seconds(theirs), f"{mine / theirs:.2f}"))
    for label, mine, baseline, theirs in wide_rows(repeat, torch):
        rows.append((label, seconds(mine), baseline, seconds(theirs), f"{mine / theirs:.2f}"))
    peak = peak_rss_mb()
    rows.append(("peak RSS, [784,128,10] derive + one batch gradient", f"{peak:.0f} MB", "limit", "1024 MB",
                 f"{peak / 1024:.2f}"))  # fmt: skip

    print(header_line)
    header = ("case", "ours", "baseline", "baseline time", "ratio")
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")


if __name__ == "__main__":
    main()
