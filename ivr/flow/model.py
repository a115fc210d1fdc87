"""Typed model of a flow file (pydantic).

The YAML contract is the README's "Flow language reference".  Every model forbids
unknown properties so that a typo (``promt:``) is an error with a suggestion
rather than a silently ignored line.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NODE_KINDS = ("say", "menu", "ask", "action", "branch", "authenticate", "enroll", "transfer",
              "voicemail", "callback", "survey", "hangup")
"""Node kinds the language knows; a node has exactly one of these keys."""

RESERVED_KINDS: tuple[str, ...] = ()
"""Kinds the schema reserves but this version cannot run yet (none at present; the loader and the
schema both refuse a kind listed here, so a new kind can be named before it runs)."""

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
KEY_CHARS = set("0123456789*#")
ENTRY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""An entry point's name (``?entry=NAME``, the SIP header ``X-IVR-Entry``, a script's ``entry:``)."""

Scalar = Union[str, int, float, bool]


class Strict(BaseModel):
    """Base for flow models: unknown properties are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(Strict):
    """Flow-wide defaults; a node may override most of them."""

    retries: int = Field(2, ge=0, le=5, description="Tries left after a first failure; one more failure escalates.")
    speech: bool = Field(True, description="false: keypad only (plain TwiML <Gather input=dtmf>).")
    no_input_timeout: float = Field(5, gt=0, le=60, description="Seconds of silence before a no-input.")
    agent_queue: str = Field("general", description="Queue for escalations when a node names none.")
    voice: Optional[str] = Field(None, description="TTS voice for rendered prompts.")
    rate: Optional[int] = Field(None, ge=80, le=400, description="TTS speaking rate, words per minute.")
    barge_in: bool = Field(True, description="Callers may interrupt prompts by speaking or pressing a key.")
    confidence: float = Field(0.5, ge=0, le=1, description="Below this recogniser confidence, confirm instead of guessing.")
    end_of_speech_ms: int = Field(600, ge=200, le=2000, description="Trailing silence that ends a spoken answer.")
    end_of_speech_complete_ms: int = Field(
        250, ge=0, le=2000,
        description="Shorter silence that ends a spoken menu or yes/no answer when what was heard is already "
                    "one whole, confident choice (VoiceXML's completetimeout); 0 always waits end_of_speech_ms.")
    end_of_speech_unsure_ms: int = Field(
        400, ge=0, le=2000,
        description="Silence that ends it when what was heard is one whole choice below `confidence`, which "
                    "the flow then confirms; used only between end_of_speech_complete_ms and end_of_speech_ms "
                    "(0 waits end_of_speech_ms).")
    agent_words: list[str] = Field(default_factory=list, description="Extra phrases that ask for a person.")
    digit_timeout: float = Field(3, gt=0, le=30, description="Seconds between key presses before digit entry ends.")
    record: bool = Field(False, description="Record whole calls (Twilio REST recordings API, both channels, "
                                            "from the caller's first answer); paused during sensitive asks.")
    survey: Optional[str] = Field(
        None, description="A survey node run after a call with a person ends, if the caller agrees "
                          "(post-call survey).")
    survey_offer: Optional[str] = Field(
        None, description="The yes/no question that offers the post-call survey; default: a system phrase in the "
                          "flow's language.")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,40}$")


class Target(Strict):
    """Where a queue's callers are connected: a Twilio queue, TaskRouter, a SIP URI or a phone number.

    ``taskrouter`` (the default) renders ``<Enqueue workflowSid>`` with the context
    packet as ``<Task>`` JSON; ``queue`` a named Twilio queue; ``sip``
    ``<Dial><Sip>`` with ``X-`` headers; ``number`` ``<Dial><Number>`` with a
    whisper that reads the agent a one-sentence summary.
    """

    type: Literal["queue", "taskrouter", "sip", "number"] = "taskrouter"
    name: Optional[str] = Field(None, description="Twilio queue name (type queue); default: the queue's id.")
    workflow_sid: Optional[str] = Field(None, description="TaskRouter workflow SID (type taskrouter).")
    uri: Optional[str] = Field(None, description="SIP URI, sip:agent@pbx.example.com (type sip).")
    number: Optional[str] = Field(None, description="Phone number in E.164, +15551230000 (type number).")
    caller_id: Optional[str] = Field(None, description="Caller ID shown to the agent (Dial callerId).")
    timeout: int = Field(20, ge=5, le=120, description="Seconds to ring the SIP/number target.")
    priority: Optional[int] = Field(None, ge=0, le=1000, description="TaskRouter task priority.")
    fields: list[str] = Field(default_factory=list,
                              description="Slots sent as X- SIP headers (never sensitive ones).")

    @model_validator(mode="after")
    def _needs(self) -> "Target":
        need = {"sip": "uri", "number": "number"}.get(self.type)
        if need and not getattr(self, need):
            example = {"uri": "uri: sip:agent@pbx.example.com", "number": 'number: "+15551230000"'}[need]
            raise ValueError(f"a {self.type} target needs {need}: ({example})")
        if self.type == "sip" and not (self.uri or "").startswith(("sip:", "sips:")):
            raise ValueError(f"SIP uri {self.uri!r} must start with sip: or sips:")
        if self.type == "number" and not re.match(r"^\+[1-9]\d{6,14}$", self.number or ""):
            raise ValueError(f"number {self.number!r} must be E.164, quoted: number: \"+15551230000\"")
        for f in self.fields:
            if not _HEADER.match(f):
                raise ValueError(f"field {f!r} cannot be a SIP header name; use letters, digits and -")
        return self


class Hours(Strict):
    """Opening hours of a queue, in its own time zone."""

    timezone: str = Field("UTC", description="IANA time zone, e.g. Europe/London.")
    weekly: dict[str, list[str]] = Field(default_factory=dict,
                                         description='Day -> ranges, e.g. mon: ["09:00-17:00"]; days not listed are closed.')
    holidays: list[str] = Field(default_factory=list, description='Closed dates, quoted: "2026-12-25".')
    closed_message: Optional[str] = Field(None, description="Said to callers out of hours.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/London") from None
        return v

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in v.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            for r in ranges:
                m = _RANGE.match(str(r).replace(" ", ""))
                if not m or (m.group(1), m.group(2)) >= (m.group(3), m.group(4)) or \
                        int(m.group(1)) * 60 + int(m.group(2)) > 1440 or int(m.group(3)) * 60 + int(m.group(4)) > 1440:
                    raise ValueError(f"{day}: range {r!r} must be HH:MM-HH:MM with the start before the end "
                                     '(quote it: ["09:00-17:00"])')
        return v

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, v: list[str]) -> list[str]:
        from datetime import date
        out = []
        for d in v:
            try:
                out.append(date.fromisoformat(str(d)).isoformat())
            except ValueError:
                raise ValueError(f"holiday {d!r} must be a date YYYY-MM-DD") from None
        return out


class Queue(Strict):
    """An agent queue that escalations and transfer nodes can name.

    ``general: {}`` is a TaskRouter-style ``<Enqueue>`` with ``<Task>``, open
    around the clock; every other property is optional.
    """

    description: Optional[str] = None
    workflow_sid: Optional[str] = Field(None, description="TaskRouter workflow SID for <Enqueue workflowSid>.")
    target: Target = Field(default_factory=Target)
    hours: Optional[Hours] = Field(None, description="Opening hours; none: always open.")
    out_of_hours: Literal["voicemail", "callback"] = Field(
        "voicemail", description="What callers are offered when the queue is closed.")
    whisper: bool = Field(True, description="Read the agent a one-sentence summary before connecting (number targets).")
    hold_audio: Optional[str] = Field(None, description="URL of hold music for the wait loop.")
    offer_callback: bool = Field(True, description="Waiting callers may leave the queue for a callback.")
    offer_voicemail: bool = Field(True, description="Waiting callers may leave the queue to leave a message.")


class RouteWhen(Strict):
    """Conditions of a routing rule; all given ones must hold."""

    path_contains: Optional[Union[str, list[str]]] = Field(
        None, description="A node id (or any of several) the caller passed through.")
    called_within_hours: Optional[float] = Field(None, gt=0, le=24 * 366,
                                                 description="The caller called before within this many hours.")
    calls_at_least: Optional[int] = Field(None, ge=1, description="Earlier calls of this caller, at least.")
    slot: Optional[str] = None
    equals: Optional[Scalar] = None
    in_: Optional[list[Scalar]] = Field(None, alias="in")
    exists: Optional[bool] = None
    auth: Optional[Union[str, list[str]]] = Field(None, description="Auth status: verified, failed, none...")
    called: Optional[Union[str, list[str]]] = Field(
        None, description="The number the caller dialled (E.164), or any of several.")
    entry: Optional[Union[str, list[str]]] = Field(
        None, description="The entry point's name (?entry=NAME on POST /voice, or the SIP header X-IVR-Entry).")
    reason: Optional[Union[str, list[str]]] = Field(None, description="Why self-service ended.")
    requested: Optional[Union[str, list[str]]] = Field(None, description="The queue the flow asked for.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _something(self) -> "RouteWhen":
        if not self.model_fields_set:
            raise ValueError("a routing rule needs at least one condition under when:")
        if (self.equals is not None or self.in_ is not None or self.exists is not None) and self.slot is None:
            raise ValueError("equals/in/exists test a slot: add slot: <name>")
        if self.slot is not None and self.equals is None and self.in_ is None and self.exists is None:
            raise ValueError(f"slot {self.slot!r} needs one of equals, in, exists")
        return self


class RoutingRule(Strict):
    """Choose a queue for a transfer: the first rule whose conditions hold wins."""

    name: Optional[str] = Field(None, description="Shown in the context packet (routing.rule).")
    when: RouteWhen
    queue: str
    priority: Optional[int] = Field(None, ge=0, le=1000, description="TaskRouter task priority for this rule.")


class HttpHook(Strict):
    """An action hook served by an HTTP endpoint of the deployment (JSON in, JSON out)."""

    url: str
    method: Literal["POST", "GET"] = "POST"
    timeout: float = Field(3, gt=0, le=30)
    secret_env: Optional[str] = Field(None, description="Environment variable holding the HMAC secret.")


class Option(Strict):
    """One menu choice: a key, phrases that select it, and where it goes."""

    key: Optional[str] = Field(None, description='Keypad key, quoted: "1".')
    say: list[str] = Field(default_factory=list, description="Phrases that select this option.")
    goto: str

    @field_validator("say", mode="before")
    @classmethod
    def _one_phrase(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("key")
    @classmethod
    def _key(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        if len(v) != 1 or v not in KEY_CHARS:
            raise ValueError(f'menu key {v!r} must be one keypad key 1-9, * or #, quoted: key: "1"')
        if v == "0":
            raise ValueError('key "0" is reserved for reaching a person in every menu; use another key')
        return v

    @model_validator(mode="after")
    def _selectable(self) -> "Option":
        if self.key is None and not self.say:
            raise ValueError("an option needs a key or say phrases (or both)")
        return self


def _ladder(v: Optional[Union[str, list[str]]]) -> Optional[Union[str, list[str]]]:
    """A re-prompt ladder (``no_input``/``no_match``): one text, or a non-empty list of non-empty texts."""
    if isinstance(v, list):
        if not v:
            raise ValueError("a re-prompt list needs at least one text (one per attempt; the last repeats)")
        if any(not isinstance(t, str) or not t.strip() for t in v):
            raise ValueError("every re-prompt in the list must be non-empty text")
    return v


class RetryLadder:
    """``no_input`` / ``no_match`` as one text or one per attempt (the last repeats): menus, asks, surveys."""

    def reprompts(self, part: str) -> list[str]:
        """The node's own re-prompts for ``no_input`` or ``no_match``, in attempt order (maybe none)."""
        own = getattr(self, part)
        return [own] if isinstance(own, str) else list(own or ())

    def reprompt(self, part: str, attempt: int) -> Optional[str]:
        """The node's own re-prompt for the ``attempt``-th failure of that kind (1-based; the last repeats)."""
        texts = self.reprompts(part)
        return texts[min(max(attempt, 1), len(texts)) - 1] if texts else None


