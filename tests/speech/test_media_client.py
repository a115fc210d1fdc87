"""The Twilio-side test client against a tiny echo server on 127.0.0.1."""

import socket
import threading
import time

import pytest
from simple_websocket import ConnectionClosed, Server

from ivr.speech.mediastreams import Media, Start, clear_message, mark_message, media_message, parse_message
from ivr.sim.media_client import MediaStreamClient


def _environ(conn):
    """Read the HTTP upgrade request off a raw socket as a WSGI-like environ."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("client went away during handshake")
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    env = {"werkzeug.socket": conn}
    for line in head[1:]:
        key, _, value = line.partition(":")
        env["HTTP_" + key.strip().upper().replace("-", "_")] = value.strip()
    return env


class EchoServer:
    """Accepts one websocket; echoes each inbound media frame back, then a mark per 10 frames.

    On a dtmf ``9`` it sends a lot of audio, a mark, then ``clear``.
    """

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.inbound = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn, _ = self.sock.accept()
        conn.settimeout(10)
        ws = Server(_environ(conn))
        sid, n = "", 0
        try:
            while True:
                text = ws.receive(timeout=10)
                if text is None:
                    break
                msg = parse_message(text)
                self.inbound.append(msg)
                if isinstance(msg, Start):
                    sid = msg.stream_sid
                elif isinstance(msg, Media):
                    ws.send(media_message(sid, msg.payload))
                    n += 1
                    if n % 10 == 0:
                        ws.send(mark_message(sid, f"m{n}"))
                elif getattr(msg, "digit", None) == "9":
                    ws.send(media_message(sid, b"\x00" * 8000 * 5))
                    ws.send(mark_message(sid, "long"))
                    time.sleep(0.1)
                    ws.send(clear_message(sid))
                elif type(msg).__name__ == "Stop":
                    break
        except ConnectionClosed:
            pass
        finally:
            try:
                ws.close()
            except (ConnectionClosed, OSError):  # the client may have closed the socket first
                pass
            self.sock.close()


@pytest.fixture
def server():
    s = EchoServer()
    yield s
    s.thread.join(timeout=5)


def test_stream_marks_dtmf_clear(server):
    url = f"ws://127.0.0.1:{server.port}/media"
    with MediaStreamClient(url, speed=4.0, timeout=5) as client:
        client.connect({"flow": "acme", "call_id": "c1"})
        client.send_pcm(b"\x00\x10" * 8000)          # 1 s of audio = 50 frames
        assert client.wait_for_mark("m50")
        assert client.received.echoed_marks[:5] == ["m10", "m20", "m30", "m40", "m50"]
        assert len(client.received.played) == 50 * 160
        client.send_dtmf("9")
        assert client.wait_for_mark("long", timeout=3)
        assert client.received.clears == 1
        assert len(client.received.played) < 50 * 160 + 40000   # most was dropped
        client.send_stop()
    start = server.inbound[1]
    assert isinstance(start, Start) and start.custom_parameters == {"flow": "acme", "call_id": "c1"}
    media = [m for m in server.inbound if isinstance(m, Media)]
    assert len(media) == 50 and all(len(m.payload) == 160 for m in media)
    assert [m.chunk for m in media[:3]] == [1, 2, 3]


def test_real_time_pace(server):
    url = f"ws://127.0.0.1:{server.port}/media"
    with MediaStreamClient(url, speed=1.0, timeout=5) as client:
        client.connect()
        t = time.monotonic()
        client.send_silence(400)
        assert 0.35 <= time.monotonic() - t <= 1.0
        client.send_stop()
