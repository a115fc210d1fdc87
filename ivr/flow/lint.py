"""Design lint: IVR practice a flow file can be checked against.

Validation (:mod:`ivr.flow.validate`) decides whether a flow *can* run; lint
says whether it is kind to callers.  Each finding has a code, a severity
(``error`` makes ``lint`` exit 1) and a message that says what to change.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..errors import Problem
from . import graph, templates
from .loaded import LoadedFlow
from .matching_rules import phrase_collisions
from .phrases import agent_words, contains_phrase, normalize

MAX_PROMPT_WORDS = 25
MAX_OPTIONS = 5
MAX_PROMPT_SECONDS = 8.0
MAX_SURVEY_QUESTIONS = 5

PromptDuration = Callable[[str, str], Optional[float]]
"""(node id, text) -> rendered seconds, when prompt audio is available."""


def lint(lf: LoadedFlow, durations: Optional[PromptDuration] = None) -> list[Problem]:
    """Every design finding of a flow, errors first."""
    flow, out = lf.flow, []

    def add(severity: str, code: str, loc: tuple, message: str) -> None:
        pos = lf.key_pos(*loc) if len(loc) == 2 else lf.pos(*loc)
        out.append(Problem(lf.file, *pos, message, severity=severity, code=code))

    agents = agent_words(flow.language, flow.settings.agent_words)
    person = graph.person_reachable(flow)
    closing = graph.closing(flow)
    slots = {n.ask.slot for n in flow.nodes.values() if n.ask is not None}
    after_hooks = set().union(*(graph.reachable(flow, nid) for nid, n in flow.nodes.items() if n.kind == "action"))

    for nid, node in flow.nodes.items():
        kind = node.kind
        if node.menu is not None:
            menu = node.menu
            words = len(menu.prompt.split())
            if words > MAX_PROMPT_WORDS:
                add("warning", "long-prompt", ("nodes", nid, "menu", "prompt"),
                    f"node '{nid}': menu prompt has {words} words (over {MAX_PROMPT_WORDS}); callers forget "
                    "the first choices: shorten it or split the menu")
            if durations is not None:
                secs = durations(nid, menu.prompt)
                if secs is not None and secs > MAX_PROMPT_SECONDS:
                    add("warning", "slow-prompt", ("nodes", nid, "menu", "prompt"),
                        f"node '{nid}': menu prompt takes {secs:.1f} s to play (over {MAX_PROMPT_SECONDS:.0f} s); "
                        "shorten it")
            if len(menu.options) > MAX_OPTIONS:
                add("warning", "too-many-options", ("nodes", nid, "menu", "options"),
                    f"node '{nid}': {len(menu.options)} options (over {MAX_OPTIONS}); group them into sub-menus")
            for i, j, a, b in phrase_collisions(menu):
                add("warning", "colliding-phrases", ("nodes", nid, "menu", "options", j, "say"),
                    f"node '{nid}': phrase '{b}' (option {j + 1}) contains '{a}' (option {i + 1}); a caller "
                    f"saying '{b}' is sent to option {j + 1}, one saying only '{a}' to option {i + 1}: "
                    "make sure that is intended or reword one")
            for i, opt in enumerate(menu.options):
                for k, phrase in enumerate(opt.say):
                    norm = normalize(phrase)
                    hit = next((w for w in agents if contains_phrase(norm, w) or contains_phrase(w, norm)), None)
                    if hit:
                        add("error", "shadows-agent", ("nodes", nid, "menu", "options", i, "say", k),
                            f"node '{nid}': phrase '{phrase}' overlaps the agent words ('{hit}'); callers who "
                            "ask for a person must reach one: remove or reword the phrase")
                if opt.key is None:
                    add("warning", "no-key", ("nodes", nid, "menu", "options", i),
                        f"node '{nid}': option {i + 1} has no key; callers who cannot speak (noise, accent) "
                        "cannot choose it")
        if node.survey is not None:
            questions = node.survey.questions
            if len(questions) > MAX_SURVEY_QUESTIONS:
                add("warning", "long-survey", ("nodes", nid, "survey", "questions"),
                    f"node '{nid}': {len(questions)} questions (over {MAX_SURVEY_QUESTIONS}); callers hang up "
                    "on long phone surveys and the last answers go missing: keep the few that matter")
            for i, q in enumerate(questions):
                words = len(q.prompt.split())
                if words > MAX_PROMPT_WORDS:
                    add("warning", "long-prompt", ("nodes", nid, "survey", "questions", i, "prompt"),
                        f"node '{nid}': question '{q.id}' has {words} words (over {MAX_PROMPT_WORDS}); "
                        "shorten it")
        if kind == "say" and node.next is None:
            add("warning", "dead-end", ("nodes", nid),
                f"node '{nid}': the call ends after this message without a goodbye; add next: to a hangup node")
        if kind == "ask" and node.next_node is None:
            add("error", "ask-no-next", ("nodes", nid, "ask"),
                f"node '{nid}': after the caller answers, the call ends in silence; add next: (under ask: or "
                "beside it) to the node that uses the answer")
        if kind == "hangup" and not (node.hangup or "").strip():
            add("warning", "no-goodbye", ("nodes", nid),
                f"node '{nid}': the call hangs up without a word; say goodbye (hangup: Thank you for calling. "
                "Goodbye.)")
        spec = node.menu or node.ask
        retries = None if spec is None else (flow.settings.retries if spec.retries is None else spec.retries)
        if retries == 0:
            where = ("nodes", nid, kind, "retries") if spec.retries is not None else ("settings", "retries")
            add("warning", "no-retries", where,
                f"node '{nid}': retries is 0, so one silence or one misheard answer sends the caller to a "
                "person; give callers at least one more try (retries: 1 or 2)")
        if kind == "action" and node.action.default is None:
            add("warning", "unhandled-outcome", ("nodes", nid, "action"),
                f"node '{nid}': outcomes not listed under outcomes: send the caller to a person; add default: "
                "if another node should handle them")
        if nid not in person and nid not in closing:
            add("warning", "no-person", ("nodes", nid),
                f"node '{nid}': no person can be reached from here; callers stuck here cannot ask for help")
        for name in _template_fields(node):
            if name not in slots and nid not in after_hooks:
                add("warning", "unknown-field", ("nodes", nid),
                    f"node '{nid}': {{{name}}} is not collected by any ask node; it must come from a hook, "
                    "or the caller hears nothing there")
    for loop in graph.input_free_loops(flow):
        first = loop[0]
        add("error", "input-free-loop", ("nodes", first),
            f"node '{first}': the nodes {' -> '.join(loop + [first])} lead back to each other without waiting "
            "for the caller, so the call plays them over and over until the engine gives up and transfers; "
            "end the loop with a menu, an ask or a hangup")
    out.sort(key=lambda p: (p.severity != "error", p.line, p.col))
    return out


def _template_fields(node) -> list[str]:
    texts = [node.say, node.hangup]
    spec = node.menu or node.ask
    if spec is not None:
        texts += [spec.prompt, *spec.reprompts("no_input"), *spec.reprompts("no_match")]
    if node.transfer is not None:
        texts.append(node.transfer.say)
    if node.survey is not None:
        texts += [q.prompt for q in node.survey.questions]
        texts += [*node.survey.reprompts("no_input"), *node.survey.reprompts("no_match")]
    return [f for t in texts if t for f in templates.fields(t)]
