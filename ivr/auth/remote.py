"""A vendor's voice-authentication service over HTTP.

Each operation is one signed JSON POST to ``<url>/<op>`` (``enroll``,
``verify``, ``delete``, ``status``) with ``{"subject", "audio" (base64 pcm16),
"rate": 8000}``; the body is signed as the project's HTTP hooks sign theirs
(``X-IVR-Signature: sha256=<hex HMAC-SHA256 of the body>``), so a vendor
adapter checks one scheme. ``verify`` never raises into a call: a timeout, a
refused connection, an HTTP error or a malformed answer give an
``inconclusive`` verdict, and the flow steps up to a PIN. Only a vendor's
explicit "not enrolled" (HTTP 404, or ``{"decision": "not_enrolled"}``)
raises :class:`~ivr.auth.errors.NotEnrolled`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any, Optional

import requests

from .base import DECISIONS, Enrollment, Verdict
from .errors import AuthError, NotEnrolled

__all__ = ["HttpVoiceAuthenticator", "sign_body"]

log = logging.getLogger(__name__)


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of a request body, sent as ``X-IVR-Signature: sha256=<hex>`` (as ivr.hooks signs)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HttpVoiceAuthenticator:
    """Voice authentication by a vendor's HTTP API.

    Args:
        url: the vendor adapter's base URL.
        secret: the HMAC key both sides know (``IVR_VOICE_AUTH_SECRET``).
        timeout: seconds to wait for an answer before the verdict is ``inconclusive``.
    """

    name = "http"

    def __init__(self, url: str, secret: str, timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.secret = secret
        self.timeout = timeout
        self._session = requests.Session()

    def _post(self, op: str, payload: dict[str, Any]) -> requests.Response:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "X-IVR-Signature": sign_body(self.secret, body)}
        return self._session.post(f"{self.url}/{op}", data=body, headers=headers, timeout=self.timeout)

    @staticmethod
    def _audio(subject: str, audio: bytes) -> dict[str, Any]:
        return {"subject": subject, "audio": base64.b64encode(audio).decode(), "rate": 8000}

    def verify(self, subject: str, audio: bytes, call_id: Optional[str] = None) -> Verdict:
        """Ask the vendor; any failure is ``inconclusive`` (logged), never an exception into the call."""
        try:
            resp = self._post("verify", {**self._audio(subject, audio), **({"call_id": call_id} if call_id else {})})
            if resp.status_code == 404:
                raise NotEnrolled(subject)
            resp.raise_for_status()
            data = resp.json()
            if data.get("decision") == "not_enrolled":
                raise NotEnrolled(subject)
            decision = data["decision"]
            if decision not in DECISIONS:
                raise ValueError(f"unknown decision {decision!r}")
            replay = bool(data.get("replay", False))
            return Verdict(score=float(data.get("score", 0.0)),
                           decision="rejected" if replay and decision == "verified" else decision,
                           net_speech_s=float(data.get("net_speech_s", 0.0)), replay=replay, engine=self.name)
        except NotEnrolled:
            raise
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("voice-authentication vendor at %s failed (%s): inconclusive", self.url, exc)
            return Verdict(score=0.0, decision="inconclusive", net_speech_s=0.0, engine=self.name)

    def enroll(self, subject: str, audio: bytes) -> Enrollment:
        """Ask the vendor to build the voiceprint.

        Raises:
            AuthError: the vendor failed or did not answer in time (nothing is known to be stored).
        """
        data = self._call("enroll", self._audio(subject, audio))
        return Enrollment(subject, float(data.get("net_speech_s", 0.0)), self.name,
                          float(data.get("enrolled_at", 0.0)))

    def delete(self, subject: str) -> bool:
        """Ask the vendor to delete the voiceprint; raises AuthError if it cannot be asked."""
        return bool(self._call("delete", {"subject": subject}).get("deleted", False))

    def enrolled(self, subject: str) -> Optional[Enrollment]:
        """The vendor's record of the subject, or None; raises AuthError if it cannot be asked."""
        data = self._call("status", {"subject": subject})
        if not data.get("enrolled"):
            return None
        return Enrollment(subject, float(data.get("net_speech_s", 0.0)), self.name,
                          float(data.get("enrolled_at", 0.0)))

    def _call(self, op: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            resp = self._post(op, payload)
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"voice-authentication vendor at {self.url}/{op} failed: {exc}") from exc
