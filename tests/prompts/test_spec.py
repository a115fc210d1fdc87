"""PromptSpec keys: stable for the same prompt, new for any audible change."""

from __future__ import annotations

import pytest

from ivr.prompts import spec as spec_mod
from ivr.prompts.spec import PromptSpec, is_key


def test_key_is_stable_and_file_safe() -> None:
    a = PromptSpec("Welcome to Acme.")
    assert a.key == PromptSpec("Welcome to Acme.", "en-US", None, None).key
    assert is_key(a.key)


def test_key_known_answer() -> None:
    # Pinned: if this changes, every deployment re-renders all its prompts.
    # That is right only together with a FORMAT_VERSION bump (update the value then).
    assert PromptSpec("Hi there.").key == "d74e89c97414137e748c200552b4ed00"


@pytest.mark.parametrize("other", [
    PromptSpec("Welcome to Acme!"),
    PromptSpec("Welcome to Acme.", "en-GB"),
    PromptSpec("Welcome to Acme.", voice="gmw/en-us"),
    PromptSpec("Welcome to Acme.", rate=150),
])
def test_key_changes_with_text_language_voice_rate(other: PromptSpec) -> None:
    assert other.key != PromptSpec("Welcome to Acme.").key


def test_key_changes_with_format_version(monkeypatch: pytest.MonkeyPatch) -> None:
    before = PromptSpec("Hello.").key
    monkeypatch.setattr(spec_mod, "FORMAT_VERSION", spec_mod.FORMAT_VERSION + 1)
    assert PromptSpec("Hello.").key != before


@pytest.mark.parametrize("a,b", [
    ("Welcome  to\n  Acme.", "Welcome to Acme."),
    ("  Welcome to Acme. ", "Welcome to Acme."),
    ("Caf\u0065\u0301", "Caf\u00e9"),  # decomposed vs composed accent
])
def test_key_ignores_inaudible_differences(a: str, b: str) -> None:
    assert PromptSpec(a).key == PromptSpec(b).key


def test_language_tags_are_canonical() -> None:
    assert PromptSpec("x", "en_us").language == "en-US"
    assert PromptSpec("x", "EN-us").key == PromptSpec("x", "en-US").key
    assert PromptSpec("x", "zh-hans-cn").language == "zh-Hans-CN"


@pytest.mark.parametrize("kwargs", [
    {"text": "   "}, {"text": "x", "rate": 5}, {"text": "x", "rate": "fast"},
    {"text": "x", "language": "english please"}, {"text": "x", "rate": True},
])
def test_bad_specs_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        PromptSpec(**kwargs)


def test_spec_is_frozen() -> None:
    s = PromptSpec("x")
    with pytest.raises(AttributeError):
        s.text = "y"  # type: ignore[misc]
