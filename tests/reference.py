"""Independent oracles for the tests, written from the documented rules, not from the engine.

A plain NumPy forward pass and a plain SymPy loss (standard functions only) for a
spec mapping, with the naming rules of the README re-implemented here.
"""

from __future__ import annotations

import numpy as np
import sympy

ALPHA = 0.01


def weight_and_bias_names(layers, naming="neuron", bias="per_neuron", rename=None):
    """[layer][j][k] weight names and [layer][j] bias names (None without biases)."""
    rename = rename or {}
    weights, biases = [], []
    neuron = count_w = count_b = 0
    for l in range(1, len(layers)):
        lw, lb = [], []
        for j in range(1, layers[l] + 1):
            neuron += 1
            row = []
            for k in range(1, layers[l - 1] + 1):
                count_w += 1
                if naming == "neuron":
                    name = f"w{neuron}{k}" if neuron < 10 and k < 10 else f"w{neuron}_{k}"
                elif naming == "sequential":
                    name = f"w{count_w}"
                else:
                    name = f"W{l}_{j}_{k}"
                row.append(rename.get(name, name))
            lw.append(row)
            if bias == "none":
                lb.append(None)
                continue
            if bias == "per_layer":
                name = f"b{l}"
            elif naming == "layer":
                name = f"b{l}_{j}"
            elif naming == "neuron":
                name = f"b{neuron}"
            else:
                count_b += 1
                name = f"b{count_b}"
            lb.append(rename.get(name, name))
        weights.append(lw)
        biases.append(lb)
    return weights, biases


def _np_activation(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, ALPHA * z)
    if name == "linear":
        return z
    if name == "softplus":
        return np.log1p(np.exp(z))
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    raise ValueError(name)


def _np_loss(name, y, t):
    if name == "half_squared_error":
        return 0.5 * np.sum((y - t) ** 2)
    if name == "squared_error":
        return np.sum((y - t) ** 2)
    if name == "mse":
        return np.mean((y - t) ** 2)
    if name == "binary_cross_entropy":
        return -np.sum(t * np.log(y) + (1 - t) * np.log(1 - y))
    if name == "cross_entropy":
        return -np.sum(t * np.log(y))
    raise ValueError(name)


def _activations(raw):
    act = raw.get("activation", "sigmoid")
    depth = len(raw["layers"]) - 1
    return [act] * depth if isinstance(act, str) else list(act)


def _examples(raw):
    if "data" in raw:
        return [(np.array(e["inputs"], float), np.array(e["targets"], float)) for e in raw["data"]]
    return [(np.array(raw["inputs"], float), np.array(raw["targets"], float))]


def numpy_forward(raw, params):
    """Per example: list of (z, a) arrays per layer, and the loss; plain NumPy."""
    weights, biases = weight_and_bias_names(raw["layers"], raw.get("naming", "neuron"), raw.get("bias", "per_neuron"), raw.get("rename"))
    acts = _activations(raw)
    results = []
    for x, t in _examples(raw):
        a, layers = x, []
        for lw, lb, act in zip(weights, biases, acts):
            W = np.array([[params[n] for n in row] for row in lw])
            b = np.array([params[n] if n else 0.0 for n in lb])
            z = W @ a + b
            a = _np_activation(act, z)
            layers.append((z, a))
        results.append((layers, _np_loss(raw["loss"], a, t)))
    return results


def numpy_mean_loss(raw, params):
    return float(np.mean([loss for _, loss in numpy_forward(raw, params)]))


def numpy_fd_gradients(raw, params, step=1e-6):
    """Central differences of the NumPy loss, for every parameter."""
    grads = {}
    for name in params:
        h = step * max(1.0, abs(params[name]))
        up = numpy_mean_loss(raw, {**params, name: params[name] + h})
        down = numpy_mean_loss(raw, {**params, name: params[name] - h})
        grads[name] = (up - down) / (2 * h)
    return grads


def _sp_activation(name, z):
    if name == "sigmoid":
        return 1 / (1 + sympy.exp(-z))
    if name == "tanh":
        return sympy.tanh(z)
    if name == "relu":
        return sympy.Max(0, z)
    if name == "leaky_relu":
        return sympy.Max(z, sympy.Rational(1, 100) * z)
    if name == "linear":
        return z
    if name == "softplus":
        return sympy.log(1 + sympy.exp(z))
    raise ValueError(name)


