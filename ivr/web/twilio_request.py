"""Twilio's webhook requests: signature checks and the parameters we read.

The one place that knows Twilio's request format (``X-Twilio-Signature``,
``CallSid``, ``Digits``, ``CallStatus``...).  Everything here runs at the
edge, before any view or error handler touches the call:

* the signature is validated with twilio's own ``RequestValidator`` over the
  request's parameters exactly as Twilio signs them (a repeated key signs
  each of its values), against the configured public URL (a proxy in front
  of the app changes the URL Flask sees).  A request whose signature cannot
  be checked, for any reason, is a 403;
* the parameters are then validated and normalised once: a ``CallSid`` that
  is missing or not an id is a 400; other values lose characters XML cannot
  carry (NUL, U+FFFF, lone surrogates) and are cut to a sane length, so
  nothing a request sends can break the TwiML or the ``<Task>`` JSON built
  from it.  Views read :func:`params` (or :class:`VoiceParams`), never
  ``request.values``.

Error handlers of the voice blueprints are installed with
:func:`install_error_handler`, which answers 403 unless the signature check
had passed: the "apologise and transfer" safety net must never serve an
unauthenticated request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Optional

from flask import Blueprint, Request, Response, abort, g, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException, InternalServerError

from ..flow.model import ENTRY_NAME
from . import app_state

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
"""Twilio sends the same token again when it retries a webhook."""
HANGUP_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}

CALL_SID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
"""Twilio's CallSids are ``CA`` + 32 hex digits; test harnesses use shorter ids. Never markup."""
MAX_VALUE = 4096
"""Longest parameter value kept (Twilio's longest, a SpeechResult or a URL, are far shorter)."""
MAX_PARAMS = 200
"""More parameters than this is not a Twilio request (Twilio sends about 20)."""
DTMF = re.compile(r"[^0-9*#]")
"""What a ``Digits`` value may hold; anything else is dropped."""
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def public_url(req: Request, public_base: Optional[str]) -> str:
    """The URL Twilio signed: configured base + path and query, else what Flask saw."""
    if public_base:
        full = req.full_path if req.query_string else req.path
        return public_base.rstrip("/") + full
    return req.url


def signature_valid(req: Request, auth_token: str, public_base: Optional[str]) -> bool:
    """Whether the request carries a valid Twilio signature.

    The form goes to the validator as the MultiDict it is, so a repeated key
    is signed the way Twilio signs it (each distinct value, sorted).  Any
    failure to check (a body that cannot be parsed, a validator error) means
    "not valid": a signature we cannot verify grants nothing.
    """
    signature = req.headers.get(SIGNATURE_HEADER)
    if not signature:
        return False
    try:
        form: Any = req.form if req.method == "POST" else {}
        return bool(RequestValidator(auth_token).validate(public_url(req, public_base), form, signature))
    except Exception as exc:  # noqa: BLE001 - an unverifiable request is an unsigned one
        log.warning("signature check failed on %s (%s): refusing", req.path, type(exc).__name__)
        return False


def clean(value: str) -> str:
    """A parameter value that XML and JSON can carry: invalid characters dropped, length capped."""
    return _XML_INVALID.sub("", value)[:MAX_VALUE].strip()


def params() -> ImmutableMultiDict:
    """The request's Twilio parameters (query and form), validated and normalised once per request.

    Raises:
        werkzeug's BadRequest (400): no usable ``CallSid``, or far too many parameters.
    """
    cached = g.get("twilio_params")
    if cached is not None:
        return cached
    raw = request.values
    if len(raw) > MAX_PARAMS:
        abort(400, description=f"too many parameters ({len(raw)}); a Twilio webhook sends about 20")
    sids = raw.getlist("CallSid")
    if len(sids) != 1 or not CALL_SID.match(sids[0]):  # checked raw: a sid is never "repaired"
        abort(400, description="CallSid is missing or malformed: expected one id of letters and digits "
                               "(Twilio's are CA followed by 32 hex digits)")
    out: MultiDict = MultiDict()
    for key, value in raw.items(multi=True):
        key = clean(key)
        if key:
            out.add(key, clean(value))
    g.twilio_params = ImmutableMultiDict(out)
    return g.twilio_params


