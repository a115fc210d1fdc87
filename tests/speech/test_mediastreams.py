import base64
import json

import pytest

from ivr.speech.mediastreams import (Connected, Dtmf, Mark, Media, ProtocolError, Start, Stop,
                                     clear_message, mark_message, media_message, parse_message)

# Shapes as in Twilio's "Media Streams - WebSocket Messages" reference.
CONNECTED = '{"event": "connected", "protocol": "Call", "version": "1.0.0"}'
START = json.dumps({
    "event": "start", "sequenceNumber": "1",
    "start": {"accountSid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
              "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
              "callSid": "CAXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
              "tracks": ["inbound", "outbound"],
              "customParameters": {"FirstName": "Jane", "LastName": "Doe"},
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"})
MEDIA = json.dumps({
    "event": "media", "sequenceNumber": "3",
    "media": {"track": "outbound", "chunk": "1", "timestamp": "5",
              "payload": base64.b64encode(b"\xff\x7f\x00").decode()},
    "streamSid": "MZXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"})
DTMF = json.dumps({"event": "dtmf", "streamSid": "MZ1", "sequenceNumber": "5",
                   "dtmf": {"track": "inbound_track", "digit": "1"}})
MARK = json.dumps({"event": "mark", "sequenceNumber": "4", "streamSid": "MZ1",
                   "mark": {"name": "my label"}})
STOP = json.dumps({"event": "stop", "sequenceNumber": "5",
                   "stop": {"accountSid": "AC1", "callSid": "CA1"}, "streamSid": "MZ1"})


def test_parse_documented_examples():
    assert parse_message(CONNECTED) == Connected("Call", "1.0.0")
    start = parse_message(START)
    assert isinstance(start, Start)
    assert start.stream_sid.startswith("MZ") and start.call_sid.startswith("CA")
    assert start.custom_parameters == {"FirstName": "Jane", "LastName": "Doe"}
    assert start.tracks == ("inbound", "outbound") and start.media_format.sample_rate == 8000
    media = parse_message(MEDIA)
    assert isinstance(media, Media) and media.payload == b"\xff\x7f\x00"
    assert (media.track, media.chunk, media.timestamp, media.sequence_number) == ("outbound", 1, 5, 3)
    assert parse_message(DTMF) == Dtmf("MZ1", "1", "inbound_track", 5)
    assert parse_message(MARK) == Mark("MZ1", "my label", 4)
    assert parse_message(STOP) == Stop("MZ1", "CA1", "AC1", 5)


@pytest.mark.parametrize("bad", [
    "not json", "[]", '{"event": "bogus"}', '{"noevent": 1}',
    '{"event": "media", "media": {"payload": "@@not base64@@"}}',
    '{"event": "start", "start": {}}', '{"event": "dtmf", "dtmf": {"digit": "x"}}',
    '{"event": "mark", "mark": "x"}'])
def test_garbage_raises_protocol_error(bad):
    with pytest.raises(ProtocolError):
        parse_message(bad)


def test_builders():
    m = json.loads(media_message("MZ1", b"\x01\x02"))
    assert m == {"event": "media", "streamSid": "MZ1", "media": {"payload": "AQI="}}
    assert json.loads(mark_message("MZ1", "p1")) == {"event": "mark", "streamSid": "MZ1",
                                                     "mark": {"name": "p1"}}
    assert json.loads(clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
