"""Building the prompt audio ahead of time (``python -m ivr prompts build``).

Why ahead of time: pyttsx3 must stay off the request path (it hangs if reused carelessly). A build
renders only the prompts that have no audio yet, so it is cheap to run on
every deploy: a second build with unchanged flows renders nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ivr.errors import PromptError
from ivr.prompts.cache import PromptCache
from ivr.prompts.render import Renderer, RenderResult
from ivr.prompts.spec import PromptSpec


@dataclass(frozen=True)
class BuildFailure:
    """A prompt that could not be rendered or a recording that could not be converted."""

    key: str
    text: str
    error: str


@dataclass(frozen=True)
class BuildReport:
    """What a build did.

    Attributes:
        rendered: prompts rendered now.
        reused: prompts whose audio was already there.
        pruned: stale files removed (TTS keys and orphaned conversions).
        failed: prompts or recordings that failed (details in ``failures``).
        seconds: wall time of the build.
        recorded: recorded overrides checked (converted or already fresh).
        failures: one entry per failure, with the error message.
    """

    rendered: int
    reused: int
    pruned: int
    failed: int
    seconds: float
    recorded: int = 0
    failures: tuple[BuildFailure, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing failed (the CLI exits 1 otherwise)."""
        return self.failed == 0

    def summary(self) -> str:
        """One line for the terminal."""
        return (f"{self.rendered} rendered, {self.reused} reused, {self.pruned} pruned, "
                f"{self.recorded} recorded, {self.failed} failed in {self.seconds:.1f}s")


ProgressArg = bool | Callable[[int, int, RenderResult], None] | None


def unique_specs(specs: Iterable[PromptSpec]) -> list[PromptSpec]:
    """Drop specs with the same key, keeping the first (and the order)."""
    seen: set[str] = set()
    out = []
    for s in specs:
        if s.key not in seen:
            seen.add(s.key)
            out.append(s)
    return out


def build(specs: Iterable[PromptSpec], audio_dir: str | os.PathLike[str],
          progress: ProgressArg = None, prune: bool = False, *,
          renderer: Renderer | None = None, recorded: bool = True) -> BuildReport:
    """Render every prompt that has no audio yet into ``audio_dir``.

    Args:
        specs: every prompt the flows can play (duplicates are fine).
        audio_dir: the audio tree (see :mod:`ivr.prompts.cache`).
        progress: True for a rich progress bar on the terminal, or a callable
            (done, total, result) for other front ends.
        prune: also delete audio that no spec needs any more.
        renderer: a renderer to use (kept open); by default one is started
            only if something needs rendering, and closed afterwards.
        recorded: also convert changed recordings under ``recorded/``.
    """
    t0 = time.monotonic()
    cache = PromptCache(audio_dir)
    wanted = unique_specs(specs)
    missing = [s for s in wanted if cache.lookup(s) is None]
    failures: list[BuildFailure] = []
    rendered = 0

    n_recorded = 0
    if recorded:
        for flow, node in cache.recorded_nodes():
            try:
                cache.convert_recorded(flow, node)
                n_recorded += 1
            except PromptError as exc:
                failures.append(BuildFailure(f"recorded:{flow}/{node}", "", str(exc)))

    if missing:
        own = renderer is None
        rnd = renderer or Renderer()
        try:
            with cache.batch():
                def on_result(done: int, total: int, res: RenderResult) -> None:
                    nonlocal rendered
                    if res.ok and res.audio is not None:
                        cache.store(res.spec, res.audio, res.voice_id)
                        rendered += 1
                    else:
                        failures.append(BuildFailure(res.spec.key, res.spec.text,
                                                     res.error or "unknown error"))
                    if callable(progress):
                        progress(done, total, res)

                if progress is True:
                    _render_with_bar(rnd, missing, on_result)
                else:
                    rnd.render_many(missing, on_result)
        finally:
            if own:
                rnd.close()

    pruned = 0
    if prune:
        pruned = len(cache.prune({s.key for s in wanted})) + len(cache.prune_converted())
    return BuildReport(rendered=rendered, reused=len(wanted) - len(missing), pruned=pruned,
                       failed=len(failures), seconds=round(time.monotonic() - t0, 3),
                       recorded=n_recorded, failures=tuple(failures))


def _render_with_bar(rnd: Renderer, specs: list[PromptSpec],
                     on_result: Callable[[int, int, RenderResult], None]) -> None:
    """Render with a rich progress bar (rich is imported only when asked for)."""
    from rich.progress import (  # noqa: PLC0415 - only the CLI needs rich
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [TextColumn("rendering prompts"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), TextColumn("{task.description}")]
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("", total=len(specs))

        def cb(done: int, total: int, res: RenderResult) -> None:
            on_result(done, total, res)
            bar.update(task, completed=done, description=res.spec.text[:40])

        rnd.render_many(specs, cb)
