"""One contract suite for callback/voicemail records: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import create_engine, text

from ivr.handoff.records import HandoffRecords

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_engine():
    engine = create_engine(PG_URL, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        print(f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}")
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def records(request, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    if request.param == "sqlite":
        recs = HandoffRecords(f"sqlite:///{tmp_path / 'records.sqlite3'}", prefix=prefix)
    else:
        recs = HandoffRecords(_pg_engine(), prefix=prefix)
    yield recs
    recs.drop()
    recs.engine.dispose()


def test_callback_lifecycle(records):
    cb = records.add_callback(call_id="CA1", number="+15551230000", at=100.0, due_at=200.0, window="morning",
                              window_end=300.0, flow="f", queue="cards", caller="+15551230000",
                              reason="lost_card", context={"slots": {"pin": "****"}})
    assert cb["status"] == "requested" and cb["context"] == {"slots": {"pin": "****"}}
    assert records.due_callbacks(150.0) == []
    assert [c["id"] for c in records.due_callbacks(250.0)] == [cb["id"]]
    assert records.due_callbacks(250.0, queue="other") == []
    claimed = records.claim("callback", cb["id"], "ann", 260.0)
    assert claimed["status"] == "claimed" and claimed["claimed_by"] == "ann"
    assert records.claim("callback", cb["id"], "bob", 261.0) is None
    assert records.complete("callback", cb["id"], 270.0, by="bob") is None
    done = records.complete("callback", cb["id"], 270.0, outcome="resolved", by="ann")
    assert done["status"] == "completed" and done["outcome"] == "resolved"
    assert records.complete("callback", cb["id"], 280.0) is None


def test_dialing_release_and_attempts(records):
    cb = records.add_callback(call_id="CA2", number="+15551230000", at=0.0, due_at=0.0)
    dialing = records.claim("callback", cb["id"], "dialer", 10.0, status="dialing")
    assert dialing["status"] == "dialing" and dialing["attempts"] == 1
    back = records.release(cb["id"], 20.0, retry_at=900.0, note="no-answer")
    assert back["status"] == "requested" and back["due_at"] == 900.0 and back["claimed_by"] is None
    assert records.claim("callback", cb["id"], "dialer", 901.0, status="dialing")["attempts"] == 2


def test_only_one_of_many_claimers_wins(records):
    cb = records.add_callback(call_id="CA3", number="+15551230000", at=0.0, due_at=0.0)
    wins = []

    def claim(i):
        if records.claim("callback", cb["id"], f"agent{i}", 1.0):
            wins.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_voicemail_lifecycle_and_idempotent_recording(records):
    vm = records.add_voicemail(call_id="CA4", at=5.0, recording_url="http://x/RE1", recording_sid="RE1",
                               duration=7.0, queue="general", caller="+1555")
    again = records.add_voicemail(call_id="CA4", at=6.0, recording_url="http://x/RE1", recording_sid="RE1")
    assert again["id"] == vm["id"]
    assert vm["status"] == "new" and vm["transcript_status"] == "pending"
    records.set_transcript(vm["id"], 8.0, "please call me back", 0.7, "pocketsphinx")
    got = records.get("voicemail", vm["id"])
    assert got["transcript"] == "please call me back" and got["transcript_status"] == "done"
    assert records.claim("voicemail", vm["id"], "ann", 9.0)["status"] == "claimed"
    assert records.complete("voicemail", vm["id"], 10.0, by="ann")["status"] == "completed"
    assert [v["id"] for v in records.for_call("CA4")["voicemails"]] == [vm["id"]]
    assert records.for_caller("+1555")["voicemails"][0]["id"] == vm["id"]
    assert records.list("voicemail", status="new") == []
