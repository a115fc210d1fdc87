"""The web layer: the Flask app factory and its blueprints (the only Flask importer).

Modules by wire protocol and audience: :mod:`.voice` and :mod:`.twiml`
(keypad TwiML turns), :mod:`.media` (the Media Streams dialogue),
:mod:`.queue`, :mod:`.callback`, :mod:`.voicemail` (handoff dialogues),
:mod:`.api` and :mod:`.records_api` (JSON), :mod:`.agent_page` and
:mod:`.pages` (for people), :mod:`.audio` (prompt files),
:mod:`.twilio_request` (Twilio's requests), :mod:`.app_state` (the app's parts).
"""

from .app import create_app
from .app_state import WebApp, parts

__all__ = ["WebApp", "create_app", "parts"]
