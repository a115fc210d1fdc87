"""The engine: ``step(flow, state, event) -> (state, actions)``.

Pure: no Flask, no Twilio, no audio, no IO and no clock.  Every transport
(webhooks, media stream, simulator, console) drives this one function, so a
simulated call takes exactly the decisions a real one does.

One step runs from an event to the next point where the call has to wait
(for the caller, a hook) or ends (transfer, hang-up); nodes that need no
input (``say``, ``branch``) are passed through within the step.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping, Optional

from ..flow import templates
from ..flow.model import Ask, Flow, Menu, Node
from ..flow.phrases import NO_WORDS, YES_WORDS, agent_words, lang_prefix, number_words
from . import actions as A
from . import events as E
from . import hours as _hours
from . import survey as _survey
from . import texts as _texts
from .conditions import holds
from .context import build_context, iso
from .matching import grammar_for_menu, match_menu, spoken_digits, wants_agent, yes_no
from .routing import route as _route
from .state import MASK, CallState

MAX_HOPS = 64
"""Nodes passed through in one step before the flow is judged to loop."""

TEXTS: dict[str, Mapping[str, str]] = {lang: cat.texts for lang, cat in _texts.CATALOGUES.items()}
"""System phrases by language prefix: a view of the one catalogue per language (:mod:`ivr.engine.texts`)."""


def text(language: str, key: str) -> str:
    """A built-in system phrase in the flow's language (English if not translated)."""
    return _texts.text(language, key)


class _Turn:
    """Collects the actions of one step."""

    def __init__(self, flow: Flow, state: CallState, at: float) -> None:
        self.flow = flow
        self.state = state
        self.at = at
        self.actions: list[A.Action] = []

    # -- output helpers -------------------------------------------------
    def record(self, event_kind: str, node: Optional[str], **data: Any) -> None:
        self.actions.append(A.RecordEvent(event_kind, node, self.at, data))

    def play(self, words: str, node: str, part: str, barge_in: bool = True) -> None:
        slots = self.state.slots
        filled = templates.render(words, slots).strip()
        if filled:
            names = templates.fields(words)
            secret = set(self.state.sensitive)
            values = tuple((n, slots[n]) for n in dict.fromkeys(names) if n in slots and n not in secret)
            s = self.flow.settings
            self.actions.append(A.Play(filled, node, part, self.flow.language, barge_in, flow=self.flow.flow,
                                       voice=s.voice, rate=s.rate, template=words.strip() if names else None,
                                       values=values))

    def turn(self, entry: dict[str, Any]) -> None:
        self.state.transcript.append({"node": self.state.node, **entry, "time": iso(self.at)})
        self.state.turns += 1


def step(flow: Flow, state: Optional[CallState], event: E.Event) -> tuple[CallState, list[A.Action]]:
    """Advance a call by one event.

    Args:
        flow: the flow the call runs (as loaded when the call started or now).
        state: the call's state; None only with :class:`CallStarted`.
        event: what happened.

    Returns:
        The new state (the input is not modified) and the actions to carry out.
    """
    if isinstance(event, E.CallStarted):
        st = CallState(call_id=event.call_id, flow=flow.flow, caller=event.caller, called=event.called,
                       entry=event.entry, language=flow.language, started_at=event.at, updated_at=event.at,
                       history=[dict(h) for h in event.history])
        t = _Turn(flow, st, event.at)
        t.record("call_started", None, caller=event.caller, called=event.called, entry=event.entry,
                 flow_version=flow_version(flow))  # reports split by version (ivr.analytics)
        _enter(t, flow.start)
        return st, t.actions
    if state is None:
        raise ValueError("step() needs a state for every event but CallStarted")
    st = state.copy_for_step()
    at = getattr(event, "at", 0.0) or st.updated_at
    st.updated_at = at
    t = _Turn(flow, st, at)

    if isinstance(event, E.CallerHungUp):
        _caller_hung_up(t)
        return st, t.actions
    if isinstance(event, E.AgentLegEnded):
        _agent_leg_ended(t, event)
        return st, t.actions
    if st.ended:
        return st, []
    node = flow.nodes.get(st.node or "")
    if isinstance(event, E.AuthResult):
        if st.waiting == "auth" and node is not None and node.authenticate is not None:
            _auth_result(t, node, event)
        else:
            _note_auth(t, event, passive=True)
        return st, t.actions
    if isinstance(event, E.EnrollResult):
        if st.waiting == "enroll" and node is not None and node.enroll is not None:
            _enroll_result(t, node, event)
        else:  # a voiceprint completed from a later call's ordinary speech (consent was given before)
            t.record("enroll", st.node, status=event.status, net_speech_s=round(event.net_speech_s, 2), passive=True)
        return st, t.actions
    if node is None:
        # The flow changed under a live call and the node is gone: never strand the caller.
        _escalate(t, "flow_changed", failed=st.node)
        return st, t.actions
    if isinstance(event, (E.HookCompleted, E.HookFailed)):
        if st.waiting != "hook" or node.action is None:
            return st, []
        _hook_done(t, node, event)
        return st, t.actions
    if st.waiting == "survey_offer" and isinstance(event, (E.DigitsReceived, E.SpeechRecognized, E.NoInput)):
        _survey_offer_answer(t, event)
        return st, t.actions
    if st.waiting in VOICE_WAITS and isinstance(event, (E.DigitsReceived, E.SpeechRecognized, E.NoInput)):
        _voice_input(t, node, event)
        return st, t.actions
    if st.waiting == "survey" and isinstance(event, (E.DigitsReceived, E.SpeechRecognized, E.NoInput)):
        if node.survey is not None:
            _survey_input(t, node, event)
        return st, t.actions
    if st.waiting not in ("input", "confirm"):
        return st, []
    if st.waiting == "confirm":
        _confirm_answer(t, node, event)
    elif node.menu is not None:
        _menu_input(t, node.menu, event)
    elif node.ask is not None:
        _ask_input(t, node.ask, event)
    return st, t.actions


