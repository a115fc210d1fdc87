"""Speech calls over Twilio Media Streams: ``/media`` (websocket) and ``POST /voice/connect``.

How a speech call runs (flows with ``settings.speech: true`` when media
streams are on, see ``IVR_MEDIA_STREAMS``):

1. ``POST /voice`` starts the call in the driver (state exists) and answers
   ``<Connect action="/voice/connect"><Stream url="wss://HOST/media">`` with
   the call id and a per-call HMAC token as ``<Parameter>`` (stream URLs carry
   no query string). The first turn's actions wait in the call state.
2. Twilio opens the websocket; a ``start`` whose token does not sign its call
   is refused (socket closed). The whole self-service dialogue then runs here:
   prompts go out as ``media`` followed by a ``mark``; the no-input timer
   starts when that mark comes back; caller audio goes through the VAD and one
   recogniser session per listen; caller speech or a key during a prompt
   sends ``clear`` (barge-in); keys arrive as ``dtmf``. All timing counts the
   20 ms ``media`` frames Twilio sends continuously, so a test client can run
   faster than real time.
3. A transfer or hang-up plays its last prompts, waits for their mark (or a
   timeout) and closes the socket; Twilio then posts ``/voice/connect``, which
   answers the transfer TwiML (the same renderer as keypad calls) or
   ``<Hangup/>`` from the state the driver saved.

A ``stop`` or a dropped socket mid-dialogue records ``CallerHungUp``. If
Twilio's action webhook still arrives (the caller is there, our socket went),
the caller is reconnected to a new stream when the call is still open, else
handed to a person with the context known -- never silence.

The JSON wire format lives in :mod:`ivr.speech.mediastreams` only. Here:
:mod:`.runtime` (what all streams share: recogniser, pool, warm-up, stats),
:mod:`.session` (one call's dialogue), :mod:`.endpoints` (the socket, the
connect action, :func:`install`); the ``<Stream>`` TwiML and tokens are in
:mod:`ivr.web.stream_twiml`.
"""

from ..stream_twiml import connect_twiml, stream_token, stream_url, token_valid
from .endpoints import install, media_socket, start_call
from .runtime import MediaRuntime
from .session import MediaSession

__all__ = ["MediaRuntime", "MediaSession", "connect_twiml", "install", "media_socket", "start_call",
           "stream_token", "stream_url", "token_valid"]