class InputNode(RetryLadder, Strict):
    """Fields shared by nodes that wait for the caller (menu, ask)."""

    prompt: str
    no_input: Optional[Union[str, list[str]]] = Field(
        None, description="Re-prompt after silence: one text, or a list with one text per attempt (the last repeats).")
    no_match: Optional[Union[str, list[str]]] = Field(
        None, description="Re-prompt after an answer that did not fit: one text, or one per attempt (the last repeats).")
    retries: Optional[int] = Field(None, ge=0, le=5)
    queue: Optional[str] = Field(None, description="Queue for escalation from this node.")
    timeout: Optional[float] = Field(None, gt=0, le=60, description="No-input timeout, seconds.")
    barge_in: Optional[bool] = None
    confidence: Optional[float] = Field(None, ge=0, le=1)

    @field_validator("no_input", "no_match")
    @classmethod
    def _ladder(cls, v: Optional[Union[str, list[str]]]) -> Optional[Union[str, list[str]]]:
        return _ladder(v)



class Menu(InputNode):
    """A choice between a few options, by key or by voice."""

    options: list[Option] = Field(min_length=1)


class Ask(InputNode):
    """Collect one value into a slot."""

    slot: str
    input: Literal["digits", "speech", "yesno"] = "digits"
    min_length: Optional[int] = Field(None, ge=1, le=64)
    max_length: Optional[int] = Field(None, ge=1, le=64)
    sensitive: bool = False
    pattern: Optional[str] = Field(None, description="Regular expression the whole value must match.")
    next: Optional[str] = None

    @field_validator("slot")
    @classmethod
    def _slot(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"slot name {v!r} must start with a letter and use letters, digits, _ . -")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _lengths(self) -> "Ask":
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ValueError("min_length is larger than max_length")
        return self