# -- entering nodes -----------------------------------------------------------

def _enter(t: _Turn, node_id: Optional[str]) -> None:
    """Enter ``node_id`` and run until the call must wait or ends."""
    hops = 0
    st, flow = t.state, t.flow
    while node_id is not None:
        hops += 1
        if hops > MAX_HOPS or node_id not in flow.nodes:
            _escalate(t, "flow_error", failed=node_id)
            return
        node = flow.nodes[node_id]
        st.node = node_id
        st.path.append(node_id)
        st.failures = st.no_input_count = st.no_match_count = 0
        st.confirm = None
        st.waiting = None
        t.record("node_entered", node_id, kind=node.kind)
        kind = node.kind
        if kind == "say":
            t.play(node.say or "", node_id, "say", barge_in=flow.settings.barge_in)
            node_id = node.next
            if node_id is None:
                _end(t, "flow_end")
                return
        elif kind == "branch":
            values = st.values()
            node_id = next((c.goto for c in node.branch.cases if holds(c.when, values, st.results, st.facts())),
                           node.branch.default)
            t.record("branch", st.node, goto=node_id)
        elif kind in ("menu", "ask"):
            _prompt(t, node, node.menu or node.ask, "prompt")
            return
        elif kind == "authenticate":
            node_id = _start_authenticate(t, node_id, node)
            if node_id is None:
                return
        elif kind == "enroll":
            _ask_consent(t, node_id, node)
            return
        elif kind == "survey":
            _start_survey(t, node_id, node)
            return
        elif kind == "action":
            spec = node.action
            values = st.values()
            args = {k: templates.render(v, values) if isinstance(v, str) else v for k, v in spec.args.items()}
            st.waiting = "hook"
            t.actions.append(A.RunHook(node_id, spec.hook, args, spec.timeout))
            return
        elif kind == "transfer":
            _transfer(t, node.transfer.queue or flow.settings.agent_queue, node.transfer.reason, None,
                      say=node.transfer.say)
            return
        elif kind in ("voicemail", "callback"):
            spec = getattr(node, kind)
            queue = (spec.queue if spec else None) or flow.settings.agent_queue
            _transfer(t, queue, spec.reason if spec else kind, None, mode=kind, say=spec.say if spec else None)
            return
        elif kind == "hangup":
            t.play(node.hangup or "", node_id, "goodbye", barge_in=False)
            _end(t, "completed")
            return
        else:  # reserved kinds are refused by the loader; never strand a caller if one slips through
            _escalate(t, "flow_error", failed=node_id)
            return


def _listen(t: _Turn, node: Node, spec: Menu | Ask, mode: Optional[str] = None) -> None:
    flow, st = t.flow, t.state
    s = flow.settings
    lang = flow.language
    agents = agent_words(lang, s.agent_words)
    if isinstance(spec, Menu):
        mode = mode or "menu"
        phrases = grammar_for_menu(spec, lang, s.agent_words)
        keys = tuple(o.key for o in spec.options if o.key) + ("0",)
        finish = "" if "#" in keys else "#"
        max_digits, min_digits = 1, None
    else:
        mode = mode or spec.input
        keys = ()
        if mode == "digits":
            words = number_words(lang)
            phrases = tuple(words[d] for d in "0123456789") + agents
            max_digits, min_digits = spec.max_length, spec.min_length
        elif mode == "yesno":
            phrases = ("yes", "no") + agents
            keys, max_digits, min_digits = ("1", "2", "0"), 1, None
        else:
            phrases, max_digits, min_digits = (), None, None
    if mode == "yesno" and isinstance(spec, Menu):
        phrases, keys = ("yes", "no") + agents, ("1", "2", "0")
    if not isinstance(spec, Menu) or mode == "yesno":
        finish = "#"
    st.waiting = "confirm" if st.confirm else "input"
    t.actions.append(A.Listen(
        node=st.node or "", mode=mode, timeout=spec.timeout or s.no_input_timeout,
        speech=s.speech, phrases=phrases, keys=keys, max_digits=max_digits, min_digits=min_digits,
        digit_timeout=s.digit_timeout, finish_on_key=finish,
        barge_in=s.barge_in if spec.barge_in is None else spec.barge_in,
        confidence=s.confidence if spec.confidence is None else spec.confidence,
        end_of_speech_ms=s.end_of_speech_ms,
        unsure_end_ms=s.end_of_speech_unsure_ms,
        complete_end_ms=(s.end_of_speech_complete_ms
                         if mode in ("menu", "yesno") and s.end_of_speech_complete_ms < s.end_of_speech_ms else 0),
        sensitive=isinstance(spec, Ask) and spec.sensitive))


