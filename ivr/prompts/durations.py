"""How long prompts take to play, from the rendered audio.

Used by ``lint`` (a menu prompt over ~8 s is flagged ``slow-prompt``) and by
the simulator (prompt seconds per call: the caller's effort). Both ask here
and never render: the numbers are those of the audio callers will hear, when
it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ivr.flow.loader import flow_files, load_flow
from ivr.prompts.cache import PromptCache
from ivr.prompts.resolve import PromptResolver
from ivr.prompts.spec import normalize_text

log = logging.getLogger(__name__)

#: Speaking speed assumed for prompts that have no audio (words per second;
#: 150 wpm, what the simulator has always assumed).
WORDS_PER_SECOND = 2.5


def estimate_seconds(text: str) -> float:
    """A words-per-second guess for text without audio."""
    return len(text.split()) / WORDS_PER_SECOND


def _audio_dir(config: Any) -> Path:
    return Path(getattr(config, "audio_dir", None) or "audio")


def _recorded_by_node(cache: PromptCache, config: Any) -> dict[tuple[str, str], float]:
    """(node, node text) -> seconds of a recording, for flows in the flows directory."""
    out: dict[tuple[str, str], float] = {}
    recorded = cache.recorded_nodes()
    if not recorded:
        return out
    try:
        flows = {}
        for f in flow_files(Path(getattr(config, "flows_dir", None) or "flows")):
            try:
                lf = load_flow(f)
            except Exception:  # noqa: BLE001 - lint reports broken flows itself
                continue
            flows[lf.flow.flow] = lf.flow
    except Exception:  # noqa: BLE001
        return out
    for flow_id, node_id in recorded:
        node = flows.get(flow_id, None) and flows[flow_id].nodes.get(node_id)
        spec = node and (node.menu or node.ask)
        if not spec:
            continue
        audio = cache.lookup_recorded(flow_id, node_id)
        if audio is not None:
            out[(node_id, normalize_text(spec.prompt))] = audio.duration_s
    return out


def duration_lookup(config: Any) -> Callable[[str, str], float | None]:
    """``(node id, text) -> seconds`` of a prompt as rendered, None if it is not.

    The lint knows the node and its text but not the voice: a text rendered
    with several voices or rates counts with its longest audio. A recording
    of that node in a flow of the flows directory wins, as it does on calls.
    """
    cache = PromptCache(_audio_dir(config))
    by_text: dict[str, float] = {}
    for entry in cache.manifest().values():
        try:
            text = normalize_text(str(entry.get("text", "")))
            secs = float(entry.get("duration_s") or 0.0)
        except (TypeError, ValueError):
            continue
        if text and secs > by_text.get(text, 0.0):
            by_text[text] = secs
    recorded = _recorded_by_node(cache, config)

    def lookup(node_id: str, text: str) -> float | None:
        norm = normalize_text(text or "")
        if (node_id, norm) in recorded:
            return recorded[(node_id, norm)]
        return by_text.get(norm)

    return lookup


def play_seconds(config: Any) -> Callable[[Any], float]:
    """``(Play) -> seconds``: the audio's length, else an estimate from the words."""
    resolver = PromptResolver(PromptCache(_audio_dir(config)))

    def seconds(play: Any) -> float:
        secs = resolver.seconds(play)
        return estimate_seconds(play.text) if secs is None else secs

    return seconds
