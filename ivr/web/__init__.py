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
        config: a Config; or a mapping applied on top of the environment, whose
            keys may be environment names (``TWILIO_AUTH_TOKEN``, ``IVR_FLOWS_DIR``...),
            Config fields (``flows_dir``...) or other Flask settings (``TESTING``).
        services: pre-built services (tests share a store this way).
    """
    flask_settings: dict[str, Any] = {}
    if config is None or isinstance(config, Mapping):
        import os

        env: dict[str, str] = dict(os.environ)
        fields: dict[str, Any] = {}
        for key, value in dict(config or {}).items():
            if key.startswith(("IVR_", "TWILIO_")):
                env[key] = "" if value is None else str(value)
            elif key.isupper():
                flask_settings[key] = value
            else:
                fields[key] = value
        config = Config.from_env(env, **fields)
    app = Flask(__name__)
    app.config.update(flask_settings)
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    svc = services or build_services(config)
    app.extensions["ivr"] = svc

    from . import api, audio, pages, voice
    audio.install(app, config.audio_dir, background=bool(config.extra.get("prompt_background", True)))
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    from . import handoff
    handoff.init_app(app)
    from . import media
    media.install(app)
    logging.getLogger("ivr").setLevel(logging.INFO)
    return app


__all__ = ["create_app"]