def listen_at(flow: Flow, node_id: str, mode: Optional[str] = None, state: Optional[CallState] = None,
              question: Optional[str] = None) -> A.Listen:
    """The Listen the engine emits at a menu, ask or survey node (``mode="yesno"``: a menu's confirmation).

    At a survey: the question ``question`` (an id), else the one the state is at (the first by default).

    Why: tools that recognise outside a call (``recognize``, the speech bench)
    must hear exactly what a call at that node would, through the engine's own
    listen rules rather than a copy of them. Pure: no IO.

    Raises:
        ValueError: the node neither asks nor offers a menu.
    """
    node = flow.nodes[node_id]
    st = state if state is not None else CallState(call_id="listen", flow=flow.flow, node=node_id)
    if node.survey is not None:
        if question is not None:
            ids = [q.id for q in node.survey.questions]
            if question not in ids:
                raise ValueError(f"survey '{node_id}' has no question '{question}'; questions: {', '.join(ids)}")
            st = st.model_copy(update={"survey_question": ids.index(question)})
        t = _Turn(flow, st, 0.0)
        _survey_listen(t, node)
        return next(a for a in reversed(t.actions) if isinstance(a, A.Listen))
    spec = node.menu if node.menu is not None else node.ask
    if spec is None:
        raise ValueError(f"node '{node_id}' is a {node.kind} node; only menu, ask and survey nodes listen")
    t = _Turn(flow, st, 0.0)
    _listen(t, node, spec, mode=mode)
    return next(a for a in reversed(t.actions) if isinstance(a, A.Listen))


def reprompt(flow: Flow, state: CallState, at: float) -> list[A.Action]:
    """The current node's prompt and Listen again, counting nothing (an idempotent retry).

    Why: a transport that lost its answer (a webhook retried by Twilio) must
    repeat the turn exactly, without spending one of the caller's retries.

    Raises:
        LookupError: the call is not waiting for input.
    """
    node = flow.nodes.get(state.node or "")
    if node is not None and node.survey is not None and state.waiting == "survey":
        t = _Turn(flow, state.model_copy(deep=True), at)
        _ask_question(t, node, "question")
        return [a for a in t.actions if not isinstance(a, A.RecordEvent)]
    spec = (node.menu or node.ask) if node else None
    if node is None or spec is None:
        raise LookupError(f"call {state.call_id} is not waiting for input")
    t = _Turn(flow, state.model_copy(deep=True), at)
    t.play(spec.prompt, state.node or "", "prompt")
    _listen(t, node, spec)
    return [a for a in t.actions if not isinstance(a, A.RecordEvent)]


def listens(flow: Flow) -> tuple[A.Listen, ...]:
    """Every Listen the flow's menu, ask and survey nodes can open, as the engine would emit them.

    Why: a transport warms its recognisers at start-up (and after a hot reload)
    from exactly the grammars calls will use, without running a call. Includes
    the yes/no confirmation a menu may ask. Pure: no IO.
    """
    out: list[A.Listen] = []
    for node_id, node in flow.nodes.items():
        if node.survey is not None:
            out.extend(listen_at(flow, node_id, question=q.id) for q in node.survey.questions)
            continue
        spec = node.menu if node.menu is not None else node.ask
        if spec is None:
            continue
        modes: tuple[Optional[str], ...] = (None, "yesno") if isinstance(spec, Menu) else (None,)
        out.extend(listen_at(flow, node_id, mode, CallState(call_id="warm-up", flow=flow.flow, node=node_id))
                   for mode in modes)
    survey = post_call_survey(flow)
    if survey is not None:
        out.append(offer_listen(flow, survey))
    return tuple(out)


def _prompt(t: _Turn, node: Node, spec: Menu | Ask, part: str) -> None:
    barge = t.flow.settings.barge_in if spec.barge_in is None else spec.barge_in
    nid = t.state.node or ""
    if part == "prompt":
        t.play(spec.prompt, nid, "prompt", barge)
    else:
        attempt = t.state.no_input_count if part == "no_input" else t.state.no_match_count
        own = spec.reprompt(part, attempt)
        if own:
            t.play(own, nid, part, barge)
        else:
            t.play(text(t.flow.language, part), nid, part, barge)
            t.play(spec.prompt, nid, "prompt", barge)
    _listen(t, node, spec)


# -- input --------------------------------------------------------------------

def _value_of(event: E.Event, sensitive: bool = False) -> dict[str, Any]:
    if isinstance(event, E.DigitsReceived):
        keys = event.digits if event.digits == "#" else _digits(event)  # as Twilio reports them: no final #
        return {"keys": MASK if sensitive else keys}
    if isinstance(event, E.SpeechRecognized):
        return {"text": MASK if sensitive else event.text, "confidence": round(event.confidence, 3)}
    return {"keys": None}


def _input_event(t: _Turn, event: E.Event, outcome: str, sensitive: bool = False, **extra: Any) -> None:
    kind = {E.DigitsReceived: "dtmf", E.SpeechRecognized: "speech"}.get(type(event), "none")
    value = _value_of(event, sensitive)
    if kind != "none":
        t.turn({**value, "outcome": outcome})
    t.record("input", t.state.node, input=kind, outcome=outcome, **value, **extra)


def _digits(event: E.DigitsReceived) -> str:
    return event.digits.split("#", 1)[0]


def _settle(t: _Turn, event: E.Event, outcome: str, goto: Optional[str] = None) -> None:
    """Record a menu answer and act on it: a match enters its node, "agent" escalates, else a retry.

    One place for what every menu outcome does, so a keypad answer, a spoken
    one and a confirmed one cannot drift apart.
    """
    _input_event(t, event, outcome, **({"goto": goto} if goto else {}))
    if outcome in ("match", "confirmed") and goto:
        _enter(t, goto)
    elif outcome == "agent":
        _escalate(t, "caller_request")
    else:
        _failure(t, outcome)


