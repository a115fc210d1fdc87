"""Offline transcription of voicemails with our own recogniser.

The recogniser interface is the speech layer's (``ivr.speech.asr``):
``get_recognizer(name, vosk_model).start(grammar=None)`` gives a session with
``accept(pcm16_8k_bytes)`` and ``finish() -> Hypothesis(text, confidence,
backend)``.  When that layer is not installed, a pocketsphinx recogniser
(its PyPI wheel ships an en-us model) stands in behind the same protocol.

Recordings are fetched from Twilio's ``RecordingUrl`` (WAV, with the
account's credentials when given), turned into 8 kHz 16-bit mono PCM and
fed to a fresh session.  Work runs on a small thread pool, off the webhook
path; ``python -m ivr voicemails transcribe`` catches up on anything left.
"""

from __future__ import annotations

import io
import logging
import math
import time
import wave
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

import numpy as np

from ..errors import SpeechError
from ..speech.asr import get_recognizer

log = logging.getLogger(__name__)

PHONE_RATE = 8000
MAX_RECORDING_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True)
class Hypothesis:
    """What a recogniser heard."""

    text: str
    confidence: float
    backend: str


class RecognizerSession(Protocol):
    def accept(self, pcm: bytes) -> Any: ...
    def finish(self) -> Any: ...


class Recognizer(Protocol):
    """The speech layer's recogniser: one session per utterance."""

    def start(self, grammar: Any = None) -> RecognizerSession: ...


class _SphinxSession:
    def __init__(self, decoder: Any) -> None:
        import soxr

        # One streaming resampler per session: resampling chunks independently clicks at every edge.
        self._resampler = soxr.ResampleStream(PHONE_RATE, 16000, 1, dtype="float32")
        self.decoder = decoder
        self.decoder.start_utt()

    def _feed(self, samples: np.ndarray, last: bool) -> None:
        up = self._resampler.resample_chunk(samples, last=last)
        if len(up):
            self.decoder.process_raw((np.clip(up, -1, 1) * 32767).astype("<i2").tobytes(), False, False)

    def accept(self, pcm: bytes) -> None:
        self._feed(np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0, last=False)

    def finish(self) -> Hypothesis:
        self._feed(np.zeros(0, dtype=np.float32), last=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return Hypothesis("", 0.0, "pocketsphinx")
        try:
            conf = float(self.decoder.get_logmath().exp(hyp.prob))
        except Exception:
            conf = 0.0
        if not (0.0 < conf <= 1.0) or math.isnan(conf):
            conf = 0.5  # free dictation has no calibrated posterior; a neutral value, not 1.0
        return Hypothesis(hyp.hypstr.strip(), conf, "pocketsphinx")


class PocketsphinxRecognizer:
    """Free dictation with pocketsphinx's bundled en-us model (phone audio upsampled to 16 kHz)."""

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise SpeechError("pocketsphinx is not installed: pip install 'pocketsphinx>=5,<6'") from exc
        self._Decoder = Decoder
        self._decoder = None

    def start(self, grammar: Any = None) -> _SphinxSession:
        if self._decoder is None:  # load the model once, on first use
            self._decoder = self._Decoder(samprate=16000, loglevel="FATAL")
        return _SphinxSession(self._decoder)


def default_recognizer(backend: Optional[str] = None, vosk_model: Optional[str] = None) -> Recognizer:
    """The speech layer's recogniser for free dictation (pocketsphinx unless configured otherwise)."""
    return get_recognizer(backend or "pocketsphinx", vosk_model)


def wav_to_pcm8k(data: bytes) -> bytes:
    """WAV bytes (any rate, 8/16-bit, mono or stereo) as 8 kHz 16-bit mono PCM."""
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise SpeechError(f"the recording is not a readable WAV file: {exc}") from exc
    if width == 2:
        x = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:
        x = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128) / 128.0
    else:
        raise SpeechError(f"unsupported WAV sample width {width * 8} bits; use 16-bit PCM")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    if rate != PHONE_RATE:
        import soxr
        x = soxr.resample(x, rate, PHONE_RATE)
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def recording_media_url(url: str) -> str:
    """Twilio's RecordingUrl has no extension; ask for WAV explicitly."""
    tail = url.rsplit("/", 1)[-1]
    return url if "." in tail else url + ".wav"


