"""Mini-batch gradient descent with the derived gradients, on a spec's data or a CSV file."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symbackprop import api, files, fused, numbers, numeric
from symbackprop.errors import InputFileError, SymbackpropError, did_you_mean, listing, shorten
from symbackprop.spec import Spec

PROBABILITY_LOSSES = ("binary_cross_entropy", "cross_entropy")


@dataclass(frozen=True)
class Data:
    """Examples as arrays: inputs (examples × inputs) and targets (examples × outputs)."""

    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class TrainResult:
    """Mean loss over the data after each epoch, and the final parameter values."""

    loss_history: list[float]
    parameters: dict[str, float]

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def spec_data(spec: Spec) -> Data:
    """The spec's own inputs/targets or data entries as arrays.

    Raises:
        SymbackpropError: the spec has no examples.
    """
    if not spec.examples:
        raise SymbackpropError("data: the spec has no examples; add data (or inputs and targets) or pass --data FILE.csv")
    return Data(np.array([e.inputs for e in spec.examples], dtype=float),
                np.array([e.targets for e in spec.examples], dtype=float))  # fmt: skip


def load_csv(path: str | Path, spec: Spec, *, input_columns: Sequence[str] | None = None,
             target_columns: Sequence[str] | None = None) -> Data:  # fmt: skip
    """Read examples from a CSV file whose first line names the columns.

    By default the first columns are the inputs and the last the targets, in
    network order; `input_columns`/`target_columns` choose columns by name.

    Raises:
        InputFileError: the file cannot be read, a column is missing, a row has
            the wrong number of cells or a cell is not a finite number.
    """
    path = Path(path)
    n_in, n_out = spec.layers[0], spec.layers[-1]
    numbered = _rows(path)
    if not numbered:
        raise InputFileError(f"{path}: the file is empty; it needs a header line naming the columns, then one line per example")
    header_line, first = numbered[0]
    header = [cell.strip() for cell in first]
    rows = numbered[1:]
    if not rows:
        raise InputFileError(f"{path}: the header has no example lines after it")
    chosen_in = _columns(path, header_line, header, input_columns, "input", n_in, range(n_in))
    chosen_out = _columns(path, header_line, header, target_columns, "target", n_out, range(len(header) - n_out, len(header)))
    if input_columns is None and target_columns is None and len(header) < n_in + n_out:
        raise InputFileError(f"{path}:{header_line}: the header has {len(header)} columns but the network needs {n_in} inputs and "
                             f"{n_out} targets ({n_in + n_out} columns)")  # fmt: skip
    used = chosen_in + chosen_out  # other columns (an id, a note) may hold anything
    table = np.empty((len(rows), len(used)))
    for index, (line, row) in enumerate(rows):
        if len(row) != len(header):
            raise InputFileError(f"{path}:{line}: {len(row)} cells, but the header names {len(header)} columns")
        for i, k in enumerate(used):
            table[index, i] = _cell(path, line, header[k], row[k])
    data = Data(table[:, : len(chosen_in)], table[:, len(chosen_in) :])
    if spec.loss in PROBABILITY_LOSSES:
        bad = np.argwhere((data.targets < 0) | (data.targets > 1))
        if bad.size:
            row, col = bad[0]
            raise InputFileError(f"{path}:{rows[row][0]}: column '{header[chosen_out[col]]}': {spec.loss} needs targets between "
                                 f"0 and 1, got {data.targets[row, col]:g}")  # fmt: skip
    return data


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """The file's non-blank rows, each with the line it starts on (blank lines still count)."""
    text = files.read_text(path)  # drops a byte-order mark, which would otherwise stick to the first column's name
    numbered = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                numbered.append((line, row))
            line = reader.line_num + 1  # a quoted cell may span lines: the next row starts after them
    except csv.Error as exc:
        raise InputFileError(f"{path}:{reader.line_num}: cannot read as CSV ({exc})") from None
    return numbered


def _columns(path: Path, line: int, header: list[str], names: Sequence[str] | None, role: str, count: int,
             default: range) -> list[int]:  # fmt: skip
    if names is None:
        return list(default)
    if len(names) != count:
        raise InputFileError(f"{path}: {len(names)} {role} columns chosen, but the network has {count} {role}s")
    chosen = []
    for name in names:
        if name not in header:
            raise InputFileError(f"{path}:{line}: no column named '{shorten(name)}'{did_you_mean(name, header)}; "
                                 f"columns: {listing(header)}")  # fmt: skip
        chosen.append(header.index(name))
    return chosen