def _menu_input(t: _Turn, menu: Menu, event: E.Event) -> None:
    st, flow = t.state, t.flow
    if isinstance(event, E.NoInput):
        _settle(t, event, "no_input")
    elif isinstance(event, E.DigitsReceived):
        keys = event.digits if any(o.key == event.digits for o in menu.options) else _digits(event)
        chosen = next((o for o in menu.options if o.key is not None and o.key == keys), None)
        if keys == "0":
            _settle(t, event, "agent")
        else:
            _settle(t, event, "match" if chosen else "no_match", chosen.goto if chosen else None)
    elif isinstance(event, E.SpeechRecognized):
        m = match_menu(menu, event.text, flow.language, flow.settings.agent_words)
        threshold = flow.settings.confidence if menu.confidence is None else menu.confidence
        if m.kind == "option" and event.confidence < threshold:
            opt = menu.options[m.index]
            _input_event(t, event, "unsure", goto=opt.goto)
            phrase = opt.say[0] if opt.say else m.phrase
            st.confirm = {"index": m.index, "phrase": phrase}
            t.play(text(flow.language, "confirm").replace("{phrase}", phrase), st.node or "", "confirm")
            _listen(t, flow.nodes[st.node], menu, mode="yesno")
        elif m.kind == "option":
            _settle(t, event, "match", menu.options[m.index].goto)
        else:
            _settle(t, event, "agent" if m.kind == "agent" else "no_match")


def _confirm_answer(t: _Turn, node: Node, event: E.Event) -> None:
    st, flow = t.state, t.flow
    menu = node.menu
    pending = st.confirm or {}
    answer: Optional[str] = None
    if isinstance(event, E.DigitsReceived):
        answer = {"1": "yes", "2": "no", "0": "agent"}.get(_digits(event))
    elif isinstance(event, E.SpeechRecognized):
        answer = "agent" if wants_agent(event.text, flow.language, flow.settings.agent_words) else \
            yes_no(event.text, flow.language)
    st.confirm = None
    if isinstance(event, E.NoInput):
        _settle(t, event, "no_input")
    elif answer == "agent":
        _settle(t, event, "agent")
    elif answer == "yes" and menu is not None:
        _settle(t, event, "confirmed", menu.options[pending.get("index", 0)].goto)
    else:
        _settle(t, event, "no_match")


def _ask_input(t: _Turn, ask: Ask, event: E.Event) -> None:
    st, flow = t.state, t.flow
    sensitive = ask.sensitive
    if isinstance(event, E.NoInput):
        _input_event(t, event, "no_input")
        _failure(t, "no_input")
        return
    value: Optional[str] = None
    if isinstance(event, E.DigitsReceived):
        keys = _digits(event)
        if keys == "0":  # the agent key works everywhere, also where digits are collected
            _input_event(t, event, "agent")
            _escalate(t, "caller_request")
            return
        if ask.input == "yesno":
            value = {"1": "yes", "2": "no"}.get(keys)
        elif ask.input == "digits":
            value = keys
        else:
            value = None
    elif isinstance(event, E.SpeechRecognized):
        if wants_agent(event.text, flow.language, flow.settings.agent_words):
            _input_event(t, event, "agent", sensitive)
            _escalate(t, "caller_request")
            return
        threshold = flow.settings.confidence if ask.confidence is None else ask.confidence
        if event.confidence >= threshold:
            if ask.input == "digits":
                value = spoken_digits(event.text)
            elif ask.input == "yesno":
                value = yes_no(event.text, flow.language)
            else:
                value = event.text.strip()
    if value is not None and _valid(ask, value):
        _input_event(t, event, "match", sensitive)
        if sensitive:
            st.secrets[ask.slot] = value
            if ask.slot not in st.sensitive:
                st.sensitive.append(ask.slot)
            st.slots.pop(ask.slot, None)
        else:
            st.slots[ask.slot] = value
        t.record("slot_filled", st.node, slot=ask.slot, value=MASK if sensitive else value)
        nxt = flow.nodes[st.node].next_node
        if nxt is None:
            _end(t, "flow_end")
        else:
            _enter(t, nxt)
        return
    _input_event(t, event, "no_match", sensitive)
    _failure(t, "no_match")


def _valid(ask: Ask, value: str) -> bool:
    if value == "":
        return False
    if ask.input == "digits" and not value.isdigit():
        return False
    if ask.min_length and len(value) < ask.min_length:
        return False
    if ask.max_length and len(value) > ask.max_length:
        return False
    if ask.pattern and not re.fullmatch(ask.pattern, value):
        return False
    return True


def _failure(t: _Turn, kind: str) -> None:
    """Count a failure; re-prompt (distinctly) or escalate once retries run out."""
    st, flow = t.state, t.flow
    node = flow.nodes[st.node]
    spec = node.menu or node.ask
    st.failures += 1
    if kind == "no_input":
        st.no_input_count += 1
    else:
        st.no_match_count += 1
    retries = flow.settings.retries if spec.retries is None else spec.retries
    if st.failures > retries:
        _escalate(t, "retries_exhausted", failed=st.node)
        return
    _prompt(t, node, spec, kind)


# -- surveys --------------------------------------------------------------------
#
# One question at a time (waiting "survey", the index in state.survey_question). Every answer is a
# survey_answer event the moment it is given, so a caller who hangs up leaves a partial response.
# Not answering never escalates: after the survey's retries the question counts as unanswered.

