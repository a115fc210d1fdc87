"""The agent page: access rules, and the caller's story as rendered by headless Chromium."""

from __future__ import annotations

import shutil
import tempfile
import threading
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.handoff.helpers import API_TOKEN, Caller, api, make_app

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
    app.extensions["ivr.handoff"].close()
    app.extensions["ivr"].close()


def test_access_needs_bearer_or_a_valid_signed_link(story):
    app, clock, client, caller = story
    path = f"/agent/calls/{caller.sid}"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api(client, "get", path).status_code == 200
    link = app.extensions["ivr.handoff"].agent_url(caller.sid)
    assert client.get(link).status_code == 200
    assert client.get(link.replace("sig=", "sig=0")).status_code == 401
    clock.now += 9 * 3600
    assert client.get(link).status_code == 401  # expired
    assert api(client, "get", "/agent/calls/CAnope").status_code == 404


def chrome():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="ivr-chrome-")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    return driver, profile


def test_agent_page_in_headless_chromium(story):
    app, clock, client, caller = story
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    driver, profile = chrome()
    try:
        link = app.extensions["ivr.handoff"].agent_url(caller.sid)
        driver.get(f"http://127.0.0.1:{server.server_port}{link}")
        find = lambda css: driver.find_element("css selector", css)
        assert driver.execute_script("return document.body.dataset.ready") == "1"
        assert find("#caller").text == "+15556660000"
        summary = find("#summary").text
        assert summary.startswith("Repeat caller (1 earlier call), not verified, needs help with lost card")
        assert find("#queue").text == "cards"
        assert find("#reason").get_attribute("data-code") == "lost_card"
        assert find("#rule").text.startswith("(none")
        assert find("#context-id").text == caller.sid
        assert [li.text for li in driver.find_elements("css selector", "#path li")] == \
            ["main", "cards_menu", "account", "pin", "lost"]
        slots = {r.find_element("css selector", "th").text: r.find_element("css selector", "td").text
                 for r in driver.find_elements("css selector", "#slots tr")}
        assert slots == {"account": "123456", "pin": "****"}
        assert find("#history-count").text == "1"
        assert "sales" in find("#history li").text
        started = find("#started")
        assert started.get_attribute("data-rendered") == "1" and "ago" in started.text
        assert "Callback to +15556660000" in find("#follow-up").text
        assert PIN not in driver.page_source
        assert not [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        sections = driver.find_elements("css selector", "main section")
        assert all(s.is_displayed() and s.size["width"] > 200 for s in sections)
    finally:
        driver.quit()
        server.shutdown()
        thread.join(5)
        shutil.rmtree(profile, ignore_errors=True)
