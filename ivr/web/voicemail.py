"""The voicemail dialogue (``/voice/queue/voicemail...``): record a message, keep it, transcribe it.

``/voicemail`` plays the prompt and the ``<Record>``; ``/voicemail/done`` is
its action (keep the message, say goodbye) and ``/voicemail/recorded`` its
status callback (the audio is ready: transcribe it). Either may come first,
so both store the message and the second finds the first's record. The
``<Record>`` also finishes on ``0``, the agent key: the caller then goes back
to a person (:mod:`ivr.web.escape`) and the cut-short recording is not kept.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, Response

from . import handoff_twiml as HT
from . import app_state
from .call_view import CallView, now, on_error
from .escape import escapable
from .twilio_request import install_error_handler, twilio_signed, xml_response

bp = Blueprint("handoff_voicemail", __name__, url_prefix="/voice/queue")

DEFAULT_MAX_SECONDS = 120


@bp.post("/voicemail")
@twilio_signed
def voicemail() -> Response:
    """The prompt and the ``<Record>`` (as long as the flow's voicemail node allows)."""
    v = CallView()
    node = v.flow.nodes.get(v.state.node or "") if v.flow and v.state else None
    max_seconds = node.voicemail.max_seconds if node is not None and node.voicemail is not None \
        else DEFAULT_MAX_SECONDS
    return xml_response(HT.voicemail(max_seconds, v.speaker))


def store_voicemail(v: CallView) -> Optional[dict[str, Any]]:
    """Keep the request's recording as the call's voicemail (once, whichever webhook comes first)."""
    url = v.params.get("RecordingUrl")
    if not url:
        return None
    try:
        duration = float(v.params.get("RecordingDuration", "") or 0)
    except ValueError:
        duration = None
    handoff = app_state.handoff()
    records = handoff.records
    sid = v.params.get("RecordingSid")
    existing = records.find_voicemail(sid) if sid else None
    if existing:
        records.set_recording(existing["id"], now(), url, sid, duration)
        return records.get("voicemail", existing["id"])
    record = records.add_voicemail(call_id=v.call_sid, at=now(), recording_url=url, recording_sid=sid,
                                   duration=duration, **v.record_fields())
    v.data["voicemail_id"] = record["id"]
    v.save("voicemail", queue=v.queue_name, voicemail=record["id"], seconds=duration)
    handoff.on_record("voicemail", record)
    return record


@bp.post("/voicemail/done")
@twilio_signed
@escapable("/voicemail")
def voicemail_done() -> Response:
    """``<Record action>``: keep the message and say goodbye (0 ended it: a person, and no message kept)."""
    v = CallView()
    record = store_voicemail(v)
    if record is None:
        return xml_response(HT.goodbye(v.speaker, "voicemail_none"))
    return xml_response(HT.goodbye(v.speaker, "voicemail_saved"))


@bp.post("/voicemail/recorded")
@twilio_signed
def voicemail_recorded() -> Response:
    """Recording status callback: the audio is ready to fetch, so transcribe it now."""
    v = CallView()
    if v.params.get("RecordingStatus", "completed") != "completed":
        return xml_response(HT.empty())
    if v.params.get("RecordingSid") in v.data.get("discarded_recordings", ()):
        return xml_response(HT.empty())  # cut short with 0 to reach a person: not a message to keep
    record = store_voicemail(v)
    if record is not None:
        app_state.handoff().voicemail_recorded(record["id"])
    return xml_response(HT.empty())


install_error_handler(bp, on_error)
