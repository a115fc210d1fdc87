"""The agent page: access rules, and the caller's story as rendered by headless Chromium."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from ivr.web import parts

from tests.handoff.helpers import Caller, api, make_app
from tests.web.webdriver import Chromium

PIN = "9876"


def seeded(tmp_path):
    app, clock = make_app(tmp_path)
    client = app.test_client()
    first = Caller(client, "CA" + "d" * 32, caller="+15556660000")
    first.start()
    first.press("main", "3")
    caller = Caller(client, "CA" + "e" * 32, caller="+15556660000")
    caller.start()
    caller.press("main", "1")
    caller.press("cards_menu", "1")
    caller.press("account", "123456#")
    caller.press("pin", PIN + "#")
    caller.post("/voice/queue/dialed", DialCallStatus="no-answer")
    caller.post("/voice/queue/callback/confirm", Digits="1")
    caller.post("/voice/queue/callback/window", Digits="1")
    return app, clock, client, caller


@pytest.fixture
def story(tmp_path):
    app, clock, client, caller = seeded(tmp_path)
    yield app, clock, client, caller
    parts(app).handoff.close()
    parts(app).services.close()


def test_access_needs_bearer_or_a_valid_signed_link(story):
    app, clock, client, caller = story
    path = f"/agent/calls/{caller.sid}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api(client, "get", path).status_code == 200
    link = parts(app).handoff.agent_url(caller.sid)
    assert client.get(link).status_code == 200
    assert client.get(link.replace("sig=", "sig=0")).status_code == 401
    clock.now += 9 * 3600
    assert client.get(link).status_code == 401  # expired
    assert api(client, "get", "/agent/calls/CAnope").status_code == 404


def test_agent_page_in_headless_chromium(story):
    app, clock, client, caller = story
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser = Chromium()
    except RuntimeError as exc:
        server.shutdown()
        pytest.skip(str(exc))
    try:
        link = parts(app).handoff.agent_url(caller.sid)
        browser.get(f"http://127.0.0.1:{server.server_port}{link}")
        text = lambda css: browser.js("return document.querySelector(arguments[0]).textContent.trim()", css)
        attr = lambda css, name: browser.js("return document.querySelector(arguments[0]).getAttribute(arguments[1])",
                                            css, name)
        assert browser.js("return document.body.dataset.ready") == "1"
        assert text("#caller") == "+15556660000"
        assert text("#summary").startswith("Repeat caller (1 earlier call), not verified, needs help with lost card")
        assert text("#queue") == "cards"
        assert attr("#reason", "data-code") == "lost_card"
        assert text("#rule").startswith("(none")
        assert text("#context-id") == caller.sid
        assert browser.js("return [...document.querySelectorAll('#path li')].map(e => e.textContent)") == \
            ["main", "cards_menu", "account", "pin", "lost"]
        slots = browser.js("return Object.fromEntries([...document.querySelectorAll('#slots tr')]"
                           ".map(r => [r.querySelector('th').textContent, r.querySelector('td').textContent]))")
        assert slots == {"account": "123456", "pin": "****"}
        said = browser.js("return [...document.querySelectorAll('#transcript td.said')].map(e => e.textContent)")
        assert said == ["1", "1", "123456", "****"]
        assert text("#history-count") == "1"
        assert "sales" in text("#history li")
        assert attr("#started", "data-rendered") == "1" and "ago" in text("#started")
        assert "Callback to +15556660000" in text("#follow-up")
        assert PIN not in browser.js("return document.documentElement.outerHTML")
        assert not [e for e in browser.browser_log() if e.get("level") == "SEVERE"]
        widths = browser.js("return [...document.querySelectorAll('main section')]"
                            ".map(s => s.getBoundingClientRect().width)")
        assert len(widths) == 5 and all(w > 200 for w in widths)
    finally:
        browser.close()
        server.shutdown()
        thread.join(5)
