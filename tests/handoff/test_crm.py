"""The CRM webhook: HMAC signature (known vector), delivery at handoff, nothing sensitive."""

from __future__ import annotations

import hashlib
import hmac
import json

from ivr.handoff.crm import HttpDirectory, StoreDirectory, sign, verify
from ivr.web import parts
from tests.handoff.fakes import LocalServer
from tests.handoff.helpers import Caller, make_app


def test_signature_known_vector():
    body = b'{"event":"handoff"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body, 1700000000) == f"t=1700000000,v1={expected}"
    assert verify("s3cret", f"t=1700000000,v1={expected}", body, now=1700000100)


def test_signature_rejects_tampering_staleness_and_garbage():
    body = b"{}"
    header = sign("k", body, 1000)
    assert not verify("k", header, b"{ }", now=1000)
    assert not verify("other", header, body, now=1000)
    assert not verify("k", header, body, now=1000 + 301)
    for bad in (None, "", "t=1", "v1=abc", "t=x,v1=y"):
        assert not verify("k", bad, body, now=1000)


def test_handoff_posts_signed_context_to_crm(tmp_path):
    with LocalServer() as crm:
        app, clock = make_app(tmp_path, crm_webhook_url=crm.url + "/hook", crm_webhook_secret="crm-secret")
        try:
            client = app.test_client()
            caller = Caller(client)
            caller.start()
            caller.press("main", "1")
            caller.press("cards_menu", "1")
            caller.press("account", "123456#")
            caller.press("pin", "9876#")
            parts(app).handoff.webhook.flush()
        finally:
            parts(app).handoff.close()
            parts(app).services.close()
    assert len(crm.posts) == 1
    post = crm.posts[0]
    assert post["headers"]["X-IVR-Event"] == "handoff"
    assert verify("crm-secret", post["headers"]["X-IVR-Signature"], post["body"], now=clock.now)
    payload = json.loads(post["body"])
    assert payload["queue"] == "cards" and payload["context"]["slots"]["account"] == "123456"
    assert payload["context"]["slots"]["pin"] == "****"
    assert payload["agent_url"].startswith("/agent/calls/CA") and "sig=" in payload["agent_url"]
    assert b"9876" not in post["body"]


class _Store:
    def history(self, caller, exclude="", limit=5):
        return [{"call_id": "from-store"}]


def test_directories_default_to_store_and_fall_back():
    assert StoreDirectory(_Store()).history("+1") == [{"call_id": "from-store"}]
    with LocalServer({"/history": (200, {"Content-Type": "application/json"},
                                   json.dumps({"history": [{"call_id": "crm1"}, {"call_id": "CAme"}]}).encode())}) as s:
        assert HttpDirectory(s.url + "/history", "k", _Store()).history("+1", exclude="CAme") == [{"call_id": "crm1"}]
        assert HttpDirectory(s.url + "/missing", "k", _Store()).history("+1") == [{"call_id": "from-store"}]
