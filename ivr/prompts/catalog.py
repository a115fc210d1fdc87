"""Every prompt a flow can play, exactly as the engine will speak it.

Why here and not in the engine: the engine decides *when* to speak; this
module lists *what* it can ever speak, so that ``prompts build`` renders all
of it ahead of time. System phrases (apologies, confirmations, escalation)
come from the engine's own :data:`ivr.engine.engine.TEXTS` through
:func:`ivr.engine.engine.text`, never copied, so a reworded apology is
rendered by the next build. So do the queue, callback and voicemail
dialogues' phrases (:func:`handoff_prompts`, from :mod:`ivr.engine.texts`):
any call can end with a person, so every flow renders them in its language.

Texts with ``{slot}`` fields cannot be rendered whole ahead of time; they
become their static pieces plus the say-as vocabulary of the flow's language
(numbers, currency, dates, digits), from which the sentence is assembled at
call time (:mod:`ivr.prompts.assemble`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ivr.engine import texts
from ivr.engine.engine import text as system_text
from ivr.engine.hours import spoken_day, spoken_opening
from ivr.flow import templates
from ivr.flow.model import Flow
from ivr.flow.phrases import lang_prefix
from ivr.prompts.assemble import pieces_for_build, static_specs
from ivr.prompts.sayas import LANGUAGES as SAYAS_LANGUAGES
from ivr.prompts.spec import PromptSpec

#: System phrases a menu or ask node can lead to (escalations use the node id too).
_ESCALATIONS = ("agent", "escalate", "error")

HANDOFF_NODE = "_handoff"
"""Where the handoff dialogues' phrases are spoken (no flow node: a node's recording never replaces them)."""
HANDOFF_PART = "handoff"


@dataclass(frozen=True)
class CatalogEntry:
    """One prompt of a flow.

    Attributes:
        flow, node: where it is spoken.
        part: as in :class:`ivr.engine.actions.Play` (``prompt``, ``say``, ...).
        text: the words as written (a template when ``dynamic``).
        language, voice, rate: the flow's TTS settings.
        dynamic: the text has ``{slot}`` fields, so it is assembled at call time.
    """

    flow: str
    node: str
    part: str
    text: str
    language: str
    voice: str | None
    rate: int | None

    @property
    def dynamic(self) -> bool:
        return bool(templates.fields(self.text))

    def specs(self) -> list[PromptSpec]:
        """What to render for it: the whole text, or a template's static pieces."""
        if self.dynamic:
            return static_specs(self.text, self.language, self.voice, self.rate)
        if not self.text.strip():
            return []
        return [PromptSpec(self.text, self.language, self.voice, self.rate)]


def flow_prompts(flow: Flow) -> list[CatalogEntry]:
    """Every prompt of ``flow`` in node order, duplicates kept (one per place spoken)."""
    lang, s = flow.language, flow.settings
    out: list[CatalogEntry] = []

    def add(node: str, part: str, words: str | None) -> None:
        if words and words.strip():
            out.append(CatalogEntry(flow.flow, node, part, words.strip(), lang, s.voice, s.rate))

    for nid, node in flow.nodes.items():
        kind = node.kind
        if kind == "say":
            add(nid, "say", node.say)
        elif kind == "hangup":
            add(nid, "goodbye", node.hangup)
        elif kind == "transfer":
            add(nid, "say", node.transfer.say)
        elif kind in ("voicemail", "callback"):
            add(nid, "say", getattr(getattr(node, kind), "say", None))
        spec = node.menu or node.ask
        if spec is not None:
            add(nid, "prompt", spec.prompt)
            for part in ("no_input", "no_match"):
                # The node's own re-prompt, else the engine's apology followed by the prompt.
                for words in spec.reprompts(part) or [system_text(lang, part)]:
                    add(nid, part, words)
            if node.menu is not None and s.speech:
                for opt in node.menu.options:
                    if opt.say:  # the engine confirms an unsure choice with the option's first phrase
                        add(nid, "confirm", system_text(lang, "confirm").replace("{phrase}", opt.say[0]))
            for key in _ESCALATIONS:
                add(nid, "escalate", system_text(lang, key))
        if node.authenticate is not None:   # asked only when too little speech was heard
            add(nid, "prompt", node.authenticate.prompt)
        if node.enroll is not None:
            add(nid, "prompt", node.enroll.consent_prompt)
            add(nid, "prompt", node.enroll.prompt)
        if node.survey is not None:
            survey = node.survey
            for q in survey.questions:
                add(nid, "question", q.prompt)
                # After a failure: the survey's own text, else the apology or the phrase naming the range.
                for words in survey.reprompts("no_input") or [system_text(lang, "no_input")]:
                    add(nid, "no_input", words)
                key = "survey_yesno" if q.kind == "yesno" else f"survey_range_{q.kind}"
                for words in survey.reprompts("no_match") or [system_text(lang, key)]:
                    add(nid, "no_match", words)
            add(nid, "thanks", system_text(lang, "survey_thanks"))
            for key in _ESCALATIONS:
                add(nid, "escalate", system_text(lang, key))
    # Any node can fail into a person (a hook without on_failure, a flow error).
    add(flow.start, "escalate", system_text(lang, "error"))
    for words in closed_texts(flow):
        add(flow.start, "closed", words)
    if s.survey:  # the post-call offer (the default wording is a system phrase, listed with the handoff's)
        add(s.survey, "offer", s.survey_offer)
    for words in handoff_prompts(flow):
        add(HANDOFF_NODE, HANDOFF_PART, words)
    return out


