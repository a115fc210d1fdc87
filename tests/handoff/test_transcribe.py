"""Voicemail transcription: RecordingUrl fetched from a local fake server, recogniser behind a protocol."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop
import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.handoff.records import HandoffRecords
from ivr.handoff.transcribe import PocketsphinxRecognizer, Transcriber, fetch_recording, wav_to_pcm8k
from ivr.web import parts
from tests.handoff.fakes import FakeRecognizer, LocalServer
from tests.handoff.helpers import Caller, make_app

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "handoff-audio"


def tone_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def phone_wav(text: str, voice: str = "slt") -> bytes:
    """Speech synthesised by flite, passed through 8 kHz mu-law like a phone line (cached)."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (apt-get install flite)")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{voice}-{abs(hash(text)) % 10**8}.wav"
    if not out.exists():
        raw = CACHE / "raw.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
        with wave.open(str(raw)) as w:
            rate, frames = w.getframerate(), w.readframes(w.getnframes())
        import soxr
        x = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
        pcm = (soxr.resample(x, rate, 8000) * 32767).astype("<i2").tobytes()
        pcm = audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(pcm)
    return out.read_bytes()


def test_wav_conversion_to_phone_pcm():
    assert len(wav_to_pcm8k(tone_wav(1.0, 8000))) == 16000
    assert abs(len(wav_to_pcm8k(tone_wav(1.0, 16000))) - 16000) <= 4


def test_fetch_appends_wav_and_retries(tmp_path):
    with LocalServer({"/rec/RE1.wav": (200, {"Content-Type": "audio/wav"}, b"RIFFdata")}) as s:
        assert fetch_recording(s.url + "/rec/RE1") == b"RIFFdata"
        assert s.gets == ["/rec/RE1.wav"]


def test_transcriber_with_fake_recogniser(tmp_path):
    recs = HandoffRecords(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    fake = FakeRecognizer()
    with LocalServer({"/rec/RE1.wav": (200, {}, tone_wav(2.0))}) as s:
        vm = recs.add_voicemail(call_id="CA1", at=0, recording_url=s.url + "/rec/RE1", recording_sid="RE1")
        hyp = Transcriber(recs, recognizer=fake).transcribe(vm["id"])
    assert hyp.text == "please call me back about my card" and fake.fed == 32000 and fake.grammars == [None]
    got = recs.get("voicemail", vm["id"])
    assert got["transcript"] == hyp.text and got["backend"] == "fake" and got["transcript_status"] == "done"


def test_download_failure_is_recorded_not_raised(tmp_path):
    recs = HandoffRecords(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    with LocalServer({"/rec/bad.wav": (200, {}, b"not a wav")}) as s:
        vm = recs.add_voicemail(call_id="CA1", at=0, recording_url=s.url + "/rec/bad")
        assert Transcriber(recs, recognizer=FakeRecognizer()).transcribe(vm["id"]) is None
    assert recs.get("voicemail", vm["id"])["transcript_status"] == "failed"


def test_recording_webhook_transcribes_with_pocketsphinx(tmp_path):
    """The real path: Twilio's status callback -> download -> pocketsphinx -> stored transcript."""
    audio = phone_wav("please call me back about my credit card", voice="rms")
    with LocalServer({"/rec/RE2.wav": (200, {"Content-Type": "audio/wav"}, audio)}) as s:
        app, _ = make_app(tmp_path, voicemail_transcribe="inline")
        try:
            client = app.test_client()
            caller = Caller(client)
            caller.start()
            caller.press("main", "5")
            caller.post("/voice/queue/voicemail/recorded", RecordingUrl=s.url + "/rec/RE2",
                        RecordingSid="RE" + "2" * 32, RecordingStatus="completed", RecordingDuration="3")
            vm = parts(app).handoff.records.list("voicemail")[0]
        finally:
            parts(app).handoff.close()
            parts(app).services.close()
    assert vm["transcript_status"] == "done" and vm["backend"] == "pocketsphinx"
    words = set(vm["transcript"].split())
    assert {"credit", "card"} <= words, vm["transcript"]  # dictation on phone audio is rough; the words that route must be there


def test_pocketsphinx_recogniser_follows_the_speech_protocol():
    session = PocketsphinxRecognizer().start(None)
    session.accept(wav_to_pcm8k(tone_wav(0.5)))
    hyp = session.finish()
    assert hyp.backend == "pocketsphinx" and 0.0 <= hyp.confidence <= 1.0
