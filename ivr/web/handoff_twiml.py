"""TwiML of the handoff: queue targets, the wait loop, callback and voicemail dialogues.

The one module that writes handoff TwiML (as :mod:`ivr.web.twiml` does for
self-service turns).  Every ``<Gather>`` is followed by a ``<Redirect>``;
URLs are relative to the voice webhooks' base so signatures hold behind the
configured public URL.
"""

from __future__ import annotations

import json
import math
from typing import Any, Optional, Sequence
from urllib.parse import quote, urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ..engine import actions as A
from ..flow.model import Queue
from ..handoff.callbacks import WINDOWS, spoken_number
from .twiml import say_language

BASE = "/voice/queue"
DEFAULT_HOLD_AUDIO = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
"""Twilio's own public hold music (the default classical wait playlist uses these files)."""
SIP_HEADER_MAX = 120
CALLBACK_WORDS = ("callback", "call back", "call me back", "call me")
VOICEMAIL_WORDS = ("voicemail", "voice mail", "message", "leave a message")


def _q(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{BASE}{path}" + (f"?{urlencode(clean)}" if clean else "")


class Speaker:
    """Adds ``<Say>`` in one language."""

    def __init__(self, language: str = "en-US") -> None:
        self.language = say_language(language)

    def say(self, parent: VoiceResponse | Gather, words: str) -> None:
        parent.say(words, language=self.language)


# -- targets ------------------------------------------------------------------

def task_attributes(transfer: A.Transfer, agent_url: Optional[str]) -> str:
    """TaskRouter task attributes: the context packet, routing fields and the agent page link."""
    attrs = {**transfer.context, "queue": transfer.queue, "reason": transfer.reason}
    if agent_url:
        attrs["agent_url"] = agent_url
    return json.dumps(attrs, separators=(",", ":"), ensure_ascii=False)


def sip_headers(transfer: A.Transfer, fields: Sequence[str]) -> list[tuple[str, str]]:
    """``X-`` headers for a SIP target: context id, routing facts and the queue's key fields.

    Values come from the masked context, so a sensitive slot can never be
    sent (masked values are skipped, not sent as ``****``).
    """
    ctx = transfer.context
    routing = ctx.get("routing") or {}
    out = [("X-IVR-Context-Id", ctx.get("call_id") or ""), ("X-IVR-Queue", transfer.queue),
           ("X-IVR-Reason", transfer.reason)]
    if routing.get("rule"):
        out.append(("X-IVR-Rule", routing["rule"]))
    out.append(("X-IVR-Auth", str((ctx.get("auth") or {}).get("status") or "none")))
    if ctx.get("history"):
        out.append(("X-IVR-Earlier-Calls", str(len(ctx["history"]))))
    slots = ctx.get("slots") or {}
    for name in fields:
        value = slots.get(name)
        if value is None or value == "****":
            continue
        header = "X-IVR-" + "-".join(p.capitalize() for p in name.replace("_", "-").split("-") if p)
        out.append((header, str(value)[:SIP_HEADER_MAX]))
    return [(k, v) for k, v in out if v]


def sip_uri(uri: str, headers: Sequence[tuple[str, str]]) -> str:
    """A SIP URI with headers appended the way Twilio reads them (``?X-Name=value&...``)."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in headers)
    return uri + ("&" if "?" in uri else "?") + query if query else uri


def render_target(resp: VoiceResponse, transfer: A.Transfer, spec: Optional[Queue], *,
                  agent_url: Optional[str] = None, workflow_sid: Optional[str] = None,
                  voice_base: str = "/voice") -> None:
    """Append the verbs that connect a caller to a queue's target (or to voicemail/callback)."""
    if transfer.mode == "voicemail":
        resp.redirect(_q("/voicemail"), method="POST")
        return
    if transfer.mode == "callback":
        resp.redirect(_q("/callback"), method="POST")
        return
    target = spec.target if spec else None
    kind = target.type if target else "taskrouter"
    call_id = transfer.context.get("call_id") or ""
    if kind in ("taskrouter", "queue"):
        kwargs: dict[str, Any] = {"wait_url": f"{voice_base}/queue/wait", "wait_url_method": "POST",
                                  "action": f"{voice_base}/queue/done", "method": "POST"}
        if kind == "queue":
            resp.enqueue((target.name if target and target.name else transfer.queue)[:64], **kwargs)
            return
        sid = (target.workflow_sid if target else None) or (spec.workflow_sid if spec else None) or workflow_sid
        if sid:
            kwargs["workflow_sid"] = sid
        enq = resp.enqueue(**kwargs)
        task_kwargs: dict[str, Any] = {}
        priority = (transfer.context.get("routing") or {}).get("priority")
        if priority is not None:
            task_kwargs["priority"] = priority
        enq.task(task_attributes(transfer, agent_url), **task_kwargs)
        return
    dial_kwargs: dict[str, Any] = {"action": _q("/dialed"), "method": "POST", "timeout": target.timeout,
                                   "answer_on_bridge": True}
    if target.caller_id:
        dial_kwargs["caller_id"] = target.caller_id
    dial = resp.dial(**dial_kwargs)
    if kind == "sip":
        dial.sip(sip_uri(target.uri or "", sip_headers(transfer, target.fields)))
    else:
        number_kwargs: dict[str, Any] = {}
        if spec is None or spec.whisper:
            number_kwargs = {"url": _q("/whisper", call=call_id), "method": "POST"}
        dial.number(target.number, **number_kwargs)


def whisper(summary_text: str, language: str = "en-US") -> str:
    """What the agent hears before the caller is connected: the one-sentence summary."""
    resp = VoiceResponse()
    Speaker(language).say(resp, summary_text)
    return str(resp)


def ask_keys(words: str, language: str, action: str, no_input: str, *, timeout: int = 5,
             finish_on_key: Optional[str] = None) -> str:
    """One question answered by keys: a ``<Gather>`` saying ``words``, then ``<Redirect>`` to ``no_input``.

    One key unless ``finish_on_key`` ends a longer entry. Keys only: spoken
    choices are heard by our own recogniser, never Twilio's cloud speech.
    """
    resp = VoiceResponse()
    resp.append(_keys_gather(words, language, action, timeout=timeout, finish_on_key=finish_on_key))
    resp.redirect(no_input, method="POST")
    return str(resp)


def _keys_gather(words: Optional[str], language: str, action: str, *, timeout: int,
                 finish_on_key: Optional[str] = None) -> Gather:
    length: dict[str, Any] = {"finish_on_key": finish_on_key} if finish_on_key else {"num_digits": 1}
    gather = Gather(input="dtmf", **length, action=action, method="POST", timeout=timeout,
                    action_on_empty_result=False)
    if words:
        Speaker(language).say(gather, words)
    return gather


# -- the wait loop -------------------------------------------------------------

def position_words(position: Optional[int]) -> Optional[str]:
    if position is None or position < 1:
        return None
    return "You are next in line." if position == 1 else f"You are number {position} in line."


def wait_words(avg_seconds: Optional[int], position: Optional[int]) -> Optional[str]:
    """Expected wait from Twilio's AvgQueueTime (rounded up to whole minutes)."""
    if avg_seconds is None or avg_seconds <= 0:
        return None
    minutes = math.ceil(avg_seconds / 60)
    if minutes <= 1:
        return "Your expected wait is less than a minute." if avg_seconds < 60 else \
            "Your expected wait is about a minute."
    return f"Your expected wait is about {minutes} minutes."


def options_words(spec: Optional[Queue], speech: bool) -> Optional[str]:
    callback = spec is None or spec.offer_callback
    voicemail = spec is None or spec.offer_voicemail
    parts = []
    if callback:
        parts.append("To have us call you back instead, press 1" + (" or say callback." if speech else "."))
    if voicemail:
        parts.append("To leave a message, press 2.")
    if not parts:
        return None
    return " ".join(parts) + " Or stay on the line."


def wait_loop(position: Optional[int], avg_seconds: Optional[int], spec: Optional[Queue], *,
              speech: bool = False, language: str = "en-US", announce: bool = True) -> str:
    """The waitUrl document: position, expected wait, choices, hold audio; then again.

    ``speech``: the call's queue stream listens (see :mod:`ivr.web.queue_speech`), so the
    prompt also offers "say callback"; the ``<Gather>`` itself takes keys only.
    """
    resp = VoiceResponse()
    sp = Speaker(language)
    offered = options_words(spec, speech)
    # Keys only: spoken choices are heard by our own recogniser on the call's queue media stream
    # (``speech`` only changes the words), never by Twilio's cloud speech.
    gather = _keys_gather(None, language, _q("/wait/input"), timeout=1)
    if announce:
        for words in (position_words(position), wait_words(avg_seconds, position)):
            if words:
                sp.say(gather, words)
    if offered:
        sp.say(gather, offered)
    gather.play((spec.hold_audio if spec and spec.hold_audio else None) or DEFAULT_HOLD_AUDIO)
    resp.append(gather)
    resp.redirect(_q("/wait"), method="POST")
    return str(resp)


def still_waiting(language: str = "en-US", words: Optional[str] = None) -> str:
    """Back to the wait loop (after an unknown key, or the agent escape: they are in line already)."""
    resp = VoiceResponse()
    if words:
        Speaker(language).say(resp, words)
    resp.redirect(_q("/wait"), method="POST")
    return str(resp)


def leave_queue() -> str:
    """Leave the queue; Twilio then requests the Enqueue action with QueueResult=leave."""
    resp = VoiceResponse()
    resp.leave()
    return str(resp)


def hold_music_only(spec: Optional[Queue] = None) -> str:
    """The wait loop's safety net: keep the caller in line with music, no questions."""
    resp = VoiceResponse()
    resp.play((spec.hold_audio if spec and spec.hold_audio else None) or DEFAULT_HOLD_AUDIO)
    resp.redirect(_q("/wait"), method="POST")
    return str(resp)


# -- leaving: choose callback or voicemail ---------------------------------------

def leave_menu(words: str, spec: Optional[Queue], language: str = "en-US") -> str:
    """After a failed connection or a full queue: offer a callback or a message."""
    choices = []
    if spec is None or spec.offer_callback:
        choices.append("To have us call you back, press 1.")
    choices.append("To leave a message, press 2.")
    return ask_keys(f"{words} {' '.join(choices)}".strip(), language, _q("/leave"), _q("/voicemail"))


def goodbye(words: str, language: str = "en-US") -> str:
    resp = VoiceResponse()
    Speaker(language).say(resp, words)
    resp.hangup()
    return str(resp)


def redirect(path: str, words: Optional[str] = None, language: str = "en-US", **params: Any) -> str:
    resp = VoiceResponse()
    if words:
        Speaker(language).say(resp, words)
    resp.redirect(_q(path, **params), method="POST")
    return str(resp)


def empty() -> str:
    return str(VoiceResponse())


# -- callback dialogue -----------------------------------------------------------

def callback_confirm(number: str, language: str = "en-US", tries: int = 1) -> str:
    """Offer the caller ID as the number to call back (1 yes, 2 another)."""
    return ask_keys(f"We can call you back on {spoken_number(number)}. Press 1 to use this number, or 2 to "
                    "enter a different one.", language, _q("/callback/confirm"), _q("/callback", tries=tries + 1))


def callback_enter(language: str = "en-US", tries: int = 1, words: Optional[str] = None) -> str:
    """Ask for the number to call back, ended by ``#``."""
    text = "Please enter the number we should call, with the area code, then press the pound key."
    return ask_keys(f"{words} {text}" if words else text, language, _q("/callback/typed"),
                    _q("/callback/enter", tries=tries + 1), timeout=10, finish_on_key="#")


def callback_readback(number: str, language: str = "en-US") -> str:
    """Read the typed number back (1 right, 2 again)."""
    return ask_keys(f"You entered {spoken_number(number)}. Press 1 if that is right, or 2 to enter it again.",
                    language, _q("/callback/readback"), _q("/callback/enter", tries=1))


def callback_window(language: str = "en-US", tries: int = 1) -> str:
    """When to call back: one key per window (after two silences, the first window)."""
    words = "When should we call you? " + " ".join(f"For {w.spoken}, press {w.key}." for w in WINDOWS)
    return ask_keys(words, language, _q("/callback/window"),
                    _q("/callback/window", tries=tries + 1, default="1" if tries >= 2 else None))


def callback_connect(words: str, language: str = "en-US") -> VoiceResponse:
    """Start of an outbound callback the customer answered (the target is appended by the caller)."""
    resp = VoiceResponse()
    Speaker(language).say(resp, words)
    return resp


# -- voicemail -------------------------------------------------------------------

def voicemail(max_seconds: int, language: str = "en-US", words: Optional[str] = None) -> str:
    resp = VoiceResponse()
    sp = Speaker(language)
    sp.say(resp, words or "Please leave your message after the tone. Press the pound key when you have finished.")
    resp.record(max_length=max_seconds, finish_on_key="#", play_beep=True, timeout=5, trim="trim-silence",
                action=_q("/voicemail/done"), method="POST",
                recording_status_callback=_q("/voicemail/recorded"), recording_status_callback_method="POST",
                recording_status_callback_event="completed")
    # No audio recorded: Twilio skips the action and continues here.
    sp.say(resp, "We did not get a message. Goodbye.")
    resp.hangup()
    return str(resp)
