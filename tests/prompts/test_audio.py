"""Telephone audio conversion, WAV reading and writing, frames."""

from __future__ import annotations

import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import PromptError
from ivr.prompts import audio
from ivr.prompts.audio import (
    FRAME_BYTES,
    TelephoneAudio,
    active_level_dbfs,
    convert_file,
    mulaw_wav_bytes,
    read_frames,
    read_mulaw_wav,
    read_wav,
    read_wav_info,
    to_telephone,
    write_telephone_files,
)


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.1,
         lead: float = 0.0, tail: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = amp * np.sin(2 * np.pi * freq * t)
    return np.concatenate([np.zeros(int(lead * rate)), x, np.zeros(int(tail * rate))]).astype(np.float32)


def write_pcm_wav(path: Path, x: np.ndarray, rate: int, bits: int = 16, tag: int = 1) -> None:
    x = x if x.ndim == 2 else x.reshape(-1, 1)
    ch = x.shape[1]
    flat = x.reshape(-1)
    if tag == 3:
        data = flat.astype("<f4").tobytes()
    elif bits == 8:
        data = (np.clip(flat * 127 + 128, 0, 255)).astype(np.uint8).tobytes()
    elif bits == 16:
        data = (flat * 32767).astype("<i2").tobytes()
    elif bits == 24:
        v = (flat * 8388607).astype("<i4")
        data = b"".join(int(s).to_bytes(4, "little", signed=True)[:3] for s in v)
    else:
        data = (flat * 2147483647).astype("<i4").tobytes()
    fmt = struct.pack("<HHIIHH", tag, ch, rate, rate * ch * bits // 8, ch * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"LIST" + struct.pack("<I", 4) \
        + b"INFO" + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def test_numpy_mulaw_matches_audioop_bit_for_bit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    pcm = np.arange(-32768, 32768, dtype=np.int16)
    assert audio._ulaw_encode_np(pcm) == audioop.lin2ulaw(pcm.tobytes(), 2)
    codes = bytes(range(256))
    expect = np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2")
    assert np.array_equal(audio._ulaw_decode_np(codes), expect)


def test_mulaw_wav_header_is_format_7(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10 + b"\x01"  # odd length: RIFF pad byte
    p = tmp_path / "x.wav"
    p.write_bytes(mulaw_wav_bytes(data))
    info = read_wav_info(p)
    assert (info.format_tag, info.channels, info.sample_rate, info.bits_per_sample) == (7, 1, 8000, 8)
    assert read_mulaw_wav(p) == data
    raw = p.read_bytes()
    assert struct.unpack("<I", raw[4:8])[0] == len(raw) - 8
    assert struct.unpack("<IH", raw[16:22]) == (18, 7)  # 18-byte fmt (cbSize), tag 7
    assert raw[38:42] == b"fact" and struct.unpack("<I", raw[46:50])[0] == len(data)


@pytest.mark.skipif(not shutil.which("soxi"), reason="soxi not installed")
def test_sox_reads_our_mulaw_wav(tmp_path: Path) -> None:
    p = tmp_path / "x.wav"
    write_telephone_files(to_telephone(tone(1.0, 8000), 8000, trim=False), p, tmp_path / "x.ulaw")
    out = subprocess.run(["soxi", str(p)], capture_output=True, text=True, check=True).stdout
    assert "u-law" in out and "8000" in out and "Channels       : 1" in out


@pytest.mark.parametrize("bits,tag", [(8, 1), (16, 1), (24, 1), (32, 1), (32, 3)])
def test_read_wav_pcm_and_float(tmp_path: Path, bits: int, tag: int) -> None:
    x = np.stack([tone(0.1, 16000, amp=0.5), tone(0.1, 16000, amp=0.25)], axis=1)
    p = tmp_path / "in.wav"
    write_pcm_wav(p, x, 16000, bits, tag)
    y, rate = read_wav(p)
    assert rate == 16000 and y.shape == x.shape
    assert np.max(np.abs(y - x)) < (0.02 if bits == 8 else 1e-3)


def test_to_telephone_resamples_trims_and_normalises() -> None:
    x = tone(1.0, 44100, amp=0.01, lead=0.5, tail=0.7)
    stereo = np.stack([x, x], axis=1)
    out = to_telephone(stereo, 44100)
    assert 1.0 <= out.duration_s <= 1.0 + 2 * audio.TRIM_PAD_S + 0.03  # silence trimmed
    pcm = audio.ulaw_decode(out.ulaw).astype(np.float32) / 32768
    assert abs(active_level_dbfs(pcm, 8000) - audio.TARGET_DBFS) < 1.0
    assert np.max(np.abs(pcm)) <= 1.0


def test_loud_input_is_limited_not_clipped() -> None:
    square = np.sign(tone(0.5, 8000, amp=1.0)) * 0.99
    out = to_telephone(square, 8000)
    pcm = audio.ulaw_decode(out.ulaw).astype(np.float32) / 32768
    assert np.max(np.abs(pcm)) < 0.99


def test_telephone_removes_energy_above_4khz() -> None:
    # A 6 kHz tone at 44.1 kHz must not alias into the phone band.
    out = to_telephone(tone(0.5, 44100, freq=6000, amp=0.5), 44100, trim=False, normalize=False)
    pcm = audio.ulaw_decode(out.ulaw).astype(np.float32) / 32768
    assert audio.rms_dbfs(pcm) < -40


def test_frames_are_160_bytes_padded_with_ulaw_silence(tmp_path: Path) -> None:
    data = b"\x10" * 330
    ta = TelephoneAudio(data)
    frames = ta.frames()
    assert [len(f) for f in frames] == [FRAME_BYTES] * 3
    assert frames[-1][10:] == b"\xff" * 150
    wav, ulaw = tmp_path / "a.wav", tmp_path / "a.ulaw"
    write_telephone_files(ta, wav, ulaw)
    assert ulaw.stat().st_size == 480
    assert read_frames(ulaw) == frames == read_frames(wav)
    assert ta.duration_s == pytest.approx(330 / 8000)


@pytest.mark.skipif(not shutil.which("sox"), reason="sox not installed")
@pytest.mark.parametrize("ext", [".flac", ".ogg", ".aiff"])
def test_convert_other_formats_through_sox(tmp_path: Path, ext: str) -> None:
    src = tmp_path / f"in{ext}"
    write_pcm_wav(tmp_path / "pcm.wav", tone(0.5, 22050, amp=0.3), 22050)
    subprocess.run(["sox", str(tmp_path / "pcm.wav"), "-r", "48000", "-c", "2", str(src)], check=True)
    out = convert_file(src)
    assert 0.4 < out.duration_s < 0.6
    assert not audio.is_silent(out)


def test_undecodable_file_says_what_to_do(tmp_path: Path) -> None:
    bad = tmp_path / "x.mp3"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(PromptError, match="convert the file to WAV|install"):
        convert_file(bad)


def test_empty_audio_is_an_error() -> None:
    with pytest.raises(PromptError):
        to_telephone(np.zeros((0, 1), dtype=np.float32), 8000)
