"""Prompt audio under ``/audio/`` for Twilio's ``<Play>``, and the prompt resolver.

Only the two kinds of files the prompt layer writes are served: rendered
prompts (``tts/<key>.wav``) and converted recordings
(``recorded/.converted/<flow>/<node>.wav``), plus their frame-padded raw
mu-law twins (``.ulaw``); :mod:`ivr.web.audio_files` decides which. Anything
else in the audio directory (manifests, locks, a designer's source
recordings) is a 404.

Rendered files are named by a hash of their text and settings, so their
content never changes under a URL: they are cached for a year. A converted
recording keeps its URL when the designer replaces it, so it is cached
briefly and revalidated by ETag (304 when unchanged).

``<url>.json`` describes a file (``text``, ``duration_s``, ``source``,
``language``...) for the remote simulator, which hears a ``<Play>`` through it.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from flask import Blueprint, Flask, Response, abort, send_file

from ..engine import actions as A
from ..prompts.background import BackgroundRenderer
from ..prompts.cache import PromptCache
from ..prompts.resolve import PromptResolver, prompt_urls
from . import app_state
from .audio_files import MIMETYPES, AudioFiles

log = logging.getLogger(__name__)

bp = Blueprint("audio", __name__, url_prefix="/audio")

ONE_YEAR = 365 * 24 * 3600
RECORDED_MAX_AGE = 60


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
    web.audio = AudioFiles(cache, web.services.flows)
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