class Action(Strict):
    """Run a named hook registered by the deployment and branch on its outcome."""

    hook: str
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments; text may use {slot} templates.")
    timeout: float = Field(3, gt=0, le=30)
    outcomes: dict[str, str] = Field(default_factory=dict, description="Outcome -> node.")
    default: Optional[str] = Field(None, description="Node for an outcome not listed under outcomes.")
    on_failure: Optional[str] = Field(None, description="Node when the hook fails or times out; default: a person.")



class Condition(Strict):
    """A test on a slot, a hook outcome or a fact of the call; exactly one operator."""

    slot: Optional[str] = None
    result: Optional[str] = Field(None, description="Id of an action node whose outcome is tested.")
    call: Optional[Literal["entry", "called", "caller", "auth.status", "auth.method"]] = Field(
        None, description="A fact of the call: entry (the entry point's name), called (the number dialled), "
                          "caller, auth.status or auth.method.")
    equals: Optional[Scalar] = None
    not_equals: Optional[Scalar] = None
    in_: Optional[list[Scalar]] = Field(None, alias="in")
    gt: Optional[float] = None
    gte: Optional[float] = None
    lt: Optional[float] = None
    lte: Optional[float] = None
    exists: Optional[bool] = None
    matches: Optional[str] = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_subject_one_op(self) -> "Condition":
        if sum(x is not None for x in (self.slot, self.result, self.call)) != 1:
            raise ValueError("a condition names exactly one of slot:, result: or call:")
        ops = [n for n in ("equals", "not_equals", "in_", "gt", "gte", "lt", "lte", "exists", "matches")
               if getattr(self, n) is not None]
        if len(ops) != 1:
            raise ValueError("a condition needs exactly one of equals, not_equals, in, gt, gte, lt, lte, "
                             f"exists, matches (found {len(ops)})")
        return self