def _start_survey(t: _Turn, node_id: str, node: Node) -> None:
    st = t.state
    st.survey_question = st.survey_answered = 0
    t.record("survey_started", node_id, post_call=st.post_call, questions=[q.id for q in node.survey.questions])
    _ask_question(t, node, "question")


def _ask_question(t: _Turn, node: Node, part: str) -> None:
    """Ask the current question; after a failure (``part`` no_input/no_match) say why first.

    The question's words are part ``question``, not ``prompt``: a recording of the node must not
    replace every question of the survey.
    """
    st, flow, spec = t.state, t.flow, node.survey
    q = spec.questions[st.survey_question]
    barge = flow.settings.barge_in if spec.barge_in is None else spec.barge_in
    nid = st.node or ""
    if part in ("no_input", "no_match"):
        attempt = st.no_input_count if part == "no_input" else st.no_match_count
        own = spec.reprompt(part, attempt)
        t.play(own or text(flow.language, part if part == "no_input" else _survey.range_text_key(q)), nid, part,
               barge)
    t.play(q.prompt, nid, "question", barge)
    _survey_listen(t, node)


def _survey_listen(t: _Turn, node: Node) -> None:
    """The Listen of the current question: one key (csat, ces, yesno) or up to two ended by # (nps)."""
    st, s, spec = t.state, t.flow.settings, node.survey
    q = spec.questions[min(st.survey_question, len(spec.questions) - 1)]
    mode = {"nps": "score", "yesno": "yesno"}.get(q.kind, "menu")
    st.waiting = "survey"
    t.actions.append(A.Listen(
        node=st.node or "", mode=mode, timeout=spec.timeout or s.no_input_timeout, speech=s.speech,
        phrases=_survey.grammar(q, t.flow.language, s.agent_words), keys=_survey.keys_of(q),
        max_digits=2 if q.kind == "nps" else 1, min_digits=1 if q.kind == "nps" else None,
        digit_timeout=s.digit_timeout, finish_on_key="#",
        barge_in=s.barge_in if spec.barge_in is None else spec.barge_in,
        confidence=s.confidence if spec.confidence is None else spec.confidence,
        end_of_speech_ms=s.end_of_speech_ms,
        unsure_end_ms=s.end_of_speech_unsure_ms,
        complete_end_ms=(s.end_of_speech_complete_ms
                         if mode != "score" and s.end_of_speech_complete_ms < s.end_of_speech_ms else 0)))


def _survey_input(t: _Turn, node: Node, event: E.Event) -> None:
    st, flow, spec = t.state, t.flow, node.survey
    q = spec.questions[st.survey_question]
    value: _survey.Answer = None
    if isinstance(event, E.NoInput):
        outcome = "no_input"
    elif isinstance(event, E.DigitsReceived):
        outcome, value = _survey.keys_answer(q, event.digits)
    else:
        outcome, value = _survey.speech_answer(q, event.text, flow.language, flow.settings.agent_words)
        threshold = flow.settings.confidence if spec.confidence is None else spec.confidence
        if outcome == "match" and event.confidence < threshold:  # a guess is no answer: ask again
            outcome, value = "no_match", None
    _input_event(t, event, outcome, question=q.id)
    if outcome == "agent":
        st.waiting = None
        _escalate(t, "caller_request")
        return
    if outcome == "match":
        st.survey_answered += 1
        channel = "dtmf" if isinstance(event, E.DigitsReceived) else "speech"
        t.record("survey_answer", st.node, question=q.id, kind=q.kind, value=value, channel=channel,
                 post_call=st.post_call)
        _next_question(t, node)
        return
    st.failures += 1
    if outcome == "no_input":
        st.no_input_count += 1
    else:
        st.no_match_count += 1
    if st.failures > spec.retries:  # unanswered: the survey moves on, it never traps or escalates
        t.record("survey_answer", st.node, question=q.id, kind=q.kind, value=None, channel="none",
                 post_call=st.post_call)
        _next_question(t, node)
        return
    _ask_question(t, node, outcome)


def _next_question(t: _Turn, node: Node) -> None:
    st, spec = t.state, node.survey
    st.survey_question += 1
    st.failures = st.no_input_count = st.no_match_count = 0
    if st.survey_question < len(spec.questions):
        _ask_question(t, node, "question")
        return
    st.waiting = None
    t.play(text(t.flow.language, "survey_thanks"), st.node or "", "thanks", barge_in=False)
    t.record("survey_completed", st.node, answered=st.survey_answered, post_call=st.post_call)
    nxt = node.next_node
    if nxt is None:
        _end(t, "flow_end")
    else:
        _enter(t, nxt)


# -- voice authentication ---------------------------------------------------------
#
# The engine decides what to say and where to go; the call driver's voice
# authenticator (VerifyVoice, EnrollVoice, DeleteVoiceprint) says who spoke.
# Waits: "auth" (a VerifyVoice is out), "auth_speech" (listening for a few more
# words), "consent" (the enrolment question), "enroll" (an EnrollVoice is out),
# "enroll_speech".

VOICE_WAITS = ("auth_speech", "consent", "enroll_speech")
"""Waits in which keys and words go to the authenticate / enroll node."""


def flow_version(flow: Flow) -> str:
    """A short fingerprint of the flow as loaded (12 hex digits of a SHA-256 of the model).

    Consent records which wording, in which version, was agreed; ``call_started`` carries it so that
    reports can compare a flow before and after an edit (about 40 µs for the demo flows).
    """
    return hashlib.sha256(flow.model_dump_json().encode()).hexdigest()[:12]
