"""WSGI entry point: ``gunicorn wsgi:app`` (configuration from the environment)."""

from ivr.config import Config
from ivr.web import create_app

_config = Config.from_env()
_config.check_for_server()
app = create_app(_config)
