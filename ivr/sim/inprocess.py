"""The web app in-process, for the parts of a simulated call that live in the webhooks.

The queue's wait loop, the callback and voicemail dialogues and the end of the
agent leg (the post-call survey) are Twilio requests to :mod:`ivr.web`, not
engine turns. An in-process call (:class:`ivr.sim.handles.LocalCall`) plays
them the way a call against a server does (:class:`ivr.sim.handles.RemoteCall`,
signed webhooks, TwiML followed as Twilio would), but against an app built on
the simulator's own services (same flows, store, hooks and clock) and reached
through Flask's test client: no socket, no second process.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlsplit

from ..services import Services
from ..web.app import create_app
from ..web.voice import render_turn

_APPS: dict[int, tuple[Services, Any]] = {}
"""One webhook app per Services (keyed by identity; dropped when the services close)."""


class _Response:
    """The part of ``requests.Response`` the simulator reads."""

    def __init__(self, status_code: int, text: str) -> None:
        self.status_code, self.text = status_code, text

    def json(self) -> Any:
        import json
        return json.loads(self.text)


class TestClientSession:
    """``requests.Session``-shaped access to an app through its test client (``post``, ``get``, ``close``)."""

    __test__ = False   # not a pytest test class

    def __init__(self, app: Any) -> None:
        self.client = app.test_client()
        self.headers: dict[str, str] = {}

    @staticmethod
    def _path(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def post(self, url: str, data: Optional[dict[str, str]] = None, headers: Optional[dict[str, str]] = None,
             timeout: float = 0) -> _Response:
        resp = self.client.post(self._path(url), data=data or {}, headers=headers or {},
                                base_url=_base(url))
        return _Response(resp.status_code, resp.get_data(as_text=True))

    def get(self, url: str, headers: Optional[dict[str, str]] = None, timeout: float = 0) -> _Response:
        resp = self.client.get(self._path(url), headers=headers or {}, base_url=_base(url))
        return _Response(resp.status_code, resp.get_data(as_text=True))

    def close(self) -> None:
        """Nothing to close: no connection was opened."""


def _base(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "http://localhost"


def webhook_app(services: Services) -> Any:
    """The webhooks (keypad TwiML, queue, dialogues, API) on ``services``, built once, no media streams."""
    known = _APPS.get(id(services))
    if known is not None and known[0] is services:
        return known[1]
    app = create_app(services.config, services=services, media_streams=False)
    _APPS[id(services)] = (services, app)

    def forget() -> None:
        from ..web import app_state
        handoff = app_state.parts(app).handoff
        if handoff is not None:
            handoff.close()
        _APPS.pop(id(services), None)
    services.on_close.append(forget)
    return app


def public_base(services: Services) -> str:
    """The base URL requests are signed for: the configured public URL, else the test client's own."""
    return (services.config.public_url or "http://localhost").rstrip("/")


def turn_twiml(app: Any, turn: Any) -> str:
    """The TwiML the app answers for a driver turn (as ``/voice/...`` would have)."""
    with app.test_request_context(base_url=public_base(app_services(app))):
        return render_turn(turn)


def app_services(app: Any) -> Services:
    from ..web import app_state
    return app_state.services(app)
