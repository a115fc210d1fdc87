import wave

import numpy as np
import pytest

from ivr.errors import SpeechError
from ivr.speech.codec import (StreamResampler, duration_ms, pcm16_to_ulaw, phone_line, read_wav,
                              resample, ulaw_to_pcm16, write_wav)


def tone(freq=440.0, ms=1000, rate=8000, amp=8000):
    t = np.arange(rate * ms // 1000) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def test_ulaw_roundtrip_is_close():
    pcm = tone()
    ulaw = pcm16_to_ulaw(pcm)
    assert len(ulaw) == len(pcm) // 2
    back = np.frombuffer(ulaw_to_pcm16(ulaw), "<i2").astype(float)
    orig = np.frombuffer(pcm, "<i2").astype(float)
    assert np.max(np.abs(back - orig)) < 8000 * 0.05
    assert phone_line(pcm) == ulaw_to_pcm16(ulaw)


def test_odd_length_rejected():
    with pytest.raises(SpeechError):
        pcm16_to_ulaw(b"\x00\x01\x02")


@pytest.mark.parametrize("src,dst", [(8000, 16000), (16000, 8000), (22050, 8000), (8000, 8000)])
def test_resample_length(src, dst):
    pcm = tone(rate=src)
    out = resample(pcm, src, dst)
    assert abs(len(out) // 2 - dst) <= 2


def test_stream_resampler_matches_length_and_has_no_clicks():
    pcm = tone(ms=2000)
    rs = StreamResampler(8000, 16000)
    out = b"".join(rs.process(pcm[i:i + 333]) for i in range(0, len(pcm), 333)) + rs.flush()
    assert abs(len(out) // 2 - 32000) <= 4
    x = np.frombuffer(out, "<i2").astype(float)[200:-200]
    # A clean 440 Hz tone at 16 kHz changes by at most ~1400 per sample.
    assert np.max(np.abs(np.diff(x))) < 1600


def test_read_wav_converts_stereo_16k(tmp_path):
    mono = tone(rate=16000)
    stereo = np.repeat(np.frombuffer(mono, "<i2"), 2).astype("<i2").tobytes()
    path = tmp_path / "s.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2); w.setsampwidth(2); w.setframerate(16000); w.writeframes(stereo)
    pcm = read_wav(path, 8000)
    assert duration_ms(pcm) == 1000
    write_wav(tmp_path / "m.wav", pcm, 8000)
    assert read_wav(tmp_path / "m.wav") == pcm


def test_read_wav_errors(tmp_path):
    with pytest.raises(SpeechError, match="no such"):
        read_wav(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav")
    with pytest.raises(SpeechError, match="sox"):
        read_wav(bad)


def test_stream_resampling_is_the_same_every_time():
    # soxr dithers int16 output with a random seed: the same call audio used to reach the
    # recogniser as different samples on every call, and decode differently (issue 9, item 2).
    from ivr.speech.codec import StreamResampler
    from ivr.speech.synth import synthesize
    pcm = synthesize("lost card", "espeak:en-us+m3", lead_ms=200, trail_ms=200)
    outs = set()
    for _ in range(4):
        r = StreamResampler(8000, 16000)
        outs.add(b"".join(r.process(pcm[k:k + 320]) for k in range(0, len(pcm), 320)) + r.flush())
    assert len(outs) == 1
    (out,) = outs
    assert abs(len(out) - 2 * len(pcm)) <= 64
