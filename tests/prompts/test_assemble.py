"""Dynamic prompts from pre-rendered pieces; background rendering of the rest."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest

from ivr.prompts import sayas
from ivr.prompts.assemble import (
    AssembledPrompt,
    assemble,
    infer_kind,
    parse_template,
    pieces_for_build,
    resolve_audio,
    static_specs,
)
from ivr.prompts.audio import concat_frames
from ivr.prompts.background import BackgroundRenderer
from ivr.prompts.builder import build
from ivr.prompts.cache import PromptCache
from ivr.prompts.render import Renderer
from ivr.prompts.spec import PromptSpec

from .faults import faulty_engine


def texts(p: AssembledPrompt) -> list[str]:
    return [s.text for s in p.specs]


def test_balance_template() -> None:
    p = assemble("Your balance is {balance:money}.", {"balance": 42.05})
    assert p.text == "Your balance is forty two dollars and five cents."
    assert texts(p) == ["Your balance is", "forty", "two", "dollars", "and", "five", "cents"]
    assert all(s.language == "en-US" for s in p.specs)
    assert p.whole == PromptSpec(p.text)


def test_settings_travel_to_every_piece() -> None:
    p = assemble("Saldo: {b:money}", {"b": 3}, "it-IT", voice="roa/it", rate=150)
    assert texts(p) == ["Saldo:", "tre", "euro"]
    assert {(s.language, s.voice, s.rate) for s in p.specs} == {("it-IT", "roa/it", 150)}


def test_kinds_are_inferred_from_values() -> None:
    p = assemble("Your appointment is on {day} at {when}. Reference {ref}. You owe {amt}.",
                 {"day": dt.date(2026, 3, 3), "when": dt.time(14, 30), "ref": "4711",
                  "amt": "$5"})
    assert p.text == ("Your appointment is on Tuesday, March third at two thirty P M. "
                      "Reference four seven one one. You owe five dollars.")
    assert texts(p)[:4] == ["Your appointment is on", "Tuesday", "March", "third"]


@pytest.mark.parametrize("value,kind", [
    (3, "integer"), (Decimal("1.5"), "number"), (2.5, "number"), (dt.date(2026, 1, 1), "date"),
    (dt.time(9), "time"), ("0123", "digits"), ("42.05 EUR", "money"), ("Anna", "text"),
    (True, "text"),
])
def test_infer_kind(value: object, kind: str) -> None:
    assert infer_kind(value) == kind


def test_free_text_values_are_one_piece() -> None:
    p = assemble("Hello {name}, you are caller {pos:queue}", {"name": "Anna", "pos": 2})
    assert texts(p) == ["Hello", "Anna", ", you are caller", "You are number", "two", "in line."]


def test_template_errors() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        parse_template("Hi {x:colour}")
    with pytest.raises(ValueError, match="named"):
        parse_template("Hi {}")
    with pytest.raises(KeyError, match="balance"):
        assemble("Your balance is {balance}.", {})


def test_static_specs_skip_punctuation() -> None:
    assert [s.text for s in static_specs("Your balance is {b:money}. {c} !")] == ["Your balance is"]


def test_vocabulary_covers_every_piece() -> None:
    rng = random.Random(7)
    for lang in ("en-US", "it-IT"):
        vocab = {s.text for s in pieces_for_build([lang])}
        for required in {"en-US": ["zero", "twenty", "hundred", "thousand", "million", "dollars",
                                   "cents", "and", "point", "Tuesday", "March", "third"],
                         "it-IT": ["quarantadue", "cento", "mila", "euro", "virgola", "martedì",
                                   "marzo", "primo"]}[lang]:
            assert required in vocab
        for _ in range(300):
            cases = [
                ("integer", rng.randrange(-10 ** 9, 10 ** 9), {}),
                ("money", Decimal(rng.randrange(0, 10 ** 8)) / 100, {}),
                ("date", dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(4000)), {"year": True}),
                ("time", dt.time(rng.randrange(24), rng.randrange(60)), {}),
                ("digits", str(rng.randrange(10 ** 12)), {}),
                ("ordinal", rng.randrange(1, 100), {}),
                ("queue", rng.randrange(1, 200), {"wait_minutes": rng.randrange(0, 90)}),
                ("number", f"{rng.randrange(1000)}.{rng.randrange(100)}", {}),
            ]
            for kind, value, opts in cases:
                missing = set(sayas.pieces(kind, value, lang, **opts)) - vocab
                assert not missing, (lang, kind, value, missing)


def test_vocabulary_sizes_stay_small() -> None:
    assert len(pieces_for_build(["en-US"])) < 200
    assert len(pieces_for_build(["it-IT"])) < 350
    keys = [s.key for s in pieces_for_build(["en-US", "it-IT"])]
    assert len(keys) == len(set(keys))


def test_played_from_pieces_after_a_build(tmp_path: Path) -> None:
    template = "Your balance is {balance:money}."
    prompt = assemble(template, {"balance": 42.05})
    cache = PromptCache(tmp_path)
    assert resolve_audio(prompt, cache) is None  # nothing built yet, no background given
    wanted = static_specs(template) + [s for s in pieces_for_build() if s.text in
                                       {"forty", "two", "dollars", "and", "five", "cents"}]
    assert build(wanted, tmp_path).rendered == 7
    audio = resolve_audio(prompt, cache)
    assert audio is not None and len(audio) == 7 and all(a.source == "tts" for a in audio)
    frames = concat_frames([a.ulaw_path for a in audio])
    assert len(frames) >= 7 and all(len(f) == 160 for f in frames)
    assert sum(a.duration_s for a in audio) > 1.5


def test_missing_piece_goes_to_background_renderer(tmp_path: Path) -> None:
    prompt = assemble("Your balance is {balance:money}.", {"balance": 42.05})
    cache = PromptCache(tmp_path)
    with BackgroundRenderer(cache) as bg:
        assert resolve_audio(prompt, cache, bg) is None  # caller falls back to <Say>
        assert resolve_audio(prompt, cache, bg) is None  # not queued twice
        assert bg.wait_idle(30)
        audio = resolve_audio(prompt, cache, bg)
        assert bg.rendered == 1
    assert audio is not None and len(audio) == 1  # the whole sentence, better intonation
    assert cache.manifest()[prompt.whole.key]["text"] == prompt.text


def test_background_renderer_survives_a_hang(tmp_path: Path) -> None:
    def factory() -> Renderer:
        return Renderer(engine_factory=faulty_engine, timeout=1.0, retries=0)

    with BackgroundRenderer(tmp_path, renderer_factory=factory) as bg:
        hang, ok = PromptSpec("HANG in the background."), PromptSpec("Fine in the background.")
        assert bg.request(hang) is None and bg.request(ok) is None
        assert bg.wait_idle(30)
        assert bg.request(ok) is not None
        assert bg.request(hang) is None and bg.pending == 0  # failed: not retried at once
        assert "timed out" in (bg.error(hang) or "")