DECIDED = ("verified", "rejected", "inconclusive", "not_enrolled")
STEP_UP_METHODS = ("pin", "otp")
"""What a hook may report in ``data.auth.method`` (``{"auth": {"method": "pin", "status": "verified"}}``)."""


def _subject(st: CallState, subject: str) -> str:
    """The voiceprint's owner: the caller ID, or the value of the slot a ``"{slot}"`` subject names."""
    if subject == "caller":
        return st.caller or ""
    return str(st.values().get(subject.strip("{}")) or "")


def _note_auth(t: _Turn, event: E.AuthResult, passive: bool = False) -> None:
    """Keep an authentication outcome in the call state (and so in the context packet).

    A passive voice result never replaces a step-up (pin, otp) the caller already passed.
    """
    st = t.state
    if event.status == "more_speech":
        return
    if passive and event.method == "voice" and st.auth.get("method") not in (None, "none", "voice"):
        return
    st.auth = {"method": event.method if event.status != "not_enrolled" else "none", "status": event.status,
               "score": event.score, "net_speech_s": event.net_speech_s,
               **({"subject": event.subject} if event.subject else {})}
    if event.replay:
        st.auth["replay"] = True
    t.record("auth", st.node, method=event.method, status=event.status, score=event.score,
             net_speech_s=event.net_speech_s, replay=event.replay, passive=passive)


def _start_authenticate(t: _Turn, node_id: str, node: Node) -> Optional[str]:
    """Branch at once on a decision already made in this call; else ask the authenticator.

    Returns the next node to enter, or None when the turn now waits (or escalated).
    """
    st, spec = t.state, node.authenticate
    subject = _subject(st, spec.subject)
    if not subject:
        _note_auth(t, E.AuthResult("voice", "not_enrolled", at=t.at, subject=None))
        return _auth_goto(t, node_id, spec, "not_enrolled")
    if st.auth.get("method") == "voice" and st.auth.get("subject") == subject and st.auth.get("status") in DECIDED:
        return _auth_goto(t, node_id, spec, st.auth["status"])
    st.waiting = "auth"
    # A keypad-only flow has no words to ask for: decide on what there is.
    t.actions.append(A.VerifyVoice(node_id, subject, spec.min_speech, final=not t.flow.settings.speech))
    return None


def _auth_goto(t: _Turn, node_id: str, spec: Any, status: str) -> Optional[str]:
    target = spec.outcomes.get(status)
    if target is None:  # a decision the flow does not handle: a person, with the reason
        _escalate(t, "auth_failed", failed=node_id)
    return target


def _auth_result(t: _Turn, node: Node, event: E.AuthResult) -> None:
    st, spec = t.state, node.authenticate
    node_id = st.node or ""
    if event.status == "more_speech":
        st.waiting = "auth_speech"
        t.play(spec.prompt, node_id, "prompt", t.flow.settings.barge_in)
        _speech_listen(t, node_id)
        return
    st.waiting = None
    _note_auth(t, event)
    target = _auth_goto(t, node_id, spec, event.status if event.status in DECIDED else "inconclusive")
    if target is not None:
        _enter(t, target)


def _speech_listen(t: _Turn, node_id: str, mode: str = "speech", keys: tuple[str, ...] = ()) -> None:
    """Listen for a few words (or the consent answer): the agent words and key 0 still reach a person."""
    s, lang = t.flow.settings, t.flow.language
    agents = agent_words(lang, s.agent_words)
    phrases = (("yes", "no") + agents) if mode == "yesno" else agents
    t.actions.append(A.Listen(
        node=node_id, mode=mode, timeout=s.no_input_timeout, speech=True, phrases=phrases, keys=keys,
        max_digits=1, digit_timeout=s.digit_timeout, finish_on_key="#", barge_in=s.barge_in,
        confidence=s.confidence, end_of_speech_ms=s.end_of_speech_ms,
        unsure_end_ms=s.end_of_speech_unsure_ms,
        complete_end_ms=s.end_of_speech_complete_ms if mode == "yesno" else 0))


def _ask_consent(t: _Turn, node_id: str, node: Node) -> None:
    t.state.waiting = "consent"
    t.play(node.enroll.consent_prompt, node_id, "prompt", t.flow.settings.barge_in)
    _speech_listen(t, node_id, "yesno", ("1", "2", "0"))


def _voice_input(t: _Turn, node: Node, event: E.Event) -> None:
    """Keys or words while an authenticate or enroll node listens."""
    st, flow = t.state, t.flow
    node_id = st.node or ""
    words = event.text if isinstance(event, E.SpeechRecognized) else ""
    keys = _digits(event) if isinstance(event, E.DigitsReceived) else ""
    if keys == "0" or (words and wants_agent(words, flow.language, flow.settings.agent_words)):
        _input_event(t, event, "agent")
        st.waiting = None
        _escalate(t, "caller_request")
        return
    if st.waiting == "auth_speech":  # any words (or none): decide with what was heard
        _input_event(t, event, "speech" if words else "no_input")
        st.waiting = "auth"
        spec = node.authenticate
        t.actions.append(A.VerifyVoice(node_id, _subject(st, spec.subject), spec.min_speech, final=True))
        return
    if st.waiting == "enroll_speech":
        _input_event(t, event, "speech" if words else "no_input")
        _send_enroll(t, node_id, node, final=True)
        return
    answer = {"1": "yes", "2": "no"}.get(keys) if keys else (yes_no(words, flow.language) if words else None)
    if answer is None:  # the question again, at most `retries` times; silence is never a yes
        st.failures += 1
        _input_event(t, event, "no_input" if isinstance(event, E.NoInput) else "no_match")
        if st.failures > flow.settings.retries:
            answer = "no"
        else:
            _ask_consent(t, node_id, node)
            return
    _input_event(t, event, "consent_" + answer)
    spec = node.enroll
    subject = _subject(st, spec.subject)
    if answer == "no" or not subject:
        # Nothing is stored; an earlier voiceprint goes too (consent withdrawn).
        t.record("consent", node_id, given=False, channel="dtmf" if keys else "voice")
        if subject:
            t.actions.append(A.DeleteVoiceprint(node_id, subject))
        st.waiting = None
        _enter(t, spec.declined)
        return
    st.consent_channel = "dtmf" if keys else "voice"
    t.record("consent", node_id, given=True, channel=st.consent_channel)
    _send_enroll(t, node_id, node, final=False)


