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


def test_deleted_database_directory_sends_the_caller_to_a_person_and_is_logged(make_app, tmp_path: Path,
                                                                               caplog) -> None:
    import logging
    import shutil

    app = make_app()
    twilio = SignedClient(app)
    sid = "CA" + "3" * 32
    root = ET.fromstring(twilio.post("/voice?flow=acme", call_params(sid)).data)
    action = root.find("Gather").get("action")
    shutil.rmtree(tmp_path / "instance")  # an operator's clean-up removed the live database
    with caplog.at_level(logging.ERROR, logger="ivr"):
        t0 = time.monotonic()
        resp = twilio.post(action, call_params(sid, Digits="1"))
        took = time.monotonic() - t0
    assert resp.status_code == 200
    doc = ET.fromstring(resp.data)
    assert doc.find("Enqueue") is not None and "Connecting you to a person" in "".join(doc.itertext())
    assert took < 3.5, f"the caller waited {took:.2f} s"
    assert any("is gone" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert not (tmp_path / "instance").exists()  # nothing wrote to a fresh, empty database instead


def test_serve_against_a_postgresql_that_never_answers_stops_with_the_fix(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.store.netfaults import silent_server

    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    with silent_server() as port:
        env.update(IVR_DEV="1", IVR_DATABASE_URL=f"postgresql://ivr@127.0.0.1:{port}/ivr",
                   IVR_INSTANCE_DIR=str(tmp_path / "instance"), IVR_AUDIO_DIR=str(tmp_path / "audio"))
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "ivr", "serve", "--port", "0"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "IVR_DATABASE_URL" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert took < 20, f"serve took {took:.1f} s to give up"
