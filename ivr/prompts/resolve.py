"""Audio for a prompt the engine plays, at call time, without rendering anything.

Every transport asks the same question -- "what do I play for this
:class:`~ivr.engine.actions.Play`?" -- and gets the same answer here:

1. a person's recording of the node (``recorded/<flow>/<node>.wav``) for the
   node's own words (parts ``prompt``, ``say``, ``goodbye``);
2. the rendered TTS file for the text;
3. for text with slot values, the whole sentence if it was rendered, else
   pieces rendered ahead of time, played back to back;
4. otherwise nothing: the transport speaks the text itself (TwiML ``<Say>``)
   and the gap is logged once. When the audio directory has been built, the
   missing text is also queued for the background renderer so the next
   caller hears audio.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from ivr.prompts.assemble import AssembledPrompt, assemble, resolve_audio
from ivr.prompts.background import BackgroundRenderer
from ivr.prompts.cache import PromptAudio, PromptCache
from ivr.prompts.catalog import flow_specs
from ivr.prompts.spec import PromptSpec

log = logging.getLogger(__name__)

#: Parts of a node that its recording replaces (its own words, not system phrases).
RECORDED_PARTS = ("prompt", "say", "goodbye")

#: Distinct fallbacks remembered for log-once (bounded: unique texts must not grow memory).
_MAX_LOGGED = 10_000


def spec_of(play: Any, text: str | None = None) -> PromptSpec | None:
    """The TTS spec of a played text (None if the text or language is unusable)."""
    try:
        return PromptSpec(text if text is not None else play.text, play.language or "en-US",
                          getattr(play, "voice", None), getattr(play, "rate", None))
    except ValueError:
        return None


def assembled_of(play: Any) -> AssembledPrompt | None:
    """A dynamic prompt as words and pieces, from the Play's template and values."""
    template = getattr(play, "template", None)
    if not template:
        return None
    try:
        return assemble(template, dict(getattr(play, "values", ()) or ()), play.language or "en-US",
                        getattr(play, "voice", None), getattr(play, "rate", None))
    except (KeyError, ValueError):
        return None  # a value missing or unreadable as its kind: the filled text is still spoken


