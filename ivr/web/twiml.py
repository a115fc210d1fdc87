"""TwiML rendering: the one module that writes Twilio's voice XML.

Turns the engine's actions into a ``VoiceResponse`` (twilio's own builder).
Rules that keep callers out of silence:

* every ``<Gather>`` is followed by a ``<Redirect>`` (no input would
  otherwise fall through to the end of the document and hang up);
* prompts that allow barge-in go *inside* the ``<Gather>`` so a key press
  interrupts them;
* a transfer is an ``<Enqueue>`` carrying the context packet as ``<Task>`` JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Callable, Optional, Sequence, Union
from urllib.parse import quote

from twilio.twiml.voice_response import Gather, VoiceResponse

from ..engine import actions as A

log = logging.getLogger(__name__)

PromptUrl = Callable[[A.Play], Union[str, Sequence[str], None]]
"""Maps a prompt to the URL of its audio (or several, played in order), or None to use ``<Say>``."""

SAY_LANGUAGES = {"en": "en-US", "it": "it-IT", "es": "es-ES", "fr": "fr-FR", "de": "de-DE", "zh": "cmn-CN",
                 "cmn": "cmn-CN"}


def _say_language(language: str) -> str:
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
        parent.say(play.text, language=_say_language(play.language))


def node_query(node: str, turn: Optional[int] = None) -> str:
    """``node=ID`` (and ``&turn=N``, the state version the input answers, so a retry can be recognised)."""
    query = "node=" + quote(node, safe="")
    return query if turn is None else f"{query}&turn={int(turn)}"


def render(actions: Sequence[A.Action], *, prompt_url: Optional[PromptUrl] = None,
           base: str = "/voice", workflow_sid: Optional[Callable[[str], Optional[str]]] = None,
           transfer: Optional[Callable[[VoiceResponse, A.Transfer], None]] = None,
           turn: Optional[int] = None) -> str:
    """A TwiML document for one turn.

    Args:
        actions: the turn's actions (prompts, then one turn-ending action).
        prompt_url: audio lookup for prompts.
        base: path prefix of the voice webhooks.
        workflow_sid: queue name -> TaskRouter workflow SID, if any.
        transfer: renders a transfer (the handoff module supplies routing targets).
        turn: the call state's version, carried in the ``<Gather>`` and ``<Redirect>`` URLs.
    """
    resp = VoiceResponse()
    plays = [a for a in actions if isinstance(a, A.Play)]
    end = next((a for a in reversed(actions) if isinstance(a, A.TURN_ENDING)), None)
    if isinstance(end, A.Listen):
        # Leading prompts that may not be interrupted are played before the Gather.
        split = len(plays)
        while split > 0 and plays[split - 1].barge_in and end.barge_in:
            split -= 1
        for p in plays[:split]:
            add_prompt(resp, p, prompt_url)
        gather = gather_for(end, base, turn)
        for p in plays[split:]:
            add_prompt(gather, p, prompt_url)
        resp.append(gather)
        resp.redirect(f"{base}/noinput?{node_query(end.node, turn)}", method="POST")
        return str(resp)
    for p in plays:
        add_prompt(resp, p, prompt_url)
    if isinstance(end, A.Transfer):
        if transfer is not None:
            transfer(resp, end)
        else:
            enqueue(resp, end, base, workflow_sid(end.queue) if workflow_sid else None)
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


def task_json(transfer: A.Transfer) -> str:
    """TaskRouter task attributes: the context packet plus routing fields."""
    return json.dumps({**transfer.context, "queue": transfer.queue, "reason": transfer.reason},
                      separators=(",", ":"), ensure_ascii=False)


def enqueue(resp: VoiceResponse, transfer: A.Transfer, base: str, workflow_sid: Optional[str]) -> None:
    """``<Enqueue>`` with the context packet as ``<Task>`` JSON."""
    kwargs = {"wait_url": f"{base}/queue/wait", "wait_url_method": "POST",
              "action": f"{base}/queue/done", "method": "POST"}
    if workflow_sid:
        kwargs["workflow_sid"] = workflow_sid
    enq = resp.enqueue(**kwargs)
    enq.task(task_json(transfer))


def apology(queue: str, language: str = "en-US", base: str = "/voice") -> str:
    """Last-resort TwiML when even the driver's fallback failed: apologise, hand to a person."""
    resp = VoiceResponse()
    resp.say("Sorry, something went wrong on our side. Connecting you to a person.",
             language=_say_language(language))
    enq = resp.enqueue(wait_url=f"{base}/queue/wait", wait_url_method="POST")
    enq.task(json.dumps({"queue": queue, "reason": "system_error"}))
    return str(resp)
