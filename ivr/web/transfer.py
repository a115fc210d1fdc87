"""A transfer becomes TwiML for its queue's target: the one renderer of every handoff.

Keypad turns (:mod:`ivr.web.voice`), the end of a media stream
(``/voice/connect``) and an answered callback all end in a
:class:`~ivr.engine.actions.Transfer`; this module looks up the queue's
target in the flow, adds the signed agent-page link to the task, and, for a
speech call going into an agent queue, the one-way stream that hears
"call me back" while the caller waits. The TwiML itself is written by
:mod:`ivr.web.handoff_twiml`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from twilio.twiml.voice_response import VoiceResponse

from ..engine import actions as A
from . import handoff_twiml as HT
from . import app_state, queue_speech


def render_transfer(resp: VoiceResponse, transfer: A.Transfer) -> None:
    """Append the verbs that take the caller to the transfer's queue target."""
    web = app_state.parts()
    flow = web.services.flows.get(transfer.context.get("flow") or "")
    spec = flow.queues.get(transfer.queue) if flow else None
    call_id = transfer.context.get("call_id") or ""
    kind = spec.target.type if spec and spec.target else "taskrouter"
    if (call_id and flow is not None and flow.settings.speech and transfer.mode not in ("voicemail", "callback")
            and kind in ("taskrouter", "queue") and queue_speech.available()):
        queue_speech.add_stream(resp, call_id)  # our recogniser hears "callback" while they wait
    agent_url = (web.handoff.agent_url(call_id, transferred_at(transfer))
                 if call_id and web.handoff is not None else None)
    HT.render_target(resp, transfer, spec, agent_url=agent_url, workflow_sid=web.config.twilio_workflow_sid)


def transferred_at(transfer: A.Transfer) -> Optional[float]:
    """The transfer's own time (from its context), so a retried webhook renders the same link."""
    stamp = (transfer.context.get("timings") or {}).get("transferred_at")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None
    except (AttributeError, ValueError):
        return None
