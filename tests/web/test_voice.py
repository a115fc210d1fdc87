"""Twilio keypad webhooks end to end: signed requests in, TwiML out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.web import parts

from tests.conftest import API_TOKEN, AUTH_TOKEN, SignedClient, call_params


def twiml(resp) -> ET.Element:
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "text/xml"
    root = ET.fromstring(resp.data)
    assert root.tag == "Response"
    children = list(root)
    for i, el in enumerate(children):
        if el.tag == "Gather":  # every Gather is followed by a fallback verb
            assert i + 1 < len(children) and children[i + 1].tag == "Redirect", resp.data
    return root


def task(root: ET.Element) -> dict:
    el = root.find("./Enqueue/Task")
    assert el is not None, ET.tostring(root)
    return json.loads(el.text)


def test_known_answer_signature(app) -> None:
    """Our check agrees with Twilio's algorithm computed by hand (URL + sorted params, HMAC-SHA1, base64)."""
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "http://localhost/voice/status"
    payload = url + "".join(k + params[k] for k in sorted(params))
    sig = base64.b64encode(hmac.new(AUTH_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    client = SignedClient(app)
    assert client.post("/voice/status", params, signature=sig).status_code == 200
    assert client.post("/voice/status", params, signature=sig[:-2] + "AA").status_code == 403


@pytest.mark.parametrize("path", ["/voice", "/voice/input?node=main", "/voice/noinput?node=main", "/voice/status"])
def test_unsigned_and_badly_signed_requests_get_403(twilio, path) -> None:
    assert twilio.post(path, call_params(), sign=False).status_code == 403
    assert twilio.post(path, call_params(), signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    # Signed for other parameters: tampering is detected.
    good = twilio.validator.compute_signature("http://localhost" + path, call_params())
    assert twilio.post(path, call_params(Digits="9"), signature=good).status_code == 403


def test_signature_uses_public_url(make_app) -> None:
    app = make_app(public_url="https://ivr.example.com")
    local = SignedClient(app)
    assert local.post("/voice", call_params()).status_code == 403
    public = SignedClient(app, base="https://ivr.example.com")
    assert public.post("/voice", call_params()).status_code == 200


def test_keypad_call_to_transfer_with_context(twilio) -> None:
    root = twiml(twilio.post("/voice?flow=acme", call_params()))
    gather = root.find("Gather")
    assert gather.get("input") == "dtmf" and gather.get("numDigits") == "1"
    assert [s.text for s in gather.findall("Say")] == ["Welcome to Acme.", "Say balance or cards. Or press 1 or 2."]
    root = twiml(twilio.post(gather.get("action"), call_params(Digits="2")))
    packet = task(root)
    assert packet["queue"] == "cards" and packet["reason"] == "lost_card"
    assert packet["path"] == ["welcome", "main", "cards"]
    resp = twilio.get(f"/api/calls/{call_params()['CallSid']}/context",
                      headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert resp.status_code == 200 and resp.json["reason"] == "lost_card" and resp.json["queue"] == "cards"
    assert twilio.get(f"/api/calls/{call_params()['CallSid']}/context").status_code == 401
    assert twilio.get(f"/api/calls/{call_params()['CallSid']}/context",
                      headers={"Authorization": "Bearer nope"}).status_code == 401


def test_no_input_redirect_reprompts_then_escalates(twilio) -> None:
    root = twiml(twilio.post("/voice?flow=acme", call_params()))
    for expected in ("didn't hear", "didn't hear"):
        redirect = root.find("Redirect").text
        root = twiml(twilio.post(redirect, call_params()))
        assert expected in ET.tostring(root, encoding="unicode")
    root = twiml(twilio.post(root.find("Redirect").text, call_params()))
    packet = task(root)
    assert packet["reason"] == "retries_exhausted" and packet["failed_node"] == "main"


def test_retried_webhook_is_not_applied_twice(twilio) -> None:
    root = twiml(twilio.post("/voice?flow=bank", call_params()))
    action = root.find("Gather").get("action")
    twiml(twilio.post(action, call_params(Digits="1")))           # -> account_number
    again = twiml(twilio.post(action, call_params(Digits="1")))   # Twilio retry of the same Gather
    assert "account number" in ET.tostring(again, encoding="unicode")


def test_flow_selected_by_called_number_and_default(make_app) -> None:
    app = make_app(default_flow="acme")
    c = SignedClient(app)
    root = twiml(c.post("/voice", call_params(To="+15005550006")))
    assert "Northwind" in ET.tostring(root, encoding="unicode")
    root = twiml(c.post("/voice", call_params(sid="CA2", To="+19999999999")))
    assert "Acme" in ET.tostring(root, encoding="unicode")


def test_internal_error_still_answers_twiml_and_transfers(app, twilio, monkeypatch) -> None:
    store = parts(app).services.store
    twiml(twilio.post("/voice?flow=acme", call_params()))

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "save", broken)
    root = twiml(twilio.post("/voice/input?node=main", call_params(Digits="1")))
    assert "Sorry" in root.find("Say").text
    assert task(root)["reason"] == "system_error"


def test_error_outside_driver_still_answers_twiml(app, twilio, monkeypatch) -> None:
    from ivr.web import voice

    monkeypatch.setattr(voice, "render_turn", lambda turn: (_ for _ in ()).throw(ValueError("bug")))
    resp = twilio.post("/voice?flow=acme", call_params())
    root = twiml(resp)
    assert root.find("Enqueue/Task") is not None


def test_unknown_call_input_goes_to_a_person(twilio) -> None:
    root = twiml(twilio.post("/voice/input?node=main", call_params(sid="CAunknown", Digits="1")))
    assert task(root)["reason"] == "system_error"


def test_status_callback_records_abandonment(app, twilio) -> None:
    twiml(twilio.post("/voice?flow=acme", call_params()))
    assert twilio.post("/voice/status", call_params(CallStatus="completed")).status_code == 200
    events = parts(app).services.store.events(call_params()["CallSid"])
    ended = [e for e in events if e["kind"] == "call_ended"]
    assert ended and ended[0]["data"]["abandoned"] is True and ended[0]["node"] == "main"


def test_broken_flow_edit_keeps_the_working_version(app, twilio, flows_dir: Path) -> None:
    good = (flows_dir / "acme.yaml").read_text()
    (flows_dir / "acme.yaml").write_text(good.replace("goto: balance", "goto: nowhere"))
    root = twiml(twilio.post("/voice?flow=acme", call_params()))
    assert "Acme" in ET.tostring(root, encoding="unicode")
    resp = twilio.get("/api/flows", headers={"Authorization": f"Bearer {API_TOKEN}"})
    errors = resp.json["errors"]
    (msgs,) = errors.values()
    assert "'nowhere' is not a node" in msgs[0]["message"]
    assert "acme" in resp.json["flows"]
    page = twilio.get("/").data.decode()
    assert "nowhere" in page


def test_hook_timeout_escalates_over_http(make_app, flows_dir: Path) -> None:
    import time as _t

    app = make_app()
    hooks = parts(app).services.hooks
    hooks._hooks["bank.account_balance"] = lambda call: _t.sleep(5)
    (flows_dir / "bank.yaml").write_text((flows_dir / "bank.yaml").read_text().replace("timeout: 3", "timeout: 0.2"))
    parts(app).services.flows.reload()
    c = SignedClient(app)
    twiml(c.post("/voice?flow=bank", call_params()))
    twiml(c.post("/voice/input?node=main", call_params(Digits="1")))
    twiml(c.post("/voice/input?node=account_number", call_params(Digits="12345678#")))
    root = twiml(c.post("/voice/input?node=card_pin", call_params(Digits="4321#")))
    packet = task(root)
    assert packet["reason"] == "hook_failed" and packet["failed_node"] == "balance_lookup"
    assert packet["slots"]["pin"] == "****"


def test_create_app_accepts_environment_names(tmp_path, flows_dir) -> None:
    from ivr.web import create_app

    app = create_app({"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_FLOWS_DIR": str(flows_dir), "TESTING": True,
                      "instance_dir": str(tmp_path / "i")})
    assert app.config["TESTING"] is True
    c = SignedClient(app)
    assert c.post("/voice?flow=acme", call_params(), sign=False).status_code == 403
    assert c.post("/voice?flow=acme", call_params()).status_code == 200
    parts(app).services.close()


@pytest.mark.parametrize("how", ["query", "sip_header"])
def test_entry_point_reaches_the_specialist_without_menus(app, how: str) -> None:
    """?entry=NAME (a web page's call button) or the SIP header X-IVR-Entry: straight to mortgage advisers."""
    c = SignedClient(app)
    params = call_params(CallSid="CA" + "e" * 32, To="+15005550006")
    if how == "query":
        root = twiml(c.post("/voice?flow=bank&entry=mortgage-web", params))
    else:
        root = twiml(c.post("/voice?flow=bank", {**params, "SipHeader_X-IVR-Entry": "mortgage-web"}))
    packet = task(root)
    assert packet["queue"] == "mortgages" and packet["reason"] == "mortgage_enquiry"
    assert packet["entry"] == "mortgage-web" and packet["path"] == ["welcome", "entry_point", "mortgage",
                                                                    "mortgage_transfer"]
    assert "adviser" in ET.tostring(root, encoding="unicode")


def test_the_cards_line_number_routes_a_request_for_a_person_to_the_cards_team(app) -> None:
    c = SignedClient(app)
    params = call_params(CallSid="CA" + "f" * 32, To="+15005550007")
    root = twiml(c.post("/voice", params))         # the number selects the bank flow, then its cards line
    packet = task(root)
    assert packet["queue"] == "cards" and packet["path"][-1] == "cards_transfer" and packet["called"] == "+15005550007"


def test_an_entry_point_that_is_not_a_name_is_ignored(app) -> None:
    c = SignedClient(app)
    root = twiml(c.post("/voice?flow=bank&entry=" + "x" * 80, call_params(CallSid="CA" + "d" * 32)))
    assert root.find("./Gather") is not None                          # the main menu, as for any caller
    ctx = c.get(f"/api/calls/{'CA' + 'd' * 32}/context", headers={"Authorization": f"Bearer {API_TOKEN}"}).json
    assert ctx["entry"] == "" and ctx["path"] == ["welcome", "entry_point", "main"]
