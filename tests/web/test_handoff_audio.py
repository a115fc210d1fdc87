"""The handoff dialogues speak the flow's language as rendered audio: a banca call in the queue and voicemail."""

from __future__ import annotations

import re

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import DemoAudio, SignedClient, call_params

SID = "CA00000000000000000000000000000001"


@pytest.fixture
def client(make_app, demo_audio: DemoAudio, tmp_path: Path) -> SignedClient:
    audio = demo_audio.copy(tmp_path / "audio")
    return SignedClient(make_app(audio_dir=str(audio), extra={"prompt_background": False}))


def post(client: SignedClient, path: str, **params: str) -> ET.Element:
    resp = client.post(path, call_params(SID, **params))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return ET.fromstring(resp.data)


def heard(client: SignedClient, root: ET.Element) -> str:
    """What the caller hears, from the served audio's descriptions; fails on any <Say>."""
    assert [s.text for s in root.iter("Say")] == []
    texts = []
    for play in root.iter("Play"):
        if play.text.startswith("/audio/"):
            info = client.get(play.text + ".json").json
            assert info["language"] == "it-IT" and info["voice"] == "it" and info["rate"] == 160
            texts.append(info["text"])
    return " ".join(texts)


def in_the_cards_queue(client: SignedClient) -> None:
    root = post(client, "/voice?flow=banca")
    root = post(client, root.find("Gather").get("action"), Digits="2")
    assert root.find("Enqueue") is not None


def test_a_banca_caller_hears_the_queue_and_voicemail_in_italian_audio(client: SignedClient) -> None:
    in_the_cards_queue(client)
    wait = post(client, "/voice/queue/wait", QueuePosition="3", AvgQueueTime="250")
    words = heard(client, wait)
    for italian in ("Lei è il numero", "tre", "in coda", "L'attesa prevista è di circa", "cinque", "minuti",
                    "Per essere richiamato, prema 1. Per lasciare un messaggio, prema 2."):
        assert italian in words, words
    assert "<Leave" in ET.tostring(post(client, "/voice/queue/wait/input", Digits="2"), encoding="unicode")
    assert post(client, "/voice/queue/done", QueueResult="leave").find("Redirect").text == "/voice/queue/voicemail"
    record = post(client, "/voice/queue/voicemail")
    assert "Lasci il suo messaggio dopo il segnale acustico" in heard(client, record)
    bye = post(client, "/voice/queue/voicemail/done", RecordingUrl="http://127.0.0.1:9/rec/RE1",
               RecordingSid="RE" + "1" * 32, RecordingDuration="4")
    assert "Il suo messaggio è stato registrato" in heard(client, bye)


def test_a_banca_callback_reads_the_number_back_from_italian_pieces(client: SignedClient) -> None:
    in_the_cards_queue(client)
    post(client, "/voice/queue/wait/input", Digits="1")
    post(client, "/voice/queue/done", QueueResult="leave")
    confirm = post(client, "/voice/queue/callback")
    words = heard(client, confirm)
    assert words.startswith("Possiamo richiamarla al numero cinque cinque cinque uno due tre zero zero zero zero")
    window = post(client, confirm.find("Gather").get("action"), Digits="1")
    assert "Quando preferisce essere richiamato?" in heard(client, window)
    bye = post(client, window.find("Gather").get("action"), Digits="3")
    # Today's afternoon while it lasts in the flow's time zone, else tomorrow's: both are the right promise.
    assert re.search(r"(oggi|domani) al pomeriggio", heard(client, bye))


def test_zero_in_the_banca_voicemail_reaches_an_operator_in_italian(client: SignedClient) -> None:
    in_the_cards_queue(client)
    post(client, "/voice/queue/wait/input", Digits="2")
    post(client, "/voice/queue/done", QueueResult="leave")
    record = post(client, "/voice/queue/voicemail").find("Record")
    back = post(client, record.get("action"), Digits="0", RecordingUrl="http://127.0.0.1:9/rec/RE2",
                RecordingSid="RE" + "2" * 32, RecordingDuration="2")
    assert "la metto in contatto con un operatore" in heard(client, back)
    assert back.find("Enqueue") is not None
