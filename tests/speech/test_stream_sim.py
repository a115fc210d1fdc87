"""The speech layer as the simulator sees it: say_audio in-process, remote calls over the stream, the tap."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ivr.speech.codec import write_wav
from ivr.speech.synth import synthesize
from ivr.speech.tap import VoiceTap
from tests.conftest import API_TOKEN, AUTH_TOKEN, FLOWS, ROOT


def _wav(path: Path, text: str, voice: str = "flite:kal") -> Path:
    write_wav(path, synthesize(text, voice, lead_ms=300, trail_ms=300))
    return path


def test_say_audio_scripts_in_process(tmp_path: Path, run_ivr_sim) -> None:
    _wav(tmp_path / "cards.wav", "lost card")
    _wav(tmp_path / "agent.wav", "representative", "flite:slt")
    (tmp_path / "silent.wav").write_bytes(b"")
    write_wav(tmp_path / "silent.wav", b"\x00\x00" * 8000)
    (tmp_path / "acme_cards_by_audio.yaml").write_text(
        "flow: acme\nsteps:\n  - say_audio: cards.wav\n"
        "  - expect: {transfer: cards, context: {reason: lost_card}}\n")
    (tmp_path / "acme_agent_by_audio.yaml").write_text(
        "flow: acme\nsteps:\n  - say_audio: silent.wav\n  - expect: {node: main}\n"
        "  - say_audio: agent.wav\n  - expect: {transfer: general, context: {reason: caller_request}}\n")
    out = run_ivr_sim(tmp_path / "acme_cards_by_audio.yaml", tmp_path / "acme_agent_by_audio.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_say_audio_listens_on_through_a_hesitation_as_the_line_does(tmp_path: Path, run_ivr_sim) -> None:
    # "um", a pause that ends the utterance, then the answer: the script reaches cards in one turn,
    # as a streamed call does; "um" alone is no answer, and nothing after it is no input.
    um = synthesize("um", "flite:kal", lead_ms=300, trail_ms=0)
    write_wav(tmp_path / "um_cards.wav", um + b"\x00\x00" * 8 * 1200 + synthesize("lost card", "flite:kal",
                                                                                   lead_ms=0, trail_ms=300))
    write_wav(tmp_path / "um.wav", um + b"\x00\x00" * 8 * 1200)
    write_wav(tmp_path / "um3.wav", (um + b"\x00\x00" * 8 * 1200) * 3)
    (tmp_path / "acme_um_cards.yaml").write_text(
        "flow: acme\nsteps:\n  - say_audio: um_cards.wav\n"
        "  - expect: {transfer: cards, context: {reason: lost_card}}\n")
    (tmp_path / "acme_um.yaml").write_text(
        "flow: acme\nsteps:\n  - say_audio: um.wav\n  - expect: {node: main, prompt_contains: \"didn't hear anything\"}\n")
    (tmp_path / "acme_um3.yaml").write_text(
        "flow: acme\nsteps:\n  - say_audio: um3.wav\n  - expect: {node: main, prompt_contains: \"didn't catch that\"}\n")
    out = run_ivr_sim(tmp_path / "acme_um_cards.yaml", tmp_path / "acme_um.yaml", tmp_path / "acme_um3.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture
def run_ivr_sim():
    from tests.conftest import run_ivr

    def run(*scripts: Path, server: str | None = None, env: dict | None = None):
        args = ["simulate", "--flows", str(FLOWS), *map(str, scripts)]
        if server:
            args += ["--server", server]
        return run_ivr(*args, env=env)
    return run


def test_remote_simulator_over_the_stream(make_app, tmp_path: Path) -> None:
    """RemoteCall against a live server: press, say, say_audio, silence over the media stream."""
    from werkzeug.serving import make_server

    from ivr.sim import RemoteCall, parse_script, run_script

    app = make_app(media_streams=True, secret_key="k", extra={"prompt_background": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    base = f"http://127.0.0.1:{server.server_port}"
    _wav(tmp_path / "cards.wav", "lost card", "flite:awb")
    scripts = {
        "lost_card": (ROOT / "tests/calls/acme_lost_card.yaml").read_text(),
        "by_voice": "flow: acme\nsteps:\n  - expect: {prompt_contains: Welcome, node: main}\n"
                    "  - silence: 6\n  - expect: {node: main}\n  - say: balance\n"
                    "  - expect: {prompt_contains: [42 dollars, Goodbye], ended: true}\n",
        "by_audio": "flow: acme\nsteps:\n  - say_audio: cards.wav\n"
                    "  - expect: {transfer: cards, context: {reason: lost_card}}\n",
    }
    try:
        for name, text in scripts.items():
            script = parse_script(text, name)
            result = run_script(script, lambda s: RemoteCall(base, s.flow, s.caller, s.called, AUTH_TOKEN, API_TOKEN,
                                                             timeout=20, base_dir=str(tmp_path)))
            assert result.passed, (name, result.failures)
    finally:
        server.shutdown()
        server.server_close()


def test_tap_is_bounded_and_per_call() -> None:
    tap = VoiceTap(keep_ms=100, max_calls=2, queue_frames=3)
    sub = tap.subscribe("A")
    for i in range(10):
        tap.publish("A", bytes([i]) * 320)
    tap.publish("B", b"b" * 320)
    assert tap.recent("A") == b"".join(bytes([i]) * 320 for i in range(5, 10))  # 100 ms = 5 frames kept
    got = sub.drain()
    assert len(got) == 3 * 320 and sub.dropped == 7                             # slow reader drops the oldest
    tap.publish("C", b"c" * 320)
    assert tap.calls() == ["B", "C"]                                            # oldest call forgotten
    tap.end("A")
    assert sub.get(0.1) is None and sub.ended
    sub.close()


def test_cli_simulate_against_serve(tmp_path: Path, run_ivr_sim) -> None:
    """``python -m ivr simulate --server`` against ``IVR_MEDIA_STREAMS=1 python -m ivr serve``."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_DEV="1", IVR_INSTANCE_DIR=str(tmp_path / "inst"), IVR_AUDIO_DIR=str(tmp_path / "audio"),
               IVR_FLOWS_DIR=str(FLOWS), IVR_SECRET_KEY="k", IVR_MEDIA_STREAMS="1")
    proc = subprocess.Popen([sys.executable, "-m", "ivr", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        script = tmp_path / "acme_voice.yaml"
        script.write_text("flow: acme\nsteps:\n  - say: lost card\n"
                          "  - expect: {transfer: cards, context: {reason: lost_card}}\n")
        out = run_ivr_sim(ROOT / "tests/calls/acme_lost_card.yaml", script, server=f"http://127.0.0.1:{port}",
                          env={"IVR_DEV": "1"})
        assert out.returncode == 0, out.stdout + out.stderr
        assert "2 passed" in out.stdout
    finally:
        proc.terminate()
        proc.wait(10)