class Case(Strict):
    """One branch case: the first whose condition holds wins."""

    when: Condition
    goto: str


class Branch(Strict):
    """Choose the next node from slots and hook outcomes."""

    cases: list[Case] = Field(min_length=1)
    default: str


class Transfer(Strict):
    """Hand the caller to a person with the full context."""

    queue: Optional[str] = None
    reason: str = "flow"
    say: Optional[str] = Field(None, description="Said before the transfer.")


class Voicemail(Strict):
    """Take a message for a queue's people (recorded, transcribed offline, stored with status)."""

    queue: Optional[str] = None
    reason: str = "voicemail"
    say: Optional[str] = Field(None, description="Said before the beep; default: a short instruction.")
    max_seconds: int = Field(120, ge=5, le=600)


class Callback(Strict):
    """Offer a call back: the number (caller ID or typed) and a time window are confirmed and stored."""

    queue: Optional[str] = None
    reason: str = "callback"
    say: Optional[str] = Field(None, description="Said before the callback questions.")


AUTH_OUTCOMES = ("verified", "rejected", "inconclusive", "not_enrolled")
"""What an ``authenticate`` node can branch on."""


def _subject(v: str) -> str:
    if v != "caller" and not re.fullmatch(r"\{[A-Za-z_][A-Za-z0-9_]*\}", v):
        raise ValueError(f"subject {v!r} must be caller (the caller ID) or one slot as a template: \"{{account}}\"")
    return v


