"""A flow's node graph laid out in layers, for drawing (the report page's graph).

Pure geometry, no drawing: each node gets a centre, each declared edge a
route of points. Layers are the BFS depth from ``start`` (so a caller reads
the picture top to bottom in the order calls go), a post-call survey
(``settings.survey``) and anything else not reachable from ``start`` sit
below what leads to them. Within a layer, nodes are ordered by a few
barycenter sweeps (the classic Sugiyama heuristic), long edges pass through
placeholder points so they bend around nodes rather than through them, and
the order with the fewest crossings wins.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from . import graph
from .model import Flow

SLOT_W = 190.0
"""Horizontal room of one node (the drawn shape is at most this minus a gap)."""
LAYER_H = 96.0
"""Vertical distance between layers."""
MARGIN = 40.0
SWEEPS = 6


@dataclass(frozen=True)
class Edge:
    """One declared edge (several targets to the same node are one edge with several labels)."""

    src: str
    dst: str
    labels: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(self.labels)


@dataclass
class Route:
    """Where an edge goes: ``forward`` down through ``points`` (placeholder centres), ``back`` up or
    ``flat`` within a layer (drawn as a curve beside the nodes)."""

    edge: Edge
    kind: str
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Layout:
    """Node centres, edge routes and the size of the picture."""

    centres: dict[str, tuple[float, float]]
    layers: list[list[str]]
    routes: list[Route]
    width: float
    height: float
    post_call: Optional[str] = None


def _label(loc: tuple, flow: Flow, src: str) -> str:
    """A short name for why the edge is taken: the menu key, the hook or auth outcome, the branch case."""
    node = flow.nodes[src]
    if loc[0] == "menu":
        opt = node.menu.options[loc[2]]
        return opt.key or (opt.say[0] if opt.say else "")
    if loc[0] in ("action", "authenticate") and loc[1] == "outcomes":
        return str(loc[2])
    if loc[0] == "action":
        return loc[1].replace("_", " ")
    if loc[0] == "branch":
        return f"case {loc[2] + 1}" if loc[1] == "cases" else "default"
    if loc[0] == "enroll":
        return loc[1]
    return ""


def edges(flow: Flow) -> list[Edge]:
    """The declared edges between existing nodes, one per (from, to) pair, in flow order."""
    found: dict[tuple[str, str], list[str]] = {}
    for src, node in flow.nodes.items():
        for loc, dst in graph.targets(node):
            if dst not in flow.nodes:
                continue
            labels = found.setdefault((src, dst), [])
            text = _label(loc, flow, src)
            if text and text not in labels:
                labels.append(text)
    return [Edge(s, d, tuple(ls)) for (s, d), ls in found.items()]


def post_call_survey(flow: Flow) -> Optional[str]:
    """The survey node run after an agent call (``settings.survey``), when the flow names an existing one."""
    name = getattr(flow.settings, "survey", None)
    return name if isinstance(name, str) and name in flow.nodes else None


def depths(flow: Flow, es: list[Edge]) -> dict[str, int]:
    """Layer of every node: BFS depth from start, then the post-call survey and other unreached nodes
    below the nodes that hand callers to a person (or below everything)."""
    out_edges: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for e in es:
        out_edges[e.src].append(e.dst)
    depth: dict[str, int] = {}

    def bfs(root: str, d0: int) -> None:
        depth[root] = d0
        todo = deque([root])
        while todo:
            n = todo.popleft()
            for m in out_edges[n]:
                if m not in depth:
                    depth[m] = depth[n] + 1
                    todo.append(m)

    if flow.start in flow.nodes:
        bfs(flow.start, 0)
    survey = post_call_survey(flow)
    if survey is not None and survey not in depth:
        handed = [d for n, d in depth.items() if flow.nodes[n].kind in ("transfer", "voicemail", "callback")]
        bfs(survey, (max(handed) if handed else max(depth.values(), default=-1)) + 1)
    for n in flow.nodes:
        if n not in depth:
            bfs(n, max(depth.values(), default=-1) + 1)
    return depth


def _crossings(layers: list[list[str]], down: dict[str, list[str]]) -> int:
    total = 0
    for upper, lower in zip(layers, layers[1:]):
        pos = {n: i for i, n in enumerate(lower)}
        pairs = [(i, pos[m]) for i, n in enumerate(upper) for m in down.get(n, []) if m in pos]
        total += sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs))
                     if (pairs[a][0] - pairs[b][0]) * (pairs[a][1] - pairs[b][1]) < 0)
    return total


def _order(layers: list[list[str]], down: dict[str, list[str]], up: dict[str, list[str]]) -> list[list[str]]:
    """Barycenter sweeps down and up; the order with the fewest crossings between adjacent layers."""
    best, best_x = [list(layer) for layer in layers], _crossings(layers, down)
    cur = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        rng = range(1, len(cur)) if sweep % 2 == 0 else range(len(cur) - 2, -1, -1)
        for i in rng:
            ref = cur[i - 1] if sweep % 2 == 0 else cur[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            nbrs = up if sweep % 2 == 0 else down

            def bary(n: str, k: int) -> float:
                ps = [pos[m] for m in nbrs.get(n, []) if m in pos]
                return sum(ps) / len(ps) if ps else float(k)
            cur[i] = [n for _, _, n in sorted((bary(n, k), k, n) for k, n in enumerate(cur[i]))]
        x = _crossings(cur, down)
        if x < best_x:
            best, best_x = [list(layer) for layer in cur], x
    return best


def _place(layers: list[list[str]], down: dict[str, list[str]], up: dict[str, list[str]]) -> dict[str, float]:
    """x of every node and placeholder: under its neighbours where room allows, never closer than a slot."""
    x = {n: (k - (len(layer) - 1) / 2) * SLOT_W for layer in layers for k, n in enumerate(layer)}
    for sweep in range(4):
        rng = range(1, len(layers)) if sweep % 2 == 0 else range(len(layers) - 2, -1, -1)
        nbrs = up if sweep % 2 == 0 else down
        for i in rng:
            layer = layers[i]
            want = []
            for n in layer:
                ps = [x[m] for m in nbrs.get(n, []) if m in x]
                want.append(sum(ps) / len(ps) if ps else x[n])
            placed: list[float] = []
            for w in want:  # left to right, keep a slot apart
                placed.append(max(w, placed[-1] + SLOT_W) if placed else w)
            for k in range(len(placed) - 2, -1, -1):  # pull back towards the wishes from the right
                placed[k] = min(placed[k], placed[k + 1] - SLOT_W) if placed[k] > want[k] else placed[k]
            shift = (sum(want) - sum(placed)) / len(placed)
            for n, p in zip(layer, placed):
                x[n] = p + shift
    return x


def layout(flow: Flow) -> Layout:
    """Lay out ``flow`` top to bottom: centres of nodes, routes of the declared edges."""
    es = edges(flow)
    depth = depths(flow, es)
    n_layers = max(depth.values()) + 1
    layers: list[list[str]] = [[] for _ in range(n_layers)]
    rank = _bfs_rank(flow, es)
    for n in sorted(flow.nodes, key=lambda n: (depth[n], rank.get(n, 0))):
        layers[depth[n]].append(n)
    down: dict[str, list[str]] = {}
    up: dict[str, list[str]] = {}
    chains: dict[int, list[str]] = {}
    for i, e in enumerate(es):
        d0, d1 = depth[e.src], depth[e.dst]
        if d1 <= d0:
            continue
        chain = [e.src] + [f"\0{i}:{d}" for d in range(d0 + 1, d1)] + [e.dst]
        for d, dummy in enumerate(chain[1:-1], start=d0 + 1):
            layers[d].append(dummy)
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
        chains[i] = chain
    layers = _order(layers, down, up)
    xs = _place(layers, down, up)
    left = min(xs.values()) - SLOT_W / 2
    right = max(xs.values()) + SLOT_W / 2
    has_side = any(depth[e.dst] <= depth[e.src] for e in es)
    side = 70.0 if has_side else 0.0

    def point(n: str) -> tuple[float, float]:
        return (xs[n] - left + MARGIN, depth_of(n) * LAYER_H + MARGIN + 30)

    def depth_of(n: str) -> int:
        return depth[n] if n in depth else int(n.rsplit(":", 1)[1])

    centres = {n: point(n) for n in flow.nodes}
    routes = []
    for i, e in enumerate(es):
        if i in chains:
            routes.append(Route(e, "forward", [point(d) for d in chains[i][1:-1]]))
        else:
            routes.append(Route(e, "back" if depth[e.dst] < depth[e.src] else "flat"))
    return Layout(centres, [[n for n in layer if n in flow.nodes] for layer in layers], routes,
                  width=right - left + 2 * MARGIN + side, height=n_layers * LAYER_H + 2 * MARGIN,
                  post_call=post_call_survey(flow))


def _bfs_rank(flow: Flow, es: list[Edge]) -> dict[str, int]:
    """Discovery order from start (declared option order first), the initial order within a layer."""
    out: dict[str, list[str]] = {}
    for e in es:
        out.setdefault(e.src, []).append(e.dst)
    rank: dict[str, int] = {}
    for root in [flow.start, *flow.nodes]:
        if root in rank or root not in flow.nodes:
            continue
        rank[root] = len(rank)
        todo = deque([root])
        while todo:
            for m in out.get(todo.popleft(), []):
                if m not in rank:
                    rank[m] = len(rank)
                    todo.append(m)
    return rank
