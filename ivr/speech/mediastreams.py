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
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Union

from ivr.errors import SpeechError

__all__ = [
    "ProtocolError", "MalformedMessage", "UnknownEvent", "FrameTooLarge", "BadStart",
    "UnsupportedMediaFormat", "FrameReader", "MAX_MESSAGE_CHARS", "MAX_PAYLOAD_BYTES", "Connected", "Start", "MediaFormat", "Media", "Dtmf", "Mark", "Stop",
    "InboundMessage", "parse_message", "media_message", "mark_message", "clear_message",
]


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

# -- bounds ---------------------------------------------------------------------

MAX_MESSAGE_CHARS = 64 * 1024
"""Largest inbound frame we parse. Twilio's ``media`` frames are 200-400 bytes and a
``start`` with its ``customParameters`` a few KB; anything bigger is not Twilio."""
MAX_PAYLOAD_BYTES = 8000
"""Largest decoded ``media.payload``: one second of 8 kHz mu-law (Twilio sends 20 ms)."""
MAX_ID_CHARS = 64
"""Stream, call and account ids (Twilio's are 34 characters)."""
MAX_NAME_CHARS = 256
"""Mark names, tracks, protocol names, custom parameter names."""
MAX_PARAMETER_CHARS = 1024
MAX_PARAMETERS = 32
MAX_COUNTER = 2 ** 53
"""Largest sequence number, chunk or timestamp (exact in every JSON reader)."""
_MAX_NUMBER_DIGITS = 20

_FORBIDDEN_CHARS = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
"""Control characters, lone surrogates and non-characters: never in a Twilio id or name."""

CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


# -- errors -----------------------------------------------------------------------

class ProtocolError(SpeechError):
    """Raised when a websocket frame is not a Media Streams message we understand.

    Attributes:
        close_code: ``None`` when the stream can carry on without this frame
            (skip it); otherwise the websocket close code to end the stream with.
    """

    close_code: Optional[int] = None
    close_reason: str = ""
    """Short text for the websocket close frame (at most 123 bytes)."""


class MalformedMessage(ProtocolError):
    """Raised for a frame that is not JSON, not an object, or has a field of the wrong type or range.

    The frame is skipped: one bad frame must not end a caller's call.
    """


class UnknownEvent(ProtocolError):
    """Raised for a JSON object whose ``event`` is not one Twilio documents; the frame is skipped."""


class FrameTooLarge(ProtocolError):
    """Raised for a frame over :data:`MAX_MESSAGE_CHARS`, before any parsing; ends the stream (1009)."""

    close_code = CLOSE_TOO_BIG
    close_reason = "frame too large"


class BadStart(ProtocolError):
    """Raised for a ``start`` that cannot begin a stream (missing ids, bad parameters); ends it (1008)."""

    close_code = CLOSE_POLICY
    close_reason = "malformed start message"


class UnsupportedMediaFormat(BadStart):
    """Raised for a ``start`` whose audio is not 8 kHz mono mu-law, the only format we decode (1003)."""

    close_code = CLOSE_UNSUPPORTED
    close_reason = "unsupported media format"


class _Bad(ValueError):
    """A field failed validation; :func:`parse_message` re-raises it as the event's error class."""


# -- parsing ----------------------------------------------------------------------