def fetch_recording(url: str, auth: Optional[tuple[str, str]] = None, timeout: float = 15.0) -> bytes:
    """Download a recording (retries briefly: Twilio may answer 404 until it is stored)."""
    import requests

    last = ""
    for attempt in range(3):
        resp = requests.get(recording_media_url(url), auth=auth, timeout=timeout, stream=True)
        if resp.status_code == 200:
            data = resp.raw.read(MAX_RECORDING_BYTES + 1, decode_content=True)
            if len(data) > MAX_RECORDING_BYTES:
                raise SpeechError("recording too large to transcribe")
            return data
        last = f"HTTP {resp.status_code}"
        time.sleep(0.5 * (attempt + 1))
    raise SpeechError(f"could not download the recording: {last}")


def recognize_pcm(recognizer: Recognizer, pcm8k: bytes, grammar: Any = None) -> Hypothesis:
    """What ``recognizer`` hears in a whole recording (8 kHz 16-bit PCM), fed in 200 ms chunks as a stream
    would deliver them."""
    session = recognizer.start(grammar)
    step = PHONE_RATE * 2 // 5
    for i in range(0, len(pcm8k), step):
        session.accept(pcm8k[i:i + step])
    hyp = session.finish()
    return Hypothesis(str(getattr(hyp, "text", "")), float(getattr(hyp, "confidence", 0.0)),
                      str(getattr(hyp, "backend", "unknown")))


class Transcriber:
    """Transcribes voicemails into the records, in the background.

    Args:
        records: the :class:`~ivr.handoff.records.HandoffRecords`.
        recognizer: a recogniser (built lazily by ``factory`` when None).
        fetch: url -> WAV bytes (tests point it at a local server).
    """

    def __init__(self, records: Any, recognizer: Optional[Recognizer] = None,
                 factory: Callable[[], Recognizer] = default_recognizer,
                 fetch: Callable[[str], bytes] = fetch_recording,
                 clock: Callable[[], float] = time.time, workers: int = 1) -> None:
        self.records = records
        self._recognizer = recognizer
        self._factory = factory
        self.fetch = fetch
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="voicemail-asr")
        self._pending: list[Future] = []

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            self._recognizer = self._factory()
        return self._recognizer

    def transcribe_audio(self, pcm8k: bytes) -> Hypothesis:
        return recognize_pcm(self.recognizer, pcm8k)

    def transcribe(self, voicemail_id: str) -> Optional[Hypothesis]:
        """Transcribe one voicemail now; failures are recorded, never raised."""
        vm = self.records.get("voicemail", voicemail_id)
        if vm is None or not vm.get("recording_url"):
            return None
        try:
            hyp = self.transcribe_audio(wav_to_pcm8k(self.fetch(vm["recording_url"])))
        except Exception as exc:
            log.warning("voicemail %s: transcription failed: %s", voicemail_id, exc)
            self.records.set_transcript(voicemail_id, self.clock(), None, None, None, status="failed")
            return None
        self.records.set_transcript(voicemail_id, self.clock(), hyp.text, round(hyp.confidence, 3), hyp.backend)
        return hyp

    def submit(self, voicemail_id: str) -> Future:
        fut = self._pool.submit(self.transcribe, voicemail_id)
        self._pending = [f for f in self._pending if not f.done()] + [fut]
        return fut

    def pending(self, limit: int = 50) -> list[dict]:
        return [v for v in self.records.list("voicemail", limit=limit * 4)
                if v.get("transcript_status") in ("pending", "failed") and v.get("recording_url")][:limit]

    def drain(self, timeout: float = 120.0) -> None:
        for f in list(self._pending):
            f.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
