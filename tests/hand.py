"""A student's hand calculation in plain Python, with one injected slip: the oracle for the checker's tests.

Written apart from symbackprop (no SymPy, no derivation): layer by layer as on paper,
for fully connected networks with one bias per neuron, neurons numbered 1, 2, … from
the first hidden layer, w_jk from neuron k of the layer before into neuron j.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

SLOPES = {  # f'(z) from z and a = f(z), as a student writes it
    "sigmoid": lambda z, a: a * (1 - a),
    "tanh": lambda z, a: 1 - a * a,
    "relu": lambda z, a: 1.0 if z > 0 else 0.0,
    "linear": lambda z, a: 1.0,
}
WRONG_SLOPES = {  # slip name -> f'(z) as mistaken, from z, a and the right slope
    "left_out": lambda act, z, a, right: 1.0,
    "activation": lambda act, z, a, right: a,
    "at_z": lambda act, z, a, right: SLOPES[act](z, z),
    "sigmoid_for_tanh": lambda act, z, a, right: a * (1 - a),
    "one_minus_a": lambda act, z, a, right: 1 - a,
    "tanh_for_sigmoid": lambda act, z, a, right: 1 - a * a,
    "kink_1": lambda act, z, a, right: 1.0 if z == 0 else right,
    "kink_half": lambda act, z, a, right: 0.5 if z == 0 else right,
}


def activate(name: str, z: float, *, exp_sign: float = -1.0) -> float:
    if name == "sigmoid":
        return 1 / (1 + math.exp(exp_sign * z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return max(z, 0.0)
    return z


def numbering(layers: list[int]) -> list[list[int]]:
    """numbers[l][j]: the number of neuron j of non-input layer l + 1."""
    numbers, first = [], 1
    for size in layers[1:]:
        numbers.append(list(range(first, first + size)))
        first += size
    return numbers


def output_names(layers: list[int]) -> list[str]:
    return ["y"] if layers[-1] == 1 else [f"y{j + 1}" for j in range(layers[-1])]


def work(spec: Mapping, slip: Mapping | None = None, *, carry: int | None = None,
         pinned: Mapping[str, float] | None = None) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Every quantity of one example, by answers-file path, as computed and as used downstream.

    Args:
        slip: the injected mistake (see the keys read below); none by default.
        carry: round each value to this many decimals before using it (a student carrying written values).
        pinned: values to use instead of computed ones (each step is still computed, from what was used).

    Returns:
        (computed, used): each step's value from the values used before it, and the value then used.
    """
    slip = slip or {}
    pinned = pinned or {}
    layers, p = list(spec["layers"]), spec["parameters"]
    acts = spec["activation"] if isinstance(spec["activation"], list) else [spec["activation"]] * (len(layers) - 1)
    eta, loss_name = spec.get("learning_rate", 0.1), spec["loss"]
    early = slip.get("early")
    computed: dict[str, float] = {}
    used: dict[str, float] = {}

    def step(name: str, value: float) -> float:
        computed[name] = value
        if name in pinned:
            value = pinned[name]
        elif early is not None:
            value = round(value, early)
        elif carry is not None:
            value = round(value, carry)
        used[name] = value
        return value

    def weight(where: str, name: str) -> float:
        wrong = slip.get("wrong_weight")
        return p[wrong[2]] if wrong is not None and wrong[:2] == (where, name) else p[name]

    numbers = numbering(layers)
    outputs = output_names(layers)
    sources = [list(map(float, spec["inputs"]))]
    zs: list[list[float]] = []
    for l, act in enumerate(acts):
        last = l == len(acts) - 1
        z_layer = []
        for n in numbers[l]:
            before = list(sources[-1])
            if slip.get("wrong_value") and slip["wrong_value"][0] == n:  # (neuron, k, k used): x_k' for x_k
                _, k, other = slip["wrong_value"]
                before[k - 1] = sources[-1][other - 1]
            z = sum(weight(f"z{n}", f"w{n}{k + 1}") * s for k, s in enumerate(before))
            z += 0.0 if slip.get("bias_left_out") == n else p[f"b{n}"]
            z_layer.append(step(f"forward.z{n}", z))
        a_layer = []
        for j, n in enumerate(numbers[l]):
            sign = 1.0 if slip.get("exp_sign") == n else -1.0
            name = f"forward.{outputs[j]}" if last else f"forward.h{n}"
            a_layer.append(step(name, activate(act, z_layer[j], exp_sign=sign)))
        zs.append(z_layer)
        sources.append(a_layer)

    ys, ts = sources[-1], [float(t) for t in spec["targets"]]
    scale = slip.get("loss_scale", 1.0)
    if loss_name == "half_squared_error":
        loss = 0.5 * sum((y - t) ** 2 for y, t in zip(ys, ts))
        slopes = [y - t for y, t in zip(ys, ts)]
    elif loss_name == "mse":
        k = 1 if slip.get("mean_forgotten") else len(ys)
        loss = sum((y - t) ** 2 for y, t in zip(ys, ts)) / k
        slopes = [2 * (y - t) / k for y, t in zip(ys, ts)]
    else:  # binary cross-entropy of a sigmoid output
        log = math.log10 if slip.get("log10") else math.log
        total = sum(t * log(y) + (1 - t) * log(1 - y) for y, t in zip(ys, ts))
        loss = total if slip.get("ce_sign_dropped") else -total
        slopes = [(y - t) / (y * (1 - y)) for y, t in zip(ys, ts)]  # the σ′ below cancels it
    step("loss", scale * loss)

    def slope(l: int, z: float, a: float) -> float:
        right = SLOPES[acts[l]](z, a)
        wrong = slip.get("slope", {}).get(l + 1)
        return right if wrong is None else WRONG_SLOPES[wrong](acts[l], z, a, right)

    deltas: dict[int, float] = {}
    top = len(acts) - 1
    for j, n in enumerate(numbers[top]):
        dldy = slip.get("slope_sign", 1.0) * scale * slopes[j]
        if loss_name == "binary_cross_entropy":
            delta = ys[j] - ts[j]
            delta *= slip.get("slope_sign", 1.0)
            if slip.get("bce_factor_kept"):
                delta *= ys[j] * (1 - ys[j])
        else:
            delta = dldy * slope(top, zs[top][j], ys[j])
        deltas[n] = step(f"deltas.delta{n}", delta)
    gradients: dict[str, float] = {}

    def layer_gradients(l: int) -> None:
        for n in numbers[l]:
            for k, s in enumerate(sources[l]):
                gradients[f"w{n}{k + 1}"] = step(f"gradients.w{n}{k + 1}", deltas[n] * s)
            bias = {"zero": 0.0, "times_b": deltas[n] * p[f"b{n}"]}.get(slip.get("bias_gradient"), deltas[n])
            gradients[f"b{n}"] = step(f"gradients.b{n}", bias)

    for l in range(top - 1, -1, -1):
        for k, n in enumerate(numbers[l]):
            total = 0.0
            for i in numbers[l + 1]:
                if slip.get("sum_kept") and slip["sum_kept"][0] == n and slip["sum_kept"][1] != i:
                    continue  # only one path kept
                w = weight(f"delta{n}", f"w{i}{k + 1}")
                if slip.get("updated_in_delta") == n:  # the next layer's weight after its update
                    w = p[f"w{i}{k + 1}"] - eta * deltas[i] * sources[l + 1][k]
                total += w * deltas[i]
            deltas[n] = step(f"deltas.delta{n}", slope(l, zs[l][k], sources[l + 1][k]) * total)
    for l in range(top, -1, -1):
        layer_gradients(l)
    rate = {"descent": eta, "ascent": -eta, "no_rate": 1.0, "none": 0.0, "eta_twice": eta**2}[slip.get("update", "descent")]
    for name, g in gradients.items():
        step(f"updated.{name}", p[name] - rate * g)
    return computed, used