def sympy_mean_loss(raw, params):
    """The fully substituted mean loss in parameter symbols (inputs and targets as numbers)."""
    weights, biases = weight_and_bias_names(raw["layers"], raw.get("naming", "neuron"), raw.get("bias", "per_neuron"), raw.get("rename"))
    acts = _activations(raw)
    symbols = {n: sympy.Symbol(n, real=True) for n in params}
    total = 0
    examples = _examples(raw)
    for x, t in examples:
        a = [sympy.Float(v, 30) for v in x]
        for lw, lb, act in zip(weights, biases, acts):
            z = [sum(symbols[w] * ak for w, ak in zip(row, a)) + (symbols[b] if b else 0) for row, b in zip(lw, lb)]
            if act == "softmax":
                e = [sympy.exp(zj) for zj in z]
                a = [ej / sum(e) for ej in e]
            else:
                a = [_sp_activation(act, zj) for zj in z]
        tt = [sympy.Float(v, 30) for v in t]
        loss_name = raw["loss"]
        sq = sum((y - tk) ** 2 for y, tk in zip(a, tt))
        if loss_name == "half_squared_error":
            loss = sq / 2
        elif loss_name == "squared_error":
            loss = sq
        elif loss_name == "mse":
            loss = sq / len(a)
        elif loss_name == "binary_cross_entropy":
            loss = -sum(tk * sympy.log(y) + (1 - tk) * sympy.log(1 - y) for y, tk in zip(a, tt))
        else:
            loss = -sum(tk * sympy.log(y) for y, tk in zip(a, tt))
        total += loss
    return total / len(examples), symbols


def sympy_gradients(raw, params):
    """∂(mean loss)/∂p by sympy.diff of the substituted loss, evaluated at `params`."""
    loss, symbols = sympy_mean_loss(raw, params)
    at = {symbols[n]: sympy.Float(v, 30) for n, v in params.items()}
    return {n: float(sympy.diff(loss, s).xreplace(at)) for n, s in symbols.items()}


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def numpy_training(params, n_in, n_hidden, X, T, *, loss, epochs, batch_size, seed, rate):
    """Mini-batch gradient descent on an n_in-n_hidden-1 sigmoid network (½ squared error or BCE).

    Neurons numbered 1..H in the hidden layer and H+1 at the output, weights w_jk, biases b_j.

    Each epoch draws one permutation from default_rng(seed) and steps on its
    batches in turn; the history is the mean loss over all examples after each epoch.
    """
    W1 = np.array([[params[f"w{j}{k}"] for k in range(1, n_in + 1)] for j in range(1, n_hidden + 1)])
    b1 = np.array([params[f"b{j}"] for j in range(1, n_hidden + 1)])
    out = n_hidden + 1
    w2 = np.array([params[f"w{out}{k}"] for k in range(1, n_hidden + 1)])
    b2 = params[f"b{out}"]
    t_all = T[:, 0]

    def forward(Xb):
        H = _sigmoid(Xb @ W1.T + b1)
        return H, _sigmoid(H @ w2 + b2)

    def mean_loss(y, t):
        if loss == "half_squared_error":
            return float(np.mean(0.5 * (y - t) ** 2))
        return float(np.mean(-(t * np.log(y) + (1 - t) * np.log(1 - y))))

    rng = np.random.default_rng(seed)
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            Xb, t = X[idx], t_all[idx]
            H, y = forward(Xb)
            # δ at the output: (ŷ − t)·ŷ(1 − ŷ) for ½(ŷ − t)², ŷ − t for cross-entropy after a sigmoid
            d_out = (y - t) * y * (1 - y) if loss == "half_squared_error" else y - t
            d_hid = np.outer(d_out, w2) * H * (1 - H)
            n = len(idx)
            W1, b1 = W1 - rate * d_hid.T @ Xb / n, b1 - rate * d_hid.sum(0) / n
            w2, b2 = w2 - rate * H.T @ d_out / n, b2 - rate * d_out.sum() / n
        history.append(mean_loss(forward(X)[1], t_all))
    final = {f"w{j}{k}": W1[j - 1, k - 1] for j in range(1, n_hidden + 1) for k in range(1, n_in + 1)}
    final |= {f"b{j}": b1[j - 1] for j in range(1, n_hidden + 1)}
    final |= {f"w{out}{k}": w2[k - 1] for k in range(1, n_hidden + 1)} | {f"b{out}": b2}
    return history, final


def random_batch(keys, *, examples, seed):
    """`keys` of a spec with `examples` random examples (targets a distribution for several outputs) and drawn parameters."""
    rng = np.random.default_rng(seed)
    n_in, n_out = keys["layers"][0], keys["layers"][-1]
    data = []
    for _ in range(examples):
        targets = rng.dirichlet(np.ones(n_out)) if n_out > 1 else rng.uniform(0, 1, 1)
        data.append({"inputs": [float(v) for v in rng.uniform(-1, 1, n_in)], "targets": [float(v) for v in targets]})
    return {**keys, "init": {"seed": seed, "decimals": 6}, "data": data}