class PromptResolver:
    """Finds the audio of a prompt: recording, TTS file, assembled pieces.

    Args:
        cache: the prompt cache of the audio directory.
        background: renders missing text for next time; only used once the
            audio directory has been built (a deployment that never ran
            ``prompts build`` keeps to ``<Say>`` and starts no TTS process).
    """

    def __init__(self, cache: PromptCache, background: BackgroundRenderer | None = None) -> None:
        self.cache = cache
        self.background = background
        self._logged: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()
        self._memo: dict[tuple, list[PromptAudio] | None] = {}
        self._stamp: tuple = ()
        self._checked = float("-inf")
        self._status_memo: tuple[Any, int, dict[str, int]] | None = None

    def _files_stamp(self) -> tuple:
        """What changes when audio is rendered, pruned or recorded (manifest, recording folders)."""
        out = []
        for path in (self.cache.manifest_path, self.cache.recorded_dir):
            try:
                out.append(path.stat().st_mtime_ns)
            except OSError:
                out.append(None)
        try:
            out += sorted((p.name, p.stat().st_mtime_ns) for p in self.cache.recorded_dir.iterdir() if p.is_dir())
        except OSError:
            pass
        return tuple(out)

    def _fresh_memo(self) -> dict[tuple, list[PromptAudio] | None]:
        # Lookups touch the manifest and several files; a call turn plays a few prompts, so
        # answers are remembered and forgotten when the audio directory changes (checked each second).
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            stamp = self._files_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                self._memo = {}
        return self._memo

    def _background(self) -> BackgroundRenderer | None:
        if self.background is not None and self.cache.manifest():
            return self.background
        return None

    def missing(self, flow: Any) -> list[PromptSpec]:
        """The prompts of ``flow`` (every fixed text it can speak) with no rendered audio yet."""
        return [spec for spec in flow_specs(flow) if self.cache.lookup(spec) is None]

    def status(self, flows: Sequence[Any]) -> dict[str, Any]:
        """What ``GET /api/health`` reports under ``prompts``: rendered, missing (by flow), still rendering.

        Missing prompts play with ``<Say>`` (or the stream's fallback voice)
        until ``prompts build`` renders them; ``rendering`` counts prompts a
        reload is rendering right now.
        """
        key = (tuple(id(f) for f in flows), self._files_stamp())
        memo = self._status_memo
        if memo is not None and memo[0] == key:  # health is polled: count again only when flows or files change
            total, missing = memo[1], memo[2]
        else:
            total, missing = self._count(flows, flow_specs)
            self._status_memo = (key, total, missing)
        bg = self._background()
        return {"total": total, "present": total - sum(missing.values()), "missing": sum(missing.values()),
                "missing_by_flow": dict(missing), "rendering": bg.pending if bg is not None else 0}

    def _count(self, flows: Sequence[Any], flow_specs: Any) -> tuple[int, dict[str, int]]:
        total = 0
        missing: dict[str, int] = {}
        for flow in flows:
            specs = flow_specs(flow)
            total += len(specs)
            gone = sum(1 for spec in specs if self.cache.lookup(spec) is None)
            if gone:
                missing[flow.flow] = gone
        return total, missing

    def prepare(self, flow: Any, timeout: float = 30.0) -> int:
        """Render ``flow``'s missing prompts now and wait for them (at most ``timeout`` s); returns how many.

        Called when a reload adds or changes a flow, before it is served, so
        its first callers hear rendered audio rather than ``<Say>``. Does
        nothing where background rendering is off or the directory was never
        built (such a deployment keeps to ``<Say>`` by design).
        """
        bg = self._background()
        if bg is None:
            return 0
        specs = self.missing(flow)
        for spec in specs:
            bg.request(spec)
        if specs and not bg.wait_idle(timeout):
            log.warning("flow '%s': %d prompts still rendering after %.0f s; served meanwhile with <Say>",
                        getattr(flow, "flow", "?"), bg.pending, timeout)
        return len(specs)

    def audio(self, play: Any, *, render_missing: bool = True) -> list[PromptAudio] | None:
        """The audio files to play for ``play``, in order; None when there are none.

        Args:
            play: an :class:`ivr.engine.actions.Play` (or anything shaped like it).
            render_missing: queue missing audio for background rendering and
                log the fallback (the simulator and the lint only ask).
        """
        memo = self._fresh_memo()
        key = (getattr(play, "flow", ""), play.node, play.part, play.text, getattr(play, "template", None),
               getattr(play, "values", None), getattr(play, "voice", None), getattr(play, "rate", None),
               getattr(play, "language", ""), render_missing)
        if key in memo:
            return memo[key]
        found = self._audio(play, render_missing=render_missing)
        if found is not None:  # a miss is looked up again: a background render may fill it any moment
            if len(memo) > 10000:
                memo.clear()
            memo[key] = found
        return found

    def _audio(self, play: Any, *, render_missing: bool = True) -> list[PromptAudio] | None:
        dynamic = bool(getattr(play, "template", None))
        flow, node = getattr(play, "flow", "") or "", play.node or ""
        if flow and node and not dynamic and play.part in RECORDED_PARTS:
            try:
                rec = self.cache.lookup_recorded(flow, node)
            except Exception:  # noqa: BLE001 - a bad name must never break a call
                rec = None
            if rec is not None:
                return [rec]
        background = self._background() if render_missing else None
        spec = spec_of(play)
        if spec is None:
            return None
        found = self.cache.lookup(spec)
        if found is not None:
            return [found]
        if dynamic:
            prompt = assembled_of(play)
            if prompt is not None:
                pieces = resolve_audio(prompt, self.cache, background)
                if pieces:
                    return pieces
                background = None  # resolve_audio queued the whole sentence
        if background is not None:
            background.request(spec)
        if render_missing:
            self._log_fallback(play, dynamic)
        return None

    def _log_fallback(self, play: Any, dynamic: bool) -> None:
        # The template, never the filled text: slot values stay out of logs.
        what = play.template if dynamic else play.text
        key = (getattr(play, "flow", ""), play.node, play.part, what)
        with self._lock:
            if key in self._logged:
                return
            if len(self._logged) >= _MAX_LOGGED:
                self._logged.clear()
            self._logged.add(key)
        log.warning("no prompt audio for %s/%s (%s) %r: using <Say>; run `python -m ivr prompts build`",
                    key[0] or "-", play.node or "-", play.part, what[:80])

    def seconds(self, play: Any) -> float | None:
        """Played length of the prompt's audio, None if it has none (never renders)."""
        found = self.audio(play, render_missing=False)
        return None if found is None else sum(a.duration_s for a in found)


def prompt_urls(play: Any, resolver: PromptResolver, base: str = "/audio") -> list[str] | None:
    """URLs of the prompt's audio under ``base`` (the ``/audio/`` blueprint), or None."""
    found = resolver.audio(play)
    if not found:
        return None
    return [f"{base.rstrip('/')}/{a.relpath}" for a in found]


def prompt_frames(play: Any, resolver: PromptResolver | PromptCache) -> list[bytes] | None:
    """The prompt as 20 ms mu-law frames (160 bytes each) for a Media Stream.

    The same audio as ``<Play>`` gets; pieces of an assembled prompt follow
    one another. None when there is no audio: the media transport then has to
    say so (there is no ``<Say>`` inside a stream) or use TwiML.
    """
    if isinstance(resolver, PromptCache):
        resolver = PromptResolver(resolver)
    found = resolver.audio(play)
    if not found:
        return None
    frames: list[bytes] = []
    for a in found:
        frames.extend(a.frames())
    return frames


def total_seconds(audios: Sequence[PromptAudio]) -> float:
    """Length of audio played back to back."""
    return sum(a.duration_s for a in audios)
