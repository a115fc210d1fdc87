"""TwiML of the handoff: queue targets, the wait loop, callback and voicemail dialogues.

The one module that writes handoff TwiML (as :mod:`ivr.web.twiml` does for
self-service turns).  Every ``<Gather>`` is followed by a ``<Redirect>``;
URLs are relative to the voice webhooks' base so signatures hold behind the
configured public URL.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence
from urllib.parse import quote, urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ..engine import actions as A
from ..engine import texts
from ..flow import templates
from ..flow.model import Queue
from ..flow.phrases import lang_prefix
from ..handoff.callbacks import spoken_number
from ..prompts.catalog import HANDOFF_NODE, HANDOFF_PART
from ..prompts.sayas import LANGUAGES as SAYAS_LANGUAGES
from .twiml import PromptUrl, add_prompt, say_language

BASE = "/voice/queue"
DEFAULT_HOLD_AUDIO = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
"""Twilio's own public hold music (the default classical wait playlist uses these files)."""
SIP_HEADER_MAX = 120
ESCAPE_KEY = "0"
"""The agent key: it reaches a person from every dialogue here (:mod:`ivr.web.escape`)."""


def _q(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v is not None}
    return f"{BASE}{path}" + (f"?{urlencode(clean)}" if clean else "")


def audio_digits(number: str) -> str:
    """A phone number as rendered audio reads it: digit by digit, a pause between the groups."""
    return spoken_number(number).replace(",", " ")


class Speaker:
    """Speaks the system phrases of one call's flow: ``<Play>`` of rendered audio, else ``<Say>``.

    Why a Play: the dialogues' phrases are rendered ahead of time like every
    other prompt (:func:`ivr.prompts.catalog.flow_prompts` lists them for the
    flow's language, voice and rate), so the caller hears the flow's voice; a
    phrase with runtime values (a position, minutes, a number read back) is
    assembled from rendered pieces by the prompt resolver. ``<Say>`` is used
    only when no audio is found (``prompt_url`` missing or answering None).

    Args:
        language: the flow's language (``it-IT``).
        flow, voice, rate: the flow's id and TTS settings (the audio is looked up by them).
        prompt_url: the app's prompt audio lookup (:data:`ivr.web.twiml.PromptUrl`).
    """

    def __init__(self, language: str = "en-US", flow: str = "", voice: Optional[str] = None,
                 rate: Optional[int] = None, prompt_url: Optional[PromptUrl] = None) -> None:
        self.language = language or "en-US"
        self.flow, self.voice, self.rate, self.prompt_url = flow, voice, rate, prompt_url

    def play_of(self, key: str, audio: Optional[dict[str, Any]] = None, **values: Any) -> A.Play:
        """The :class:`~ivr.engine.actions.Play` of phrase ``key`` with ``values`` filled in.

        Args:
            audio: values for the rendered pieces where they differ from the words
                (a number read back: its digits); default ``values``.
        """
        template = texts.text(self.language, key)
        words = texts.fill(self.language, key, **values)
        assembled = bool(templates.fields(template)) and lang_prefix(self.language) in SAYAS_LANGUAGES
        pieces = {**values, **(audio or {})}
        return A.Play(words, HANDOFF_NODE, HANDOFF_PART, self.language, True, flow=self.flow, voice=self.voice,
                      rate=self.rate, template=template if assembled else None,
                      values=tuple(pieces.items()) if assembled else ())

    def say(self, parent: VoiceResponse | Gather, key: str, audio: Optional[dict[str, Any]] = None,
            **values: Any) -> None:
        """Append phrase ``key``: its rendered audio, else ``<Say>`` in the flow's language."""
        add_prompt(parent, self.play_of(key, audio, **values), self.prompt_url)

    def say_text(self, parent: VoiceResponse | Gather, words: str, language: Optional[str] = None) -> None:
        """Append words that are no system phrase (a queue's own closed message, the agent summary)."""
        parent.say(words, language=say_language(language or self.language))


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


