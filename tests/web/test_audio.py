"""Prompt audio over HTTP: keypad calls play /audio/ files that the server serves."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.engine import actions as A
from ivr.prompts.audio import read_mulaw_wav
from ivr.prompts.cache import PromptCache
from ivr.prompts.resolve import PromptResolver, prompt_frames
from ivr.prompts.spec import PromptSpec
from ivr.web import parts
from tests.conftest import DemoAudio, SignedClient, call_params
from tests.prompts.conftest import synth_wav
from tests.web.test_voice import task, twiml


def plays(root: ET.Element) -> list[str]:
    return [el.text for el in root.iter("Play")]


def says(root: ET.Element) -> list[str]:
    return [el.text for el in root.iter("Say")]


@pytest.fixture
def audio_dir(demo_audio: DemoAudio, tmp_path: Path) -> Path:
    return demo_audio.copy(tmp_path / "audio")


@pytest.fixture
def client(make_app, audio_dir: Path) -> SignedClient:
    return SignedClient(make_app(audio_dir=str(audio_dir), extra={"prompt_background": False}))


def get_ok(client: SignedClient, url: str):
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp


def test_keypad_call_plays_served_audio(client: SignedClient) -> None:
    root = twiml(client.post("/voice?flow=acme", call_params()))
    gather = root.find("Gather")
    urls = plays(gather)
    assert len(urls) == 2 and says(root) == []
    assert all(u.startswith("/audio/tts/") and u.endswith(".wav") for u in urls)
    for url, text in zip(urls, ["Welcome to Acme.", "Say balance or cards. Or press 1 or 2."]):
        resp = get_ok(client, url)
        assert resp.mimetype == "audio/wav"
        # Real speech, not a stub: over half a second (espeak-ng has rendered "Welcome to Acme." as 0.89 s
        # and as 1.05 s on this machine; the trailing pause varies, so the bound is not tighter).
        assert resp.data[:4] == b"RIFF" and len(resp.data) > 4000
        etag = resp.headers["ETag"].strip('"')
        assert len(etag) >= 16
        cc = resp.headers["Cache-Control"]
        assert "public" in cc and "max-age=31536000" in cc and "immutable" in cc
        again = client.get(url, headers={"If-None-Match": f'"{etag}"'})
        assert again.status_code == 304 and again.data == b""
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
        info = get_ok(client, url + ".json").json
        assert info["text"] == text and info["duration_s"] > 0.5 and info["source"] == "tts"
        assert info["language"] == "en-US" and info["etag"] == etag
    # The transfer turn speaks the agent text from audio too.
    root = twiml(client.post(gather.get("action"), call_params(Digits="0")))
    assert task(root)["reason"] == "caller_request" and says(root) == [] and len(plays(root)) == 1


def test_absolute_urls_with_public_url(make_app, audio_dir: Path) -> None:
    app = make_app(audio_dir=str(audio_dir), public_url="https://ivr.example.com",
                   extra={"prompt_background": False})
    client = SignedClient(app, base="https://ivr.example.com")
    urls = plays(twiml(client.post("/voice?flow=acme", call_params())))
    assert urls and all(u.startswith("https://ivr.example.com/audio/tts/") for u in urls)
    assert client.get(urls[0][len("https://ivr.example.com"):]).status_code == 200


@pytest.mark.parametrize("path", ["/audio/tts/manifest.json", "/audio/tts/.lock", "/audio/README.md",
                                  "/audio/tts/" + "0" * 32 + ".wav", "/audio/tts/../tts/x.wav",
                                  "/audio/%2e%2e/flows/acme.yaml", "/audio/recorded/acme/main.wav",
                                  "/audio/recorded/.converted/acme/main.json", "/audio/nope.wav.json"])
def test_only_prompt_files_are_served(client: SignedClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_assembled_prompt_plays_pieces(client: SignedClient, audio_dir: Path) -> None:
    """Balance with slot values: pieces rendered ahead of time, several <Play>, no <Say>."""
    root = twiml(client.post("/voice?flow=bank", call_params()))
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="1")))
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="12345678#")))
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="2468#")))
    assert says(root) == []
    texts = [get_ok(client, u + ".json").json["text"] for u in plays(root)]
    sentence = " ".join(texts)
    assert sentence.startswith("The balance of account one two three four five six seven eight is one thousand")
    assert "dollars." in sentence and "2468" not in sentence and "four six eight" not in sentence
    assert texts[-1] == "Is there anything else? Say yes or no. Or press 1 for yes, 2 for no."


def test_recorded_prompt_wins_over_tts(make_app, audio_dir: Path, caplog) -> None:
    synth_wav(audio_dir / "recorded" / "acme" / "main.wav", "Say balance or cards, or press one or two.",
              rate=44100, channels=2)
    client = SignedClient(make_app(audio_dir=str(audio_dir), extra={"prompt_background": False}))
    root = twiml(client.post("/voice?flow=acme", call_params()))
    welcome, main = plays(root.find("Gather"))
    assert welcome.startswith("/audio/tts/")
    assert main == "/audio/recorded/.converted/acme/main.wav"
    resp = get_ok(client, main)
    assert resp.mimetype == "audio/wav" and "max-age=60" in resp.headers["Cache-Control"]
    assert client.get(main, headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    info = get_ok(client, main + ".json").json
    assert info["source"] == "recorded" and info["text"] == "Say balance or cards. Or press 1 or 2."
    assert info["duration_s"] > 1
    # The recording stands for the node's own words only: the system apology stays TTS.
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="7")))
    sorry, again = plays(root.find("Gather"))
    assert sorry.startswith("/audio/tts/") and again == main


def test_missing_audio_falls_back_to_say_and_logs_once(make_app, flows_dir: Path, audio_dir: Path,
                                                       caplog) -> None:
    src = (flows_dir / "acme.yaml").read_text()
    (flows_dir / "acme.yaml").write_text(src.replace("Welcome to Acme.", "Welcome to Acme, new wording."))
    client = SignedClient(make_app(audio_dir=str(audio_dir), extra={"prompt_background": False}))
    with caplog.at_level(logging.WARNING, logger="ivr.prompts"):
        for n in (1, 2):
            root = twiml(client.post("/voice?flow=acme", call_params(sid=f"CA{n:032d}")))
            gather = root.find("Gather")
            assert says(gather) == ["Welcome to Acme, new wording."]
            assert len(plays(gather)) == 1  # the menu prompt still has audio
    logged = [r for r in caplog.records if "Welcome to Acme, new wording." in r.getMessage()]
    assert len(logged) == 1 and "prompts build" in logged[0].getMessage()


def test_background_render_fills_the_gap(make_app, flows_dir: Path, audio_dir: Path) -> None:
    src = (flows_dir / "acme.yaml").read_text()
    (flows_dir / "acme.yaml").write_text(src.replace("Welcome to Acme.", "Welcome to Acme, rendered later."))
    app = make_app(audio_dir=str(audio_dir))
    client = SignedClient(app)
    first = twiml(client.post("/voice?flow=acme", call_params(sid="CA" + "1" * 32)))
    assert says(first) == ["Welcome to Acme, rendered later."]
    assert parts(app).prompts.background.wait_idle(60)
    second = twiml(client.post("/voice?flow=acme", call_params(sid="CA" + "2" * 32)))
    assert says(second) == [] and len(plays(second)) == 2
    assert get_ok(client, plays(second)[0] + ".json").json["text"] == "Welcome to Acme, rendered later."


def test_no_built_audio_means_say_and_no_tts_process(make_app, tmp_path: Path) -> None:
    app = make_app(audio_dir=str(tmp_path / "empty"))
    client = SignedClient(app)
    root = twiml(client.post("/voice?flow=acme", call_params()))
    assert says(root) == ["Welcome to Acme.", "Say balance or cards. Or press 1 or 2."] and plays(root) == []
    assert parts(app).prompts.background.pending == 0
    assert not (tmp_path / "empty").exists()


def test_italian_flow_plays_italian_audio(client: SignedClient) -> None:
    root = twiml(client.post("/voice?flow=banca", call_params()))
    gather = root.find("Gather")
    infos = [get_ok(client, u + ".json").json for u in plays(gather)]
    assert [i["text"] for i in infos] == ["Benvenuto in Banca Aurora.", "Dica saldo o carte. Oppure prema 1 o 2."]
    assert all(i["language"] == "it-IT" and i["voice"] == "it" and i["rate"] == 160 for i in infos)
    assert all(i["voice_id"].endswith("/it") for i in infos)
    root = twiml(client.post(gather.get("action"), call_params(Digits="0")))
    packet = task(root)
    assert packet["reason"] == "caller_request" and packet["language"] == "it-IT"
    (url,) = plays(root)
    assert "operatore" in get_ok(client, url + ".json").json["text"]


def test_italian_balance_assembled_in_italian(client: SignedClient) -> None:
    root = twiml(client.post("/voice?flow=banca", call_params()))
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="1")))
    root = twiml(client.post(root.find("Gather").get("action"), call_params(Digits="12345678#")))
    assert says(root) == []
    sentence = " ".join(get_ok(client, u + ".json").json["text"] for u in plays(root))
    assert "Il saldo del conto uno due tre quattro cinque sei sette otto è di mille duecento quattro euro " \
           "e cinquanta centesimi" in sentence


def test_prompt_frames_are_the_played_audio(demo_audio: DemoAudio) -> None:
    resolver = PromptResolver(PromptCache(demo_audio.audio_dir))
    play = A.Play("Welcome to Acme.", "welcome", "say", "en-US", flow="acme")
    frames = prompt_frames(play, resolver)
    audio = PromptCache(demo_audio.audio_dir).lookup(PromptSpec("Welcome to Acme."))
    data = read_mulaw_wav(audio.wav_path)
    assert frames and all(len(f) == 160 for f in frames)
    assert len(frames) == -(-len(data) // 160) and b"".join(frames)[:len(data)] == data
    template = "The balance of account {account} is {balance} dollars."
    dynamic = A.Play("The balance of account 87654321 is 42.00 dollars.", "balance", "say", "en-US", flow="bank",
                     template=template, values=(("account", "87654321"), ("balance", "42.00")))
    parts = resolver.audio(dynamic)
    assert parts is not None and len(parts) > 10
    frames = prompt_frames(dynamic, PromptCache(demo_audio.audio_dir))
    assert len(frames) == sum(-(-len(read_mulaw_wav(a.wav_path)) // 160) for a in parts)
    assert prompt_frames(A.Play("Never rendered, this one."), resolver) is None
