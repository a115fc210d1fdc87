"""Twilio Media Streams wire format (bidirectional ``<Connect><Stream>``).

This is the only module that knows the JSON Twilio exchanges over the media
websocket. Inbound text frames become typed, frozen messages; outbound
messages are built here. Field names follow Twilio's "Media Streams -
WebSocket Messages" reference exactly (``event``, ``sequenceNumber``,
``streamSid``, ``start.customParameters``, ``media.payload``, ``dtmf.digit``,
``mark.name``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from ivr.errors import SpeechError

__all__ = [
    "ProtocolError", "Connected", "Start", "MediaFormat", "Media", "Dtmf", "Mark", "Stop",
    "InboundMessage", "parse_message", "media_message", "mark_message", "clear_message",
]


class ProtocolError(SpeechError):
    """Raised when a websocket frame is not a Media Streams message we understand."""


@dataclass(frozen=True)
class Connected:
    """First message on a new socket: names the protocol and its version."""

    protocol: str = "Call"
    version: str = "1.0.0"


@dataclass(frozen=True)
class MediaFormat:
    """Encoding of the audio that follows; Twilio always sends 8 kHz mono mu-law."""

    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


@dataclass(frozen=True)
class Start:
    """Stream metadata, sent once after ``connected``.

    Attributes:
        stream_sid: id to put on every outbound message.
        call_sid: the call this stream belongs to.
        account_sid: the Twilio account.
        tracks: ``inbound`` and/or ``outbound``.
        custom_parameters: the ``<Parameter>`` values from the TwiML (the
            stream URL has no query string, so our ids travel here).
        media_format: the audio encoding.
        sequence_number: Twilio's message counter.
    """

    stream_sid: str
    call_sid: str
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    media_format: MediaFormat = field(default_factory=MediaFormat)
    sequence_number: int = 0


@dataclass(frozen=True)
class Media:
    """One chunk of caller audio (about 20 ms).

    Attributes:
        stream_sid: the stream.
        track: ``inbound`` (the caller) or ``outbound``.
        chunk: chunk counter, from 1.
        timestamp: ms since the stream started.
        payload: raw mu-law bytes (already base64-decoded).
        sequence_number: Twilio's message counter.
    """

    stream_sid: str
    payload: bytes
    track: str = "inbound"
    chunk: int = 0
    timestamp: int = 0
    sequence_number: int = 0


@dataclass(frozen=True)
class Dtmf:
    """The caller pressed a key (bidirectional streams only)."""

    stream_sid: str
    digit: str
    track: str = "inbound_track"
    sequence_number: int = 0


@dataclass(frozen=True)
class Mark:
    """Audio sent before our ``mark`` of this name has played (or was cleared)."""

    stream_sid: str
    name: str
    sequence_number: int = 0


@dataclass(frozen=True)
class Stop:
    """The stream ended (hang-up or the TwiML moved on)."""

    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    sequence_number: int = 0


InboundMessage = Union[Connected, Start, Media, Dtmf, Mark, Stop]


def parse_message(text: str | bytes) -> InboundMessage:
    """Parse one websocket text frame from Twilio into a typed message.

    Raises:
        ProtocolError: not JSON, not an object, unknown ``event``, or a
            required field is missing or malformed.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"media stream frame is not JSON: {str(text)[:80]!r}") from exc
    if not isinstance(data, dict):
        raise ProtocolError("media stream frame is not a JSON object")
    event = data.get("event")
    parser = _PARSERS.get(event) if isinstance(event, str) else None
    if parser is None:
        raise ProtocolError(
            f"unknown media stream event {event!r}; expected one of {sorted(_PARSERS)}")
    try:
        return parser(data)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ProtocolError(f"malformed {event!r} message: {exc!r}") from exc


def _seq(d: Mapping[str, Any]) -> int:
    return int(d.get("sequenceNumber") or 0)


def _obj(d: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = d[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object")
    return value


def _parse_connected(d: Mapping[str, Any]) -> Connected:
    return Connected(protocol=str(d.get("protocol", "Call")), version=str(d.get("version", "")))


def _parse_start(d: Mapping[str, Any]) -> Start:
    s = _obj(d, "start")
    fmt = s.get("mediaFormat") or {}
    params = s.get("customParameters") or {}
    if not isinstance(params, dict):
        raise TypeError("start.customParameters must be an object")
    return Start(
        stream_sid=str(s.get("streamSid") or d["streamSid"]),
        call_sid=str(s["callSid"]),
        account_sid=str(s.get("accountSid", "")),
        tracks=tuple(str(t) for t in s.get("tracks") or ("inbound",)),
        custom_parameters={str(k): str(v) for k, v in params.items()},
        media_format=MediaFormat(encoding=str(fmt.get("encoding", "audio/x-mulaw")),
                                 sample_rate=int(fmt.get("sampleRate", 8000)),
                                 channels=int(fmt.get("channels", 1))),
        sequence_number=_seq(d),
    )


def _parse_media(d: Mapping[str, Any]) -> Media:
    m = _obj(d, "media")
    return Media(
        stream_sid=str(d.get("streamSid", "")),
        payload=base64.b64decode(m["payload"], validate=True),
        track=str(m.get("track", "inbound")),
        chunk=int(m.get("chunk") or 0),
        timestamp=int(m.get("timestamp") or 0),
        sequence_number=_seq(d),
    )


def _parse_dtmf(d: Mapping[str, Any]) -> Dtmf:
    m = _obj(d, "dtmf")
    digit = str(m["digit"])
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise ValueError(f"bad DTMF digit {digit!r}")
    return Dtmf(stream_sid=str(d.get("streamSid", "")), digit=digit,
                track=str(m.get("track", "inbound_track")), sequence_number=_seq(d))


def _parse_mark(d: Mapping[str, Any]) -> Mark:
    m = _obj(d, "mark")
    return Mark(stream_sid=str(d.get("streamSid", "")), name=str(m["name"]),
                sequence_number=_seq(d))


def _parse_stop(d: Mapping[str, Any]) -> Stop:
    s = d.get("stop") or {}
    if not isinstance(s, dict):
        raise TypeError("stop must be an object")
    return Stop(stream_sid=str(d.get("streamSid", "")), call_sid=str(s.get("callSid", "")),
                account_sid=str(s.get("accountSid", "")), sequence_number=_seq(d))


_PARSERS = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "dtmf": _parse_dtmf,
    "mark": _parse_mark,
    "stop": _parse_stop,
}


def media_message(stream_sid: str, ulaw: bytes) -> str:
    """Build an outbound ``media`` message: mu-law 8 kHz audio for the caller."""
    return json.dumps({"event": "media", "streamSid": stream_sid,
                       "media": {"payload": base64.b64encode(ulaw).decode("ascii")}})


def mark_message(stream_sid: str, name: str) -> str:
    """Build an outbound ``mark``; Twilio echoes it once the audio before it has played."""
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    """Build an outbound ``clear``: drop queued audio (barge-in); pending marks return."""
    return json.dumps({"event": "clear", "streamSid": stream_sid})
