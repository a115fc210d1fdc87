"""The prompt audio cache on disk, and recorded overrides.

Layout under ``audio_dir`` (``IVR_AUDIO_DIR``, default ``audio/``)::

    tts/<key>.wav              8 kHz mono mu-law WAV for TwiML <Play>
    tts/<key>.ulaw             same audio, raw, padded to 160-byte frames
    tts/manifest.json          key -> text, language, voice, rate, duration_s,
                               rendered_at, etag, voice_id
    recorded/<flow>/<node>.<ext>       a person's recording (wav, flac, ogg, ...)
    recorded/.converted/<flow>/<node>.wav|.ulaw|.json   its telephone version

Lookups are what the request path does, so they only read the manifest (re-read
when its mtime changes, e.g. after a build in another process) and stat files.
A recording, when present, wins over TTS for that node: a voice talent's take
is always preferred to the machine. Writers (builds, the background renderer)
take a file lock around manifest updates, and every file is replaced
atomically, so a running server never serves half a file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import PromptError
from ivr.prompts.audio import (
    RECORDED_EXTENSIONS,
    TelephoneAudio,
    atomic_write,
    convert_file,
    duration_of,
    iter_frames,
    mulaw_wav_bytes,
    write_telephone_files,
)
from ivr.prompts.spec import PromptSpec, is_key

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: single-writer assumption
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptAudio:
    """Audio ready to play for one prompt.

    Attributes:
        key: the spec key (TTS) or ``recorded:<flow>/<node>``.
        wav_path: mu-law WAV for ``<Play>``.
        ulaw_path: raw mu-law, frame-aligned, for Media Streams.
        duration_s: length of the audio in seconds.
        etag: content hash of the WAV, for HTTP caching by Twilio.
        source: ``"tts"`` or ``"recorded"``.
        relpath: WAV path relative to the audio directory, POSIX style, so
            the web layer can serve it at ``/audio/<relpath>``.
    """

    key: str
    wav_path: Path
    ulaw_path: Path
    duration_s: float
    etag: str
    source: str
    relpath: str

    def frames(self) -> Iterator[bytes]:
        """20 ms mu-law frames (160 bytes) for a Media Stream."""
        return iter_frames(self.ulaw_path)


def _etag(wav_bytes: bytes) -> str:
    return hashlib.sha256(wav_bytes).hexdigest()[:24]


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _safe_name(name: str, what: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise PromptError(f"{what} {name!r} cannot name a recorded prompt file")
    return name


class PromptCache:
    """TTS audio by spec key, plus recorded overrides by (flow, node).

    Args:
        audio_dir: root of the audio tree; created on first write.
    """

    def __init__(self, audio_dir: str | os.PathLike[str]) -> None:
        self.audio_dir = Path(audio_dir)
        self.tts_dir = self.audio_dir / "tts"
        self.manifest_path = self.tts_dir / "manifest.json"
        self.recorded_dir = self.audio_dir / "recorded"
        self.converted_dir = self.recorded_dir / ".converted"
        self._lock = threading.RLock()
        self._manifest: dict[str, dict[str, Any]] = {}
        self._manifest_stamp: tuple[int, int] | None = None
        self._batch_depth = 0
        self._dirty = False

    # -- manifest ----------------------------------------------------------

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def manifest(self) -> dict[str, dict[str, Any]]:
        """The manifest as on disk (re-read only when the file changed)."""
        with self._lock:
            stamp = self._stamp()
            if stamp != self._manifest_stamp and not self._dirty:
                data: dict[str, dict[str, Any]] = {}
                if stamp is not None:
                    try:
                        loaded = json.loads(self.manifest_path.read_text("utf-8"))
                        if isinstance(loaded, dict):
                            data = {k: v for k, v in loaded.items()
                                    if is_key(k) and isinstance(v, dict)}
                    except (OSError, ValueError) as exc:
                        log.warning("ignoring unreadable %s: %s", self.manifest_path, exc)
                self._manifest, self._manifest_stamp = data, stamp
            return self._manifest

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        self.tts_dir.mkdir(parents=True, exist_ok=True)
        with open(self.tts_dir / ".lock", "a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _update_manifest(self, upsert: dict[str, dict[str, Any]],
                         remove: Iterable[str] = ()) -> None:
        """Merge changes into the on-disk manifest under the file lock."""
        with self._lock:
            if self._batch_depth:
                self.manifest()  # load before marking dirty
                self._manifest.update(upsert)
                for k in remove:
                    self._manifest.pop(k, None)
                self._pending_upsert.update(upsert)
                self._pending_remove.update(remove)
                for k in upsert:
                    self._pending_remove.discard(k)
                self._dirty = True
                return
            self._write_manifest(upsert, set(remove))

    def _write_manifest(self, upsert: dict[str, dict[str, Any]], remove: set[str]) -> None:
        with self._file_lock():
            self._manifest_stamp = None
            self._dirty = False
            current = dict(self.manifest())  # another process may have written
            current.update(upsert)
            for k in remove:
                current.pop(k, None)
            data = json.dumps(dict(sorted(current.items())), indent=1, ensure_ascii=False)
            atomic_write(self.manifest_path, (data + "\n").encode("utf-8"))
            self._manifest, self._manifest_stamp = current, self._stamp()

    @contextlib.contextmanager
    def batch(self) -> Iterator[PromptCache]:
        """Defer manifest writes to the end of the block (one write per build).

        Audio files are still written as they come, so an interrupted build
        loses at most the manifest entries of this batch (re-rendered next time).
        """
        with self._lock:
            if self._batch_depth == 0:
                self._pending_upsert: dict[str, dict[str, Any]] = {}
                self._pending_remove: set[str] = set()
            self._batch_depth += 1
        try:
            yield self
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0 and (self._pending_upsert or self._pending_remove):
                    self._write_manifest(self._pending_upsert, self._pending_remove)
                self._dirty = False

    # -- TTS ----------------------------------------------------------------

    def paths(self, key: str) -> tuple[Path, Path]:
        """The WAV and raw mu-law paths for a key."""
        return self.tts_dir / f"{key}.wav", self.tts_dir / f"{key}.ulaw"

    def lookup(self, spec: PromptSpec) -> PromptAudio | None:
        """The rendered audio for ``spec``, or None if it has not been rendered."""
        key = spec.key
        entry = self.manifest().get(key)
        if entry is None:
            return None
        wav, ulaw = self.paths(key)
        if not (wav.is_file() and ulaw.is_file()):
            return None
        return PromptAudio(key, wav, ulaw, float(entry.get("duration_s", 0.0)),
                           str(entry.get("etag", "")), "tts", f"tts/{key}.wav")

    def store(self, spec: PromptSpec, audio: TelephoneAudio,
              voice_id: str | None = None) -> PromptAudio:
        """Write rendered audio for ``spec`` and record it in the manifest."""
        key = spec.key
        wav, ulaw = self.paths(key)
        write_telephone_files(audio, wav, ulaw)
        etag = _etag(mulaw_wav_bytes(audio.ulaw))
        entry = {**spec.as_dict(), "duration_s": audio.duration_s, "rendered_at": _now_iso(),
                 "etag": etag, "voice_id": voice_id}
        self._update_manifest({key: entry})
        return PromptAudio(key, wav, ulaw, audio.duration_s, etag, "tts", f"tts/{key}.wav")

    def keys(self) -> set[str]:
        """Keys with a manifest entry."""
        return set(self.manifest())

    def prune(self, keep_keys: Iterable[str]) -> list[str]:
        """Delete TTS audio whose key is not in ``keep_keys``.

        Only files named like a key (and stale temp files) are touched; the
        manifest, recorded prompts and anything else in the tree stay.

        Returns:
            the removed keys, sorted.
        """
        keep = set(keep_keys)
        removed: set[str] = set()
        with self._lock:
            stale = [k for k in self.manifest() if k not in keep]
            if self.tts_dir.is_dir():
                for p in self.tts_dir.iterdir():
                    if p.suffix in (".wav", ".ulaw") and is_key(p.stem) and p.stem not in keep:
                        p.unlink(missing_ok=True)
                        removed.add(p.stem)
                    elif p.name.startswith(".") and p.name.endswith(".tmp"):
                        with contextlib.suppress(OSError):
                            if time.time() - p.stat().st_mtime > 600:
                                p.unlink()
            removed.update(stale)
            if stale:
                self._update_manifest({}, stale)
        return sorted(removed)

    # -- recorded overrides -------------------------------------------------

    def find_recorded(self, flow: str, node: str) -> Path | None:
        """The recording for a node, if a person dropped one in ``recorded/``.

        With several files for one node, the first extension in
        :data:`RECORDED_EXTENSIONS` wins (WAV first).
        """
        folder = self.recorded_dir / _safe_name(flow, "flow")
        _safe_name(node, "node")
        if not folder.is_dir():
            return None
        found = {p.suffix.lower(): p for p in folder.iterdir()
                 if p.is_file() and p.stem == node and p.suffix.lower() in RECORDED_EXTENSIONS}
        for ext in RECORDED_EXTENSIONS:
            if ext in found:
                return found[ext]
        return None

    def recorded_nodes(self) -> list[tuple[str, str]]:
        """Every (flow, node) that has a recording."""
        out = set()
        if self.recorded_dir.is_dir():
            for folder in self.recorded_dir.iterdir():
                if folder.is_dir() and not folder.name.startswith("."):
                    for p in folder.iterdir():
                        if p.is_file() and p.suffix.lower() in RECORDED_EXTENSIONS \
                                and not p.name.startswith("."):
                            out.add((folder.name, p.stem))
        return sorted(out)

    def _converted_paths(self, flow: str, node: str) -> tuple[Path, Path, Path]:
        base = self.converted_dir / flow
        return base / f"{node}.wav", base / f"{node}.ulaw", base / f"{node}.json"

    def convert_recorded(self, flow: str, node: str) -> PromptAudio | None:
        """Convert a node's recording if it changed; return its audio.

        The conversion is cached by the source's mtime and size (cheap, checked
        on every lookup) and its SHA-256 (checked when mtime or size moved, so
        a ``touch`` or a copy does not force a re-conversion).

        Raises:
            PromptError: if the recording cannot be decoded.
        """
        src = self.find_recorded(flow, node)
        if src is None:
            return None
        wav, ulaw, meta_path = self._converted_paths(flow, node)
        st = src.stat()
        meta: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads(meta_path.read_text("utf-8"))
        have = wav.is_file() and ulaw.is_file() and meta.get("source") == src.name
        fresh = have and meta.get("mtime_ns") == st.st_mtime_ns and meta.get("size") == st.st_size
        if not fresh:
            digest = hashlib.sha256(src.read_bytes()).hexdigest()
            if have and meta.get("sha256") == digest:
                meta.update(mtime_ns=st.st_mtime_ns, size=st.st_size)
            else:
                audio = convert_file(src)
                self._ensure_converted_dir()
                write_telephone_files(audio, wav, ulaw)
                meta = {"source": src.name, "mtime_ns": st.st_mtime_ns, "size": st.st_size,
                        "sha256": digest, "duration_s": audio.duration_s,
                        "etag": _etag(mulaw_wav_bytes(audio.ulaw)), "converted_at": _now_iso()}
                log.info("converted recorded prompt %s/%s from %s", flow, node, src.name)
            atomic_write(meta_path, json.dumps(meta, indent=1).encode("utf-8"))
        rel = wav.relative_to(self.audio_dir).as_posix()
        duration = float(meta.get("duration_s") or duration_of(ulaw.stat().st_size))
        return PromptAudio(f"recorded:{flow}/{node}", wav, ulaw, duration,
                           str(meta.get("etag", "")), "recorded", rel)

    def _ensure_converted_dir(self) -> None:
        self.converted_dir.mkdir(parents=True, exist_ok=True)
        ignore = self.converted_dir / ".gitignore"
        if not ignore.exists():
            # Generated audio stays out of git even though recorded/ is tracked.
            atomic_write(ignore, b"*\n")

    def lookup_recorded(self, flow: str, node: str) -> PromptAudio | None:
        """The recording for a node in telephone format, or None.

        Never raises on the request path: a recording that cannot be decoded
        is logged and the caller falls back to TTS.
        """
        try:
            return self.convert_recorded(flow, node)
        except (PromptError, OSError) as exc:
            log.warning("recorded prompt %s/%s unusable, falling back to TTS: %s", flow, node, exc)
            return None

    def resolve(self, spec: PromptSpec | None, flow: str | None = None,
                node: str | None = None) -> PromptAudio | None:
        """Audio to play for a node's prompt: the recording if any, else TTS.

        Returns None when neither exists; the transport then uses ``<Say>``.
        """
        if flow and node:
            rec = self.lookup_recorded(flow, node)
            if rec is not None:
                return rec
        return self.lookup(spec) if spec is not None else None

    def prune_converted(self) -> list[str]:
        """Delete converted recordings whose source recording is gone.

        Returns:
            the removed ``flow/node`` names, sorted.
        """
        removed: set[str] = set()
        if not self.converted_dir.is_dir():
            return []
        live = set(self.recorded_nodes())
        for folder in self.converted_dir.iterdir():
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                if p.suffix in (".wav", ".ulaw", ".json") and (folder.name, p.stem) not in live:
                    p.unlink(missing_ok=True)
                    removed.add(f"{folder.name}/{p.stem}")
        return sorted(removed)
