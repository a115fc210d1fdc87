"""Twilio's webhook requests: signature checks and the parameters we read.

The one place that knows Twilio's request format (``X-Twilio-Signature``,
``CallSid``, ``Digits``, ``CallStatus``...).  Signatures are validated with
twilio's own ``RequestValidator`` against the configured public URL, because
a proxy in front of the app changes the URL Flask sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Optional

from flask import Request, abort, current_app, request
from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"
HANGUP_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def public_url(req: Request, public_base: Optional[str]) -> str:
    """The URL Twilio signed: configured base + path and query, else what Flask saw."""
    if public_base:
        full = req.full_path if req.query_string else req.path
        return public_base.rstrip("/") + full
    return req.url


def signature_valid(req: Request, auth_token: str, public_base: Optional[str]) -> bool:
    """Whether the request carries a valid Twilio signature."""
    signature = req.headers.get(SIGNATURE_HEADER)
    if not signature:
        return False
    params: Any = req.form.to_dict(flat=False) if req.method == "POST" else {}
    params = {k: v[0] if len(v) == 1 else v for k, v in params.items()}
    return RequestValidator(auth_token).validate(public_url(req, public_base), params, signature)


def twilio_signed(view: Callable) -> Callable:
    """Reject unsigned or wrongly signed requests with 403 (checks are off only in dev without a token)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cfg = current_app.extensions["ivr"].config
        if cfg.auth_token and not signature_valid(request, cfg.auth_token, cfg.public_url):
            abort(403, description="missing or invalid X-Twilio-Signature")
        return view(*args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class VoiceParams:
    """The parameters of a voice webhook that the IVR uses."""

    call_sid: str
    caller: str
    called: str
    digits: Optional[str]
    call_status: str
    queue_position: Optional[int]
    avg_queue_time: Optional[int]
    queue_result: Optional[str]

    @classmethod
    def from_request(cls, req: Request) -> "VoiceParams":
        f = req.values

        def as_int(name: str) -> Optional[int]:
            try:
                return int(f[name])
            except (KeyError, ValueError):
                return None

        return cls(call_sid=f.get("CallSid", ""), caller=f.get("From", "") or f.get("Caller", ""),
                   called=f.get("To", "") or f.get("Called", ""), digits=f.get("Digits"),
                   call_status=f.get("CallStatus", ""), queue_position=as_int("QueuePosition"),
                   avg_queue_time=as_int("AvgQueueTime"), queue_result=f.get("QueueResult"))
