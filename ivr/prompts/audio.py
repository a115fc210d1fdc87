"""Telephone audio: whatever TTS or a person recorded, made fit for a phone line.

Twilio ``<Play>`` wants a WAV it can fetch; Media Streams want raw 8 kHz
mu-law in 20 ms frames. Both are served from the same samples so a caller
hears the same prompt on either transport. The pipeline is: decode -> mono ->
remove DC -> resample to 8 kHz (soxr) -> trim leading/trailing silence ->
normalise loudness to about -16 dBFS (soft-limited) -> mu-law.

Python's :mod:`wave` cannot write mu-law (format tag 7) and reads only PCM,
so this module reads and writes RIFF itself; it stays small because telephone
audio needs only a handful of formats. Other formats (flac, ogg, ...) go
through the ``sox`` command line when it is installed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from ivr.errors import PromptError

with warnings.catch_warnings():
    # audioop is deprecated in 3.11/3.12 and gone in 3.13 (audioop-lts brings
    # it back there); its G.711 codecs are exact and fast, numpy is the fallback.
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop as _audioop
    except ImportError:  # pragma: no cover - depends on the interpreter
        _audioop = None  # type: ignore[assignment]

#: Telephone sample rate (G.711).
SAMPLE_RATE = 8000
#: Bytes in one 20 ms Media Streams frame of 8 kHz mu-law.
FRAME_BYTES = 160
#: Mu-law code for digital silence, used to pad the last frame.
ULAW_SILENCE = 0xFF
#: Loudness target for prompts: the usual telephony level, loud but not hot.
TARGET_DBFS = -16.0
#: Silence kept around speech after trimming so words do not start abruptly.
TRIM_PAD_S = 0.04

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_MULAW = 7
WAVE_FORMAT_EXTENSIBLE = 0xFFFE

#: Extensions tried, in order, for a recorded prompt.
RECORDED_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".ulaw")


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says, enough to decide how to decode it."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    data_offset: int
    data_size: int

    @property
    def frames(self) -> int:
        """Number of sample frames (samples per channel) in the data chunk."""
        width = max(1, self.bits_per_sample // 8) * self.channels
        return self.data_size // width


@dataclass(frozen=True)
class TelephoneAudio:
    """A prompt in telephone format, ready to write or stream.

    Attributes:
        ulaw: 8 kHz mono mu-law bytes, exactly the audio (no frame padding).
    """

    ulaw: bytes

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return duration_of(len(self.ulaw))

    def frames(self) -> list[bytes]:
        """The audio as 20 ms Media Streams frames (last one padded)."""
        return split_frames(self.ulaw)


# --------------------------------------------------------------------------
# G.711 mu-law

def _ulaw_encode_np(pcm: np.ndarray) -> bytes:
    """Encode int16 samples as G.711 mu-law, bit-exact with :func:`audioop.lin2ulaw`."""
    v = pcm.astype(np.int32) >> 2  # 14-bit linear, arithmetic shift as in the G.711 reference
    mask = np.where(v < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), 8159) + 33
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), v)
    uval = (seg << 4) | ((v >> (seg + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def _ulaw_decode_np(data: bytes) -> np.ndarray:
    """Decode G.711 mu-law to int16, as :func:`audioop.ulaw2lin` does."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exp = (u >> 4) & 0x07
    mant = u & 0x0F
    mag = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """Encode int16 mono samples as mu-law bytes."""
    pcm = np.ascontiguousarray(pcm, dtype="<i2")
    if _audioop is not None:
        return _audioop.lin2ulaw(pcm.tobytes(), 2)
    return _ulaw_encode_np(pcm)  # pragma: no cover - Python without audioop


def ulaw_decode(data: bytes) -> np.ndarray:
    """Decode mu-law bytes to int16 samples."""
    if _audioop is not None:
        return np.frombuffer(_audioop.ulaw2lin(bytes(data), 2), dtype="<i2").copy()
    return _ulaw_decode_np(data)  # pragma: no cover - Python without audioop


def _alaw_decode(data: bytes) -> np.ndarray:
    if _audioop is not None:
        return np.frombuffer(_audioop.alaw2lin(bytes(data), 2), dtype="<i2").copy()
    a = np.frombuffer(data, dtype=np.uint8).astype(np.int32) ^ 0x55  # pragma: no cover
    sign = a & 0x80  # pragma: no cover
    exp = (a >> 4) & 0x07  # pragma: no cover
    mant = a & 0x0F  # pragma: no cover
    mag = np.where(exp == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(exp - 1, 0))  # pragma: no cover
    return np.where(sign != 0, mag, -mag).astype(np.int16)  # pragma: no cover


