"""The report page: who may open it, and what headless Chromium shows after real calls.

Calls go through signed webhooks into the app's own database, coverage is
saved by the real ``coverage`` command, and the page is read back from the
DOM: the numbers on the graph must be the calls' numbers.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from werkzeug.serving import make_server

from ivr.analytics.coverage import flow_edges
from ivr.cli.main import main as cli
from ivr.flow.lint import lint
from ivr.handoff.links import agent_path, report_path
from ivr.web import parts

from tests.handoff.helpers import Clock, T0, api, make_app
from tests.web.report_calls import DAY, ScriptedCall, demo_mix, png_colours, png_size
from tests.web.webdriver import Chromium

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
DOCS_PNG = ROOT / "docs" / "report.png"


def keypad_copy(tmp_path: Path, name: str, change=lambda data: None) -> Path:
    """A demo flow answered with keypad TwiML (``speech: false``; the webhooks are what these tests drive)."""
    data = yaml.safe_load((FLOWS / f"{name}.yaml").read_text())
    data.setdefault("settings", {})["speech"] = False
    change(data)
    out = tmp_path / "src" / f"{name}.yaml"
    out.parent.mkdir(exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def acme_with_a_lint_finding(tmp_path: Path) -> Path:
    """The acme demo flow with ``retries: 0`` on its menu (lint: no-retries on ``main``)."""
    return keypad_copy(tmp_path, "acme", lambda data: data["nodes"]["main"]["menu"].update(retries=0))


def save_coverage(flows: Path, instance: Path, *scripts: Path) -> None:
    """``python -m ivr coverage --save <instance>/coverage SCRIPT...``, as a tester would run it."""
    res = CliRunner().invoke(cli, ["coverage", "--flows", str(flows), "--save", str(instance / "coverage"),
                                   *map(str, scripts)])
    assert res.exit_code == 0, res.output


@pytest.fixture
def acme(tmp_path):
    """Five acme calls over three days (two contained, two transferred, one abandoned at the menu), both
    transferred callers answering the post-call survey, and the coverage of the lost-card script."""
    clock = Clock(T0)
    app, _ = make_app(tmp_path, acme_with_a_lint_finding(tmp_path), clock=clock)
    client = app.test_client()
    plan = [(-2, "+15550000001", "1", ()), (-2, "+15550000002", "2", ("4", "9#")), (-1, "+15550000003", None, ()),
            (-1, "+15550000004", "0", ("2", "10")), (0, "+15550000005", "1", ())]
    for i, (day, caller, key, survey) in enumerate(plan):
        clock.now = T0 + day * DAY - 3600 + i * 60
        call = ScriptedCall(client, f"CA{i:032d}", caller=caller, flow="acme").begin()
        if key:
            call.keys(key)
        if survey:
            call.agent_then_survey(*survey)
        clock.now += 30
        call.hang_up()
    clock.now = T0
    save_coverage(tmp_path / "flows", tmp_path / "instance", ROOT / "tests" / "calls" / "acme_lost_card.yaml")
    yield app, clock, client
    parts(app).handoff.close()
    parts(app).services.close()


def test_access_needs_the_bearer_token_or_a_valid_signed_link(acme):
    app, clock, client = acme
    assert client.get("/reports/acme").status_code == 401
    assert client.get("/reports/acme", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api(client, "get", "/reports/acme").status_code == 200
    assert client.get("/api/reports/acme/link").status_code == 401
    link = api(client, "get", "/api/reports/acme/link").get_json()
    assert link["expires_at"] == int(T0) + 7 * 86400 and link["path"].startswith("/reports/acme?exp=")
    assert client.get(link["path"]).status_code == 200
    assert client.get(link["path"] + "&days=7").status_code == 200  # the window is the reader's choice
    assert client.get(link["path"].replace("sig=", "sig=0")).status_code == 401  # forged
    secret = parts(app).handoff.link_secret
    other, _ = report_path("bank", secret, T0)
    assert client.get("/reports/acme?" + other.split("?", 1)[1]).status_code == 401  # another flow's link
    agent = agent_path("acme", secret, T0)
    assert client.get("/reports/acme?" + agent.split("?", 1)[1]).status_code == 401  # an agent-page link
    short = api(client, "get", "/api/reports/acme/link?ttl=60").get_json()["path"]
    clock.now = T0 + 61
    assert client.get(short).status_code == 401  # expired
    assert client.get(link["path"]).status_code == 200
    assert api(client, "get", "/api/reports/acme/link?ttl=5").status_code == 400
    assert api(client, "get", "/api/reports/nope/link").status_code == 404


def test_unknown_flow_bad_window_and_an_empty_window(acme):
    app, clock, client = acme
    missing = api(client, "get", "/reports/nope")
    assert missing.status_code == 404
    assert "nope" in missing.get_data(as_text=True) and 'href="/reports/acme"' in missing.get_data(as_text=True)
    bad = api(client, "get", "/reports/acme?since=last-week")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    assert api(client, "get", "/reports/acme?days=0").status_code == 400
    assert api(client, "get", "/reports/acme?since=2026-03-04&until=2026-03-01").status_code == 400
    empty = api(client, "get", "/reports/acme?since=2025-01-01&until=2025-01-31")
    page = empty.get_data(as_text=True)
    assert empty.status_code == 200 and 'id="no-calls"' in page and "No calls in this window" in page
    assert page.count('class="day"') == 31 and 'data-entered="0"' in page
    home = client.get("/").get_data(as_text=True)
    assert 'href="/reports/acme"' in home


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def browser():
    try:
        b = Chromium()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    b.window_size(1400, 1000)
    yield b
    b.close()


def test_report_page_in_headless_chromium(acme, browser, tmp_path):
    app, clock, client = acme
    server, thread = _serve(app)
    try:
        path = api(client, "get", "/api/reports/acme/link").get_json()["path"]
        browser.get(f"http://127.0.0.1:{server.server_port}{path}")
        js = browser.js
        flow = parts(app).services.flows.get("acme")
        loaded = parts(app).services.flows.loaded("acme")
        nodes = js("return [...document.querySelectorAll('g.node')].map(g => [g.dataset.node, +g.dataset.entered,"
                   " +g.dataset.dropoff, g.dataset.covered, +g.dataset.findings])")
        assert sorted(n[0] for n in nodes) == sorted(flow.nodes)
        got = {n[0]: n[1:] for n in nodes}
        entered = {"welcome": 5, "main": 5, "balance": 2, "bye": 4, "cards": 1, "rate": 2}
        assert {n: v[0] for n, v in got.items() if v[0]} == entered
        assert got["main"][1] == pytest.approx(0.2) and got["welcome"][1] == 0
        covered = {"welcome", "main", "cards"}
        assert {n for n, v in got.items() if v[2] == "true"} == covered
        assert {n for n, v in got.items() if v[2] == "false"} == set(flow.nodes) - covered
        assert got["main"][3] == 1 and js("return document.querySelectorAll('g.node[data-node=main] .lint-mark')"
                                          ".length") == 1
        assert js("return document.querySelectorAll('#lint-findings tr.finding').length") == len(lint(loaded))
        uncovered = js("return getComputedStyle(document.querySelector('g.node[data-node=balance] .shape'))"
                       ".strokeDasharray")
        assert uncovered not in ("", "none")
        edges = js("return [...document.querySelectorAll('path.edge')].map(p => [p.dataset.from, p.dataset.to,"
                   " p.dataset.covered, p.getAttribute('marker-end')])")
        assert sorted((a, b) for a, b, _, _ in edges) == sorted(flow_edges(flow))
        assert {(a, b) for a, b, c, _ in edges if c == "true"} == {("welcome", "main"), ("main", "cards")}
        assert all(m == "url(#arrow)" for *_, m in edges)
        assert js("return document.querySelector('#coverage-summary').dataset.nodes") == f"3/{len(flow.nodes)}"
        text = lambda css: js("return document.querySelector(arguments[0]).textContent.trim()", css)
        assert text("#h-calls .v") == "5" and text("#h-containment .v") == "40%"
        assert text("#h-transferred .v") == "2" and text("#h-abandoned .v") == "1"
        days = js("return [...document.querySelectorAll('#daily-chart g.day')].map(g => [g.dataset.day,"
                  " +g.dataset.calls, g.querySelectorAll('rect.bar').length])")
        assert len(days) == 30 and days[-1][0] == "2026-03-04"
        assert [d[1] for d in days[-3:]] == [2, 2, 1] and sum(d[1] for d in days) == 5
        assert [d[2] for d in days[-3:]] == [2, 2, 1]  # one segment per outcome present that day
        reasons = js("return Object.fromEntries([...document.querySelectorAll('#reasons-chart g.reason')]"
                     ".map(g => [g.dataset.reason, +g.dataset.n]))")
        assert reasons == {"lost_card": 1, "caller_request": 1}
        per_day = js("return [...document.querySelectorAll('#reasons-daily-chart g.reason-day')].map(g =>"
                     " [g.dataset.day, [...g.querySelectorAll('rect.bar')].map(r => [r.dataset.reason, +r.dataset.n])])")
        assert len(per_day) == 30
        assert sorted(r for _, bars in per_day for r in bars) == [["caller_request", 1], ["lost_card", 1]]
        assert js("return document.querySelector('#graph-legend #dropoff-scale-bar') !== null")
        surveys = js("return [...document.querySelectorAll('svg.survey-chart')].map(s => [s.dataset.question,"
                     " [...s.querySelectorAll('g.answer')].map(g => [g.dataset.value, +g.dataset.n])])")
        assert [q for q, _ in surveys] == ["csat", "nps"]
        csat, nps = dict(surveys[0][1]), dict(surveys[1][1])
        assert list(csat) == ["1", "2", "3", "4", "5"] and csat == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
        assert list(nps) == [str(v) for v in range(11)] and {v: n for v, n in nps.items() if n} == {"9": 1, "10": 1}
        assert text("#h-csat .v") == "50%" and text("#h-nps .v") == "+100"
        assert js("return document.querySelector('g.node[data-node=rate]').classList.contains('post-call')")
        assert not [e for e in browser.browser_log() if e.get("level") == "SEVERE"]
        box = js("var r = document.querySelector('#flow-graph').getBoundingClientRect(); return [r.width, r.height]")
        assert box[0] > 300 and box[1] > 300
        png = browser.full_screenshot()
        (tmp_path / "report.png").write_bytes(png)
        width, height = png_size(png)
        assert width >= 1000 and height >= 1200 and len(png) > 40_000
        colours = png_colours(png)
        assert len(colours) > 20 and max(colours.values()) < 0.8 * sum(colours.values())  # not blank
    finally:
        server.shutdown()
        thread.join(5)


def test_demo_report_with_a_month_of_calls(tmp_path, browser):
    """The bank demo after a month of mixed calls: the picture in the README (UPDATE_DOCS_PNG=1 rewrites it)."""
    clock = Clock(T0)
    app, _ = make_app(tmp_path, keypad_copy(tmp_path, "bank"), clock=clock)
    client = app.test_client()
    made = demo_mix(client, clock)
    clock.now = T0 + 11 * 3600  # 23:00 on the last day: every call of the month is in the window
    scripts = [p for p in sorted((ROOT / "tests" / "calls").glob("bank_*.yaml"))
               if "say_audio" not in p.read_text() and "say:" not in p.read_text()]
    save_coverage(tmp_path / "flows", tmp_path / "instance", *scripts)
    server, thread = _serve(app)
    try:
        path, _ = report_path("bank", parts(app).handoff.link_secret, clock.now)
        browser.window_size(1400, 1000)
        browser.get(f"http://127.0.0.1:{server.server_port}{path}")
        js = browser.js
        assert int(js("return document.querySelector('#h-calls .v').textContent")) == sum(made.values())
        entered = js("return Object.fromEntries([...document.querySelectorAll('g.node')]"
                     ".map(g => [g.dataset.node, +g.dataset.entered]))")
        assert entered["welcome"] == sum(made.values())
        assert entered["cards_transfer"] == made["lost_card"] + made.get("wrong_account", 0)
        assert js("return document.querySelectorAll('#daily-chart g.day').length") == 30
        png = browser.full_screenshot()
        assert png_size(png)[0] >= 1000 and len(png) > 60_000
        if os.environ.get("UPDATE_DOCS_PNG") == "1":
            DOCS_PNG.write_bytes(png)
    finally:
        server.shutdown()
        thread.join(5)
        parts(app).handoff.close()
        parts(app).services.close()
