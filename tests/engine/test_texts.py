"""The system phrases: one catalogue per language, each complete against English."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ivr.engine import texts
from ivr.engine.engine import TEXTS, text
from ivr.engine.hours import spoken_opening


def test_every_shipped_language_has_every_english_key_and_placeholder() -> None:
    assert set(texts.languages()) >= {"en", "it", "zh"}
    assert texts.problems() == []


def test_a_missing_key_or_a_changed_placeholder_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    it = texts.CATALOGUES["it"]
    broken = dict(it.texts)
    del broken["closed"]
    broken["callback_confirm"] = "Possiamo richiamarla al numero {numero}."
    monkeypatch.setitem(texts.CATALOGUES, "it", texts.Catalogue("it", broken, it.callback_words, ()))
    found = "\n".join(texts.problems())
    assert "it: no text for 'closed'" in found
    assert "it: 'callback_confirm' has fields ['numero']" in found
    assert "CALLBACK_WORDS and VOICEMAIL_WORDS" in found


def test_the_engine_reads_the_catalogue() -> None:
    assert TEXTS["it"] is texts.CATALOGUES["it"].texts
    assert text("it-IT", "closed") == texts.CATALOGUES["it"].texts["closed"] != text("en-US", "closed")
    assert text("zh", "opens").count("{when}") == 1
    assert text("fr-FR", "agent") == text("en-US", "agent")  # no French catalogue: English


def test_the_next_opening_is_spoken_in_the_flow_language() -> None:
    friday_ten = datetime(2026, 3, 6, 10, 30, tzinfo=timezone.utc)
    wednesday = datetime(2026, 3, 4, 12, tzinfo=timezone.utc).timestamp()
    assert spoken_opening(friday_ten, wednesday) == "at 10:30 AM on Friday"
    assert spoken_opening(friday_ten, wednesday, "it-IT") == "venerdì alle 10:30"
    assert spoken_opening(friday_ten.replace(minute=0), friday_ten.timestamp() - 86400, "it-IT") == "domani alle 10"
