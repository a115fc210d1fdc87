"""A store outage reaches the caller as an apology and a person, in seconds (through the webhook)."""

from __future__ import annotations

import sqlite3
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import SignedClient, call_params


def test_locked_sqlite_store_answers_the_call_with_apology_and_a_person_well_under_15_s(make_app,
                                                                                      tmp_path: Path) -> None:
    app = make_app()  # IVR_STORE_TIMEOUT unset: the 2 s default
    twilio = SignedClient(app)
    assert twilio.post("/voice", call_params("CA" + "1" * 32)).status_code == 200  # the database exists
    holder = sqlite3.connect(tmp_path / "instance" / "ivr.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process stuck in a write transaction
    try:
        t0 = time.monotonic()
        resp = twilio.post("/voice", call_params("CA" + "2" * 32))
        took = time.monotonic() - t0
    finally:
        holder.rollback()
        holder.close()
    assert resp.status_code == 200
    doc = ET.fromstring(resp.data)
    assert "Connecting you to a person" in "".join(doc.itertext())
    assert doc.find("Enqueue") is not None or doc.find("Dial") is not None
    assert took < 3.5, f"the caller waited {took:.2f} s (one store timeout, then fail-fast, is the budget)"