def request_key() -> Optional[str]:
    """Twilio's idempotency token for this delivery (the same again on a retry), or None.

    Only the token is kept with the call: a hash of the parameters would store a
    brute-forceable trace of every PIN typed.  Retries of our own ``<Gather>``
    URLs need no key at all, since those carry the ``turn`` they answer.
    """
    token = request.headers.get(IDEMPOTENCY_HEADER)
    return "t:" + clean(token)[:128] if token else None


def verified() -> bool:
    """Whether this request passed :func:`twilio_signed` (the only way the safety net may run)."""
    return bool(g.get("twilio_verified"))


def twilio_signed(view: Callable) -> Callable:
    """403 for unsigned or wrongly signed requests, 400 for bad parameters; then the view.

    Checks are off only in development without a token (``IVR_DEV=1``).
    """
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cfg = app_state.config()
        if cfg.auth_token and not signature_valid(request, cfg.auth_token, cfg.public_url):
            abort(403, description="missing or invalid X-Twilio-Signature")
        params()  # 400 before anything reads a bad CallSid
        g.twilio_verified = True
        return view(*args, **kwargs)
    return wrapper


def install_error_handler(bp: Blueprint, answer: Callable[[Exception], Response]) -> None:
    """Give a voice blueprint its safety net: any failure answers valid TwiML from ``answer``.

    HTTP errors (403, 400, 405...) pass through unchanged, and nothing but a
    403 ever answers a request that was not authenticated first.
    """
    @bp.errorhandler(Exception)
    def on_error(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return exc
        if not request.path.startswith("/voice"):  # a JSON route sharing the blueprint: a plain 500
            log.exception("%s failed: %s", request.path, type(exc).__name__)
            return InternalServerError()
        if not verified():
            log.warning("%s failed before authentication (%s): 403", request.path, type(exc).__name__)
            return Response("forbidden\n", status=403, mimetype="text/plain")
        log.exception("voice webhook %s failed: %s", request.path, type(exc).__name__)
        try:
            return answer(exc)
        except Exception:  # noqa: BLE001 - the answer itself failed: the plainest TwiML there is
            log.exception("fallback answer for %s failed too", request.path)
            from .twiml import apology
            return xml_response(apology("general"))


def xml_response(body: str, status: int = 200) -> Response:
    """A TwiML document as Twilio expects it (``text/xml``)."""
    return Response(body, status=status, mimetype="text/xml")


def _entry(raw: str) -> str:
    """An entry point's name as given, or '' (logged) when it is not one: routing must not see junk."""
    if raw and not ENTRY_NAME.fullmatch(raw):
        log.warning("ignoring an entry point that is not a name (%d characters)", len(raw))
        return ""
    return raw


@dataclass(frozen=True)
class VoiceParams:
    """The parameters of a voice webhook that the IVR uses (validated, see :func:`params`)."""

    call_sid: str
    caller: str
    called: str
    digits: Optional[str]
    call_status: str
    queue_position: Optional[int]
    avg_queue_time: Optional[int]
    queue_result: Optional[str]
    entry: str = ""
    """The entry point: ``?entry=NAME`` on the webhook URL, else the SIP header ``X-IVR-Entry`` (Twilio passes
    it as ``SipHeader_X-IVR-Entry``); '' when absent or not a name (letters, digits, ``_ . -``, 64 at most)."""

    @classmethod
    def from_request(cls, req: Optional[Request] = None) -> "VoiceParams":
        """From the current request (``req`` is accepted for older callers and must be it)."""
        f = params()

        def as_int(name: str) -> Optional[int]:
            try:
                value = int(f[name][:12])
            except (KeyError, ValueError):
                return None
            return value if 0 <= value < 10**9 else None

        digits = f.get("Digits")
        return cls(call_sid=f.get("CallSid", ""), caller=(f.get("From", "") or f.get("Caller", ""))[:256],
                   called=(f.get("To", "") or f.get("Called", ""))[:256],
                   digits=DTMF.sub("", digits)[:64] if digits is not None else None,
                   call_status=f.get("CallStatus", "")[:32], queue_position=as_int("QueuePosition"),
                   avg_queue_time=as_int("AvgQueueTime"), queue_result=f.get("QueueResult"),
                   entry=_entry(request.args.get("entry") or f.get("SipHeader_X-IVR-Entry") or ""))
