"""Passive voice authentication through call scripts: enrol, verified next call, impostor, decline, replay.

The audio is synthetic (flite/espeak through the phone path), generated at test
time; ``say_audio`` feeds the authenticator exactly as a streamed call's voice
tap does. The same scripts also run through ``python -m ivr simulate``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.bench.speakers import Voice, speak
from ivr.config import Config
from ivr.services import build_services
from ivr.sim import LocalCall, SimClock, load_script, make_audio_recognizer, run_script
from ivr.speech.codec import write_wav

ROOT = Path(__file__).resolve().parents[2]
CACHE = os.environ.get("IVR_SPEECH_CACHE") or str(ROOT / ".cache" / "speech")
MODELS = str(ROOT / "models")
KAL = Voice("kal", "flite", "kal")
SLT = Voice("slt", "flite", "slt")
RMS = Voice("rms", "flite", "rms")
ALICE, BOB = "+15551230000", "+15551230001"

AUDIO = {  # file -> (voice, words)
    "kal_balance.wav": (KAL, "I would like to check the balance of my account please"),
    "kal_story.wav": (KAL, "I moved house last month and I need to change my address. There is also a charge "
                           "on my statement that I do not recognise, from a shop I have never visited."),
    "kal_payment.wav": (KAL, "yes hello, I would like to make a payment please"),
    "slt_balance.wav": (SLT, "I would like to check the balance of my account please"),
    "rms_balance.wav": (RMS, "I would like to check the balance of my account please"),
}

SCRIPTS = {
    "1_enrol.yaml": f"""
flow: secure
caller: "{ALICE}"
steps:
  - say_audio: kal_balance.wav
  - expect: {{node: offer, prompt_contains: "keep a voiceprint"}}
  - press: "1"
  - expect: {{prompt_contains: "in a sentence or two"}}
  - say_audio: kal_story.wav
  - expect: {{node: pin}}
  - press: "4321"
  - expect: {{ended: true, prompt_contains: "your PIN is correct", context: {{auth: {{method: pin, status: verified}}}}}}
""",
    "2_verified.yaml": f"""
flow: secure
caller: "{ALICE}"
steps:
  - say_audio: kal_payment.wav
  - expect: {{prompt_contains: "I recognised your voice", context: {{auth: {{method: voice, status: verified}}}}}}
""",
    "3_impostor.yaml": f"""
flow: secure
caller: "{ALICE}"
steps:
  - say_audio: slt_balance.wav
  - expect: {{node: pin}}
  - press: "1111"
  - expect: {{transfer: security, context: {{reason: auth_failed, auth: {{method: pin, status: rejected}}}}}}
""",
    "4_declined.yaml": f"""
flow: secure
caller: "{BOB}"
steps:
  - say_audio: rms_balance.wav
  - expect: {{node: offer}}
  - press: "2"
  - expect: {{node: pin, context: {{auth: {{status: not_enrolled}}}}}}
""",
    "5_replayed.yaml": f"""
flow: secure
caller: "{ALICE}"
steps:
  - say_audio: kal_payment.wav
  - expect: {{node: pin, context: {{auth: {{method: voice, status: rejected, replay: true}}}}}}
""",
}


@pytest.fixture(scope="module")
def journey_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    os.environ.setdefault("IVR_SPEECH_CACHE", CACHE)
    d = tmp_path_factory.mktemp("voice-journeys")
    for name, (voice, words) in AUDIO.items():
        write_wav(d / name, speak(voice, words, snr_db=30, seed=len(name)))
    for name, text in SCRIPTS.items():
        (d / name).write_text(text.lstrip())
    return d


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IVR_SPEECH_CACHE", CACHE)
    monkeypatch.setenv("IVR_MODELS_DIR", MODELS)
    clock = SimClock()
    config = Config.from_env(flows_dir=str(ROOT / "flows"), instance_dir=str(tmp_path), database_url=None,
                             redis_url=None, secret_key="journey-key-0123456789", flow_check_interval=3600.0,
                             voice_auth="embedded", voice_auth_explicit=True)
    svc = build_services(config, clock=clock)
    yield svc, clock
    svc.close()


def test_the_journeys_in_one_deployment(services, journey_dir: Path) -> None:
    svc, clock = services
    hear = make_audio_recognizer(svc, journey_dir)
    store = svc.driver.voice_auth.authenticator.store
    results = {}
    for name in SCRIPTS:
        script = load_script(journey_dir / name)
        results[name] = run_script(script, lambda s: LocalCall(svc.driver, s.flow, s.caller, s.called, clock=clock,
                                                               audio=hear))
        assert results[name].passed, (name, results[name].failures)
        if name == "1_enrol.yaml":   # consent recorded word for word, voiceprint encrypted at rest
            consent = store.consent(ALICE)
            assert consent is not None and consent.wording.startswith("May we keep a voiceprint")
            assert consent.flow == "secure" and consent.channel == "dtmf" and consent.flow_version
            assert svc.driver.voice_auth.authenticator.enrolled(ALICE).net_speech_s >= 8
    # the one who said no has nothing stored
    assert store.consent(BOB) is None and store.load(BOB) is None
    # every verification is audited, with no audio: decisions of the verified, impostor and replayed calls
    decisions = [r.decision for r in store.audit_trail(ALICE)]
    assert decisions[-3:] == ["verified", "rejected", "rejected"], decisions
    ctx = results["2_verified.yaml"].context
    assert ctx["auth"]["score"] is not None and ctx["auth"]["net_speech_s"] >= 2
    # no raw audio kept after a decision (the two calls still at the PIN question included)
    assert svc.driver.voice_auth.held_s() == 0.0


def test_the_same_journeys_through_the_simulate_command(journey_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_SPEECH_CACHE=CACHE, IVR_MODELS_DIR=MODELS, IVR_VOICE_AUTH="embedded")
    run = subprocess.run([sys.executable, "-m", "ivr", "simulate", "--json", "--flows", str(ROOT / "flows"),
                          *[str(journey_dir / n) for n in SCRIPTS]], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert [r["passed"] for r in lines] == [True] * len(SCRIPTS)
    assert lines[1]["context"]["auth"]["method"] == "voice"
