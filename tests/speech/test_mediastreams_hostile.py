"""Hostile Media Streams frames (issue 8, finding 7): bounded, validated, typed errors only.

A frame of 100,000 ``[`` raised ``RecursionError`` and ``"sampleRate": 1e400``
an ``OverflowError`` out of ``parse_message``. Every frame now either parses
into a message whose fields are in range or raises a :class:`ProtocolError`
that says whether to skip the frame or close the stream.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.speech import mediastreams as MS

MEDIA = {"event": "media", "sequenceNumber": "3", "streamSid": "MZ1",
         "media": {"track": "inbound", "chunk": "1", "timestamp": "20",
                   "payload": base64.b64encode(b"\xff" * 160).decode()}}
START = {"event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
         "start": {"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
                   "customParameters": {"call_sid": "CA1", "token": "t"},
                   "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}


def _with(base: dict[str, Any], path: str, value: Any) -> str:
    msg = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    node = msg
    for key in parents:
        node = node[key]
    node[last] = value
    return json.dumps(msg)


def _raw(base: dict[str, Any], path: str, literal: str) -> str:
    """``base`` with the value at ``path`` replaced by a raw JSON literal (1e400, NaN, 10**5000)."""
    return _with(base, path, "@@RAW@@").replace('"@@RAW@@"', literal)


SKIPPED = {
    "100,000 nested brackets within the size limit": "[" * 60_000,
    "nested objects": '{"a":' * 12_000,
    "not JSON": "not json",
    "a JSON array": "[1, 2]",
    "a JSON string": '"media"',
    "not UTF-8": b"\xff\xfe\xfd",
    "unknown event": '{"event": "bogus"}',
    "event not a string": '{"event": ["media"]}',
    "sampleRate 1e400 (inf)": _raw(START, "start.mediaFormat.sampleRate", "1e400"),
    "NaN": _raw(MEDIA, "sequenceNumber", "NaN"),
    "-Infinity": _raw(MEDIA, "media.chunk", "-Infinity"),
    "a 5000-digit integer": _raw(MEDIA, "sequenceNumber", "9" * 5000),
    "a negative chunk": _with(MEDIA, "media.chunk", -1),
    "a negative chunk as text": _with(MEDIA, "media.chunk", "-1"),
    "a fractional timestamp": _with(MEDIA, "media.timestamp", 1.5),
    "a counter past 2**53": _with(MEDIA, "sequenceNumber", 2 ** 60),
    "a boolean counter": _with(MEDIA, "sequenceNumber", True),
    "payload not base64": _with(MEDIA, "media.payload", "@@not base64@@"),
    "payload a number": _with(MEDIA, "media.payload", 12),
    "payload over a second of audio": _with(MEDIA, "media.payload", base64.b64encode(b"\xff" * 9000).decode()),
    "media not an object": _with(MEDIA, "media", "x"),
    "a NUL in the stream id": _with(MEDIA, "streamSid", "MZ\x00"),
    "a lone surrogate in a mark name": '{"event": "mark", "mark": {"name": "\\ud800"}}',
    "a 10 KB mark name": json.dumps({"event": "mark", "mark": {"name": "m" * 10_000}}),
    "a DTMF digit list": '{"event": "dtmf", "dtmf": {"digit": ["1"]}}',
    "a DTMF word": '{"event": "dtmf", "dtmf": {"digit": "one"}}',
    "stop not an object": '{"event": "stop", "stop": []}',
}

CLOSING = {
    "100,000 brackets": ("[" * 100_000, MS.FrameTooLarge, 1009),
    "a 70 KB media frame": (_with(MEDIA, "streamSid", "x" * 70_000), MS.FrameTooLarge, 1009),
    "70 KB of bytes": (b"{" * 70_000, MS.FrameTooLarge, 1009),
    "start without ids": ('{"event": "start", "start": {}}', MS.BadStart, 1008),
    "start with a NUL in callSid": (_with(START, "start.callSid", "CA\x00"), MS.BadStart, 1008),
    "start with U+FFFF in a parameter": (_with(START, "start.customParameters.token", "\uffff"), MS.BadStart, 1008),
    "start with an object parameter": (_with(START, "start.customParameters.token", {"a": 1}), MS.BadStart, 1008),
    "start with 100 parameters": (_with(START, "start.customParameters", {f"p{i}": "v" for i in range(100)}),
                                  MS.BadStart, 1008),
    "start with tracks a string": (_with(START, "start.tracks", "inbound"), MS.BadStart, 1008),
    "start at 16 kHz": (_with(START, "start.mediaFormat.sampleRate", 16000), MS.UnsupportedMediaFormat, 1003),
    "start with a negative rate": (_with(START, "start.mediaFormat.sampleRate", -8000),
                                   MS.UnsupportedMediaFormat, 1003),
    "start in stereo": (_with(START, "start.mediaFormat.channels", 2), MS.UnsupportedMediaFormat, 1003),
    "start in L16": (_with(START, "start.mediaFormat.encoding", "audio/l16"), MS.UnsupportedMediaFormat, 1003),
}


@pytest.mark.parametrize("frame", SKIPPED.values(), ids=SKIPPED.keys())
def test_malformed_frames_are_skipped_with_a_typed_error(frame: str | bytes) -> None:
    with pytest.raises(MS.ProtocolError) as err:
        MS.parse_message(frame)
    assert isinstance(err.value, (MS.MalformedMessage, MS.UnknownEvent))
    assert err.value.close_code is None
    assert len(str(err.value)) < 400 and "\x00" not in str(err.value)


@pytest.mark.parametrize("frame,error,code", CLOSING.values(), ids=CLOSING.keys())
def test_frames_that_cannot_go_on_close_the_stream_with_a_reason(frame: str | bytes, error: type, code: int) -> None:
    with pytest.raises(error) as err:
        MS.parse_message(frame)
    assert err.value.close_code == code
    assert 0 < len(err.value.close_reason.encode()) <= 123          # fits a websocket close frame


def test_oversized_frames_are_refused_before_json_parsing() -> None:
    frame = "[" * 10_000_000                                         # would take seconds to parse, then recurse
    t0 = time.perf_counter()
    with pytest.raises(MS.FrameTooLarge):
        MS.parse_message(frame)
    assert time.perf_counter() - t0 < 0.01


def test_unsupported_format_says_what_twilio_sends() -> None:
    with pytest.raises(MS.UnsupportedMediaFormat, match="audio/x-mulaw, 8000 Hz, 1 channel"):
        MS.parse_message(CLOSING["start at 16 kHz"][0])


def test_twilio_counters_as_text_or_numbers_still_parse() -> None:
    msg = MS.parse_message(_with(_with_obj(MEDIA, "media.chunk", 7), "sequenceNumber", 12))
    assert isinstance(msg, MS.Media) and (msg.chunk, msg.sequence_number, msg.timestamp) == (7, 12, 20)
    assert MS.parse_message(_with(START, "start.mediaFormat.sampleRate", 8000.0)).media_format.sample_rate == 8000


def _with_obj(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    return json.loads(_with(base, path, value))


# -- fuzz ----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10 ** 30), max_value=10 ** 30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
_fields = {
    "media": ["event", "streamSid", "sequenceNumber", "media", "media.payload", "media.track", "media.chunk",
              "media.timestamp"],
    "start": ["event", "streamSid", "start", "start.callSid", "start.streamSid", "start.tracks",
              "start.customParameters", "start.customParameters.token", "start.mediaFormat",
              "start.mediaFormat.sampleRate", "start.mediaFormat.channels", "start.mediaFormat.encoding"],
}


def _assert_sane(msg: MS.InboundMessage) -> None:
    """Whatever parses is in range: bounded text without control characters, counters 0..2**53."""
    for name, value in vars(msg).items():
        if isinstance(value, str):
            assert len(value) <= MS.MAX_PARAMETER_CHARS and not any(ord(c) < 32 for c in value), name
        elif isinstance(value, int):
            assert 0 <= value <= MS.MAX_COUNTER, name
        elif isinstance(value, bytes):
            assert len(value) <= MS.MAX_PAYLOAD_BYTES
    if isinstance(msg, MS.Start):
        assert msg.call_sid and msg.stream_sid and msg.media_format == MS.MediaFormat()
        assert all(isinstance(v, str) for v in msg.custom_parameters.values())


def _parse_or_protocol_error(frame: str | bytes) -> None:
    t0 = time.perf_counter()
    try:
        msg = MS.parse_message(frame)
    except MS.ProtocolError as exc:
        assert exc.close_code in (None, 1003, 1008, 1009)
    else:
        _assert_sane(msg)
    assert time.perf_counter() - t0 < 0.5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(_fields)), data=st.data())
def test_fuzzed_fields_give_a_sane_message_or_a_protocol_error(kind: str, data: st.DataObject) -> None:
    base = MEDIA if kind == "media" else START
    path = data.draw(st.sampled_from(_fields[kind]))
    value = data.draw(_json)
    try:
        frame = _with(base, path, value)
    except (TypeError, KeyError):                # the parent was replaced by a non-object earlier: skip
        return
    _parse_or_protocol_error(frame)


@settings(max_examples=150, deadline=None)
@given(frame=st.one_of(st.text(max_size=200), st.binary(max_size=200),
                       st.sampled_from([json.dumps(MEDIA), json.dumps(START)]).flatmap(
                           lambda s: st.tuples(st.integers(0, len(s)), st.text(max_size=8)).map(
                               lambda cut: s[:cut[0]] + cut[1] + s[cut[0] + 1:]))))
def test_fuzzed_bytes_and_mutated_frames_never_escape_as_other_errors(frame: str | bytes) -> None:
    _parse_or_protocol_error(frame)


@settings(max_examples=60, deadline=None)
@given(depth=st.integers(1, 70_000), opener=st.sampled_from(["[", '{"a":', '{"event":"media","media":']))
def test_any_nesting_depth_is_a_protocol_error_not_a_recursion_error(depth: int, opener: str) -> None:
    _parse_or_protocol_error(opener * depth)
