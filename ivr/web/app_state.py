"""The app's parts: the one place that reads and writes ``app.extensions``.

Flask keeps per-app objects in ``app.extensions``, a dict with string keys;
used as a service locator it hides which parts exist and what type they
are. Here they are one typed :class:`WebApp`, stored under one key
(:data:`KEY`), and every other module of the web layer goes through
:func:`parts` or the small accessors below (a test fails if any other
module touches ``.extensions``).

Layers that may be absent (the handoff, the media runtime, prompt audio)
are ``Optional`` fields: a reader sees at a glance what it must cope with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from flask import Flask, current_app

if TYPE_CHECKING:  # types only: these modules import this one
    from ..config import Config
    from ..flow.model import Flow
    from ..handoff.service import Handoff
    from ..prompts.resolve import PromptResolver
    from ..services import Services
    from ..speech.tap import VoiceTap
    from .audio_files import AudioFiles
    from .media.runtime import MediaRuntime
    from .twiml import PromptUrl

KEY = "ivr.web"
"""The one ``app.extensions`` key of the IVR."""

StartCall = Callable[["Flow", str, str, str, str], Optional[str]]
"""Takes over a new call (the speech transport) from its flow, call id, caller, called number and entry point:
TwiML to answer, or None to leave it to keypad TwiML."""


@dataclass
class WebApp:
    """Everything one IVR web app is built from, typed.

    Attributes:
        services: flows, store, hooks and the call driver (always there).
        handoff: records, CRM, transcription and dialing (the queue, callback and voicemail dialogues).
        media: the Media Streams runtime (recogniser, worker pool, voice tap, stats).
        audio: the served side of the prompt audio directory.
        prompts: the prompt resolver (audio files for prompts, for TwiML and the media stream).
        prompt_url: a prompt's audio URLs for ``<Play>``, or None for ``<Say>``.
        start_call: set when speech flows are served over media streams (``POST /voice`` hands them over).
        queue_speech: whether waiting callers' spoken "callback" is heard (the wait prompt says so).
    """

    services: Services
    handoff: Optional[Handoff] = None
    media: Optional[MediaRuntime] = None
    audio: Optional[AudioFiles] = None
    prompts: Optional[PromptResolver] = None
    prompt_url: Optional[PromptUrl] = None
    start_call: Optional[StartCall] = None
    queue_speech: bool = False

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def voice_tap(self) -> Optional[VoiceTap]:
        """Voiced caller frames by call id (``ivr.speech.tap.VoiceTap``), when the media runtime runs."""
        return self.media.tap if self.media is not None else None

    @property
    def speech_calls(self) -> bool:
        """Whether speech flows are answered over media streams here (the runtime is there and taking calls)."""
        return self.media is not None and self.start_call is not None


def install(app: Flask, services: Services) -> WebApp:
    """Give ``app`` its parts (the services now; each layer fills its field as it installs)."""
    web = WebApp(services)
    app.extensions[KEY] = web
    return web


def parts(app: Optional[Flask] = None) -> WebApp:
    """The parts of ``app`` (default: the app handling the current request)."""
    return (app if app is not None else current_app).extensions[KEY]


def services(app: Optional[Flask] = None) -> Services:
    """The core services (flows, store, hooks, driver)."""
    return parts(app).services


def config(app: Optional[Flask] = None) -> Config:
    """The app's settings."""
    return parts(app).services.config


def handoff(app: Optional[Flask] = None) -> Handoff:
    """The handoff service; raises if the app was built without it (every ``create_app`` app has it)."""
    h = parts(app).handoff
    if h is None:
        raise RuntimeError("this app has no handoff service: build it with ivr.web.create_app")
    return h


def media(app: Optional[Flask] = None) -> MediaRuntime:
    """The media runtime; raises if the app was built without it (every ``create_app`` app has it)."""
    rt = parts(app).media
    if rt is None:
        raise RuntimeError("this app has no media runtime: build it with ivr.web.create_app")
    return rt


__all__ = ["KEY", "StartCall", "WebApp", "config", "handoff", "install", "media", "parts", "services"]
