"""A handoff webhook's view of its call: the state, flow and queue spec, any of them missing.

The queue, callback and voicemail dialogues run after the engine handed the
call over, on Twilio's requests alone; each starts from a :class:`CallView`
of the request and writes what it learns back to the call's
``extra["handoff"]``. Their shared safety net, :func:`on_error`, lives here
too, so every dialogue fails the same way: never into silence.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Response, request

from ..engine import actions as A
from ..engine.context import build_context
from ..engine.state import CallState
from ..flow.model import Flow, Queue
from . import handoff_twiml as HT
from . import app_state, twiml
from .twilio_request import params as twilio_params
from .twilio_request import xml_response

QUIET_PATHS = ("/voice/queue/voicemail/recorded", "/voice/queue/callback/status", "/voice/queue/whisper")
"""Status callbacks and the agent's whisper: nobody to apologise to, so a failure answers an empty document."""


def now() -> float:
    """The call clock (the driver's, so tests pin the time)."""
    return app_state.services().driver.clock()


class CallView:
    """The caller's state, flow and queue for a handoff webhook (any may be missing)."""

    def __init__(self) -> None:
        svc = app_state.services()
        self.params = twilio_params()
        self.call_sid = self.params.get("CallSid", "")
        self.state: Optional[CallState] = svc.driver.state(self.call_sid) if self.call_sid else None
        self.flow: Optional[Flow] = svc.flows.get(self.state.flow) if self.state else None
        self.queue_name = (self.state.queue if self.state else None) or "general"
        self.spec: Optional[Queue] = self.flow.queues.get(self.queue_name) if self.flow else None
        self.language = self.state.language if self.state else "en-US"

    @property
    def data(self) -> dict[str, Any]:
        """What the handoff dialogues keep with the call (``extra["handoff"]``)."""
        if self.state is None:
            return {}
        return self.state.extra.setdefault("handoff", {})

    def save(self, kind: Optional[str] = None, **event: Any) -> None:
        """Store the call (and an event of ``kind`` with ``event`` as its data)."""
        if self.state is None:
            return
        at = now()
        self.state.updated_at = max(self.state.updated_at, at)
        events = [A.RecordEvent(kind, self.state.node, at, event)] if kind else []
        app_state.services().store.save(self.state, events)

    def context(self) -> dict[str, Any]:
        """The call's context packet ({} for an unknown call)."""
        if self.state is None:
            return {}
        return build_context(self.state, self.state.updated_at)

    @property
    def speaker(self) -> HT.Speaker:
        """Speaks this call's system phrases in its flow's language, voice and rate (rendered audio first)."""
        s = self.flow.settings if self.flow else None
        return HT.Speaker(self.language, self.flow.flow if self.flow else "", s.voice if s else None,
                          s.rate if s else None, app_state.parts().prompt_url)

    def int_param(self, name: str) -> Optional[int]:
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            return None

    def caller_id(self) -> str:
        """The number the caller called from (Twilio's ``From``, else the one the call started with)."""
        return self.params.get("From", "") or (self.state.caller if self.state else "")

    def record_fields(self) -> dict[str, Any]:
        """What a callback or voicemail record keeps of the call it came from."""
        return {"flow": self.state.flow if self.state else "", "queue": self.queue_name,
                "caller": self.state.caller if self.state else "",
                "reason": self.state.reason if self.state else None, "context": self.context() or None}


def tries() -> int:
    """The ``tries`` a dialogue step's URL carries (1 when absent or unusable).

    Every question of the dialogues carries it, in its ``<Gather action>`` and in the
    ``<Redirect>`` after it, so wrong keys and silence both count towards the step's bound.
    """
    try:
        return max(1, int(request.args.get("tries", "1")))
    except ValueError:
        return 1


def on_error(exc: Exception) -> Response:
    """Never silence: the wait loop keeps music playing; other steps reach a person."""
    if request.path.startswith("/voice/queue/wait"):
        return xml_response(HT.hold_music_only())
    if request.path.startswith(QUIET_PATHS):
        return xml_response(HT.empty())
    try:
        language = CallView().language
    except Exception:  # noqa: BLE001 - the view may be what failed; apologise in English then
        language = "en-US"
    return xml_response(twiml.apology("general", language))
