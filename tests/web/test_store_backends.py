"""A keypad call through the webhooks with each configured store (SQLite, PostgreSQL, Redis)."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from ivr.web import parts

from tests.conftest import SignedClient, call_params
from tests.store.test_store_contract import REDIS_URL, _pg_schema


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def backend(request):
    if request.param == "sqlite":
        yield {}
    elif request.param == "postgresql":
        gen = _pg_schema()
        yield {"database_url": next(gen).replace("postgresql+psycopg://", "postgresql://")}
        next(gen, None)
    else:
        import redis
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except Exception as exc:  # pragma: no cover
            pytest.skip(f"Redis not reachable: {exc}")
        yield {"redis_url": REDIS_URL}


def test_keypad_call_with_each_store(make_app, backend) -> None:
    app = make_app(**backend)
    c = SignedClient(app)
    sid = "CA" + uuid.uuid4().hex
    c.post("/voice?flow=bank", call_params(sid))
    c.post("/voice/input?node=main", call_params(sid, Digits="1"))
    c.post("/voice/input?node=account_number", call_params(sid, Digits="87654321#"))
    root = ET.fromstring(c.post("/voice/input?node=card_pin", call_params(sid, Digits="5555#")).data)
    assert "42.00 dollars" in " ".join(s.text for s in root.iter("Say"))
    root = ET.fromstring(c.post("/voice/input?node=anything_else", call_params(sid, Digits="0")).data)
    task = json.loads(root.find("Enqueue/Task").text)
    assert task["slots"] == {"account": "87654321", "pin": "****", "balance": "42.00", "holder": "Grace"}
    store = parts(app).services.store
    assert store.context(sid)["reason"] == "caller_request"
    kinds = [e["kind"] for e in store.events(sid)]
    assert kinds[0] == "call_started" and kinds[-2:] == ["transfer", "prompts_heard"] and "hook" in kinds
    # a second call from the same number carries the first in its history
    sid2 = "CA" + uuid.uuid4().hex
    root = ET.fromstring(c.post("/voice?flow=bank", call_params(sid2)).data)
    c.post("/voice/input?node=main", call_params(sid2, Digits="0"))
    assert store.context(sid2)["history"][0]["call_id"] == sid