class Authenticate(Strict):
    """Verify the caller by voice from what they said so far; ask for a few words only when that is too little."""

    subject: str = Field("caller", description="Whose voiceprint: caller (the caller ID) or a slot, \"{account}\".")
    prompt: str = Field("To verify your voice, please tell me in a few words why you are calling.",
                        description="Played only when less than min_speech seconds of speech were heard.")
    min_speech: float = Field(2.0, gt=0, le=30, description="Seconds of net speech the decision needs.")
    outcomes: dict[Literal["verified", "rejected", "inconclusive", "not_enrolled"], str] = Field(
        min_length=1, description="Node per decision; a decision without one goes to a person (auth_failed).")

    _check_subject = field_validator("subject")(classmethod(lambda cls, v: _subject(v)))


class Enroll(Strict):
    """Ask for consent, then build the caller's voiceprint from this call's speech (only with consent)."""

    subject: str = Field("caller", description="Whose voiceprint: caller (the caller ID) or a slot, \"{account}\".")
    consent_prompt: str = Field(description="The exact question; recorded word for word with the answer.")
    prompt: str = Field("Thank you. Please tell me in a few words why you are calling.",
                        description="Played when this call has not yet heard min_speech seconds of speech.")
    min_speech: float = Field(8.0, gt=0, le=60, description="Seconds of net speech the voiceprint is built from.")
    next: str = Field(description="After enrolment (or when more speech is still needed: later calls add it).")
    declined: str = Field(description="The caller said no: nothing is stored, an earlier voiceprint is deleted.")

    _check_subject = field_validator("subject")(classmethod(lambda cls, v: _subject(v)))


SURVEY_KINDS: dict[str, tuple[int, int]] = {"csat": (1, 5), "ces": (1, 7), "nps": (0, 10), "yesno": (0, 1)}
"""Survey question kinds and their answer ranges (``yesno``: 1 = yes, 2 = no on the keypad, stored as a bool)."""


class Question(Strict):
    """One survey question: an id (the key of its answers in reports), a kind and what is asked."""

    id: str = Field(description="Question id, unique in the survey: the key of its answers in reports.")
    kind: Literal["csat", "ces", "nps", "yesno"] = Field(
        description="csat (1-5), ces (1-7), nps (0-10, two keys ended by #) or yesno (1 yes, 2 no).")
    prompt: str = Field(min_length=1, description="The question, with how to answer (Press 1 to 5.).")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not IDENT.match(v):
            raise ValueError(f"question id {v!r} must start with a letter and use letters, digits, _ . -")
        return v

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> Any:
        if v not in SURVEY_KINDS:
            raise ValueError(f"unknown question kind {v!r}; use csat (1-5), ces (1-7), nps (0-10) or yesno")
        return v

    @property
    def low(self) -> int:
        return SURVEY_KINDS[self.kind][0]

    @property
    def high(self) -> int:
        return SURVEY_KINDS[self.kind][1]


