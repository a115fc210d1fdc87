"""Flow coverage: which nodes and edges of a flow the call scripts exercised, and what they missed.

Why: a tester's question is "which way through this menu has no script?", so
coverage is counted on the flow graph itself: nodes are the flow's nodes and
edges are its declared transitions (:func:`ivr.flow.graph.targets`: menu
options, ``next``, branch cases, hook and authentication outcomes, ...). A
node is covered when a call entered it; an edge ``(a, b)`` when a call entered
``b`` right after ``a`` and the flow declares ``a -> b`` (a path that jumps
between nodes by an implicit route, such as the post-call survey after a
transfer, covers the nodes but no declared edge).

The implicit exits to a person (agent words, key ``0``, exhausted retries) are
not edges of the graph; they are reported apart as ``agent_exits`` (menu and
ask nodes, each of which has one) and ``escalations`` (where calls took them).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from ..flow.graph import targets
from ..flow.model import Flow

ESCALATION_REASONS = ("caller_request", "retries_exhausted")
"""Context ``reason``s of the engine's implicit exits to a person (not a transfer node's own reason)."""
AGENT_EXIT_KINDS = ("menu", "ask")
"""Node kinds where the agent words and key 0 always escalate (DESIGN.md: "Global behaviour")."""


def flow_edges(flow: Flow) -> list[tuple[str, str]]:
    """The flow's declared edges between existing nodes, once each, in flow order."""
    seen: dict[tuple[str, str], None] = {}
    for nid, node in flow.nodes.items():
        for _, target in targets(node):
            if target in flow.nodes:
                seen.setdefault((nid, target), None)
    return list(seen)


def escalation_of(context: dict[str, Any]) -> Optional[tuple[str, str]]:
    """``(node, reason)`` where a call left by an implicit exit to a person, from its context packet; else None.

    The node is the ``failed_node`` of exhausted retries, else the node of the
    last turn in which the caller asked for a person, else the last node entered.
    """
    reason = context.get("reason")
    if reason not in ESCALATION_REASONS:
        return None
    node = context.get("failed_node")
    if not node:
        asked = [t.get("node") for t in context.get("transcript") or [] if t.get("outcome") == "agent"]
        node = asked[-1] if asked else None
    if not node:
        path = context.get("path") or []
        node = path[-1] if path else None
    return (node, reason) if node else None


def flow_coverage(flow: Flow, paths: Sequence[Sequence[str]],
                  escalations: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """Coverage of ``flow`` by calls that entered the nodes of ``paths`` (one list of node ids per call).

    Args:
        flow: the flow model.
        paths: each call's context packet ``path``, in order; ids the flow no longer has are ignored.
        escalations: ``(node, reason)`` of each call that left by an implicit exit (:func:`escalation_of`).

    Returns:
        ``{flow, nodes: {covered, total, missing}, edges: {covered, total, missing}, covered_nodes,
        covered_edges, calls, agent_exits: {covered, total, missing}, escalations: [{node, reason, calls}]}``;
        ids in flow order, edges as ``[from, to]`` lists (JSON's shape).
    """
    nodes = list(flow.nodes)
    edges = flow_edges(flow)
    declared = set(edges)
    entered: set[str] = set()
    taken: set[tuple[str, str]] = set()
    for path in paths:
        entered.update(n for n in path if n in flow.nodes)
        taken.update(pair for pair in zip(path, path[1:]) if pair in declared)
    exits = [n for n, node in flow.nodes.items() if node.kind in AGENT_EXIT_KINDS]
    counted = Counter((n, r) for n, r in escalations if n in flow.nodes)
    escalated = {n for n, _ in counted}
    order = {n: i for i, n in enumerate(nodes)}
    return {
        "flow": flow.flow,
        "calls": len(paths),
        "nodes": _tally([n for n in nodes if n in entered], [n for n in nodes if n not in entered], len(nodes)),
        "edges": _tally([list(e) for e in edges if e in taken], [list(e) for e in edges if e not in taken],
                        len(edges)),
        "covered_nodes": [n for n in nodes if n in entered],
        "covered_edges": [list(e) for e in edges if e in taken],
        "agent_exits": _tally([n for n in exits if n in escalated], [n for n in exits if n not in escalated],
                              len(exits)),
        "escalations": [{"node": n, "reason": r, "calls": c}
                        for (n, r), c in sorted(counted.items(), key=lambda kv: (order[kv[0][0]], kv[0][1]))],
    }


def _tally(covered: list, missing: list, total: int) -> dict[str, Any]:
    return {"covered": len(covered), "total": total, "missing": missing,
            "percent": round(100.0 * len(covered) / total, 1) if total else 100.0}


def percent(part: dict[str, Any]) -> float:
    """Covered share of a ``nodes``/``edges`` tally in percent (an empty graph part counts as fully covered)."""
    return 100.0 * part["covered"] / part["total"] if part["total"] else 100.0


def _file(directory: str | Path, flow_id: str) -> Path:
    if not flow_id or "/" in flow_id or "\\" in flow_id or flow_id.startswith("."):
        raise ValueError(f"flow id {flow_id!r} cannot name a coverage file")
    return Path(directory) / f"{flow_id}.json"


def save(result: dict[str, Any], directory: str | Path) -> Path:
    """Write one flow's coverage to ``<directory>/<flow>.json`` (atomically: a page never reads half a file)."""
    path = _file(directory, result["flow"])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{result['flow']}.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(result, fh, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_saved(directory: str | Path, flow_id: str) -> Optional[dict[str, Any]]:
    """The coverage saved for ``flow_id`` by the last ``coverage`` run, or None if there is none (or it is unreadable)."""
    try:
        path = _file(directory, flow_id)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("flow") == flow_id else None
