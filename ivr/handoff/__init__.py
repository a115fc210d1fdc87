"""Live-agent handoff: routing, hours, targets, the queue experience, callbacks and voicemail.

The pure parts (``routing``, ``hours``, ``summary``) are used by the engine;
the IO parts (``records``, ``crm``, ``transcribe``, ``dialer``, ``service``)
are imported where needed, and the web layer renders their TwiML
(:mod:`ivr.web.handoff_twiml`).  Import ``ivr.handoff.routing`` directly: it
depends on the engine's state, and this package must stay importable from
the engine.
"""

from .hours import is_open, next_opening
from .summary import summary

__all__ = ["is_open", "next_opening", "summary"]