def parse_message(text: str | bytes) -> InboundMessage:
    """Parse one websocket text frame from Twilio into a typed message.

    Every frame is bounded and validated here, so the session only ever sees
    well-formed messages: the size is checked before JSON parsing, numbers must
    be finite whole counters in range, ids and names are bounded text without
    control characters, and payloads are base64 of at most one second of audio.

    Raises:
        FrameTooLarge: the frame is over :data:`MAX_MESSAGE_CHARS`.
        MalformedMessage: not UTF-8 JSON, not an object, too deeply nested, or
            a field of a ``connected``/``media``/``dtmf``/``mark``/``stop`` is
            missing, of the wrong type or out of range.
        UnknownEvent: ``event`` is not one of Twilio's.
        BadStart: a ``start`` that cannot begin a stream.
        UnsupportedMediaFormat: a ``start`` announcing audio other than 8 kHz mono mu-law.
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > MAX_MESSAGE_CHARS:
            raise FrameTooLarge(f"media stream frame of {len(text)} bytes is over the "
                                f"{MAX_MESSAGE_CHARS}-byte limit; Twilio's frames are under 4 KB")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage("media stream frame is not UTF-8 text") from exc
    if not isinstance(text, str):
        raise MalformedMessage(f"media stream frame must be text, not {type(text).__name__}")
    if len(text) > MAX_MESSAGE_CHARS:
        raise FrameTooLarge(f"media stream frame of {len(text)} characters is over the "
                            f"{MAX_MESSAGE_CHARS}-character limit; Twilio's frames are under 4 KB")
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int,
                          parse_float=_finite_float)
    except RecursionError as exc:
        raise MalformedMessage("media stream frame is nested too deeply to be a Twilio message") from exc
    except _Bad as exc:
        raise MalformedMessage(f"media stream frame: {exc}") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise MalformedMessage(f"media stream frame is not JSON: {_preview(text)}") from exc
    if not isinstance(data, dict):
        raise MalformedMessage(f"media stream frame is a JSON {type(data).__name__}, not an object")
    event = data.get("event")
    parser = _PARSERS.get(event) if isinstance(event, str) else None
    if parser is None:
        raise UnknownEvent(f"unknown media stream event {_preview(event)}; "
                           f"expected one of {sorted(_PARSERS)}")
    try:
        return parser(data)
    except _Bad as exc:
        error = BadStart if event == "start" else MalformedMessage
        raise error(f"malformed {event!r} message: {exc}") from exc


def _preview(value: Any) -> str:
    """A short, printable rendering of a hostile value for a log line."""
    return _FORBIDDEN_CHARS.sub("?", repr(value)[:80])


def _no_constant(name: str) -> Any:
    raise _Bad(f"{name} is not a number Twilio sends")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > _MAX_NUMBER_DIGITS:
        raise _Bad(f"a {len(digits)}-digit number is out of range")
    return int(digits)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Bad(f"{literal[:40]} is out of range")
    return value


def _counter(d: Mapping[str, Any], key: str) -> int:
    """A sequence number, chunk or timestamp: Twilio sends whole numbers as strings ("12")."""
    value = d.get(key)
    if value is None or value == "":
        return 0
    if isinstance(value, str):
        if len(value) > _MAX_NUMBER_DIGITS or not (value.isascii() and value.isdigit()):
            raise _Bad(f"{key} must be a whole number, not {_preview(value)}")
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{key} must be a whole number, not {_preview(value)}")
    if not 0 <= value <= MAX_COUNTER:
        raise _Bad(f"{key} {value} is out of range 0..{MAX_COUNTER}")
    return value


def _text(d: Mapping[str, Any], key: str, limit: int, default: Optional[str] = None) -> str:
    """A bounded string field without control characters; required unless ``default`` is given."""
    value = d.get(key)
    if value is None:
        if default is None:
            raise _Bad(f"{key} is missing")
        return default
    return _checked_text(value, key, limit)


def _checked_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{what} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise _Bad(f"{what} is {len(value)} characters; at most {limit}")
    if _FORBIDDEN_CHARS.search(value):
        raise _Bad(f"{what} holds control or non-characters: {_preview(value)}")
    return value


def _obj(d: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
    value = d.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{key} must be an object")
    return value


def _parse_connected(d: Mapping[str, Any]) -> Connected:
    return Connected(protocol=_text(d, "protocol", MAX_NAME_CHARS, "Call"),
                     version=_text(d, "version", MAX_NAME_CHARS, ""))


def _parse_start(d: Mapping[str, Any]) -> Start:
    s = _obj(d, "start")
    stream_sid = _text(s, "streamSid", MAX_ID_CHARS, "") or _text(d, "streamSid", MAX_ID_CHARS)
    call_sid = _text(s, "callSid", MAX_ID_CHARS)
    if not stream_sid or not call_sid:
        raise _Bad("streamSid and callSid must not be empty")
    tracks = s.get("tracks") or ["inbound"]
    if not isinstance(tracks, list) or not 0 < len(tracks) <= 4:
        raise _Bad("start.tracks must be a list of one to four track names")
    params = _obj(s, "customParameters", required=False)
    if len(params) > MAX_PARAMETERS:
        raise _Bad(f"start.customParameters has {len(params)} entries; at most {MAX_PARAMETERS}")
    return Start(
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid=_text(s, "accountSid", MAX_ID_CHARS, ""),
        tracks=tuple(_checked_text(t, "start.tracks[]", MAX_NAME_CHARS) for t in tracks),
        custom_parameters={_checked_text(k, "a customParameters name", MAX_NAME_CHARS):
                           _checked_text(v, f"customParameters.{_preview(k)}", MAX_PARAMETER_CHARS)
                           for k, v in params.items()},
        media_format=_media_format(_obj(s, "mediaFormat", required=False)),
        sequence_number=_counter(d, "sequenceNumber"),
    )


def _media_format(fmt: Mapping[str, Any]) -> MediaFormat:
    """Only 8 kHz mono mu-law is decoded downstream; say so rather than mis-hear the caller."""
    encoding = fmt.get("encoding", "audio/x-mulaw")
    rate = fmt.get("sampleRate", 8000)
    channels = fmt.get("channels", 1)
    if (encoding, rate, channels) != ("audio/x-mulaw", 8000, 1) or isinstance(rate, bool) \
            or isinstance(channels, bool):
        raise UnsupportedMediaFormat(
            f"media stream format {_preview(encoding)} at {_preview(rate)} Hz, {_preview(channels)} "
            "channel(s) is not supported; Twilio Media Streams send audio/x-mulaw, 8000 Hz, 1 channel")
    return MediaFormat()


def _parse_media(d: Mapping[str, Any]) -> Media:
    m = _obj(d, "media")
    payload = m.get("payload")
    if not isinstance(payload, str):
        raise _Bad("media.payload must be base64 text")
    if len(payload) > (MAX_PAYLOAD_BYTES + 2) // 3 * 4:
        raise _Bad(f"media.payload is over {MAX_PAYLOAD_BYTES} bytes of audio; Twilio sends 160 a frame")
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Bad(f"media.payload is not base64: {exc}") from exc
    return Media(
        stream_sid=_text(d, "streamSid", MAX_ID_CHARS, ""),
        payload=audio,
        track=_text(m, "track", MAX_NAME_CHARS, "inbound"),
        chunk=_counter(m, "chunk"),
        timestamp=_counter(m, "timestamp"),
        sequence_number=_counter(d, "sequenceNumber"),
    )


def _parse_dtmf(d: Mapping[str, Any]) -> Dtmf:
    m = _obj(d, "dtmf")
    digit = _text(m, "digit", 1)
    if len(digit) != 1 or digit not in "0123456789*#ABCD":
        raise _Bad(f"bad DTMF digit {_preview(digit)}; expected one of 0-9 * # A-D")
    return Dtmf(stream_sid=_text(d, "streamSid", MAX_ID_CHARS, ""), digit=digit,
                track=_text(m, "track", MAX_NAME_CHARS, "inbound_track"),
                sequence_number=_counter(d, "sequenceNumber"))


def _parse_mark(d: Mapping[str, Any]) -> Mark:
    m = _obj(d, "mark")
    return Mark(stream_sid=_text(d, "streamSid", MAX_ID_CHARS, ""), name=_text(m, "name", MAX_NAME_CHARS),
                sequence_number=_counter(d, "sequenceNumber"))


def _parse_stop(d: Mapping[str, Any]) -> Stop:
    s = _obj(d, "stop", required=False)
    return Stop(stream_sid=_text(d, "streamSid", MAX_ID_CHARS, ""),
                call_sid=_text(s, "callSid", MAX_ID_CHARS, ""),
                account_sid=_text(s, "accountSid", MAX_ID_CHARS, ""),
                sequence_number=_counter(d, "sequenceNumber"))


_PARSERS = {
    "connected": _parse_connected,
    "start": _parse_start,
    "media": _parse_media,
    "dtmf": _parse_dtmf,
    "mark": _parse_mark,
    "stop": _parse_stop,
}


# -- reading one stream -------------------------------------------------------------

class FrameReader:
    """Parses one stream's frames the way every ``/media`` loop must treat them.

    A frame that can be skipped (:class:`MalformedMessage`, :class:`UnknownEvent`)
    yields ``None`` and is logged: the first at warning, the rest at debug and
    counted, so a misbehaving peer cannot flood the log at 50 frames a second.
    A frame that must end the stream (its error has a ``close_code``) is raised.

    Args:
        label: names the stream in log lines (``call CA123``).
        logger: where to log.
    """

    def __init__(self, label: str, logger: logging.Logger) -> None:
        self.label = label
        self.log = logger
        self.skipped = 0

    def read(self, text: str | bytes) -> Optional[InboundMessage]:
        """The frame's message, or ``None`` when it is skipped.

        Raises:
            ProtocolError: with a ``close_code``: close the socket with it.
        """
        try:
            return parse_message(text)
        except ProtocolError as exc:
            if exc.close_code is not None:
                self.log.warning("%s: closing the media stream (%d): %s", self.label, exc.close_code, exc)
                raise
            self.skipped += 1
            level = logging.WARNING if self.skipped == 1 else logging.DEBUG
            self.log.log(level, "%s: skipped a media stream frame: %s", self.label, exc)
            return None

    def finish(self) -> None:
        """Log how many frames were skipped in all, once, when the stream ends."""
        if self.skipped > 1:
            self.log.warning("%s: skipped %d malformed media stream frames in all", self.label, self.skipped)


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
