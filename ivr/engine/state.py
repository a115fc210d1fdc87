"""Call state: everything the engine remembers between steps.

The state is a plain pydantic model so any store can keep it as JSON.
Values of sensitive slots live only in :attr:`CallState.secrets`; stores
encrypt that field at rest and the engine drops it when the call ends, so
no sensitive value survives the call.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

MASK = "****"


class CallState(BaseModel):
    """The state of one call, owned by the engine."""

    call_id: str
    flow: str
    caller: str = ""
    called: str = ""
    entry: str = Field("", description="The entry point's name (?entry=NAME or the SIP header X-IVR-Entry), or ''.")
    language: str = "en-US"
    started_at: float = 0.0
    updated_at: float = 0.0
    node: Optional[str] = None
    waiting: Optional[str] = Field(None, description="'input', 'confirm', 'survey' or 'hook' while a turn is open.")
    path: list[str] = Field(default_factory=list)
    slots: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict)
    sensitive: list[str] = Field(default_factory=list, description="Names of sensitive slots collected.")
    results: dict[str, str] = Field(default_factory=dict)
    failures: int = 0
    no_input_count: int = 0
    no_match_count: int = 0
    confirm: Optional[dict[str, Any]] = None
    transcript: list[dict[str, Any]] = Field(default_factory=list)
    history: list[dict[str, Any]] = Field(default_factory=list)
    auth: dict[str, Any] = Field(default_factory=lambda: {"method": "none", "status": "none", "score": None,
                                                          "net_speech_s": None})
    """How the caller was verified: ``method`` voice|pin|otp|none, ``status`` verified|rejected|inconclusive|
    not_enrolled|none, ``score``, ``net_speech_s`` (voice), and the ``subject`` it was for."""
    consent_channel: Optional[str] = Field(None, description="How enrolment consent was given: voice or dtmf.")
    enroll_asked: bool = Field(False, description="The enroll node already asked for more speech once.")
    after_agent: Optional[str] = Field(
        None, description="After the call with a person: 'offer' (the post-call survey is offered), 'survey' "
                          "(it runs), 'done' (goodbye said); None while no agent leg has ended.")
    survey_question: int = Field(0, description="Index of the survey question being asked (waiting 'survey').")
    survey_answered: int = Field(0, description="Questions of the running survey answered so far.")
    post_call: bool = Field(False, description="The survey that runs is a post-call one (after the agent leg); "
                                               "set before entering the survey node, its events carry it.")
    ended: bool = False
    ended_at: Optional[float] = None
    end_reason: Optional[str] = None
    reason: Optional[str] = None
    failed_node: Optional[str] = None
    queue: Optional[str] = None
    routing: dict[str, Any] = Field(default_factory=dict, description="How the queue was chosen (see engine.routing).")
    transferred_at: Optional[float] = None
    turns: int = 0
    last_prompts: list[str] = Field(default_factory=list, description="Texts played in the last turn (for testers).")
    extra: dict[str, Any] = Field(default_factory=dict, description="Transport-owned data (e.g. stream tokens).")
    version: int = Field(0, description="Number of successful saves of this call; stores compare-and-set on it "
                                        "so that two turns of one call are never both applied.")

    def copy_for_step(self) -> "CallState":
        """A copy the engine may change without touching the original.

        Cheaper than a deep copy: containers are copied one level down, and
        the engine only ever appends whole new items to them.
        """
        data = dict(self.__dict__)
        for name, value in data.items():
            if isinstance(value, list):
                data[name] = list(value)
            elif isinstance(value, dict):
                data[name] = dict(value)
        return CallState.model_construct(_fields_set=self.model_fields_set, **data)

    def facts(self) -> dict[str, Any]:
        """What ``call:`` conditions and routing rules may test: the entry point, the numbers, the auth."""
        return {"entry": self.entry, "called": self.called, "caller": self.caller,
                "auth.status": self.auth.get("status"), "auth.method": self.auth.get("method")}

    def values(self) -> dict[str, Any]:
        """Slots including sensitive values (for hooks and conditions only)."""
        return {**self.slots, **self.secrets}

    def masked_slots(self) -> dict[str, Any]:
        """Slots as shown anywhere outside the engine: sensitive values masked."""
        out = dict(self.slots)
        for name in self.sensitive:
            out[name] = MASK
        return out
