"""Prompt audio under ``/audio/`` for Twilio's ``<Play>``, and the prompt resolver.

Only the two kinds of files the prompt layer writes are served: rendered
prompts (``tts/<key>.wav``) and converted recordings
(``recorded/.converted/<flow>/<node>.wav``), plus their frame-padded raw
mu-law twins (``.ulaw``). Anything else in the audio directory (manifests,
locks, a designer's source recordings) is a 404.

Rendered files are named by a hash of their text and settings, so their
content never changes under a URL: they are cached for a year. A converted
recording keeps its URL when the designer replaces it, so it is cached
briefly and revalidated by ETag (304 when unchanged).

``<url>.json`` describes a file (``text``, ``duration_s``, ``source``,
``language``...) for the remote simulator, which hears a ``<Play>`` through it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Optional

from flask import Blueprint, Flask, Response, abort, send_file

from ..engine import actions as A
from ..prompts.background import BackgroundRenderer
from ..prompts.cache import PromptCache
from ..prompts.resolve import PromptResolver, prompt_urls
from . import app_state

log = logging.getLogger(__name__)

bp = Blueprint("audio", __name__, url_prefix="/audio")

ONE_YEAR = 365 * 24 * 3600
RECORDED_MAX_AGE = 60
_TTS = re.compile(r"^tts/([0-9a-f]{32})\.(wav|ulaw)$")
_RECORDED = re.compile(r"^recorded/\.converted/([A-Za-z0-9_-][A-Za-z0-9_.-]*)/([A-Za-z0-9_][A-Za-z0-9_.-]*)\.(wav|ulaw)$")
MIMETYPES = {"wav": "audio/wav", "ulaw": "audio/basic"}


class AudioFiles:
    """The served side of an audio directory: files, ETags, descriptions."""

    def __init__(self, cache: PromptCache) -> None:
        self.cache = cache
        self.root = cache.audio_dir.resolve()
        self._etags: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def path(self, relpath: str) -> Optional[Path]:
        """The file for a URL path, if it is one we serve and it exists."""
        if not (_TTS.match(relpath) or _RECORDED.match(relpath)) or ".." in relpath.split("/"):
            return None
        p = (self.root / relpath).resolve()
        if not p.is_relative_to(self.root) or not p.is_file():
            return None
        return p

    def etag(self, path: Path) -> str:
        """Content hash of a file, recomputed only when its size or mtime moves."""
        st = path.stat()
        key = str(path)
        with self._lock:
            hit = self._etags.get(key)
            if hit and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
                return hit[2]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
        with self._lock:
            if len(self._etags) > 20_000:
                self._etags.clear()
            self._etags[key] = (st.st_mtime_ns, st.st_size, digest)
        return digest

    def describe(self, relpath: str) -> Optional[dict[str, Any]]:
        """What a served file says, for ``<url>.json``."""
        path = self.path(relpath)
        if path is None:
            return None
        m = _TTS.match(relpath)
        if m:
            entry = self.cache.manifest().get(m.group(1))
            if entry is None:
                return None
            return {"text": entry.get("text"), "duration_s": entry.get("duration_s"), "source": "tts",
                    "language": entry.get("language"), "voice": entry.get("voice"), "rate": entry.get("rate"),
                    "voice_id": entry.get("voice_id"), "etag": self.etag(path)}
        m = _RECORDED.match(relpath)
        assert m is not None
        flow_id, node_id = m.group(1), m.group(2)
        meta: dict[str, Any] = {}
        try:
            meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        except (OSError, ValueError):
            pass
        return {"text": _node_text(flow_id, node_id), "duration_s": meta.get("duration_s"), "source": "recorded",
                "flow": flow_id, "node": node_id, "recording": meta.get("source"), "etag": self.etag(path)}


def _node_text(flow_id: str, node_id: str) -> Optional[str]:
    """The words a recording stands for (the node's own text in the flow)."""
    flow = app_state.services().flows.get(flow_id)
    node = flow.nodes.get(node_id) if flow is not None else None
    if node is None:
        return None
    spec = node.menu or node.ask
    if spec is not None:
        return spec.prompt
    return node.say or node.hangup or (node.transfer.say if node.transfer else None)


def _files() -> AudioFiles:
    files = app_state.parts().audio
    if files is None:
        abort(404)
    return files


@bp.get("/<path:relpath>")
def serve(relpath: str) -> Response:
    """A prompt file (``audio/wav``), or its description (``<file>.json``)."""
    files = _files()
    if relpath.endswith(".json"):
        info = files.describe(relpath[: -len(".json")])
        if info is None:
            abort(404)
        resp = Response(json.dumps(info, ensure_ascii=False), mimetype="application/json")
        resp.headers["Cache-Control"] = "no-cache"
        return resp
    path = files.path(relpath)
    if path is None:
        abort(404)
    hashed = relpath.startswith("tts/")
    resp = send_file(path, mimetype=MIMETYPES[relpath.rsplit(".", 1)[1]], etag=files.etag(path),
                     conditional=True, max_age=ONE_YEAR if hashed else RECORDED_MAX_AGE, last_modified=None)
    if hashed:
        resp.cache_control.immutable = True
    else:
        resp.cache_control.must_revalidate = True
    return resp


def install(app: Flask, audio_dir: str, *, background: bool = True) -> PromptResolver:
    """Serve ``audio_dir`` under ``/audio/`` and let TwiML play its prompts.

    Fills the app's parts (:mod:`ivr.web.app_state`): ``prompt_url`` (a Play -> list of
    URLs or None), ``prompts`` (the resolver, for the media stream's
    :func:`ivr.prompts.resolve.prompt_frames`) and ``audio`` (the served files).

    Args:
        background: render missing prompts in a worker process for next time
            (only once the directory has been built with ``prompts build``).
    """
    cache = PromptCache(audio_dir)
    renderer = BackgroundRenderer(cache) if background else None
    resolver = PromptResolver(cache, renderer)
    web = app_state.parts(app)
    web.audio = AudioFiles(cache)
    web.prompts = resolver
    public = web.config.public_url
    base = (public or "") + bp.url_prefix

    def prompt_url(play: A.Play) -> Optional[list[str]]:
        try:
            return prompt_urls(play, resolver, base)
        except Exception:  # noqa: BLE001 - a prompt lookup must never cost a caller the call
            log.exception("prompt audio lookup failed; using <Say>")
            return None

    web.prompt_url = prompt_url
    app.register_blueprint(bp)
    if renderer is not None:
        web.services.on_close.append(renderer.close)
        web.services.flows.on_change(resolver.prepare)  # an edited flow's prompts, before it is served
    return resolver
