"""How a call's audio reaches ``/media``: the ``<Stream>`` TwiML and the token that binds it to its call.

Two streams are opened from TwiML: the dialogue's bidirectional
``<Connect><Stream>`` (:mod:`ivr.web.media`) and a waiting caller's one-way
``<Start><Stream>`` (:mod:`ivr.web.queue_speech`). ``<Stream>`` URLs are
``wss://`` without a query string, so the call id and a per-call HMAC token
travel as ``<Parameter>``; the socket refuses a ``start`` whose token does
not sign its call.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional

from twilio.twiml.voice_response import Connect, Start, VoiceResponse

from ..config import Config

CONNECT_ACTION = "/voice/connect"
"""Twilio's ``<Connect action>``: requested when the dialogue's stream ends."""
QUEUE_PURPOSE = "queue"
"""The ``purpose`` parameter of a waiting caller's stream."""
DEV_SECRET = "ivr-dev-media-stream-token"


def _secret(config: Config) -> bytes:
    secret = config.secret_key or config.auth_token
    if not secret:
        # Development without secrets: tokens still bind the stream to its call.
        secret = DEV_SECRET
    return str(secret).encode()


def stream_token(config: Config, call_sid: str) -> str:
    """The per-call token the stream must present (HMAC-SHA256 of the call id)."""
    return hmac.new(_secret(config), b"media:" + call_sid.encode(), hashlib.sha256).hexdigest()[:40]


def token_valid(config: Config, call_sid: str, token: Optional[str]) -> bool:
    """Whether ``token`` is the stream token of ``call_sid`` (constant-time)."""
    return bool(call_sid and token) and hmac.compare_digest(stream_token(config, call_sid), str(token))


def stream_url(config: Config, root: str) -> str:
    """``wss://<public host>/media``; ``ws://`` only when the public URL is plain ``http://``."""
    base = (config.public_url or root).rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + "/media"
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + "/media"
    return "wss://" + base.split("://", 1)[-1] + "/media"


def connect_twiml(url: str, call_sid: str, token: str) -> str:
    """``<Connect action=/voice/connect><Stream url=...>`` with the ids as ``<Parameter>``."""
    resp = VoiceResponse()
    connect = Connect(action=CONNECT_ACTION, method="POST")
    stream = connect.stream(url=url)
    stream.parameter(name="call_sid", value=call_sid)
    stream.parameter(name="token", value=token)
    resp.append(connect)
    return str(resp)


def add_queue_stream(resp: VoiceResponse, config: Config, root: str, call_sid: str) -> None:
    """``<Start><Stream track=inbound_track>`` with call id, token and ``purpose=queue``."""
    start = Start()
    stream = start.stream(url=stream_url(config, root), track="inbound_track")
    stream.parameter(name="call_sid", value=call_sid)
    stream.parameter(name="token", value=stream_token(config, call_sid))
    stream.parameter(name="purpose", value=QUEUE_PURPOSE)
    resp.append(start)
