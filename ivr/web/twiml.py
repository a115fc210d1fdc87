"""TwiML of self-service turns: the engine's actions as Twilio's voice XML.

Turns the engine's actions into a ``VoiceResponse`` (twilio's own builder).
Rules that keep callers out of silence:

* every ``<Gather>`` is followed by a ``<Redirect>`` (no input would
  otherwise fall through to the end of the document and hang up);
* prompts that allow barge-in go *inside* the ``<Gather>`` so a key press
  interrupts them (:mod:`ivr.web.barge_in`);
* a transfer is rendered by the caller's ``transfer`` function (the handoff's
  queue targets, :mod:`ivr.web.handoff_twiml`), so there is one way to write it.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, Optional, Sequence, Union
from urllib.parse import quote

from twilio.twiml.voice_response import Gather, VoiceResponse

from ..engine import actions as A
from ..engine import texts
from .barge_in import split_turn

log = logging.getLogger(__name__)

PromptUrl = Callable[[A.Play], Union[str, Sequence[str], None]]
"""Maps a prompt to the URL of its audio (or several, played in order), or None to use ``<Say>``."""

TransferRenderer = Callable[[VoiceResponse, A.Transfer], None]
"""Appends the verbs that connect a caller to a transfer's queue target."""

SAY_LANGUAGES = {"en": "en-US", "it": "it-IT", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "zh": "cmn-CN",
                 "cmn": "cmn-CN"}


def say_language(language: str) -> str:
    """The ``<Say language>`` for a flow language (``en`` -> ``en-US``; unknown -> ``en-US``)."""
    return language if "-" in language else SAY_LANGUAGES.get(language, "en-US")


def add_prompt(parent: VoiceResponse | Gather, play: A.Play, prompt_url: Optional[PromptUrl]) -> None:
    """Append one prompt: ``<Play>`` of its audio (one per piece of an assembled prompt), else ``<Say>``."""
    urls = prompt_url(play) if prompt_url else None
    if isinstance(urls, str):
        urls = [urls]
    if urls:
        for url in urls:
            parent.play(url)
    else:
        parent.say(play.text, language=say_language(play.language))


def node_query(node: str, turn: Optional[int] = None) -> str:
    """``node=ID`` (and ``&turn=N``, the state version the input answers, so a retry can be recognised)."""
    query = "node=" + quote(node, safe="")
    return query if turn is None else f"{query}&turn={int(turn)}"


def render(actions: Sequence[A.Action], *, transfer: TransferRenderer, prompt_url: Optional[PromptUrl] = None,
           base: str = "/voice", turn: Optional[int] = None) -> str:
    """A TwiML document for one turn.

    Args:
        actions: the turn's actions (prompts, then one turn-ending action).
        transfer: renders a transfer (:func:`ivr.web.transfer.render_transfer`: the queue's target).
        prompt_url: audio lookup for prompts.
        base: path prefix of the voice webhooks.
        turn: the call state's version, carried in the ``<Gather>`` and ``<Redirect>`` URLs.
    """
    resp = VoiceResponse()
    turn_ = split_turn(actions)
    for p in turn_.before:  # prompts that may not be interrupted come before the Gather
        add_prompt(resp, p, prompt_url)
    listen = turn_.listen
    if listen is not None:
        gather = gather_for(listen, base, turn)
        for p in turn_.during:
            add_prompt(gather, p, prompt_url)
        resp.append(gather)
        resp.redirect(f"{base}/noinput?{node_query(listen.node, turn)}", method="POST")
    elif isinstance(turn_.end, A.Transfer):
        transfer(resp, turn_.end)
    else:
        resp.hangup()
    return str(resp)


def gather_for(listen: A.Listen, base: str, turn: Optional[int] = None) -> Gather:
    """The ``<Gather>`` for keypad input at a node."""
    kwargs: dict = {
        "input": "dtmf",
        "action": f"{base}/input?{node_query(listen.node, turn)}",
        "method": "POST",
        "timeout": max(1, int(round(listen.timeout))),
        "finish_on_key": listen.finish_on_key,
        "action_on_empty_result": False,
    }
    if listen.mode in ("menu", "yesno"):
        kwargs["num_digits"] = 1
    elif listen.max_digits:
        kwargs["num_digits"] = listen.max_digits
    return Gather(**kwargs)


def apology(queue: str, language: str = "en-US", base: str = "/voice") -> str:
    """Last-resort TwiML when even the driver's fallback failed: apologise, hand to a person."""
    resp = VoiceResponse()
    resp.say(texts.fill(language, "error"), language=say_language(language))
    enq = resp.enqueue(wait_url=f"{base}/queue/wait", wait_url_method="POST")
    enq.task(json.dumps({"queue": queue, "reason": "system_error"}))
    return str(resp)
