"""Places for the network figure's labels: boxes clear of each other, the neurons, the loss and the arrowheads.

`place` tries points along each edge (on the line, else just beside it) and a few around
each neuron, and a small constraint search picks one place per label, first among places
that cover no other edge's line. Sizes are in cm, in TikZ coordinates.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The drawing's parts that labels keep clear of (handout_figure draws the network with these sizes).
NODE_RADIUS = 0.45  # the neuron style's minimum size=9mm
LOSS_HALF = 0.4  # the loss node is an 8 mm square
BORDER = 0.6 * 2.54 / 72.27  # half the very thick line (1.2 pt) around a highlighted neuron
CLEARANCE = 0.04  # cm of white kept around each label
STEP = 0.15  # cm between the places tried along an edge
NODE_MARGIN = 0.1  # cm kept between a label and a neuron's circle, so that it does not look stuck to it
SEARCH_BUDGET = 2_000  # places tried per group of labels before the search gives up (the figure then uses a table)


@dataclass(frozen=True)
class Box:
    """A rectangle in cm: its centre, its size along and across its text, its rotation in degrees."""

    x: float
    y: float
    width: float
    height: float
    angle: float = 0.0

    def corners(self) -> tuple[tuple[float, float], ...]:
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        w, h = self.width / 2, self.height / 2
        return tuple((self.x + c * dx - s * dy, self.y + s * dx + c * dy) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h)))


def place(points: Mapping[str, tuple[float, float]], edges: Sequence[tuple[str, str]], loss: tuple[float, float],
          outputs: Sequence[str], edge_sizes: Mapping[int, tuple[float, float]],
          note_sizes: Mapping[str, tuple[float, float]]) -> tuple[dict[int, Box], dict[str, Box]] | None:  # fmt: skip
    """Boxes for edge labels (turned with their edge) and for neurons' notes, clear of each other and of the drawing.

    Args:
        points: each neuron's centre, by id.
        edges: (source id, target id) of every edge; `edge_sizes` is keyed by index into it.
        loss: the loss node's centre; `outputs` are the ids of the neurons that feed it.
        edge_sizes, note_sizes: (width, height) of each label, by edge index and by neuron id.

    Returns:
        The boxes by edge index and by neuron id; None when no placement is found.
    """
    scene = _scene(points, edges, loss, outputs)
    options = [_edge_options(size, points[edges[k][0]], points[edges[k][1]], scene) for k, size in edge_sizes.items()]
    options += [_note_options(size, *points[id_], scene) for id_, size in note_sizes.items()]
    # first with every label clear of the lines it does not belong to, if that can be done
    placed = _choose([o.uncrossed() for o in options]) or _choose(options)
    if placed is None:
        return None
    return dict(zip(edge_sizes, placed)), dict(zip(note_sizes, placed[len(edge_sizes):]))


# -- the places each label may go -----------------------------------------------------------------


@dataclass(frozen=True)
class _Scene:
    """What labels must keep clear of (neurons, the loss, arrowheads), and the lines they may cross."""

    circles: np.ndarray  # (n, 2) neuron centres
    solid: np.ndarray  # (m, 4, 2) corners of the loss node and of each arrowhead
    solid_angles: np.ndarray  # (m,) their angles
    lines: np.ndarray  # (m, 4) every edge, centre to centre

    def free(self, centres: np.ndarray, width: float, height: float, angle: float) -> np.ndarray:
        """(n,): True where a box keeps clear of every neuron, the loss and every arrowhead."""
        ok = ~_near_circles(centres, width, height, angle, self.circles, NODE_RADIUS + BORDER + NODE_MARGIN)
        corners = _corners(centres, width, height, angle)
        return ok & ~_overlap(corners, angle, self.solid, self.solid_angles).any(axis=1)


def _scene(points: Mapping[str, tuple[float, float]], edges: Iterable[tuple[str, str]], loss: tuple[float, float],
           outputs: Sequence[str]) -> _Scene:  # fmt: skip
    side = 2 * LOSS_HALF + 0.06  # with its thick border
    solid, angles, lines = [_corners(np.array([loss]), side, side, 0.0)[0]], [0.0], []
    ends = [(points[s], points[t], NODE_RADIUS + BORDER) for s, t in edges] + [(points[o], loss, None) for o in outputs]
    for (x0, y0), (x1, y1), reach in ends:
        length = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        if reach is None:  # the loss square's border, where the edge meets it
            reach = (LOSS_HALF + BORDER) / max(abs(ux), abs(uy))
        head = 0.2  # pgf's stealth tip on a very thick line is 1.8 mm long and 1.8 mm wide
        middle = np.array([(x0 + ux * (length - reach - head / 2), y0 + uy * (length - reach - head / 2))])
        angle = math.degrees(math.atan2(uy, ux))
        solid.append(_corners(middle, head + 0.06, 0.2, angle)[0])
        angles.append(angle)
        lines.append((x0, y0, x1, y1))
    return _Scene(np.array(list(points.values())), np.array(solid), np.array(angles), np.array(lines))


@dataclass(frozen=True)
class _Options:
    """Where one label may go: boxes of one size and angle, centres most wanted first."""

    centres: np.ndarray  # (n, 2)
    width: float
    height: float
    angle: float
    crossings: np.ndarray  # (n,) how many lines each place covers a piece of

    def uncrossed(self) -> _Options:
        return dataclasses.replace(self, centres=self.centres[self.crossings == 0], crossings=self.crossings[self.crossings == 0])

    def box(self, k: int) -> Box:
        x, y = self.centres[k]
        return Box(float(x), float(y), self.width, self.height, self.angle)


def _edge_options(size: tuple[float, float], a: tuple[float, float], b: tuple[float, float], scene: _Scene) -> _Options:
    """Boxes along the edge a → b, turned with it.

    Wanted first: on the line (its white ground breaks the line, so the label reads as
    that edge's), crossing as few other lines as possible, near the middle; failing
    that, just beside the line, crossing none, so that the nearest line is its own.
    """
    width, height = size
    length = math.dist(a, b)
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    angle = math.degrees(math.atan2(uy, ux))
    along = np.tile(np.arange(STEP, length, STEP), 3)
    side = np.repeat([0.0, 1.0, -1.0], len(along) // 3)
    across = side * (height / 2 + CLEARANCE)
    centres = np.stack([a[0] + ux * along - uy * across, a[1] + uy * along + ux * across], axis=1)
    others = np.array([line for line in scene.lines if {tuple(line[:2]), tuple(line[2:])} != {a, b}]).reshape(-1, 4)
    crossings = _crossings(centres, width, height, angle, others).sum(axis=1)
    keep = scene.free(centres, width, height, angle) & ((side == 0) | (crossings == 0))
    order = np.lexsort((np.abs(along / length - 0.5), crossings, side != 0))
    order = order[keep[order]]
    return _Options(centres[order], width, height, angle, crossings[order])


def _note_options(size: tuple[float, float], x: float, y: float, scene: _Scene) -> _Options:
    """Boxes beside a neuron: below it first as in a textbook, then above, then shifted sideways."""
    width, height = size
    off = NODE_RADIUS + 0.03 + NODE_MARGIN + height / 2
    centres = np.array([(x + dx, y + dy) for dy in (-off, off) for dx in (0.0, 0.3, -0.3, 0.6, -0.6)])
    centres = centres[scene.free(centres, width, height, 0.0)]
    return _Options(centres, width, height, 0.0, _crossings(centres, width, height, 0.0, scene.lines).sum(axis=1))


# -- choosing one place per label ----------------------------------------------------------------------


def _choose(options: Sequence[_Options]) -> list[Box] | None:
    """One place per label, none within CLEARANCE of another; None when there is none (or the search gives up).

    A constraint search: a label's places left are the bits of an int (bit k: its k-th
    most wanted place); labels that cannot touch are solved apart; within a group, the
    label with the fewest places left goes first, and every choice is followed by
    dropping the places it leaves a neighbour without any (arc consistency).
    """
    if any(len(o.centres) == 0 for o in options):
        return None
    corners = [_corners(o.centres, o.width, o.height, o.angle) for o in options]
    extent = [(c[..., 0].min(), c[..., 1].min(), c[..., 0].max(), c[..., 1].max()) for c in corners]
    clash: dict[tuple[int, int], list[int]] = {}  # (i, j) -> for each place of label i, the places of j it rules out
    for i, j in itertools.permutations(range(len(options)), 2):
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = extent[i], extent[j]
        if ax0 < bx1 + CLEARANCE and bx0 < ax1 + CLEARANCE and ay0 < by1 + CLEARANCE and by0 < ay1 + CLEARANCE:
            hits = _overlap(corners[i], options[i].angle, corners[j], options[j].angle)
            if hits.any():
                clash[i, j] = [int.from_bytes(row.tobytes(), "little") for row in np.packbits(hits, axis=1, bitorder="little")]
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(options))}
    for i, j in clash:
        neighbours[i].append(j)
    chosen: dict[int, int] = {}
    for group in _groups(neighbours):
        found = _search({i: (1 << len(options[i].centres)) - 1 for i in group}, clash, neighbours)
        if found is None:
            return None
        chosen.update((i, mask.bit_length() - 1) for i, mask in found.items())
    return [o.box(chosen[i]) for i, o in enumerate(options)]


def _groups(neighbours: Mapping[int, Sequence[int]]) -> list[list[int]]:
    """The connected groups of labels that can touch."""
    seen: set[int] = set()
    groups = []
    for start in neighbours:
        if start not in seen:
            group, stack = [], [start]
            seen.add(start)
            while stack:
                group.append(i := stack.pop())
                fresh = [j for j in neighbours[i] if j not in seen]
                seen.update(fresh)
                stack.extend(fresh)
            groups.append(sorted(group))
    return groups


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _prune(domains: dict[int, int], clash: Mapping[tuple[int, int], list[int]], neighbours: Mapping[int, Sequence[int]],
           arcs: list[tuple[int, int]]) -> bool:  # fmt: skip
    """Drop each place of label i that leaves neighbour j no place, for every arc (i, j), until nothing changes.

    False when a label has no place left. A place of i leaves j none when every place
    j has left rules it out: the places of i that all of j's rule out, an AND of masks.
    """
    while arcs:
        i, j = arcs.pop()
        doomed = domains[i]
        for q in _bits(domains[j]):
            doomed &= clash[j, i][q]
            if not doomed:
                break
        if doomed:
            domains[i] &= ~doomed
            if not domains[i]:
                return False
            arcs.extend((k, i) for k in neighbours[i] if k != j)
    return True


def _search(domains: dict[int, int], clash: Mapping[tuple[int, int], list[int]],
            neighbours: Mapping[int, Sequence[int]]) -> dict[int, int] | None:  # fmt: skip
    """One place (a single bit) per label of a group, or None."""
    if not _prune(domains, clash, neighbours, [(i, j) for i in domains for j in neighbours[i]]):
        return None
    budget = [SEARCH_BUDGET]

    def solve(domains: dict[int, int], open_: frozenset[int]) -> dict[int, int] | None:
        if not open_:
            return domains
        i = min(open_, key=lambda k: (domains[k].bit_count(), k))
        for p in _bits(domains[i]):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            trial = {**domains, i: 1 << p}
            consistent = _prune(trial, clash, neighbours, [(j, i) for j in neighbours[i]])
            if consistent and (found := solve(trial, open_ - {i})) is not None:
                return found
        return None

    return solve(domains, frozenset(domains))


# -- collisions, for many boxes of one size and angle at once (numpy arrays of centres) --------------


def _corners(centres: np.ndarray, width: float, height: float, angle: float) -> np.ndarray:
    """(n, 4, 2) corners of boxes with these centres."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    w, h = width / 2, height / 2
    offsets = np.array([(c * dx - s * dy, s * dx + c * dy) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h))])
    return centres[:, None, :] + offsets[None, :, :]


