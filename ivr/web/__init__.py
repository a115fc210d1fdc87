"""The web layer: the Flask app factory and its blueprints (the only Flask importer)."""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Union

from flask import Flask

from ..config import Config
from ..services import Services, build_services


def create_app(config: Union[Config, Mapping[str, Any], None] = None,
               services: Optional[Services] = None) -> Flask:
    """Build the IVR web app.

    Args:
        config: a Config, or overrides applied on top of the environment.
        services: pre-built services (tests share a store this way).
    """
    if config is None or isinstance(config, Mapping):
        config = Config.from_env(**dict(config or {}))
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    svc = services or build_services(config)
    app.extensions["ivr"] = svc

    from . import api, audio, pages, voice
    audio.install(app, config.audio_dir, background=bool(config.extra.get("prompt_background", True)))
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    logging.getLogger("ivr").setLevel(logging.INFO)
    return app


__all__ = ["create_app"]