def _cell(path: Path, line: int, column: str, cell: str) -> float:
    where = f"{path}:{line}: column '{shorten(column)}'"
    return numbers.from_text(cell, where, error=lambda place, what: InputFileError(f"{place}: {what}"))


def train(spec: Spec, data: Data, *, epochs: int, batch_size: int, seed: int = 0, learning_rate: float | None = None,
          progress: Callable[[int, float], None] | None = None, evaluator: str = "vector") -> TrainResult:  # fmt: skip
    """Gradient descent on mini-batches drawn in a shuffled order, reproducible from `seed`.

    Each epoch shuffles the examples (numpy default_rng(seed), one permutation
    per epoch), steps w ← w − η·mean ∂L/∂w over each batch in turn (frozen
    parameters stay put), then records the mean loss over all the data.

    Args:
        progress: called after each epoch with (epoch number, mean loss).
        evaluator: which evaluator computes the gradients (api.EVALUATORS); all give the same
            numbers to rounding. A fused loop not compiled yet is compiled first, so that one
            run does not switch evaluators (and rounding) halfway.

    Raises:
        SymbackpropError: epochs or batch size below 1.
    """
    if epochs < 1:
        raise SymbackpropError(f"--epochs: must be at least 1, got {epochs}")
    if batch_size < 1:
        raise SymbackpropError(f"--batch-size: must be at least 1, got {batch_size}")
    run = api.evaluator(spec, kind=evaluator)
    if isinstance(run, fused.FusedEvaluator):
        run.wait()
    names = list(spec.parameters)
    rate = spec.learning_rate if learning_rate is None else learning_rate
    theta = run.flat(spec.parameters)
    trainable = np.array([name not in spec.frozen for name in names], dtype=float)
    rng = np.random.default_rng(seed)
    count = data.inputs.shape[0]
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(count)
        with np.errstate(all="ignore"):  # leaving the floating-point range is reported below, by name
            for start in range(0, count, batch_size):
                batch = order[start : start + batch_size]
                step = run.value_and_gradient(data.inputs[batch], data.targets[batch], theta)[1]
                theta = theta - rate * trainable * step
            history.append(run.value_and_gradient(data.inputs, data.targets, theta)[0])
        _check_finite(epoch, history[-1], theta, names)
        if progress is not None:
            progress(epoch, history[-1])
    return TrainResult(history, run.as_dict(theta))


def _check_finite(epoch: int, loss: float, theta: np.ndarray, names: Sequence[str]) -> None:
    """Stop a diverging run at the first epoch whose parameters or mean loss are not finite numbers."""
    bad = np.flatnonzero(~np.isfinite(theta))
    if bad.size:
        raise numeric.NumericError(f"training diverged: {names[bad[0]]} is {theta[bad[0]]} after epoch {epoch}, "
                                   "the first parameter to leave the floating-point range; try a smaller learning rate")  # fmt: skip
    if not math.isfinite(loss):
        raise numeric.NumericError(f"training diverged: the mean loss is {loss} after epoch {epoch}; "
                                   "try a smaller learning rate or smaller inputs")  # fmt: skip


def plot(history: Sequence[float], path: str | Path, *, title: str = "") -> None:
    """Write the loss curve to an image file (matplotlib, the `plot` extra).

    Raises:
        SymbackpropError: matplotlib is not installed or the file cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise SymbackpropError("--plot needs matplotlib: pip install 'symbackprop[plot]'") from None
    figure, axes = pyplot.subplots(figsize=(6, 4))
    axes.plot(range(1, len(history) + 1), history)
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss")
    axes.set_title(title or "Training loss")
    axes.grid(True, alpha=0.3)
    image = io.BytesIO()
    try:
        figure.savefig(image, format=Path(path).suffix.lstrip(".") or "png", dpi=120, bbox_inches="tight")
    except ValueError as exc:  # an image format matplotlib does not know
        raise SymbackpropError(f"--plot: cannot write {path} ({exc})") from None
    finally:
        pyplot.close(figure)
    files.write_atomic(path, image.getvalue(), option="--plot")
