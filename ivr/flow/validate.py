"""Cross-checks that need the whole flow: targets, queues, reachability, menus.

These are errors: a flow that fails them is never loaded.  Design advice
(prompt length, option count, ...) lives in :mod:`ivr.flow.lint`.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Optional

from ..errors import Problem
from . import graph, templates
from .loaded import LoadedFlow
from .phrases import normalize


def _unknown_target(lf: LoadedFlow, loc: tuple, target: str, what: str) -> Problem:
    close = difflib.get_close_matches(target, list(lf.flow.nodes), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"define a node '{target}' under nodes:"
    return Problem(lf.file, *lf.pos(*loc), f"{what} '{target}' is not a node of this flow; {hint}")


def cross_check(lf: LoadedFlow, known_hooks: Optional[Iterable[str]] = None) -> list[Problem]:
    """Every cross-reference problem of a typed flow.

    Args:
        lf: the loaded flow with its source positions.
        known_hooks: hook names the deployment registered; ``None`` skips that check.
    """
    flow, out = lf.flow, []
    add = out.append
    if flow.start not in flow.nodes:
        add(_unknown_target(lf, ("start",), flow.start, "start"))

    for nid, node in flow.nodes.items():
        for loc, target in graph.targets(node):
            if target not in flow.nodes:
                add(_unknown_target(lf, ("nodes", nid, *loc), target, f"node '{nid}': target"))

    declared = set(flow.queues) or {flow.settings.agent_queue}
    def check_queue(name: Optional[str], loc: tuple) -> None:
        if name and name not in declared:
            close = difflib.get_close_matches(name, sorted(declared), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"declare it under queues: ({name}: {{}})"
            add(Problem(lf.file, *lf.pos(*loc), f"unknown queue '{name}'; {hint}"))

    check_queue(flow.settings.agent_queue, ("settings", "agent_queue") if "settings" in lf.source else ("flow",))
    survey = flow.settings.survey
    if survey is not None:
        if survey not in flow.nodes:
            out.append(_unknown_target(lf, ("settings", "survey"), survey, "settings.survey"))
        elif flow.nodes[survey].kind != "survey":
            surveys = [nid for nid, n in flow.nodes.items() if n.kind == "survey"]
            hint = f"name one of: {', '.join(surveys)}" if surveys else \
                "add a node with survey: {questions: [...], next: ...} and name it"
            add(Problem(lf.file, *lf.pos("settings", "survey"), f"settings.survey '{survey}' is a "
                        f"{flow.nodes[survey].kind} node, not a survey node; {hint}"))
    sensitive = {n.ask.slot for n in flow.nodes.values() if n.ask is not None and n.ask.sensitive}
    action_ids = {nid for nid, n in flow.nodes.items() if n.kind == "action"}

    for nid, node in flow.nodes.items():
        kind = node.kind
        spec = node.menu or node.ask
        if spec is not None:
            check_queue(spec.queue, ("nodes", nid, kind, "queue"))
        if node.transfer is not None:
            check_queue(node.transfer.queue, ("nodes", nid, "transfer", "queue"))
        for kind_name in ("voicemail", "callback"):
            spec_h = getattr(node, kind_name)
            if spec_h is not None:
                check_queue(spec_h.queue, ("nodes", nid, kind_name, "queue"))
        if node.action is not None and known_hooks is not None:
            if node.action.hook not in known_hooks and node.action.hook not in flow.hooks:
                names = sorted(set(known_hooks) | set(flow.hooks))
                close = difflib.get_close_matches(node.action.hook, names, n=1)
                hint = f"did you mean '{close[0]}'?" if close else (
                    "register it in the deployment or declare it under hooks: with a url")
                add(Problem(lf.file, *lf.pos("nodes", nid, "action", "hook"),
                            f"node '{nid}': unknown hook '{node.action.hook}'; {hint}"))
        if node.branch is not None:
            for i, case in enumerate(node.branch.cases):
                if case.when.result and case.when.result not in action_ids:
                    add(Problem(lf.file, *lf.pos("nodes", nid, "branch", "cases", i, "when", "result"),
                                f"node '{nid}': result '{case.when.result}' must name an action node"))
        for loc, text in _texts(node):
            for name in templates.fields(text):
                if name in sensitive:
                    add(Problem(lf.file, *lf.pos("nodes", nid, *loc),
                                f"node '{nid}': prompt reads out the sensitive slot '{name}'; sensitive "
                                "values are never spoken, logged or shown: remove {" + name + "}"))
        if node.survey is not None:
            ids: dict[str, int] = {}
            for i, q in enumerate(node.survey.questions):
                if q.id in ids:
                    add(Problem(lf.file, *lf.pos("nodes", nid, "survey", "questions", i, "id"),
                                f"node '{nid}': question id '{q.id}' is used by question {ids[q.id] + 1} "
                                "already; give each question its own id (it keys the answers in reports)"))
                ids.setdefault(q.id, i)
        if node.menu is not None:
            keys: dict[str, int] = {}
            phrases: dict[str, int] = {}
            for i, opt in enumerate(node.menu.options):
                if opt.key is not None:
                    if opt.key in keys:
                        add(Problem(lf.file, *lf.pos("nodes", nid, "menu", "options", i, "key"),
                                    f"node '{nid}': key \"{opt.key}\" is used by option {keys[opt.key] + 1} "
                                    "already; give each option its own key"))
                    keys.setdefault(opt.key, i)
                for j, phrase in enumerate(opt.say):
                    norm = normalize(phrase)
                    if not norm:
                        add(Problem(lf.file, *lf.pos("nodes", nid, "menu", "options", i, "say", j),
                                    f"node '{nid}': empty phrase; remove it"))
                    elif norm in phrases and phrases[norm] != i:
                        add(Problem(lf.file, *lf.pos("nodes", nid, "menu", "options", i, "say", j),
                                    f"node '{nid}': phrase '{phrase}' also selects option {phrases[norm] + 1}; "
                                    "a phrase may select one option only"))
                    phrases.setdefault(norm, i)

    for i, rule in enumerate(flow.routing):
        check_queue(rule.queue, ("routing", i, "queue"))
        req = rule.when.requested
        for name in ([req] if isinstance(req, str) else req or []):
            check_queue(name, ("routing", i, "when", "requested"))
        if rule.when.slot and rule.when.slot in sensitive and rule.when.exists is None:
            add(Problem(lf.file, *lf.pos("routing", i, "when", "slot"),
                        f"routing rule {i + 1}: slot '{rule.when.slot}' is sensitive; routing sees only "
                        "whether it exists: use exists: true"))
        paths = rule.when.path_contains
        for name in ([paths] if isinstance(paths, str) else paths or []):
            if name not in flow.nodes:
                close = difflib.get_close_matches(name, list(flow.nodes), n=1)
                hint = f"did you mean '{close[0]}'?" if close else "name a node of this flow"
                add(Problem(lf.file, *lf.pos("routing", i, "when", "path_contains"),
                            f"routing rule {i + 1}: path_contains '{name}' is not a node; {hint}"))
    for qname, queue in flow.queues.items():
        for j, field_name in enumerate(queue.target.fields):
            if field_name in sensitive:
                add(Problem(lf.file, *lf.pos("queues", qname, "target", "fields", j),
                            f"queue '{qname}': slot '{field_name}' is sensitive and never leaves the IVR; "
                            "remove it from fields"))

    target_errors = any("is not a node of this flow" in p.message for p in out)
    if flow.start in flow.nodes and not target_errors:  # an unknown target usually meant the "unreachable" node
        seen = graph.reachable(flow)
        for nid in flow.nodes:
            if nid not in seen:
                add(Problem(lf.file, *lf.key_pos("nodes", nid), f"node '{nid}' is unreachable from start "
                            f"'{flow.start}'; link to it (goto:/next:), name it as settings.survey (a survey "
                            "node), or delete it"))
    return out


def _texts(node) -> list[tuple[tuple, str]]:
    """Spoken texts of a node with their locations (for template checks)."""
    out: list[tuple[tuple, str]] = []
    if node.say:
        out.append((("say",), node.say))
    if node.hangup:
        out.append((("hangup",), node.hangup))
    spec = node.menu or node.ask
    if spec is not None:
        kind = node.kind
        out.append(((kind, "prompt"), spec.prompt))
        for name in ("no_input", "no_match"):
            own = getattr(spec, name)
            if isinstance(own, list):
                out += [((kind, name, i), words) for i, words in enumerate(own)]
            elif own:
                out.append(((kind, name), own))
    if node.transfer is not None and node.transfer.say:
        out.append((("transfer", "say"), node.transfer.say))
    if node.survey is not None:
        out += [(("survey", "questions", i, "prompt"), q.prompt) for i, q in enumerate(node.survey.questions)]
        for name in ("no_input", "no_match"):
            own = getattr(node.survey, name)
            out += [((("survey", name, i) if isinstance(own, list) else ("survey", name)), words)
                    for i, words in enumerate(node.survey.reprompts(name))]
    for kind in ("voicemail", "callback"):
        spec_h = getattr(node, kind)
        if spec_h is not None and spec_h.say:
            out.append(((kind, "say"), spec_h.say))
    return out