def _send_enroll(t: _Turn, node_id: str, node: Node, final: bool) -> None:
    st, spec = t.state, node.enroll
    st.waiting = "enroll"
    consent = {"wording": spec.consent_prompt, "flow": t.flow.flow, "flow_version": flow_version(t.flow),
               "channel": st.consent_channel or "voice"}
    t.actions.append(A.EnrollVoice(node_id, _subject(st, spec.subject), spec.min_speech, consent, final=final))


def _enroll_result(t: _Turn, node: Node, event: E.EnrollResult) -> None:
    st, spec = t.state, node.enroll
    node_id = st.node or ""
    if event.status == "more_speech" and st.waiting == "enroll" and not st.enroll_asked:
        st.enroll_asked = True
        st.waiting = "enroll_speech"
        t.play(spec.prompt, node_id, "prompt", t.flow.settings.barge_in)
        _speech_listen(t, node_id)
        return
    st.waiting = None
    st.enroll_asked = False
    t.record("enroll", node_id, status=event.status, net_speech_s=round(event.net_speech_s, 2),
             **({"error": event.error[:200]} if event.error else {}))
    _enter(t, spec.next)


# -- after the call with a person: the post-call survey ------------------------------
#
# A transfer ends self-service (``ended``); when Twilio reports that the agent leg ended with the
# caller still on the line (AgentLegEnded), a flow whose ``settings.survey`` names a survey node
# reopens the call for one yes/no offer, then runs that node (post_call) and its ``next``.
# ``state.after_agent`` keeps where that is: offer, survey, done.

def post_call_survey(flow: Flow) -> Optional[str]:
    """The survey node a flow offers after a call with a person (``settings.survey``), or None."""
    nid = flow.settings.survey
    node = flow.nodes.get(nid or "")
    return nid if node is not None and node.kind == "survey" else None


def _agent_leg_ended(t: _Turn, event: E.AgentLegEnded) -> None:
    st, flow = t.state, t.flow
    lang = flow.language
    if st.after_agent is not None:  # reported already: the call is past its agent leg
        if st.ended and st.ended_at is None:
            t.play(text(lang, "goodbye"), st.node or "", "post_call", barge_in=False)
            t.actions.append(A.Hangup("completed"))
        return
    t.record("agent_leg_ended", None, status=event.status, seconds=event.seconds)
    survey = post_call_survey(flow)
    to_agent = st.end_reason == "transferred" and (st.routing or {}).get("mode", "agent") == "agent"
    st.after_agent = "done"
    if st.ended_at is not None:  # the caller hung up before Twilio reported the leg: nobody to ask
        return
    if survey is None or not to_agent:
        t.play(text(lang, "goodbye"), st.node or "", "post_call", barge_in=False)
        t.actions.append(A.Hangup("completed"))
        return
    # Reopen the call for one question; it stays a transferred call (its transfer event is kept).
    st.after_agent = "offer"
    st.ended = False
    st.node = survey
    st.waiting = "survey_offer"
    st.failures = st.no_input_count = st.no_match_count = 0
    s = flow.settings
    t.play(s.survey_offer or text(lang, "survey_offer"), survey, "offer", barge_in=s.barge_in)
    t.actions.append(offer_listen(flow, survey))


def offer_listen(flow: Flow, node_id: str) -> A.Listen:
    """The yes/no listen of the post-call offer: keys 1 and 2, yes/no words (speech where the flow has it)."""
    s = flow.settings
    lp = lang_prefix(flow.language)
    words = YES_WORDS.get(lp, ()) + NO_WORDS.get(lp, ()) + ("yes", "no")
    return A.Listen(node=node_id, mode="yesno", timeout=s.no_input_timeout, speech=s.speech,
                    phrases=tuple(dict.fromkeys(words)), keys=("1", "2"), max_digits=1,
                    digit_timeout=s.digit_timeout, finish_on_key="#", barge_in=s.barge_in, confidence=s.confidence,
                    end_of_speech_ms=s.end_of_speech_ms,
                    unsure_end_ms=s.end_of_speech_unsure_ms,
                    complete_end_ms=(s.end_of_speech_complete_ms
                                     if s.end_of_speech_complete_ms < s.end_of_speech_ms else 0))


