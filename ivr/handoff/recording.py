"""Whole-call recording through Twilio's REST recordings API, paused while a caller gives a secret.

A flow with ``settings.record: true`` is recorded (both channels) for quality
and compliance. PCI DSS forbids keeping card numbers and PINs in a recording,
so the driver pauses the recording before it asks a ``sensitive`` question and
resumes it once the answer is in (:meth:`CallDriver._recording
<ivr.calls.driver.CallDriver>`). Twilio's ``pauseBehavior=skip`` leaves no gap
marker and no audio of the paused stretch at all.

Why REST and not ``<Dial record>``: a dial or enqueue recording starts with
the agent leg, but the secrets are asked in the IVR before it, and only a
recording of the whole call can be paused and resumed mid-call. Twilio only
records calls in progress, and an incoming call's first webhook arrives before
it is answered, so the recording starts with the caller's first answer.

The Twilio REST client is built lazily (tests pass one whose ``http_client`` is
a recording fake of the API).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from ..errors import IvrError

log = logging.getLogger(__name__)

CURRENT = "Twilio.CURRENT"
"""Twilio's name for the call's recording in progress (no SID to remember between turns)."""


class RecordingError(IvrError):
    """Twilio refused or did not answer a recording request."""


class CallRecorder:
    """Start, pause and resume the recording of a live call.

    Args:
        client: returns a ``twilio.rest.Client`` (raises :class:`~ivr.errors.ConfigError` when
            ``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN`` are missing).
        status_url: absolute URL of ``/voice/recording`` (the recording status callback), or None.
    """

    def __init__(self, client: Callable[[], Any], status_url: Optional[str] = None) -> None:
        self._client = client
        self.status_url = status_url

    def start(self, call_sid: str) -> None:
        """Record the call from now on, both channels."""
        kwargs: dict[str, Any] = {"recording_channels": "dual", "trim": "do-not-trim"}
        if self.status_url:
            kwargs.update(recording_status_callback=self.status_url, recording_status_callback_method="POST",
                          recording_status_callback_event=["completed"])
        self._do("start", call_sid, lambda c: c.calls(call_sid).recordings.create(**kwargs))

    def pause(self, call_sid: str) -> None:
        """Stop writing audio until :meth:`resume`; the paused stretch is left out, not silenced."""
        self._do("pause", call_sid,
                 lambda c: c.calls(call_sid).recordings(CURRENT).update(status="paused", pause_behavior="skip"))

    def resume(self, call_sid: str) -> None:
        self._do("resume", call_sid, lambda c: c.calls(call_sid).recordings(CURRENT).update(status="in-progress"))

    def stop(self, call_sid: str) -> None:
        """End the recording for good (the fallback when pausing failed: no secret may be recorded)."""
        self._do("stop", call_sid, lambda c: c.calls(call_sid).recordings(CURRENT).update(status="stopped"))

    def _do(self, what: str, call_sid: str, request: Callable[[Any], Any]) -> None:
        try:
            request(self._client())
        except IvrError as exc:  # not configured: say how to fix it
            raise RecordingError(f"cannot {what} the recording of call {call_sid}: {exc}") from exc
        except Exception as exc:  # TwilioRestException, network errors
            code = getattr(exc, "code", None)
            raise RecordingError(f"Twilio refused to {what} the recording of call {call_sid}"
                                 f"{f' (error {code})' if code else ''}: {getattr(exc, 'msg', None) or exc}") from exc