def whisper(summary_text: str) -> str:
    """What the agent hears before the caller is connected: the one-sentence summary.

    The summary (:func:`ivr.engine.summary.summary`) is written in English for
    agents, so it is spoken in English whatever the caller's language.
    """
    resp = VoiceResponse()
    resp.say(summary_text, language="en-US")
    return str(resp)


def whisper_unknown(sp: Speaker) -> str:
    """The whisper when the call's story is not known."""
    resp = VoiceResponse()
    sp.say(resp, "whisper_unknown")
    return str(resp)


@dataclass(frozen=True)
class Phrase:
    """A system phrase to speak: its key, the values of its fields, and the values its audio reads."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()
    audio: tuple[tuple[str, Any], ...] = ()

    def speak(self, sp: Speaker, parent: VoiceResponse | Gather) -> None:
        sp.say(parent, self.key, dict(self.audio) or None, **dict(self.values))


def phrase(key: str, audio: Optional[dict[str, Any]] = None, **values: Any) -> Phrase:
    """A :class:`Phrase` (``audio``: values for the rendered pieces, e.g. a number's digits)."""
    return Phrase(key, tuple(values.items()), tuple((audio or {}).items()))


def ask_keys(sp: Speaker, phrases: Sequence[Phrase], action: str, no_input: str, *, timeout: int = 5,
             finish_on_key: Optional[str] = None) -> str:
    """One question answered by keys: a ``<Gather>`` speaking ``phrases``, then ``<Redirect>`` to ``no_input``.

    One key unless ``finish_on_key`` ends a longer entry; the agent key 0 is
    one of the keys (a lone 0 reaches a person, :mod:`ivr.web.escape`). Keys
    only: spoken choices are heard by our own recogniser, never Twilio's cloud speech.
    """
    resp = VoiceResponse()
    gather = _keys_gather(action, timeout=timeout, finish_on_key=finish_on_key)
    for p in phrases:
        p.speak(sp, gather)
    resp.append(gather)
    resp.redirect(no_input, method="POST")
    return str(resp)


def _keys_gather(action: str, *, timeout: int, finish_on_key: Optional[str] = None) -> Gather:
    length: dict[str, Any] = {"finish_on_key": finish_on_key} if finish_on_key else {"num_digits": 1}
    return Gather(input="dtmf", **length, action=action, method="POST", timeout=timeout,
                  action_on_empty_result=False)


# -- the wait loop -------------------------------------------------------------

def position_phrase(position: Optional[int]) -> Optional[Phrase]:
    if position is None or position < 1:
        return None
    return phrase("queue_next") if position == 1 else phrase("queue_position", position=position)


def wait_phrase(avg_seconds: Optional[int]) -> Optional[Phrase]:
    """Expected wait from Twilio's AvgQueueTime (rounded up to whole minutes)."""
    if avg_seconds is None or avg_seconds <= 0:
        return None
    minutes = math.ceil(avg_seconds / 60)
    if minutes <= 1:
        return phrase("wait_under_minute") if avg_seconds < 60 else phrase("wait_minute")
    return phrase("wait_minutes", minutes=minutes)


def options_phrase(spec: Optional[Queue], speech: bool) -> Optional[Phrase]:
    """How to leave the line: one phrase per combination, so each is rendered whole."""
    callback = spec is None or spec.offer_callback
    voicemail = spec is None or spec.offer_voicemail
    if callback:
        key = "wait_options" if voicemail else "wait_options_callback"
        return phrase(key + ("_speech" if speech else ""))
    return phrase("wait_options_voicemail") if voicemail else None


def wait_loop(position: Optional[int], avg_seconds: Optional[int], spec: Optional[Queue], *,
              speech: bool = False, sp: Optional[Speaker] = None, announce: bool = True) -> str:
    """The waitUrl document: position, expected wait, choices, hold audio; then again.

    ``speech``: the call's queue stream listens (see :mod:`ivr.web.queue_speech`), so the
    prompt also offers "say callback"; the ``<Gather>`` itself takes keys only.
    """
    sp = sp or Speaker()
    resp = VoiceResponse()
    # Keys only: spoken choices are heard by our own recogniser on the call's queue media stream
    # (``speech`` only changes the words), never by Twilio's cloud speech.
    gather = _keys_gather(_q("/wait/input"), timeout=1)
    said = [position_phrase(position), wait_phrase(avg_seconds)] if announce else []
    for p in (*said, options_phrase(spec, speech)):
        if p is not None:
            p.speak(sp, gather)
    gather.play((spec.hold_audio if spec and spec.hold_audio else None) or DEFAULT_HOLD_AUDIO)
    resp.append(gather)
    resp.redirect(_q("/wait"), method="POST")
    return str(resp)


def still_waiting(sp: Optional[Speaker] = None, key: Optional[str] = None) -> str:
    """Back to the wait loop (after an unknown key, or the agent escape: they are in line already)."""
    resp = VoiceResponse()
    if key and sp is not None:
        sp.say(resp, key)
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

def leave_menu(reason_key: Optional[str], spec: Optional[Queue], sp: Speaker) -> str:
    """After a failed connection or a full queue: offer a callback or a message (0: a person)."""
    options = phrase("leave_options" if spec is None or spec.offer_callback else "leave_options_voicemail")
    phrases = [phrase(reason_key), options] if reason_key else [options]
    return ask_keys(sp, phrases, _q("/leave"), _q("/voicemail"))


def goodbye(sp: Speaker, key: str, **values: Any) -> str:
    """Phrase ``key``, then hang up."""
    resp = VoiceResponse()
    sp.say(resp, key, **values)
    resp.hangup()
    return str(resp)


def redirect(path: str, sp: Optional[Speaker] = None, key: Optional[str] = None, **params: Any) -> str:
    """Phrase ``key`` (if any), then go on at ``path`` of the dialogues."""
    resp = VoiceResponse()
    if key and sp is not None:
        sp.say(resp, key)
    resp.redirect(_q(path, **params), method="POST")
    return str(resp)


def empty() -> str:
    return str(VoiceResponse())


# -- a person, from any dialogue ---------------------------------------------------

def to_person(sp: Speaker) -> VoiceResponse:
    """"Connecting you to a person" (the queue's target is appended by the caller, as for any transfer)."""
    resp = VoiceResponse()
    sp.say(resp, "agent")
    return resp


def closed_then(sp: Speaker, closed_message: Optional[str], opening: Optional[str], ask_again: str) -> str:
    """The team is closed: say so (and when it opens), then ask the dialogue's question again."""
    resp = VoiceResponse()
    if closed_message:
        sp.say_text(resp, closed_message)
    else:
        sp.say(resp, "closed")
        if opening:
            sp.say(resp, "opens", when=opening)
    resp.redirect(ask_again, method="POST")
    return str(resp)


# -- callback dialogue -----------------------------------------------------------

def number_phrase(key: str, number: str) -> Phrase:
    """A phrase that reads a phone number back: grouped words for ``<Say>``, digits for the audio."""
    return phrase(key, {"number": audio_digits(number)}, number=spoken_number(number))


def callback_confirm(number: str, sp: Speaker, tries: int = 1) -> str:
    """Offer the caller ID as the number to call back (1 yes, 2 another); ``tries`` travels with the answer."""
    return ask_keys(sp, [number_phrase("callback_confirm", number)], _q("/callback/confirm", tries=tries),
                    _q("/callback", tries=tries + 1))


def callback_enter(sp: Speaker, tries: int = 1, reason_key: Optional[str] = None) -> str:
    """Ask for the number to call back, ended by ``#``."""
    phrases = [phrase(reason_key), phrase("callback_enter")] if reason_key else [phrase("callback_enter")]
    return ask_keys(sp, phrases, _q("/callback/typed", tries=tries), _q("/callback/enter", tries=tries + 1),
                    timeout=10, finish_on_key="#")


def callback_readback(number: str, sp: Speaker, tries: int = 1) -> str:
    """Read the typed number back (1 right, 2 again)."""
    return ask_keys(sp, [number_phrase("callback_readback", number)], _q("/callback/readback", tries=tries),
                    _q("/callback/enter", tries=tries + 1))


def callback_window(sp: Speaker, tries: int = 1, reason_key: Optional[str] = None) -> str:
    """When to call back: one key per window, 5 for a day and time (after two silences, the first window)."""
    phrases = [phrase(reason_key)] if reason_key else []
    return ask_keys(sp, phrases + [phrase("callback_windows"), phrase("callback_choose")],
                    _q("/callback/window", tries=tries),
                    _q("/callback/window", tries=tries + 1, default="1" if tries >= 2 else None))


def callback_say_when(sp: Speaker, tries: int = 1, reasons: Sequence[Phrase] = ()) -> str:
    """"Tell me when we should call you": a short ``<Record>`` our own recogniser hears (``*``: the keypad)."""
    resp = VoiceResponse()
    for p in reasons:
        p.speak(sp, resp)
    sp.say(resp, "callback_say_when")
    resp.record(max_length=6, timeout=2, finish_on_key="*" + ESCAPE_KEY, play_beep=True, trim="trim-silence",
                action=_q("/callback/spoken", tries=tries), method="POST")
    # Nothing recorded (silence): Twilio skips the action and continues here.
    resp.redirect(_q("/callback/spoken", tries=tries + 1, silent=1), method="POST")
    return str(resp)


def callback_days(days: Sequence[str], sp: Speaker, tries: int = 1, reason_key: Optional[str] = None) -> str:
    """Which day: one key per open day offered (``days`` as spoken: "today", "tomorrow", "on Friday")."""
    phrases = ([phrase(reason_key)] if reason_key else []) + [phrase("callback_days")]
    phrases += [phrase("callback_day_option", day=d, digit=str(i + 1)) for i, d in enumerate(days)]
    return ask_keys(sp, phrases, _q("/callback/day", tries=tries), _q("/callback/day", tries=tries + 1))


def callback_time(day: str, sp: Speaker, tries: int = 1, reasons: Sequence[Phrase] = ()) -> str:
    """At what time: hours and minutes on the keypad, ended by ``#``."""
    return ask_keys(sp, [*reasons, phrase("callback_time", day=day)], _q("/callback/time", tries=tries),
                    _q("/callback/time", tries=tries + 1), timeout=8, finish_on_key="#")


def callback_chosen(when: str, sp: Speaker, tries: int = 1) -> str:
    """Read the chosen day and time back: 1 confirms, 2 chooses again (a change of mind)."""
    return ask_keys(sp, [phrase("callback_chosen", when=when)], _q("/callback/chosen", tries=tries),
                    _q("/callback/chosen", tries=tries + 1))


def callback_promise(number: str, when: str, sp: Speaker) -> str:
    """The promise in words ("... on 5 5 5, 1 2 3, 0 0 0 0 in the afternoon today"), then hang up."""
    resp = VoiceResponse()
    sp.say(resp, "callback_promise", {"number": audio_digits(number)}, number=spoken_number(number), when=when)
    resp.hangup()
    return str(resp)


def callback_connect(sp: Speaker) -> VoiceResponse:
    """Start of an outbound callback the customer answered (the target is appended by the caller)."""
    resp = VoiceResponse()
    sp.say(resp, "callback_hello")
    return resp


# -- voicemail -------------------------------------------------------------------

def voicemail(max_seconds: int, sp: Speaker) -> str:
    """The prompt and the ``<Record>``: ``#`` ends the message, ``0`` ends it to reach a person."""
    resp = VoiceResponse()
    sp.say(resp, "voicemail_prompt")
    resp.record(max_length=max_seconds, finish_on_key="#" + ESCAPE_KEY, play_beep=True, timeout=5,
                trim="trim-silence", action=_q("/voicemail/done"), method="POST",
                recording_status_callback=_q("/voicemail/recorded"), recording_status_callback_method="POST",
                recording_status_callback_event="completed")
    # No audio recorded: Twilio skips the action and continues here.
    sp.say(resp, "voicemail_none")
    resp.hangup()
    return str(resp)