def _survey_offer_answer(t: _Turn, event: E.Event) -> None:
    """1 or yes: the survey runs; 2, no, silence or anything else: goodbye (never a second ask)."""
    st, flow = t.state, t.flow
    survey = st.node or ""
    keys = _digits(event) if isinstance(event, E.DigitsReceived) else ""
    words = event.text if isinstance(event, E.SpeechRecognized) else ""
    if keys:
        agreed, channel = keys == "1", "dtmf"
    elif words:
        agreed, channel = yes_no(words, flow.language) == "yes", "speech"
    else:
        agreed, channel = False, "none"
    t.record("survey_offer", survey, agreed=agreed, channel=channel)
    st.waiting = None
    if not agreed:
        st.after_agent = "done"
        t.play(text(flow.language, "goodbye"), survey, "post_call", barge_in=False)
        _end(t, "completed")
        return
    st.after_agent = "survey"
    st.post_call = True
    _enter(t, survey)


# -- hooks --------------------------------------------------------------------

def _hook_done(t: _Turn, node: Node, event: E.HookCompleted | E.HookFailed) -> None:
    st = t.state
    spec = node.action
    nid = st.node or ""
    if isinstance(event, E.HookFailed):
        outcome = "timeout" if event.timed_out else "error"
        st.results[nid] = outcome
        t.record("hook", nid, hook=spec.hook, outcome=outcome, ms=round(event.ms, 1), error=event.error[:200])
        if spec.on_failure:
            _enter(t, spec.on_failure)
        else:
            _escalate(t, "hook_failed", failed=nid)
        return
    st.results[nid] = event.outcome
    secret = set(st.sensitive)
    data = dict(event.data or {})
    step_up = data.pop("auth", None)
    if isinstance(step_up, dict) and step_up.get("method") in STEP_UP_METHODS and step_up.get("status") in DECIDED:
        # A step-up (a PIN checked, a one-time code confirmed) the hook vouches for: it sets auth.method.
        _note_auth(t, E.AuthResult(str(step_up["method"]), str(step_up["status"]), at=t.at))
    for key, value in data.items():
        if isinstance(key, str) and key not in secret and (value is None or isinstance(value, (str, int, float, bool))):
            st.slots[str(key)] = value
    t.record("hook", nid, hook=spec.hook, outcome=event.outcome, ms=round(event.ms, 1))
    target = spec.outcomes.get(event.outcome) or spec.default
    if target is None:
        _escalate(t, "hook_unhandled", failed=nid)
    else:
        _enter(t, target)


# -- endings ------------------------------------------------------------------

def _escalate(t: _Turn, reason: str, failed: Optional[str] = None) -> None:
    """Leave self-service for a person (caller request, failures, errors)."""
    flow = t.flow
    key = {"caller_request": "agent", "retries_exhausted": "escalate"}.get(reason, "error")
    _transfer(t, flow.queue_for(t.state.node), reason, failed, say=text(flow.language, key), part="escalate")


def _closed_message(t: _Turn, queue: str) -> str:
    spec = t.flow.queues.get(queue)
    hours = spec.hours if spec else None
    if hours is not None and hours.closed_message:
        return hours.closed_message
    words = text(t.flow.language, "closed")
    nxt = _hours.next_opening(hours, t.at) if hours is not None else None
    if nxt is not None:  # when they open, in the flow's language
        words += " " + text(t.flow.language, "opens").replace(
            "{when}", _hours.spoken_opening(nxt, t.at, t.flow.language))
    return words


def _transfer(t: _Turn, queue: str, reason: str, failed: Optional[str], mode: str = "agent",
              say: Optional[str] = None, part: str = "say") -> None:
    """Hand the caller to a queue's people, through the flow's routing rules and the queue's hours."""
    st = t.state
    decision = _route(t.flow, st, queue, reason, t.at, mode)
    if mode == "agent" and decision.mode != "agent":
        # The queue is closed: no promise of a person; say so, then take a message or a callback.
        reason = "out_of_hours"
        t.play(_closed_message(t, decision.queue), st.node or "", "closed", barge_in=False)
    elif say:
        t.play(say, st.node or "", part, barge_in=False)
    queue, mode = decision.queue, decision.mode
    st.routing = decision.as_dict()
    st.queue = queue
    st.reason = reason
    st.failed_node = failed
    st.transferred_at = t.at
    st.ended = True
    st.end_reason = "transferred"
    st.waiting = None
    st.secrets = {}
    t.record("transfer", st.node, queue=queue, reason=reason, failed_node=failed, mode=mode,
             rule=decision.rule, requested=decision.requested)
    t.actions.append(A.Transfer(queue, reason, build_context(st, t.at), mode))


def _end(t: _Turn, reason: str) -> None:
    st = t.state
    st.ended = True
    st.end_reason = reason
    st.ended_at = t.at
    st.waiting = None
    st.secrets = {}
    t.record("call_ended", st.node, reason=reason, abandoned=False)
    t.actions.append(A.Hangup(reason))


def _caller_hung_up(t: _Turn) -> None:
    st = t.state
    if st.ended:
        if st.ended_at is None:
            st.ended_at = t.at
            t.record("call_completed", st.node, after=st.end_reason)
        return
    st.ended = True
    st.end_reason = "caller_hangup"
    st.ended_at = t.at
    st.secrets = {}
    was_waiting = st.waiting
    st.waiting = None
    if st.after_agent in ("offer", "survey"):
        # After the call with a person: no abandonment of self-service; the answers given so far stay.
        st.after_agent = "done"
        t.record("call_ended", st.node, reason="caller_hangup", abandoned=False, waiting=was_waiting,
                 post_call=True)
        return
    t.record("call_ended", st.node, reason="caller_hangup", abandoned=True, waiting=was_waiting)


def context_of(state: CallState, at: Optional[float] = None) -> dict[str, Any]:
    """The context packet of a call (also for calls that did not transfer)."""
    return build_context(state, state.updated_at if at is None else at)
