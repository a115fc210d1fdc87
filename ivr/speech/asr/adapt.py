"""Telephone adaptation of pocketsphinx's acoustic model.

Why: the en-us model in the pocketsphinx wheel was trained on 16 kHz speech;
phone audio is 8 kHz, so everything above 4 kHz (a third of the model's
filter bank) is missing and recognition suffers badly (on the speech
benchmark, about half of the menu answers of unseen voices were lost). The
standard CMUSphinx remedy is to adapt the model to the channel: run the
caller-side audio path (mu-law line, upsampling, noise floor) over speech
with known words, collect Baum-Welch statistics with SphinxTrain's ``bw``
and move the Gaussian means towards them with MAP (``map_adapt``).

The speech comes from synthesised voices (:data:`ADAPT_VOICES`) at several
noise levels, or from a deployment's own recordings (``--data DIR``: pairs
of ``name.wav`` and ``name.txt``), which is what a real line should use.
The benchmark's held-out voices are never used here, so the benchmark
still measures voices the adaptation never heard.

Only the means change; variances, mixture weights and transition matrices
stay the stock ones, which kept the adapted model's behaviour on real
human speech (Debian's pocketsphinx test recordings) unchanged.

The result is a model directory (``models/en-us-telephone`` by default,
located by :func:`ivr.speech.models.find_adapted`) that
:class:`~ivr.speech.asr.pocketsphinx_backend.PocketSphinxRecognizer` picks
up by itself. Building it needs Debian's ``sphinxtrain``, ``sphinxbase-utils``
and ``pocketsphinx`` packages, never at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from ivr.errors import SpeechError
from ivr.speech.asr.pocketsphinx_backend import PocketSphinxTuning, add_noise_floor, dictionary_words
from ivr.speech.codec import StreamResampler, read_wav
from ivr.speech.models import ADAPTED_NAME, MARKER, default_models_dir, find_adapted
from ivr.speech.synth import synthesize

__all__ = ["ADAPTED_NAME", "MARKER", "ADAPT_VOICES", "ADAPT_SNRS", "adapt", "default_models_dir", "find_adapted",
           "read_sentences", "stock_model_dir", "telephone_audio", "write_mixture_weights"]

ADAPT_VOICES: tuple[str, ...] = (
    "flite:kal", "flite:awb", "flite:rms", "espeak:en-us+m3",
    "espeak:en-gb-x-rp+f1", "espeak:en-us-nyc+m5", "espeak:en-gb-x-gbclan+f5", "espeak:en-gb-x-gbcwmd+m7",
    "espeak:en-us+Alicia", "espeak:en+belinda", "espeak:en-us-nyc+linda", "espeak:en-gb-x-rp+Annie",
    "espeak:en-us+Andy",
)
"""Voices the adaptation listens to: the tuning voices of the speech benchmark and
other espeak voices, none of them a held-out benchmark voice."""

ADAPT_SNRS: tuple[Optional[float], ...] = (None, 20.0, 12.0)
"""Clean line, and white noise at 20 and 12 dB SNR."""

SENTENCES_FILE = Path(__file__).with_name("adapt_sentences.txt")
"""Everyday and contact-centre sentences with known words (no benchmark phrase list)."""

SPHINXTRAIN_DIR = Path(os.environ.get("IVR_SPHINXTRAIN_DIR", "/usr/lib/sphinxtrain"))
APT_HINT = "install the tools with: apt-get install sphinxtrain sphinxbase-utils pocketsphinx"

Progress = Callable[[str, int, int], None]
"""Called with (stage, done, total)."""


def stock_model_dir() -> Path:
    """The en-us acoustic model shipped in the pocketsphinx wheel."""
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us" / "en-us"


def stock_dictionary() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"


def read_sentences(path: Path = SENTENCES_FILE) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def adapt(out_dir: os.PathLike[str] | str, *, voices: Sequence[str] = ADAPT_VOICES,
          snrs: Sequence[Optional[float]] = ADAPT_SNRS, sentences: Optional[Sequence[str]] = None,
          recordings: Optional[os.PathLike[str] | str] = None, force: bool = False,
          progress: Optional[Progress] = None, jobs: Optional[int] = None) -> dict:
    """Build (or confirm up to date) the telephone-adapted model in ``out_dir``.

    Args:
        out_dir: the model directory to write (replaced atomically).
        voices: synthesiser voices to adapt on (empty with ``recordings``: recordings only).
        snrs: noise levels for synthesised speech (None = clean line).
        sentences: what the voices say (default: :data:`SENTENCES_FILE`).
        recordings: a directory of ``*.wav`` with a ``.txt`` transcript each.
        force: rebuild even when the inputs have not changed.
        progress: stage callback for a progress display.
        jobs: parallel Baum-Welch passes (default: one per CPU).

    Returns:
        What ``adaptation.json`` records, plus ``rebuilt`` (False when up to date).

    Raises:
        SpeechError: a tool is missing, a word is not in the dictionary, or a step failed.
    """
    out = Path(out_dir).resolve()
    sentences = list(sentences) if sentences is not None else read_sentences()
    pairs = _recording_pairs(Path(recordings)) if recordings else []
    digest = _inputs_digest(voices, snrs, sentences, pairs)
    marker = out / MARKER
    if not force and marker.is_file():
        try:
            info = json.loads(marker.read_text())
        except ValueError:
            info = {}
        if info.get("inputs") == digest and (out / "means").is_file():
            return {**info, "rebuilt": False}
    if not pairs and not (voices and snrs and sentences):
        raise SpeechError("nothing to adapt on: give voices, noise levels and sentences, or recordings (--data)")
    tools = _tools()
    _check_words(sentences + [t for _, t in pairs])
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ivr-adapt-", dir=out.parent) as tmp:
        work = Path(tmp)
        base = work / "base"
        shutil.copytree(stock_model_dir(), base)
        _run([tools["mdef_convert"], "-text", str(base / "mdef"), str(base / "mdef.txt")], "mdef conversion")
        write_mixture_weights(base / "sendump", base / "mixture_weights")
        utts = _write_corpus(work, voices, snrs, sentences, pairs, progress)
        _features(tools, base, work, utts, progress)
        accums = _baum_welch(tools, base, work, len(utts), jobs or os.cpu_count() or 1, progress)
        staged = work / "model"
        shutil.copytree(stock_model_dir(), staged)
        _run([tools["map_adapt"], "-moddeffn", str(base / "mdef.txt"), "-ts2cbfn", ".ptm.",
              "-meanfn", str(base / "means"), "-varfn", str(base / "variances"),
              "-mixwfn", str(base / "mixture_weights"), "-tmatfn", str(base / "transition_matrices"),
              "-accumdir", ",".join(map(str, accums)), "-mapmeanfn", str(staged / "means"),
              "-mapvarfn", str(work / "unused.var"), "-mapmixwfn", str(work / "unused.mixw"),
              "-maptmatfn", str(work / "unused.tmat")], "map_adapt")
        if progress:
            progress("map", 1, 1)
        info = {"inputs": digest, "method": "MAP means (SphinxTrain bw + map_adapt)",
                "voices": list(voices), "snrs": list(snrs), "sentences": len(sentences),
                "recordings": len(pairs), "utterances": len(utts),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": round(time.monotonic() - started, 1)}
        (staged / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        old = out.with_name(out.name + ".old")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        staged.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    return {**info, "rebuilt": True}


# -- steps ---------------------------------------------------------------------

def _tools() -> dict[str, str]:
    found = {"sphinx_fe": shutil.which("sphinx_fe"),
             "mdef_convert": shutil.which("pocketsphinx_mdef_convert"),
             "bw": str(SPHINXTRAIN_DIR / "bw") if (SPHINXTRAIN_DIR / "bw").exists() else None,
             "map_adapt": str(SPHINXTRAIN_DIR / "map_adapt") if (SPHINXTRAIN_DIR / "map_adapt").exists() else None}
    missing = [k for k, v in found.items() if not v]
    if missing:
        raise SpeechError(f"model adaptation needs {', '.join(missing)}; {APT_HINT}")
    return {k: str(v) for k, v in found.items()}


def _run(cmd: list[str], what: str, cwd: Optional[Path] = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SpeechError(f"{what} failed (exit {proc.returncode}): " + " | ".join(tail))


def _check_words(texts: Iterable[str]) -> None:
    words = dictionary_words(stock_dictionary())
    unknown = sorted({w for t in texts for w in t.lower().split() if w not in words})
    if unknown:
        raise SpeechError(f"words not in the pronunciation dictionary: {', '.join(unknown[:20])}; "
                          "reword those sentences or transcripts")


def _recording_pairs(folder: Path) -> list[tuple[Path, str]]:
    if not folder.is_dir():
        raise SpeechError(f"{folder} is not a directory of recordings (name.wav + name.txt)")
    pairs = []
    for wav in sorted(folder.glob("*.wav")):
        txt = wav.with_suffix(".txt")
        if not txt.is_file():
            raise SpeechError(f"{wav} has no transcript: put the words said in {txt.name}")
        text = " ".join(txt.read_text(encoding="utf-8").lower().replace(",", " ").replace(".", " ").split())
        if text:
            pairs.append((wav, text))
    if not pairs:
        raise SpeechError(f"{folder} holds no name.wav + name.txt pairs")
    return pairs


def _inputs_digest(voices: Sequence[str], snrs: Sequence[Optional[float]], sentences: Sequence[str],
                   pairs: Sequence[tuple[Path, str]]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([list(voices), list(snrs), list(sentences), _FRONT_END_VERSION]).encode())
    for wav, text in pairs:
        h.update(wav.read_bytes())
        h.update(text.encode())
    h.update((stock_model_dir() / "means").read_bytes())
    return h.hexdigest()[:24]


_FRONT_END_VERSION = 2
"""Bump when :func:`telephone_audio` changes: adapted models must match the live front end.

