"""Voice choice by language or id, on espeak's real voice names."""

from __future__ import annotations

import pytest

from ivr.errors import PromptError
from ivr.prompts.voices import VoiceInfo, choose_voice, clean_language

VOICES = [
    VoiceInfo("gmw/en", "English (Great Britain)", ("en-gb",)),
    VoiceInfo("gmw/en-us", "English (America)", ("en-us",)),
    VoiceInfo("gmw/en-us-nyc", "English (America, New York City)", ("en-us-nyc",)),
    VoiceInfo("gmw/en-029", "English (Caribbean)", ("en-029",)),
    VoiceInfo("roa/it", "Italian", ("it",)),
    VoiceInfo("sit/cmn", "Chinese (Mandarin, latin as English)", ("cmn",)),
    VoiceInfo("sit/cmn-latn-pinyin", "Chinese (Mandarin, latin as Pinyin)", ("cmn-latn-pinyin",)),
    VoiceInfo("sit/yue", "Chinese (Cantonese)", ("yue",)),
]


@pytest.mark.parametrize("language,expected", [
    ("en-US", "gmw/en-us"), ("en-us", "gmw/en-us"), ("en-GB", "gmw/en"), ("en", "gmw/en"),
    ("en-AU", "gmw/en"), ("it-IT", "roa/it"), ("it", "roa/it"), ("cmn", "sit/cmn"),
    ("zh", "sit/cmn"), ("zh-CN", "sit/cmn"), ("zh-HK", "sit/yue"),
])
def test_language_picks_voice(language: str, expected: str) -> None:
    assert choose_voice(VOICES, language).id == expected


@pytest.mark.parametrize("voice,expected", [
    ("gmw/en-us-nyc", "gmw/en-us-nyc"), ("Italian", "roa/it"), ("en-029", "gmw/en-029"),
])
def test_explicit_voice_wins(voice: str, expected: str) -> None:
    assert choose_voice(VOICES, "it-IT", voice).id == expected


def test_unknown_voice_and_language_say_what_exists() -> None:
    with pytest.raises(PromptError, match="gmw/en-us"):
        choose_voice(VOICES, "en-US", "robot")
    with pytest.raises(PromptError, match="languages available: .*it"):
        choose_voice(VOICES, "fr-FR")


def test_clean_language_handles_espeak_priority_byte() -> None:
    assert clean_language(b"\x05en-us") == "en-us"
    assert clean_language("EN_US") == "en-us"