# --------------------------------------------------------------------------
# RIFF/WAV reading and writing

def read_wav_info(path: str | os.PathLike[str]) -> WavInfo:
    """Parse the header of a RIFF WAV file.

    Raises:
        PromptError: if the file is not a RIFF/WAVE file or lacks fmt/data.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise PromptError(f"{path}: not a RIFF WAVE file")
        fmt: tuple[int, int, int, int] | None = None
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                break
            cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                body = f.read(size)
                if len(body) < 16:
                    raise PromptError(f"{path}: fmt chunk too short")
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                    tag = struct.unpack("<H", body[24:26])[0]  # sub-format GUID starts with the tag
                fmt = (tag, channels, rate, bits)
                if size % 2:
                    f.read(1)
            elif cid == b"data":
                if fmt is None:
                    raise PromptError(f"{path}: data chunk before fmt chunk")
                offset = f.tell()
                end = os.fstat(f.fileno()).st_size
                if size in (0, 0xFFFFFFFF) or offset + size > end:
                    size = end - offset  # streamed or truncated writer: read to EOF
                return WavInfo(fmt[0], fmt[1], fmt[2], fmt[3], offset, size)
            else:
                f.seek(size + (size % 2), os.SEEK_CUR)
    raise PromptError(f"{path}: no fmt/data chunk in WAV file")


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a WAV file as float32 samples in [-1, 1], shape (frames, channels).

    Supports PCM 8/16/24/32-bit, IEEE float 32/64, A-law and mu-law, plain or
    WAVE_FORMAT_EXTENSIBLE: what phones, DAWs and TTS engines write.

    Raises:
        PromptError: for other encodings (convert those with sox first).
    """
    info = read_wav_info(path)
    with open(path, "rb") as f:
        f.seek(info.data_offset)
        raw = f.read(info.data_size)
    tag, bits, ch = info.format_tag, info.bits_per_sample, max(1, info.channels)
    if tag == WAVE_FORMAT_PCM and bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif tag == WAVE_FORMAT_PCM and bits == 16:
        x = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    elif tag == WAVE_FORMAT_PCM and bits == 24:
        b = np.frombuffer(raw[: len(raw) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v & 0x800000, v - 0x1000000, v)
        x = v.astype(np.float32) / 8388608.0
    elif tag == WAVE_FORMAT_PCM and bits == 32:
        x = (np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits in (32, 64):
        dt = "<f4" if bits == 32 else "<f8"
        x = np.frombuffer(raw[: len(raw) // (bits // 8) * (bits // 8)], dtype=dt).astype(np.float32)
    elif tag == WAVE_FORMAT_MULAW and bits == 8:
        x = ulaw_decode(raw).astype(np.float32) / 32768.0
    elif tag == WAVE_FORMAT_ALAW and bits == 8:
        x = _alaw_decode(raw).astype(np.float32) / 32768.0
    else:
        raise PromptError(f"{path}: unsupported WAV encoding (format tag {tag}, {bits} bits)")
    x = x[: len(x) // ch * ch].reshape(-1, ch)
    return np.nan_to_num(np.clip(x, -1.0, 1.0)), info.sample_rate


def mulaw_wav_bytes(ulaw: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Wrap mu-law bytes in a WAVE_FORMAT_MULAW (tag 7) RIFF header.

    A non-PCM WAV carries an 18-byte fmt chunk (cbSize 0) and a fact chunk
    with the sample count, as the RIFF spec asks; Twilio, sox and browsers
    all read this layout.
    """
    n = len(ulaw)
    fmt = struct.pack("<HHIIHHH", WAVE_FORMAT_MULAW, 1, sample_rate, sample_rate, 1, 8, 0)
    fact = struct.pack("<I", n)
    pad = b"\x00" if n % 2 else b""
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", len(fact)) + fact
            + b"data" + struct.pack("<I", n) + ulaw + pad)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_mulaw_wav(path: str | os.PathLike[str]) -> bytes:
    """Return the mu-law payload of a tag-7 WAV written by :func:`mulaw_wav_bytes`.

    Raises:
        PromptError: if the file is not 8 kHz mono mu-law.
    """
    info = read_wav_info(path)
    if (info.format_tag, info.channels, info.sample_rate, info.bits_per_sample) != (
            WAVE_FORMAT_MULAW, 1, SAMPLE_RATE, 8):
        raise PromptError(f"{path}: not 8 kHz mono mu-law (tag {info.format_tag}, "
                          f"{info.channels} ch, {info.sample_rate} Hz)")
    with open(path, "rb") as f:
        f.seek(info.data_offset)
        return f.read(info.data_size)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` so readers see the old file or the new one, never half.

    Why: the web server may serve a prompt while a build replaces it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_telephone_files(audio: TelephoneAudio, wav_path: str | os.PathLike[str],
                          ulaw_path: str | os.PathLike[str]) -> None:
    """Write the ``<Play>`` WAV and the frame-aligned raw ``.ulaw`` file.

    The raw file is padded with mu-law silence to whole 160-byte frames so a
    streaming transport can send it in slices without looking at it.
    """
    atomic_write(ulaw_path, pad_to_frames(audio.ulaw))
    atomic_write(wav_path, mulaw_wav_bytes(audio.ulaw))


# --------------------------------------------------------------------------
# Frames and durations

def duration_of(n_ulaw_bytes: int, sample_rate: int = SAMPLE_RATE) -> float:
    """Seconds of audio in ``n_ulaw_bytes`` of 8-bit mono audio."""
    return n_ulaw_bytes / sample_rate


def pad_to_frames(ulaw: bytes, frame_bytes: int = FRAME_BYTES) -> bytes:
    """Pad mu-law bytes with silence to a whole number of frames."""
    rem = len(ulaw) % frame_bytes
    return ulaw if rem == 0 else ulaw + bytes([ULAW_SILENCE]) * (frame_bytes - rem)


def split_frames(ulaw: bytes, frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """Split mu-law bytes into 20 ms frames, padding the last with silence."""
    data = pad_to_frames(ulaw, frame_bytes)
    return [data[i:i + frame_bytes] for i in range(0, len(data), frame_bytes)]


def iter_frames(path: str | os.PathLike[str], frame_bytes: int = FRAME_BYTES) -> Iterator[bytes]:
    """Yield 20 ms frames from a ``.ulaw`` file or a mu-law ``.wav`` file.

    Why a generator: a transport streams a long prompt without holding it.
    """
    if str(path).endswith(".wav"):
        yield from split_frames(read_mulaw_wav(path), frame_bytes)
        return
    with open(path, "rb") as f:
        while chunk := f.read(frame_bytes):
            yield pad_to_frames(chunk, frame_bytes)


def read_frames(path: str | os.PathLike[str], frame_bytes: int = FRAME_BYTES) -> list[bytes]:
    """All 20 ms frames of a prompt file (see :func:`iter_frames`)."""
    return list(iter_frames(path, frame_bytes))


def concat_frames(paths: list[str | os.PathLike[str]]) -> list[bytes]:
    """Frames of several prompt files played back to back (assembled prompts)."""
    out: list[bytes] = []
    for p in paths:
        out.extend(iter_frames(p))
    return out


# --------------------------------------------------------------------------
# Signal processing

def _frame_db(x: np.ndarray, rate: int, frame_s: float = 0.01) -> np.ndarray:
    n = max(1, int(rate * frame_s))
    m = len(x) // n
    if m == 0:
        return np.array([_db(float(np.sqrt(np.mean(x ** 2))))]) if len(x) else np.array([])
    frames = x[: m * n].reshape(m, n)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def _db(v: float) -> float:
    return 20.0 * float(np.log10(max(v, 1e-10)))


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level of float samples in dBFS (full-scale square wave = 0 dBFS)."""
    if len(x) == 0:
        return -200.0
    return _db(float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2))))


def active_level_dbfs(x: np.ndarray, rate: int) -> float:
    """Level of the speech in ``x``, ignoring the pauses between words.

    Why: plain RMS over a prompt with long pauses would make the same voice
    come out louder the more it pauses. Frames within 30 dB of the loudest
    frame (and above -60 dBFS) count as speech.
    """
    db = _frame_db(x, rate)
    if len(db) == 0:
        return -200.0
    gate = max(-60.0, float(db.max()) - 30.0)
    active = db[db >= gate]
    if len(active) == 0:
        return -200.0
    power = float(np.mean(10.0 ** (active / 10.0)))
    return 10.0 * float(np.log10(max(power, 1e-20)))


def is_silent(audio: TelephoneAudio, threshold_dbfs: float = -50.0) -> bool:
    """Tell whether telephone audio holds nothing audible (RMS below threshold)."""
    pcm = ulaw_decode(audio.ulaw).astype(np.float32) / 32768.0
    return rms_dbfs(pcm) < threshold_dbfs


def trim_silence(x: np.ndarray, rate: int, pad_s: float = TRIM_PAD_S,
                 floor_db: float = -55.0, below_peak_db: float = 40.0) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``pad_s`` around the speech.

    Why: TTS engines and people both leave silence at the ends; on a phone
    it sounds like lag, and in an assembled prompt it makes gaps between words.
    All-silent input is returned unchanged (the caller decides if that's bad).
    """
    db = _frame_db(x, rate)
    if len(db) == 0:
        return x
    gate = max(floor_db, float(db.max()) - below_peak_db)
    loud = np.nonzero(db >= gate)[0]
    if len(loud) == 0 or db.max() < floor_db:
        return x
    n = max(1, int(rate * 0.01))
    pad = int(rate * pad_s)
    start = max(0, loud[0] * n - pad)
    end = min(len(x), (loud[-1] + 1) * n + pad)
    return x[start:end]


def normalize_loudness(x: np.ndarray, rate: int, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Scale speech to ``target_dbfs`` active level, soft-limiting peaks.

    Why: prompts from different voices and recordings must sound equally loud,
    and mu-law wastes resolution on quiet audio. Gain is capped at +30 dB so
    near-silence is not blown up into noise; peaks above 0.9 full scale are
    bent with tanh rather than clipped.
    """
    level = active_level_dbfs(x, rate)
    if level <= -90.0:
        return x
    gain = 10.0 ** (min(target_dbfs - level, 30.0) / 20.0)
    y = x.astype(np.float64) * gain
    knee = 0.9
    over = np.abs(y) > knee
    if np.any(over):
        head = 1.0 - knee
        y[over] = np.sign(y[over]) * (knee + head * np.tanh((np.abs(y[over]) - knee) / head))
    return y.astype(np.float32)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels; a phone line is mono."""
    if x.ndim == 1:
        return x.astype(np.float32)
    return x.mean(axis=1).astype(np.float32)


def resample(x: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample with soxr (band-limited, so no aliasing into the phone band)."""
    if rate_in == rate_out or len(x) == 0:
        return x.astype(np.float32)
    return soxr.resample(x.astype(np.float32), rate_in, rate_out, quality="HQ").astype(np.float32)


def to_telephone(samples: np.ndarray, rate: int, *, trim: bool = True,
                 normalize: bool = True) -> TelephoneAudio:
    """Turn float samples at any rate and channel count into telephone audio.

    Raises:
        PromptError: if there is no audio at all.
    """
    x = to_mono(samples)
    if len(x) == 0:
        raise PromptError("no audio samples to convert")
    x = x - float(np.mean(x))  # DC offset from cheap recorders would eat headroom
    x = resample(x, rate, SAMPLE_RATE)
    if trim:
        x = trim_silence(x, SAMPLE_RATE)
    if normalize:
        x = normalize_loudness(x, SAMPLE_RATE)
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
    return TelephoneAudio(ulaw_encode(pcm))


def decode_file(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Decode any common audio file to float samples (frames, channels) and rate.

    WAV (PCM, float, A-law, mu-law) is read directly; raw ``.ulaw`` is taken
    as 8 kHz mono mu-law; anything else (flac, ogg, mp3, aiff, ...) is
    converted by the ``sox`` command line to a temporary 16-bit WAV.

    Raises:
        PromptError: if the file cannot be decoded, with how to fix it.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".ulaw":
        x = ulaw_decode(path.read_bytes()).astype(np.float32) / 32768.0
        return x.reshape(-1, 1), SAMPLE_RATE
    if suffix == ".wav":
        try:
            return read_wav(path)
        except PromptError:
            if not shutil.which("sox"):
                raise
    sox = shutil.which("sox")
    if not sox:
        raise PromptError(f"{path}: cannot decode {suffix or 'this'} audio without sox; "
                          "install it (apt-get install sox libsox-fmt-all) or record as WAV")
    with tempfile.TemporaryDirectory(prefix="ivr-sox-") as tmp:
        out = Path(tmp) / "decoded.wav"
        proc = subprocess.run([sox, "-q", str(path), "-t", "wav", "-e", "signed-integer",
                               "-b", "16", str(out)], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or not out.exists():
            msg = (proc.stderr or "").strip().splitlines()
            hint = msg[-1] if msg else f"exit {proc.returncode}"
            raise PromptError(f"{path}: sox could not decode it ({hint}); for mp3 install "
                              "libsox-fmt-mp3, or convert the file to WAV")
        return read_wav(out)


def convert_file(path: str | os.PathLike[str]) -> TelephoneAudio:
    """Decode an audio file and convert it to telephone audio (see :func:`to_telephone`)."""
    samples, rate = decode_file(path)
    return to_telephone(samples, rate)
