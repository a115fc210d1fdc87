"""The node graph of a flow: successors, reachability.

Used by validation (unknown targets, unreachable nodes) and lint (dead ends,
nodes from which no person can be reached).
"""

from __future__ import annotations

from typing import Iterator

from .model import Flow, Node


def targets(node: Node) -> Iterator[tuple[tuple, str]]:
    """``(location, node id)`` of every node a node can lead to."""
    kind = node.kind
    if node.next:
        yield ("next",), node.next
    if kind == "menu":
        for i, opt in enumerate(node.menu.options):
            yield ("menu", "options", i, "goto"), opt.goto
    elif kind == "ask" and node.ask.next:
        yield ("ask", "next"), node.ask.next
    elif kind == "action":
        for outcome, target in node.action.outcomes.items():
            yield ("action", "outcomes", outcome), target
        if node.action.default:
            yield ("action", "default"), node.action.default
        if node.action.on_failure:
            yield ("action", "on_failure"), node.action.on_failure
    elif kind == "branch":
        for i, case in enumerate(node.branch.cases):
            yield ("branch", "cases", i, "goto"), case.goto
        yield ("branch", "default"), node.branch.default
    elif kind == "authenticate":
        for outcome, target in node.authenticate.outcomes.items():
            yield ("authenticate", "outcomes", outcome), target
    elif kind == "survey" and node.survey.next:
        yield ("survey", "next"), node.survey.next
    elif kind == "enroll":
        yield ("enroll", "next"), node.enroll.next
        yield ("enroll", "declined"), node.enroll.declined


def successors(flow: Flow, node_id: str) -> list[str]:
    """Existing nodes directly after ``node_id``."""
    return [t for _, t in targets(flow.nodes[node_id]) if t in flow.nodes]


def roots(flow: Flow) -> list[str]:
    """Where calls enter the flow: its start, and the post-call survey (``settings.survey``).

    Why the survey: after a call with a person the engine runs it without any edge leading there.
    """
    return [n for n in dict.fromkeys((flow.start, flow.settings.survey)) if n and n in flow.nodes]


def reachable(flow: Flow, start: str | None = None) -> set[str]:
    """Nodes reachable from ``start``; by default from every root (:func:`roots`)."""
    first = [start] if start else roots(flow)
    first = [n for n in first if n in flow.nodes]
    if not first:
        return set()
    seen, todo = set(first), list(first)
    while todo:
        for nxt in successors(flow, todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def person_reachable(flow: Flow) -> set[str]:
    """Nodes from which the caller can reach a person.

    Menus, asks and surveys always can (agent words, key 0); so can transfers and
    escalation-capable nodes (an action without ``on_failure`` escalates).
    """
    good = {nid for nid, n in flow.nodes.items()
            if n.kind in ("menu", "ask", "transfer", "voicemail", "callback", "authenticate", "enroll", "survey")
            or (n.kind == "action" and not n.action.on_failure)}
    changed = True
    while changed:
        changed = False
        for nid in flow.nodes:
            if nid not in good and any(s in good for s in successors(flow, nid)):
                good.add(nid)
                changed = True
    return good


WAITING_KINDS = ("menu", "ask", "action", "transfer", "voicemail", "callback", "hangup", "authenticate", "enroll",
                 "survey")
"""Kinds that wait for the caller, a hook or a person, or end the call: a loop through one of them can end."""


def input_free_loops(flow: Flow) -> list[list[str]]:
    """Cycles made only of nodes that neither wait nor end (say, branch), each once, in flow order.

    Why: such a loop never changes the call's state, so it spins until the
    engine's hop limit escalates the call, with the caller hearing the same
    messages over and over.
    """
    free = [nid for nid, n in flow.nodes.items() if n.kind not in WAITING_KINDS]
    order = {nid: i for i, nid in enumerate(flow.nodes)}
    loops, seen = [], set()
    for start in free:
        stack = [(start, [start])]
        while stack:
            nid, path = stack.pop()
            for nxt in successors(flow, nid):
                if nxt == start:
                    key = frozenset(path)
                    if key not in seen and min(path, key=order.get) == start:
                        seen.add(key)
                        loops.append(path)
                elif nxt in free and nxt not in path and order[nxt] > order[start]:
                    stack.append((nxt, path + [nxt]))
    return loops


def closing(flow: Flow) -> set[str]:
    """Nodes that only say goodbye: hang-ups, and say/branch nodes every path of which ends in one.

    Why: the caller is being let go, not stuck; lint does not ask for a way to a person there.
    """
    done = {nid for nid, n in flow.nodes.items() if n.kind == "hangup"}
    changed = True
    while changed:
        changed = False
        for nid, n in flow.nodes.items():
            nxt = successors(flow, nid)
            if nid not in done and n.kind in ("say", "branch") and nxt and all(s in done for s in nxt):
                done.add(nid)
                changed = True
    return done
