"""A person, from every place the handoff dialogues listen: the agent key ``0``.

DESIGN.md promises an escalation path everywhere. Self-service has it in the
engine; the queue, callback and voicemail dialogues run after the engine let
go of the call, so they get it here, once: every dialogue handler that takes
the caller's keys is wrapped by :func:`escapable`, and every question they
ask accepts ``0`` (single-key ``<Gather>``; a lone ``0`` ends a typed number;
the voicemail ``<Record>`` finishes on ``0`` and reports it as ``Digits``).

Where ``0`` leads: back to a person, through the one transfer renderer
(:func:`ivr.web.transfer.render_transfer`), into the queue the call was
transferred to (its target, task and context as at the first transfer), after
"connecting you to a person" in the flow's language. The event
``person_requested`` (with the dialogue step and whether the team was open)
lets analytics count these.

When that queue is closed the caller is not put in a line nobody answers:
they hear that the team is closed and when it opens, and the question they
were answering is asked again, so they keep the choices they had (leave a
message, have a call back). Chosen over hanging up or forcing voicemail
because the caller asked for more help, not less; over re-enqueueing anyway
because an ``<Enqueue>`` out of hours is a silent wait with no end.

These dialogues hear keys only (Twilio's cloud speech is not used); spoken
agent words are heard where speech is: self-service (the engine) and the
queue's own listener (:mod:`ivr.web.queue_speech`), where a caller already
waits for a person.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from flask import Response, request

from ..engine import actions as A
from ..engine.hours import is_open, next_opening, spoken_opening
from . import handoff_twiml as HT
from .call_view import CallView, now
from .transfer import render_transfer
from .twilio_request import xml_response

AskAgain = Callable[[CallView], str]
"""The URL (under ``/voice/queue``) that asks the handoff step's question again."""


def wants_person(digits: Optional[str]) -> bool:
    """Whether the keys ask for a person: the agent key alone (a typed number may start with 0)."""
    return (digits or "").strip() == HT.ESCAPE_KEY


def escapable(ask_again: str | AskAgain) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Wrap a dialogue handler so the agent key reaches a person before the handler sees it.

    Args:
        ask_again: where the step's question is asked again when the team is closed: a path
            under ``/voice/queue`` (the step's ``tries`` is carried along), or a function of the view.
    """
    def wrap(handler: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def guarded(*args: Any, **kwargs: Any) -> Response:
            v = CallView()
            if not wants_person(v.params.get("Digits")):
                return handler(*args, **kwargs)
            again = ask_again(v) if callable(ask_again) else _with_tries(ask_again)
            return to_person(v, again)
        return guarded
    return wrap


def _with_tries(path: str) -> str:
    tries = request.args.get("tries")
    return HT._q(path, tries=tries if tries and tries.isdigit() else None)


def to_person(v: CallView, ask_again: str) -> Response:
    """Re-enqueue the caller into their queue; out of hours, say so and ask ``ask_again``'s question."""
    at = now()
    hours = v.spec.hours if v.spec else None
    open_ = is_open(hours, at)
    recording = v.params.get("RecordingSid") if request.path.endswith("/voicemail/done") else None
    if recording:  # the message was cut short to reach a person: it is not kept as a voicemail
        v.data.setdefault("discarded_recordings", []).append(recording)
    v.save("person_requested", queue=v.queue_name, step=request.path.rsplit("/voice/queue", 1)[-1] or "/",
           open=open_)
    sp = v.speaker
    if not open_:
        nxt = next_opening(hours, at) if hours is not None else None
        opening = spoken_opening(nxt, at, v.language) if nxt is not None else None
        return xml_response(HT.closed_then(sp, hours.closed_message if hours else None, opening, ask_again))
    resp = HT.to_person(sp)
    render_transfer(resp, A.Transfer(v.queue_name, "caller_request", v.context(), mode="agent"))
    return xml_response(str(resp))
