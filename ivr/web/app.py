"""The app factory: one Flask app built from one Config, every layer installed in order.

No module-level app and no module-level state: each call of
:func:`create_app` builds its own services (or shares the ones a test
passes) and its own parts (:mod:`ivr.web.app_state`).
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional, Union

from flask import Flask

from ..config import Config, is_env_name
from ..services import Services, build_services
from . import api, app_state, audio, handoff, media, metrics, pages, reports_page, voice, voiceprints_api

MAX_REQUEST_BYTES = 1 << 20
"""Twilio's webhooks are a few kB; anything near this is not one."""


def create_app(config: Union[Config, Mapping[str, Any], None] = None,
               services: Optional[Services] = None, *, media_streams: bool = True) -> Flask:
    """Build the IVR web app.

    Args:
        config: a Config; or a mapping applied on top of the environment, whose
            keys may be environment names (``TWILIO_AUTH_TOKEN``, ``IVR_FLOWS_DIR``...),
            Config fields (``flows_dir``...) or other Flask settings (``TESTING``).
        services: pre-built services (tests share a store this way).
        media_streams: False builds the webhooks only (keypad TwiML, the queue and its dialogues, the API),
            without the Media Streams runtime and its recognisers, nor the background prompt renderer:
            what the in-process simulator talks to for the wait loop and the post-call survey.
    """
    flask_settings: dict[str, Any] = {}
    if config is None or isinstance(config, Mapping):
        settings: dict[str, Any] = {}
        for key, value in dict(config or {}).items():
            if key.isupper() and not is_env_name(key):
                flask_settings[key] = value
            else:
                settings[key] = value
        config = Config.from_settings(settings)
    app = Flask("ivr.web")
    app.config.update(flask_settings)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app_state.install(app, services or build_services(config))
    metrics.install(app)
    audio.install(app, config.audio_dir,
                  background=media_streams and bool(config.extra.get("prompt_background", True)))
    app.register_blueprint(voice.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(voiceprints_api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reports_page.bp)
    handoff.init_app(app)
    if media_streams:
        media.install(app)
    logging.getLogger("ivr").setLevel(logging.INFO)
    return app
