"""Typed model of a flow file (pydantic).

The YAML contract lives in ``../shared/DESIGN.md``.  Every model forbids
unknown properties so that a typo (``promt:``) is an error with a suggestion
rather than a silently ignored line.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NODE_KINDS = ("say", "menu", "ask", "action", "branch", "authenticate", "transfer",
              "voicemail", "callback", "survey", "hangup")
"""Node kinds the language knows; a node has exactly one of these keys."""

RESERVED_KINDS = ("authenticate", "survey")
"""Kinds the schema reserves but this version cannot run yet."""

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
KEY_CHARS = set("0123456789*#")


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
    agent_words: list[str] = Field(default_factory=list, description="Extra phrases that ask for a person.")
    digit_timeout: float = Field(3, gt=0, le=30, description="Seconds between key presses before digit entry ends.")


class Queue(Strict):
    """An agent queue that escalations and transfer nodes can name."""

    description: Optional[str] = None
    workflow_sid: Optional[str] = Field(None, description="TaskRouter workflow SID for <Enqueue workflowSid>.")


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


class InputNode(Strict):
    """Fields shared by nodes that wait for the caller (menu, ask)."""

    prompt: str
    no_input: Optional[str] = Field(None, description="Re-prompt after silence.")
    no_match: Optional[str] = Field(None, description="Re-prompt after an answer that did not fit.")
    retries: Optional[int] = Field(None, ge=0, le=5)
    queue: Optional[str] = Field(None, description="Queue for escalation from this node.")
    timeout: Optional[float] = Field(None, gt=0, le=60, description="No-input timeout, seconds.")
    barge_in: Optional[bool] = None
    confidence: Optional[float] = Field(None, ge=0, le=1)


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


Scalar = Union[str, int, float, bool]


class Condition(Strict):
    """A test on a slot or on a hook outcome; exactly one operator."""

    slot: Optional[str] = None
    result: Optional[str] = Field(None, description="Id of an action node whose outcome is tested.")
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
        if (self.slot is None) == (self.result is None):
            raise ValueError("a condition names exactly one of slot: or result:")
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


class Node(Strict):
    """A node: exactly one kind key, plus ``next`` where the kind allows it."""

    say: Optional[str] = None
    menu: Optional[Menu] = None
    ask: Optional[Ask] = None
    action: Optional[Action] = None
    branch: Optional[Branch] = None
    transfer: Optional[Transfer] = None
    hangup: Optional[str] = None
    authenticate: Optional[dict[str, Any]] = None
    voicemail: Optional[dict[str, Any]] = None
    callback: Optional[dict[str, Any]] = None
    survey: Optional[dict[str, Any]] = None
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
        """The node after this one (node-level ``next`` or the ask's own)."""
        if self.ask is not None and self.ask.next:
            return self.ask.next
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
