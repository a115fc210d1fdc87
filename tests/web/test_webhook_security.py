"""Hostile webhooks: forged signatures, repeated keys, hostile values, retries and races.

Every test goes through HTTP with the app's real signature check on.
"""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from ivr.web import parts

from tests.conftest import API_TOKEN, AUTH_TOKEN, SignedClient, call_params

VICTIM = "CA" + "a" * 32


def post_multi(client: SignedClient, path: str, items: list[tuple[str, str]], signature: str | None = None,
               headers: dict[str, str] | None = None) -> Any:
    """POST a form that may repeat keys, signed as Twilio signs it unless ``signature`` is given."""
    data = MultiDict(items)
    sig = signature if signature is not None else client.validator.compute_signature(client.base + path, data)
    return client.client.post(path, data=data, headers={"X-Twilio-Signature": sig, **(headers or {})})


def root_of(resp: Any) -> ET.Element:
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "text/xml", resp.data[:200]
    return ET.fromstring(resp.data)


def action_of(root: ET.Element) -> str:
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root)
    return gather.get("action")


# -- known-answer vectors ---------------------------------------------------------

TWILIO_URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
                 "To": "+18005551212", "Caller": "+14158675309"}


@pytest.mark.parametrize("items,signature,valid", [
    (list(TWILIO_PARAMS.items()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", True),  # Twilio's documented vector
    (list(TWILIO_PARAMS.items()), "RSOYDt4T1cUTdK1PDd93/VVr8B8x", False),
    ([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")],
     "IK+Dwps556ElfBT0I3Rgjkr1wJU=", True),  # Twilio's vector for a repeated key
    ([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678")], "IK+Dwps556ElfBT0I3Rgjkr1wJU=", False),
    ([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")], "x", False),
])
def test_signature_check_matches_twilio_known_answers(make_app, items, signature, valid) -> None:
    from ivr.web.twilio_request import signature_valid

    app = make_app()
    with app.test_request_context("/myapp.php?foo=1&bar=2", base_url="https://mycompany.com", method="POST",
                                  data=MultiDict(items), headers={"X-Twilio-Signature": signature}):
        from flask import request
        assert signature_valid(request, "12345", None) is valid
        assert signature_valid(request, "12345", "https://mycompany.com") is valid


# -- the repeated-parameter bypass ---------------------------------------------------

def test_repeated_parameter_with_forged_signature_is_403_and_harms_no_call(app, twilio) -> None:
    first = root_of(twilio.post("/voice?flow=acme", call_params(VICTIM)))
    victim_action = action_of(first)
    store = parts(app).services.store
    before = store.load_state(VICTIM)
    for path in ("/voice/input?node=main", "/voice/noinput?node=main", "/voice/status", "/voice",
                 "/voice/connect", "/voice/queue/wait", "/voice/queue/done"):
        items = [*call_params(VICTIM).items(), ("Digits", "1"), ("Digits", "2")]
        resp = post_multi(twilio, path, items, signature="x")
        assert resp.status_code == 403, (path, resp.data[:300])
        assert b"agent_url" not in resp.data and b"Enqueue" not in resp.data
    after = store.load_state(VICTIM)
    assert after.model_dump(exclude={"updated_at"}) == before.model_dump(exclude={"updated_at"})
    # The victim's real call goes on: their next signed webhook gets their menu's answer, not a hang-up.
    resp = twilio.post(victim_action, call_params(VICTIM, Digits="1"))
    root_of(resp)
    assert b"Your balance is 42 dollars." in resp.data
    assert store.load_state(VICTIM).path == ["welcome", "main", "balance", "bye"]


def test_unsigned_status_for_an_invented_call_creates_no_record(app, twilio) -> None:
    invented = "CA" + "b" * 32
    items = [*call_params(invented, CallStatus="completed").items(), ("CallStatus", "busy")]
    assert post_multi(twilio, "/voice/status", items, signature="x").status_code == 403
    assert post_multi(twilio, "/voice/status", items, signature="").status_code == 403
    assert parts(app).services.store.load_state(invented) is None
    assert all(c["call_id"] != invented for c in parts(app).services.store.calls(100))


def test_repeated_parameter_correctly_signed_is_validated_as_twilio_signs_it(twilio) -> None:
    root = root_of(twilio.post("/voice?flow=acme", call_params(VICTIM)))
    items = [*call_params(VICTIM).items(), ("Digits", "2"), ("Digits", "2")]
    root = root_of(post_multi(twilio, action_of(root), items))
    assert root.find("Enqueue") is not None  # "2": lost card, to the cards queue


def test_connect_action_with_repeated_parameter_answers_twiml_not_a_500_page(twilio) -> None:
    twilio.post("/voice?flow=acme", call_params(VICTIM))
    items = [*call_params(VICTIM).items(), ("StreamSid", "MZ1"), ("StreamSid", "MZ2")]
    resp = post_multi(twilio, "/voice/connect", items)
    root = root_of(resp)
    assert root.tag == "Response" and len(root)


# -- hostile values ----------------------------------------------------------------------

@pytest.mark.parametrize("sid", ["CA12\x0034", "CA\uffff", "", "CA" + "1" * 200, "<CA1>", "CA 1"])
def test_malformed_call_sid_is_a_400(twilio, sid) -> None:
    for path in ("/voice?flow=acme", "/voice/input?node=main", "/voice/status", "/voice/connect",
                 "/voice/queue/wait"):
        resp = twilio.post(path, call_params(sid))
        assert resp.status_code == 400, (path, resp.status_code, resp.data[:200])
        assert b"CallSid" in resp.data


def test_control_characters_in_from_never_break_the_twiml_or_the_task_json(app, twilio) -> None:
    hostile = call_params(VICTIM, From="+1555\x00123\uffff</Task>\x1b")
    root = root_of(twilio.post("/voice?flow=acme", hostile))
    root = root_of(twilio.post(action_of(root), {**hostile, "Digits": "2"}))
    task = json.loads(root.find("./Enqueue/Task").text)
    assert task["caller"] == "+1555123</Task>"
    assert "\x00" not in json.dumps(task) and "\uffff" not in task["caller"]


# -- Twilio retries and concurrent requests ------------------------------------------------

def test_retried_webhook_gets_the_same_answer_and_counts_once(app, twilio) -> None:
    """acme allows 3 failures: a retried wrong entry is one failure, not two."""
    store = parts(app).services.store
    action = action_of(root_of(twilio.post("/voice?flow=acme", call_params(VICTIM))))
    first = twilio.post(action, call_params(VICTIM, Digits="9"))
    retry = twilio.post(action, call_params(VICTIM, Digits="9"))
    assert retry.data == first.data
    assert store.load_state(VICTIM).no_match_count == 1
    action = action_of(root_of(first))
    second = root_of(twilio.post(action, call_params(VICTIM, Digits="9")))
    assert second.find("Enqueue") is None, "escalated after two failures"
    third = root_of(twilio.post(action_of(second), call_params(VICTIM, Digits="9")))
    task = json.loads(third.find("./Enqueue/Task").text)
    assert task["reason"] == "retries_exhausted" and task["failed_node"] == "main"
    # A late retry of the very first entry is not applied to the ended call either.
    assert twilio.post(action, call_params(VICTIM, Digits="9")).data == \
        twilio.post(action, call_params(VICTIM, Digits="9")).data


def test_idempotency_token_marks_a_retry_even_without_our_turn(app, twilio) -> None:
    store = parts(app).services.store
    twilio.post("/voice?flow=acme", call_params(VICTIM))
    headers = {"I-Twilio-Idempotency-Token": "retry-token-1"}
    items = list(call_params(VICTIM, Digits="9").items())
    first = post_multi(twilio, "/voice/input?node=main", items, headers=headers)
    again = post_multi(twilio, "/voice/input?node=main", items, headers=headers)
    assert first.data == again.data and store.load_state(VICTIM).no_match_count == 1
    post_multi(twilio, "/voice/input?node=main", items, headers={"I-Twilio-Idempotency-Token": "other"})
    assert store.load_state(VICTIM).no_match_count == 2


def test_concurrent_requests_for_one_call_are_applied_once_with_one_answer(app, twilio) -> None:
    store = parts(app).services.store
    for trial in range(25):
        sid = f"CA{trial:032x}"
        action = action_of(root_of(twilio.post("/voice?flow=acme", call_params(sid))))
        answers: dict[str, bytes] = {}
        gate = threading.Barrier(2)

        def press(key: str) -> None:
            client = SignedClient(app)
            gate.wait()
            answers[key] = client.post(action, call_params(sid, Digits=key)).data

        threads = [threading.Thread(target=press, args=(k,)) for k in ("1", "2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert answers["1"] == answers["2"], f"trial {trial}: two different answers"
        state = store.load_state(sid)
        chosen = [n for n in ("balance", "cards") if n in state.path]
        assert len(chosen) == 1, f"trial {trial}: both applied: {state.path}"
        assert (b"Enqueue" in answers["1"]) == (chosen == ["cards"])
        digits = [t.get("keys") for t in state.transcript if t.get("node") == "main"]
        assert len(digits) == 1, f"trial {trial}: {state.transcript}"


# -- API query parameters ------------------------------------------------------------------

@pytest.mark.parametrize("query", ["limit=abc", "limit=-1", "limit=0", "limit=1e9", "limit=%00"])
def test_bad_api_query_parameter_is_a_400_with_the_fix(twilio, query) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    for path in ("/api/calls", "/api/callbacks", "/api/voicemails"):
        resp = twilio.get(f"{path}?{query}", headers=auth)
        assert resp.status_code == 400, (path, query, resp.data)
        assert resp.json["parameter"] == "limit" and "whole number" in resp.json["hint"] or "least" in \
            resp.json["hint"]
    assert twilio.get("/api/calls?limit=100000", headers=auth).status_code == 200


def test_the_auth_token_itself_is_what_signs(make_app) -> None:
    """A signature made with another account's token is refused (no request is trusted by shape)."""
    client = SignedClient(make_app(), token="another-account-token")
    assert client.post("/voice?flow=acme", call_params(VICTIM)).status_code == 403
    assert RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/voice", {}) != \
        RequestValidator("another-account-token").compute_signature("http://localhost/voice", {})