2: the resampler stopped dithering (float32 soxr stream), so models adapted on dithered audio are rebuilt.
"""


def telephone_audio(pcm8k: bytes, seed: int = 0) -> bytes:
    """8 kHz pcm16 caller audio as the recogniser front end hands it to the decoder (16 kHz).

    The same steps as a live recognition session (noise floor, then upsampling),
    so the statistics describe what the model will really see.
    """
    pcm8k = add_noise_floor(pcm8k, PocketSphinxTuning().noise_floor_dbfs, np.random.default_rng(seed))
    res = StreamResampler(8000, 16000)
    return res.process(pcm8k) + res.flush()


def _write_corpus(work: Path, voices: Sequence[str], snrs: Sequence[Optional[float]], sentences: Sequence[str],
                  pairs: Sequence[tuple[Path, str]], progress: Optional[Progress]) -> list[tuple[str, str]]:

    (work / "wav").mkdir()
    jobs: list[tuple[str, str, Callable[[], bytes]]] = []
    for v in voices:
        for snr in snrs:
            for i, text in enumerate(sentences):
                name = f"{v.replace(':', '_').replace('+', '_')}_{snr or 'clean'}_{i:03d}"
                jobs.append((name, text, lambda t=text, v=v, s=snr, i=i:
                             synthesize(t, v, snr_db=s, lead_ms=200, trail_ms=300, seed=1000 + i)))
    for k, (wav, text) in enumerate(pairs):
        jobs.append((f"rec_{k:05d}", text, lambda w=wav: read_wav(w, 8000)))
    utts: list[tuple[str, str]] = []

    def make(k: int) -> tuple[str, str]:
        name, text, speak = jobs[k]
        audio = telephone_audio(speak(), seed=k)
        with wave.open(str(work / "wav" / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(audio)
        return name, text

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for n, utt in enumerate(pool.map(make, range(len(jobs))), 1):
            utts.append(utt)
            if progress and (n % 50 == 0 or n == len(jobs)):
                progress("speech", n, len(jobs))
    (work / "adapt.fileids").write_text("".join(f"wav/{n}\n" for n, _ in utts))
    (work / "adapt.transcription").write_text("".join(f"<s> {t} </s> ({n})\n" for n, t in utts))
    return utts


def _features(tools: dict[str, str], base: Path, work: Path, utts: list[tuple[str, str]],
              progress: Optional[Progress]) -> None:
    _run([tools["sphinx_fe"], "-argfile", str(base / "feat.params"), "-samprate", "16000",
          "-c", "adapt.fileids", "-di", ".", "-do", ".", "-ei", "wav", "-eo", "mfc", "-mswav", "yes"],
         "feature extraction (sphinx_fe)", cwd=work)
    if progress:
        progress("features", len(utts), len(utts))


def _baum_welch(tools: dict[str, str], base: Path, work: Path, n_utts: int, jobs: int,
                progress: Optional[Progress]) -> list[Path]:
    parts = max(1, min(jobs, n_utts))
    accums = [work / f"accum{p}" for p in range(1, parts + 1)]
    done = [0]

    def one(p: int) -> None:
        accums[p - 1].mkdir()
        _run([tools["bw"], "-hmmdir", str(base), "-moddeffn", str(base / "mdef.txt"), "-ts2cbfn", ".ptm.",
              "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38", "-cmn", "batch", "-agc", "none",
              "-dictfn", str(stock_dictionary()), "-ctlfn", "adapt.fileids", "-lsnfn", "adapt.transcription",
              "-accumdir", str(accums[p - 1]), "-cepdir", ".", "-npart", str(parts), "-part", str(p)],
             "Baum-Welch statistics (bw)", cwd=work)
        done[0] += 1
        if progress:
            progress("statistics", done[0], parts)

    with ThreadPoolExecutor(max_workers=parts) as pool:
        list(pool.map(one, range(1, parts + 1)))
    return accums


# -- sendump -> mixture_weights -------------------------------------------------

def write_mixture_weights(sendump: Path, out: Path) -> tuple[int, int, int]:
    """Expand pocketsphinx's quantised ``sendump`` into the ``mixture_weights`` file ``bw`` reads.

    ``sendump`` stores, per feature stream and codeword, one byte per senone:
    the negated log (base 1.0001) weight shifted right by ``mixw_shift``.
    Returns the array shape (senones, streams, codewords).
    """
    with open(sendump, "rb") as fh:
        def u32() -> int:
            return struct.unpack("<I", fh.read(4))[0]

        def text() -> Optional[str]:
            n = u32()
            return None if n == 0 else fh.read(n)[:-1].decode("latin-1")

        text()  # title
        header: dict[str, int] = {}
        while (line := text()) is not None:
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                header[parts[0]] = int(parts[1])
        if header.get("cluster_count", 0):
            raise SpeechError("clustered sendump files are not supported; use a model with mixture_weights")
        n_feat, shift = header.get("feature_count", 3), header.get("mixw_shift", 10)
        n_cw, n_sen = u32(), u32()
        mixw = np.empty((n_sen, n_feat, n_cw), dtype=np.float64)
        for f in range(n_feat):
            for c in range(n_cw):
                raw = np.frombuffer(fh.read(n_sen), dtype=np.uint8).astype(np.float64) * (1 << shift)
                mixw[:, f, c] = np.power(1.0001, -raw)
    mixw /= mixw.sum(axis=2, keepdims=True)
    with open(out, "wb") as fh:
        fh.write(b"s3\nversion 1.0\n")
        pad = (fh.tell() + len("endhdr\n")) & 3
        fh.write(b" " * ((4 - pad) if pad else 0) + b"endhdr\n")
        fh.write(struct.pack("=i", 0x11223344))
        fh.write(struct.pack("=IIII", n_sen, n_feat, n_cw, n_sen * n_feat * n_cw))
        mixw.astype("<f4").tofile(fh)
    return n_sen, n_feat, n_cw
