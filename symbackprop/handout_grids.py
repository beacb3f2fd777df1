"""Compact tables for large networks: per layer, grids of the forward values and δ's, and of the gradients.

A grid is a layer's vector or matrix in the vector form's indices: column j is
neuron j of the layer (z^{(l)}_j, h^{(l)}_j, δ^{(l)}_j); row j, column k is the
weight into neuron j from neuron k of the layer before (W^{(l)}_{jk}), and a last
column holds the biases. A layer too wide for the page is split into column
blocks, each a `Table` of its own, as few as the widths of its cells allow.

Per-example values are the first example's; gradients are the batch means.
A parameter that sits at several places (a tied name, one bias per layer) shows
its gradient at each, marked; each table lists the marks it uses as `notes`, for
the template to explain.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, graph, numeric, printing
from symbackprop.handout_tables import Phrase, Row, Table
from symbackprop.printing import Latex

CM = 72.27 / 2.54  # TeX points per centimetre
TEXT_WIDTHS = {"a4": 17.0 * CM, "letter": 8.5 * 72.27 - 4.0 * CM}  # the paper less the preamble's 2 cm margins
FOOTNOTE = {10: 8.0, 11: 9.0, 12: 10.0}  # \footnotesize of a 10, 11 or 12 pt document, in points: the grids' size
COLUMN_SEP = 6.0  # 2\tabcolsep as handout.tex.j2 sets the grids (3 pt a side), in points
TIED_MARK = Latex(r"\dagger")


@dataclass(frozen=True)
class Room:
    """The width a grid may take and the size of its text, in TeX points.

    `column_sep` is the space around each column, 2\\tabcolsep in the table
    macro, which ends every row with one more column (the row's note, empty here).
    """

    text_width: float = TEXT_WIDTHS["a4"]
    font_size: float = FOOTNOTE[11]
    column_sep: float = COLUMN_SEP


def room_for(*, paper: str = "a4", font_size: int = 11) -> Room:
    """The room of a grid as the handout sets it (\\footnotesize, 3 pt column space) on this paper and font size."""
    return Room(text_width=TEXT_WIDTHS[paper], font_size=FOOTNOTE[font_size])


def forward_grids(derivation: chain.Derivation, solution: numeric.Solution, *, decimals: int = 6,
                  room: Room = Room()) -> tuple[Table, ...]:  # fmt: skip
    """Per layer, input side first: z_j, h_j (ŷ_j) and δ_j of the first example, one column per neuron j.

    Captions are Phrase("forward_grid", (layer, part, parts, examples)).
    """
    network = derivation.network
    number = _formatter(decimals)
    tables: list[Table] = []
    for l, layer in enumerate(network.layers, start=1):
        a = _output_label(len(layer)) if l == len(network.layers) else _entry("h", l)
        columns = []
        for j, n in enumerate(layer, start=1):
            values = (solution.forward[n.z.name][0], solution.forward[n.a.name][0], solution.deltas[n.delta.name][0])
            columns.append((Latex(f"j = {j}"), tuple(map(number, values))))
        caption = Phrase("forward_grid", (l, len(solution.losses)))
        tables += _blocks(caption, (_entry("z", l), a, _entry(r"\delta", l)), columns, room)
    return tuple(tables)


def gradient_grids(derivation: chain.Derivation, solution: numeric.Solution, *, decimals: int = 6,
                   room: Room = Room()) -> tuple[Table, ...]:  # fmt: skip
    """Per layer, output layer first: ∂L/∂W^{(l)}_{jk} in row j, column k, then ∂L/∂b^{(l)}_j (batch means).

    Captions are Phrase("gradient_grid", (layer, part, parts, examples)).
    """
    marks = {name: TIED_MARK for name in _tied(derivation.network)}
    notes = (Phrase("tied_gradient_note", (TIED_MARK,)),)
    return _parameter_grids(derivation, solution, "gradient_grid", solution.gradients, marks, notes, decimals, room)


def _parameter_grids(derivation: chain.Derivation, solution: numeric.Solution, key: str, values: Mapping[str, float],
                     marks: Mapping[str, Latex], notes: Sequence[Phrase], decimals: int,
                     room: Room) -> tuple[Table, ...]:  # fmt: skip
    network = derivation.network
    number = _formatter(decimals)

    def cell(symbol: sympy.Symbol | None) -> Latex:
        if symbol is None:
            return Latex("")  # a neuron without a bias in a layer with biases
        mark = marks.get(symbol.name)
        # a mark of no width hangs into the space between columns, so the points stay aligned
        return Latex(number(values[symbol.name]) + (rf"\rlap{{$^{{{mark}}}$}}" if mark else ""))

    tables: list[Table] = []
    for l in range(len(network.layers), 0, -1):  # output layer first, as backpropagation goes
        layer = network.layers[l - 1]
        columns = [(Latex(f"k = {k}"), tuple(cell(n.weights[k - 1]) for n in layer))
                   for k in range(1, len(layer[0].weights) + 1)]  # fmt: skip
        if any(n.bias is not None for n in layer):
            columns.append((_entry("b", l), tuple(cell(n.bias) for n in layer)))
        used = {marks[p.name] for n in layer for p in (*n.weights, n.bias) if p is not None and p.name in marks}
        labels = tuple(Latex(f"j = {j}") for j in range(1, len(layer) + 1))
        caption = Phrase(key, (l, len(solution.losses)))
        tables += _blocks(caption, labels, columns, room, notes=tuple(n for n in notes if n.args[0] in used))
    return tuple(tables)


def _formatter(decimals: int) -> Callable[[float], Latex]:
    # fixed: aligned on the point; a value too small for the places in 3 significant digits, to keep columns narrow
    return lambda value: Latex(printing.number(value, decimals=decimals, fixed=True, mantissa=3))


def _entry(base: str, layer: int) -> Latex:
    """Entry j of a layer's vector, in the vector form's notation: z^{(2)}_j."""
    return Latex(f"{base}^{{({layer})}}_{{j}}")


def _output_label(outputs: int) -> Latex:
    return Latex(r"\hat{y}" if outputs == 1 else r"\hat{y}_{j}")  # a single output is ŷ, as the handout names it


def _tied(network: graph.Network) -> set[str]:
    """Parameters at more than one place: a tied name, or one bias shared by a layer."""
    places = Counter(p.name for n in network.neurons for p in (*n.weights, n.bias) if p is not None)
    return {name for name, count in places.items() if count > 1}


# --- splitting into column blocks --------------------------------------------------------------


def _blocks(caption: Phrase, labels: Sequence[Latex], columns: Sequence[tuple[Latex, tuple[Latex, ...]]],
            room: Room, *, notes: tuple[Phrase, ...] = ()) -> list[Table]:  # fmt: skip
    """One table per block of columns, each with the row `labels`; `columns` are (header, cells).

    Caption (layer, examples) becomes (layer, part, parts, examples).
    """
    layer, examples = caption.args
    label_width = max(width(text, room.font_size) for text in labels) + room.column_sep
    budget = room.text_width - room.column_sep - label_width  # less the label column and the note column
    widths = [max(width(text, room.font_size) for text in (header, *cells)) + room.column_sep
              for header, cells in columns]  # fmt: skip
    parts = split(widths, budget)
    tables = []
    for part, (start, stop) in enumerate(parts, start=1):
        block = columns[start:stop]
        header = (Latex(""), *(h for h, _ in block))
        rows = tuple(Row((label, *(cells[i] for _, cells in block))) for i, label in enumerate(labels))
        tables.append(Table(Phrase(caption.key, (layer, part, len(parts), examples)), header, rows, notes=notes))
    return tables


def split(widths: Sequence[float], budget: float) -> list[tuple[int, int]]:
    """The fewest blocks of consecutive columns, of near-equal counts, whose widths each fit `budget`.

    Returns (start, stop) index pairs. A column wider than `budget` still gets a block of its own.
    """
    count = len(widths)
    for parts in range(max(1, math.ceil(sum(widths) / budget)), count + 1):
        size, extra = divmod(count, parts)
        bounds, start = [], 0
        for i in range(parts):
            stop = start + size + (i < extra)  # the first blocks take the extra columns
            bounds.append((start, stop))
            start = stop
        if all(sum(widths[a:b]) <= budget for a, b in bounds):
            return bounds
    return [(i, i + 1) for i in range(count)]


# --- the width of a cell ----------------------------------------------------------------------

# Widths in em of the glyphs grid cells use, in TeX's maths fonts (Computer/Latin Modern), rounded up.
_GLYPH = {"digit": 0.5, ".": 0.278, ",": 0.278, "(": 0.389, ")": 0.389, "*": 0.5, "letter": 0.6,
          r"\delta": 0.5, r"\dagger": 0.5, "-": 0.778, "+": 0.778, r"\times": 0.778, "=": 0.778}  # fmt: skip
_SPACE = {"bin": 2 * 4 / 18, "rel": 2 * 5 / 18}  # \medmuskip and \thickmuskip, both sides
_SCRIPT = 0.82  # script size over text size, with the wider design of small fonts (cmr7 digits are 0.57 em)
_SCRIPT_SPACE = 0.5 / 10  # \scriptspace, 0.5 pt at 10 pt, in em
_OPTICAL = 1.03  # fonts below 10 pt are drawn wider (cmr9's digits are 0.514 em)
_TOKEN = re.compile(r"\\[A-Za-z]+|\S")


def width(text: str, size: float) -> float:
    """An upper estimate of the width in points of `text`, the maths of a grid cell, set at `size` points.

    It reads what grid cells hold: numbers (fixed or a \\times 10^{k}), letters,
    \\delta, \\hat, = and sub- and superscripts; \\rlap takes no width.
    """
    tokens = _TOKEN.findall(text)
    em, _ = _group(tokens, 0)
    return em * size * (_OPTICAL if size < 10 else 1.0)


def _group(tokens: list[str], i: int) -> tuple[float, int]:
    """The width in em of the tokens from `i` to the closing brace of this group (or the end)."""
    total, previous = 0.0, None  # previous: the class of the last atom, for the spacing of - and =
    while i < len(tokens) and tokens[i] != "}":
        token = tokens[i]
        if token in ("^", "_"):  # a sub- and a superscript stack: the wider one counts
            scripts: dict[str, float] = {}
            while i < len(tokens) and tokens[i] in ("^", "_") and tokens[i] not in scripts:
                which = tokens[i]
                scripts[which], i = _argument(tokens, i + 1)
            total += max(scripts.values()) * _SCRIPT + _SCRIPT_SPACE
            continue
        if token == r"\rlap":
            _, i = _argument(tokens, i + 1)
            continue
        if token == r"\hat":
            inner, i = _argument(tokens, i + 1)
            total, previous = total + inner, "ord"
            continue
        if token == "{":
            inner, i = _group(tokens, i + 1)
            total, previous, i = total + inner, "ord", i + 1
            continue
        if token == "=":
            total, previous = total + _GLYPH["="] + _SPACE["rel"], "rel"
        elif token in ("-", "+", r"\times") and previous == "ord":
            total, previous = total + _GLYPH[token] + _SPACE["bin"], "bin"
        else:
            kind = "digit" if token.isdigit() else "letter" if token.isalpha() else token
            total, previous = total + _GLYPH.get(kind, 1.0), "ord"  # 1 em for a glyph not listed: wide enough
        i += 1
    return total, i


def _argument(tokens: list[str], i: int) -> tuple[float, int]:
    """The width of the argument at `i` (a braced group or one token) and the index after it."""
    if i < len(tokens) and tokens[i] == "{":
        inner, i = _group(tokens, i + 1)
        return inner, i + 1
    inner, _ = _group(tokens[i : i + 1], 0)
    return inner, i + 1
