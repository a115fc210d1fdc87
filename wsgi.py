"""WSGI entry point: ``gunicorn wsgi:app`` (configuration from the environment)."""

from dataclasses import replace

from ivr.config import Config
from ivr.web import create_app

_config = Config.from_env()
if _config.media_streams is None:  # a served deployment runs speech flows over Media Streams
    _config = replace(_config, media_streams=True)
_config.check_for_server()
app = create_app(_config)
