"""The handoff surfaces of the app, installed together: what happens after the engine hands a call over.

Each audience and protocol has its own module:

* :mod:`ivr.web.transfer`: a transfer becomes its queue target's TwiML;
* :mod:`ivr.web.queue`: the ``<Enqueue>`` wait loop and how callers leave it;
* :mod:`ivr.web.callback` and :mod:`ivr.web.voicemail`: the follow-up dialogues;
* :mod:`ivr.web.records_api`: the callbacks/voicemails API (bearer);
* :mod:`ivr.web.agent_page`: the page for the agent who takes the call.

Whatever fails, a caller gets valid TwiML that keeps them with a person:
in the wait loop, hold music; elsewhere, an apology and a queue
(:func:`ivr.web.call_view.on_error`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..handoff.service import Handoff
from . import agent_page, app_state, callback, queue, records_api, voicemail


def init_app(app: Flask, **kwargs: Any) -> Handoff:
    """Build the handoff service for an app and register the handoff blueprints.

    Args:
        kwargs: passed to :class:`~ivr.handoff.service.Handoff` (settings, fakes in tests).
    """
    web = app_state.parts(app)
    web.handoff = Handoff(web.services, **kwargs)
    for module in (queue, callback, voicemail, records_api, agent_page):
        app.register_blueprint(module.bp)
    return web.handoff
