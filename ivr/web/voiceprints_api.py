"""``GET`` and ``DELETE /api/voiceprints/<subject>`` (bearer): what is kept of a caller's voice, and erasure.

For the privacy desk: a caller asks what is held about their voice, or asks
for it to be deleted. The answer names the consent (when, the exact wording,
the flow, the channel), never the voiceprint itself. ``DELETE`` removes the
voiceprint and the consent; the audit trail of verifications stays, as it
holds no biometric data.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from flask import Blueprint, Response, jsonify

from . import app_state
from .api import bearer_required, not_found

bp = Blueprint("voiceprints_api", __name__, url_prefix="/api/voiceprints")


def _iso(at: Optional[float]) -> Optional[str]:
    return datetime.fromtimestamp(at, tz=timezone.utc).isoformat().replace("+00:00", "Z") if at else None


def _authenticator() -> Any:
    va = app_state.services().driver.voice_auth
    return va.authenticator if va is not None else None


@bp.get("/<path:subject>")
@bearer_required
def show(subject: str) -> Any:
    """The subject's voiceprint facts and consent (200), or 404 when none is kept."""
    auth = _authenticator()
    enrollment = auth.enrolled(subject) if auth is not None else None
    if enrollment is None:
        return not_found(f"no voiceprint for {subject}")
    store = getattr(auth, "store", None)
    consent = store.consent(subject) if store is not None else None
    return jsonify({
        "subject": subject,
        "enrolled_at": _iso(enrollment.enrolled_at),
        "consent": ({"given_at": _iso(consent.given_at), "wording": consent.wording, "flow": consent.flow,
                     "flow_version": consent.flow_version, "channel": consent.channel, "call_id": consent.call_id}
                    if consent is not None else None),
        "net_speech_s": round(enrollment.net_speech_s, 2),
        "engine": enrollment.engine,
    })


@bp.delete("/<path:subject>")
@bearer_required
def erase(subject: str) -> Any:
    """Remove the voiceprint and the consent: 204, or 404 when there was neither."""
    auth = _authenticator()
    store = getattr(auth, "store", None) if auth is not None else None
    had = auth is not None and (auth.enrolled(subject) is not None or
                                (store is not None and store.consent(subject) is not None))
    if not had:
        return not_found(f"no voiceprint or consent for {subject}")
    auth.delete(subject)
    return Response(status=204)