def handoff_prompts(flow: Flow) -> list[str]:
    """Every phrase the queue, callback and voicemail dialogues can say to this flow's callers.

    Whole phrases are listed as written; a phrase with values (a position, a
    number read back) is a template, rendered as its static pieces plus the
    say-as vocabulary, and the phrases that fill a ``{when}`` ("in the morning
    tomorrow", "at 9 AM on Monday") are listed whole, so the promise and the
    opening time are played from rendered audio too. Templates are left out in
    a language without say-as rules (those phrases are spoken with ``<Say>``).
    """
    lang = flow.language
    assembled = lang_prefix(lang) in SAYAS_LANGUAGES
    out = [texts.text(lang, key) for key in texts.catalogue("en").texts if not texts.is_piece(key)]
    if not assembled:
        return list(dict.fromkeys(w for w in out if not templates.fields(w)))
    days = dict.fromkeys(spoken_day(when, at, lang) for when, at in _sample_days())
    out += [texts.fill(lang, "when_free"), texts.fill(lang, "when_soon")]
    out += [texts.fill(lang, "when_window", window=texts.fill(lang, f"window_{w}"), day=day)
            for w in ("morning", "afternoon", "evening") for day in days]
    openings = opening_phrases(flow)
    out += openings + [texts.fill(lang, "when_open", opening=o) for o in openings]
    return list(dict.fromkeys(out))


def _sample_days() -> list[tuple[dt.datetime, float]]:
    """A time today, tomorrow and on each weekday after, as (when, at) pairs for :func:`spoken_day`."""
    base = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)  # a Monday
    return [(base + dt.timedelta(days=d), (base - dt.timedelta(days=b)).timestamp())
            for d in range(7) for b in (0, 1, 3)]


def _next_openings(hours: Any) -> Iterator[tuple[dt.datetime, float]]:
    """Every next opening a caller can hear of, as (when it opens, when the caller calls) pairs.

    The opening times come from the queue's weekly hours and the day is one of
    today, tomorrow or a weekday, so the variants are few and are rendered like
    any other prompt.
    """
    starts = {str(r).replace(" ", "").split("-")[0] for ranges in hours.weekly.values() for r in ranges}
    for start in sorted(starts):
        h, m = (int(x) for x in start.split(":"))
        if h >= 24:
            continue
        for weekday in range(7):  # 2024-01-01 was a Monday
            when = dt.datetime(2024, 1, 1 + weekday, h, m, tzinfo=dt.timezone.utc)
            for days_before in (0, 1, 3):  # today, tomorrow, "on Monday"
                yield when, (when - dt.timedelta(days=days_before)).timestamp()


def opening_phrases(flow: Flow) -> list[str]:
    """How the next opening of each queue with hours is spoken ("at 9 AM tomorrow"), in the flow's language."""
    out = [spoken_opening(when, at, flow.language) for queue in flow.queues.values()
           if getattr(queue, "hours", None) is not None for when, at in _next_openings(queue.hours)]
    return list(dict.fromkeys(out))


def closed_texts(flow: Flow) -> list[str]:
    """What callers hear when a queue with opening hours is closed, every variant.

    The engine says the queue's ``closed_message``, or its own "closed" phrase
    plus when the queue opens next ("They open at 9 AM tomorrow."), in the
    flow's language.
    """
    out: list[str] = []
    closed = system_text(flow.language, "closed")
    opens = system_text(flow.language, "opens")
    for queue in flow.queues.values():
        hours = getattr(queue, "hours", None)
        if hours is None:
            continue
        if hours.closed_message:
            out.append(hours.closed_message)
            continue
        out.append(closed)
        out += [f"{closed} {opens.replace('{when}', spoken_opening(when, at, flow.language))}"
                for when, at in _next_openings(hours)]
    return list(dict.fromkeys(out))


def flow_specs(flow: Flow) -> list[PromptSpec]:
    """Everything to render for one flow, vocabulary for its dynamic prompts included."""
    entries = flow_prompts(flow)
    specs = [sp for e in entries for sp in e.specs()]
    if any(e.dynamic for e in entries):
        specs += pieces_for_build([flow.language], flow.settings.voice, flow.settings.rate)
    return specs


def all_specs(flows: Iterable[Flow]) -> list[PromptSpec]:
    """Every spec of every flow, first occurrence kept."""
    seen: set[str] = set()
    out = []
    for flow in flows:
        for sp in flow_specs(flow):
            if sp.key not in seen:
                seen.add(sp.key)
                out.append(sp)
    return out


def iter_entries(flows: Iterable[Flow]) -> Iterator[CatalogEntry]:
    """Catalog entries of several flows, in order."""
    for flow in flows:
        yield from flow_prompts(flow)
