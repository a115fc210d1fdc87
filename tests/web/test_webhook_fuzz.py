"""Property-based fuzzing of every voice webhook: signed and unsigned, repeated and hostile parameters.

Whatever arrives, the answer is a 403, another 4xx, or well-formed TwiML, in
under a second; never a 5xx.  Bounded (``FUZZ_EXAMPLES``) so ``make test``
stays fast; raise it locally with ``IVR_FUZZ_EXAMPLES=5000``.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from ivr.web import parts

from tests.conftest import SignedClient, call_params

FUZZ_EXAMPLES = int(os.environ.get("IVR_FUZZ_EXAMPLES", "400"))
LIVE = "CA" + "c" * 32

TWILIO_NAMES = ["CallSid", "From", "To", "Caller", "Called", "Digits", "CallStatus", "QueuePosition",
                "AvgQueueTime", "QueueResult", "QueueTime", "RecordingUrl", "RecordingStatus", "RecordingSid",
                "AnsweredBy", "StreamSid", "SpeechResult", "Confidence", "AccountSid", "Direction"]
HOSTILE = ["", "\x00", "\uffff", "\ufffe", "<Response/>", "]]>", "&amp;", "'\"", "\x1b[2J", "%00", "1e400",
           "-1", "99999999999999999999", "NaN", "../../etc/passwd", "ÿ" * 300, "🙂", "#", "0", "*", "12345678#",
           "completed", "in-progress", "bridged", "hangup", "CA" + "c" * 32]

values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=60),
                   st.text(alphabet=st.characters(codec="utf-8"), max_size=20))
sids = st.one_of(st.just(LIVE), st.sampled_from(["CA" + "d" * 32, "CA1", "", "CA\x00", "CA\uffff", "x" * 70]),
                 st.text(max_size=40))
extra_items = st.lists(st.tuples(st.one_of(st.sampled_from(TWILIO_NAMES), st.text(max_size=12)), values),
                       max_size=8)


def voice_paths(app) -> list[str]:
    """Every POST route under /voice, with the query strings our TwiML uses."""
    paths = sorted({r.rule for r in app.url_map.iter_rules()
                    if r.rule.startswith("/voice") and "POST" in (r.methods or ()) and "<" not in r.rule})
    assert len(paths) >= 10, paths
    return paths


QUERIES = ["", "?flow=acme", "?node=main", "?node=main&turn=1", "?node=main&turn=abc", "?node=%00",
           "?tries=x", "?id=../x", "?call=" + LIVE, "?default=9", "?flow=bank&entry=%ff"]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    import shutil

    from ivr.web import create_app
    from tests.conftest import API_TOKEN, AUTH_TOKEN, FLOWS
    d = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(FLOWS, d / "flows")
    app = create_app({"flows_dir": str(d / "flows"), "instance_dir": str(d / "instance"),
                      "audio_dir": str(d / "audio"), "auth_token": AUTH_TOKEN, "api_token": API_TOKEN,
                      "flow_check_interval": 0.0, "media_streams": False})
    yield app
    parts(app).services.close()


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(data=st.data(), sid=sids, extra=extra_items, repeat_sid=st.booleans(),
       signing=st.sampled_from(["good", "good", "none", "bad", "other-url"]))
def test_every_voice_webhook_answers_403_4xx_or_twiml_fast(fuzz_app, data, sid, extra, repeat_sid,
                                                          signing) -> None:
    client = SignedClient(fuzz_app)
    if parts(fuzz_app).services.store.load_state(LIVE) is None:
        assert client.post("/voice?flow=acme", call_params(LIVE)).status_code == 200
    path = data.draw(st.sampled_from(voice_paths(fuzz_app))) + data.draw(st.sampled_from(QUERIES))
    items = [*call_params(sid).items(), *extra]
    if repeat_sid:
        items.append(("CallSid", LIVE))
    form = MultiDict(items)
    headers = {}
    try:
        if signing == "good":
            headers["X-Twilio-Signature"] = client.validator.compute_signature(client.base + path, form)
        elif signing == "other-url":
            headers["X-Twilio-Signature"] = client.validator.compute_signature(client.base + "/elsewhere", form)
        elif signing == "bad":
            headers["X-Twilio-Signature"] = data.draw(st.sampled_from(["x", "", "=" * 28, "\x00"]))
    except UnicodeEncodeError:  # a lone surrogate cannot travel in a real request either
        return
    t0 = time.monotonic()
    resp = client.client.post(path, data=form, headers=headers)
    elapsed = time.monotonic() - t0
    assert elapsed < 1.0, f"{path}: {elapsed:.2f} s"
    assert resp.status_code < 500, (path, resp.status_code, resp.data[:300])
    if signing != "good":
        assert resp.status_code == 403, (path, signing, resp.status_code, resp.data[:300])
    if resp.status_code == 200:
        assert resp.mimetype == "text/xml", (path, resp.data[:200])
        assert ET.fromstring(resp.data).tag == "Response"
    else:
        assert 400 <= resp.status_code < 500