def _overlap(a: np.ndarray, angle_a: float | np.ndarray, b: np.ndarray, angle_b: float | np.ndarray) -> np.ndarray:
    """(len a, len b): True where box a[i] comes within CLEARANCE of box b[j].

    Two rectangles are apart when some side's direction separates their shadows; testing
    the directions of every box in a and b (angles: one for all, or one per box) is enough.
    """
    angles = np.unique(np.concatenate([np.atleast_1d(angle_a), np.atleast_1d(angle_b)]) % 180)
    radians = np.radians(np.concatenate([angles, angles + 90]))
    axes = np.stack([np.cos(radians), np.sin(radians)])  # (2, k)
    pa, pb = a @ axes, b @ axes  # (n, 4, k): each corner's shadow on each direction
    low_a, high_a, low_b, high_b = pa.min(1), pa.max(1), pb.min(1), pb.max(1)
    apart = (high_a[:, None] + CLEARANCE <= low_b[None]) | (high_b[None] + CLEARANCE <= low_a[:, None])
    return ~apart.any(axis=2)


def _local(points: np.ndarray, centres: np.ndarray, angle: float) -> np.ndarray:
    """(n, m, 2): each point in the own axes (along, across) of each box centred at `centres`."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    d = points[None, :, :] - centres[:, None, :]
    return np.stack([d[..., 0] * c + d[..., 1] * s, -d[..., 0] * s + d[..., 1] * c], axis=-1)


def _near_circles(centres: np.ndarray, width: float, height: float, angle: float, circles: np.ndarray,
                  radius: float) -> np.ndarray:  # fmt: skip
    """(n,): True where a box comes closer than `radius` to one of the circles' centres."""
    local = _local(circles, centres, angle)
    nearest = np.clip(local, [-width / 2, -height / 2], [width / 2, height / 2])
    return (np.hypot(*(local - nearest).transpose(2, 0, 1)) < radius).any(axis=1)


def _crossings(centres: np.ndarray, width: float, height: float, angle: float, lines: np.ndarray) -> np.ndarray:
    """(n, m): True where line m (a segment, rows x0, y0, x1, y1) passes through box n (clipped in its axes)."""
    start, end = _local(lines[:, :2], centres, angle), _local(lines[:, 2:], centres, angle)
    step = end - start
    half = np.array([width / 2, height / 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (-half - start) / step, (half - start) / step
    inside = np.abs(start) < half  # a line parallel to a side: in or out for every t
    low = np.where(step == 0, np.where(inside, 0.0, np.inf), np.minimum(t0, t1))
    high = np.where(step == 0, np.where(inside, 1.0, -np.inf), np.maximum(t0, t1))
    return np.maximum(low.max(-1), 0.0) < np.minimum(high.min(-1), 1.0)