class Survey(RetryLadder, Strict):
    """Ask a few rating questions in turn; every answer (or its absence) is an event for reports.

    A survey never traps or escalates a caller for not answering: after ``retries`` re-asks a
    question counts as unanswered and the survey moves on. The agent words (and key 0, except
    in an nps question, where 0 is a score) still reach a person.
    """

    questions: list[Question] = Field(description="The questions, asked in order.")
    next: Optional[str] = Field(None, description="The node after the last question (and the thanks).")
    no_input: Optional[Union[str, list[str]]] = Field(
        None, description="Said after silence before the question is asked again: one text, or one per attempt.")
    no_match: Optional[Union[str, list[str]]] = Field(
        None, description="Said after an answer out of range before the question is asked again (default: a "
                          "phrase naming the range).")
    retries: int = Field(1, ge=0, le=3, description="Re-asks per question; then it counts as unanswered.")
    timeout: Optional[float] = Field(None, gt=0, le=60, description="No-input timeout, seconds.")
    barge_in: Optional[bool] = None
    confidence: Optional[float] = Field(None, ge=0, le=1)

    _check_ladder = field_validator("no_input", "no_match")(classmethod(lambda cls, v: _ladder(v)))

    @field_validator("questions")
    @classmethod
    def _some(cls, v: list[Question]) -> list[Question]:
        if not v:
            raise ValueError("a survey needs at least one question: "
                             "questions: [{id: csat, kind: csat, prompt: How satisfied were you? Press 1 to 5.}]")
        return v


class Node(Strict):
    """A node: exactly one kind key, plus ``next`` where the kind allows it."""

    say: Optional[str] = None
    menu: Optional[Menu] = None
    ask: Optional[Ask] = None
    action: Optional[Action] = None
    branch: Optional[Branch] = None
    transfer: Optional[Transfer] = None
    hangup: Optional[str] = None
    authenticate: Optional[Authenticate] = None
    enroll: Optional[Enroll] = None
    voicemail: Optional[Voicemail] = None
    callback: Optional[Callback] = None
    survey: Optional[Survey] = None
    next: Optional[str] = None
    description: Optional[str] = None

    @property
    def kind(self) -> str:
        for name in NODE_KINDS:
            if name in self.model_fields_set:
                return name
        raise AssertionError("validated node without a kind")

    @property
    def next_node(self) -> Optional[str]:
        """The node after this one (node-level ``next`` or the ask's or survey's own)."""
        if self.ask is not None and self.ask.next:
            return self.ask.next
        if self.survey is not None and self.survey.next:
            return self.survey.next
        return self.next


class Flow(Strict):
    """A whole flow file."""

    flow: str = Field(description="Flow id, unique across flows/.")
    start: str
    language: str = "en-US"
    description: Optional[str] = None
    numbers: list[str] = Field(default_factory=list, description="Called numbers (E.164) that select this flow.")
    settings: Settings = Field(default_factory=Settings)
    queues: dict[str, Queue] = Field(default_factory=dict)
    hooks: dict[str, HttpHook] = Field(default_factory=dict)
    routing: list[RoutingRule] = Field(default_factory=list,
                                       description="Rules that choose the queue of a transfer; first match wins.")
    nodes: dict[str, Node] = Field(min_length=1)

    @field_validator("flow")
    @classmethod
    def _flow_id(cls, v: str) -> str:
        if not re.match(r"^[a-z0-9][a-z0-9_-]*$", v):
            raise ValueError(f"flow id {v!r} must be lower-case letters, digits, _ or -")
        return v

    def queue_for(self, node_id: Optional[str]) -> str:
        """The escalation queue of a node (its own ``queue`` or the flow default)."""
        node = self.nodes.get(node_id) if node_id else None
        spec = (node.menu or node.ask) if node else None
        return (spec.queue if spec and spec.queue else None) or self.settings.agent_queue
