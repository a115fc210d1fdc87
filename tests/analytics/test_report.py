"""``report --json`` against what call scripts did: outcomes, reasons, the funnel, FCR, windows, versions.

Each test runs on SQLite and on PostgreSQL (the ``db_url`` fixture): the
metrics are SQL, and both databases must count the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from ivr.sim import LocalCall

from .conftest import SHOP, START, Calls, report_json

HOUR, DAY = 3600.0, 86400.0

CONTAINED = 'flow: shop\ncaller: "+15550000001"\nsteps:\n  - press: "1"\n  - expect: {ended: true}\n'
ORDER = 'flow: shop\ncaller: "+15550000002"\nsteps:\n  - press: "2"\n  - press: "12345#"\n' \
        '  - expect: {transfer: orders}\n'
CALLBACK = 'flow: shop\ncaller: "+15550000003"\nsteps:\n  - press: "3"\n  - expect: {transfer: general}\n'
AGENT = 'flow: shop\ncaller: "+15550000004"\nsteps:\n  - press: "0"\n  - expect: {transfer: general}\n'
HANGUP_AT_ORDER = 'flow: shop\ncaller: "+15550000005"\nsteps:\n  - press: "2"\n  - hangup\n'
HANGUP_AT_MAIN = 'flow: shop\ncaller: "+15550000006"\nsteps:\n  - hangup\n'
BAD_ORDER_TWICE = 'flow: shop\ncaller: "+15550000007"\nsteps:\n  - press: "2"\n  - press: "12#"\n' \
                  '  - press: "34#"\n  - expect: {transfer: general, context: {reason: retries_exhausted}}\n'
SILENCE_THEN_HOURS = 'flow: shop\ncaller: "+15550000008"\nsteps:\n  - silence: 5\n  - press: "1"\n' \
                     '  - expect: {ended: true}\n'
STILL_IN_ORDER = 'flow: shop\ncaller: "+15550000009"\nsteps:\n  - press: "2"\n  - expect: {node: order_number}\n'


def _the(rows: list[dict], flow: str = "shop") -> dict:
    assert [r["flow"] for r in rows] == [flow]
    return rows[0]


def test_outcomes_reasons_and_the_funnel_match_the_scripts(calls: Calls, db_url: str) -> None:
    for script in (CONTAINED, ORDER, CALLBACK, AGENT, HANGUP_AT_ORDER, HANGUP_AT_MAIN, BAD_ORDER_TWICE,
                   SILENCE_THEN_HOURS, STILL_IN_ORDER):
        calls.run(script)
    r = _the(report_json(db_url))
    assert (r["calls"], r["contained"], r["transferred"], r["abandoned"], r["in_progress"]) == (9, 2, 4, 2, 1)
    assert r["containment"] == 0.25  # contained over the 8 calls that ended
    assert r["transfer_reasons"] == {"callback": 1, "caller_request": 1, "order_enquiry": 1, "retries_exhausted": 1}
    assert r["transfer_modes"] == {"agent": 3, "callback": 1}
    assert r["abandoned_by_node"] == {"main": 1, "order_number": 1}
    nodes = r["nodes"]
    assert set(nodes) == {"welcome", "main", "hours", "bye", "order_number", "order_desk", "call_me"}
    assert (nodes["welcome"]["entered"], nodes["welcome"]["completed"], nodes["welcome"]["abandoned"]) == (9, 9, 0)
    main = nodes["main"]
    assert (main["entered"], main["completed"], main["abandoned"], main["escalated"], main["no_input"],
            main["no_match"]) == (9, 7, 1, 1, 1, 0)
    order = nodes["order_number"]
    assert (order["entered"], order["completed"], order["abandoned"], order["escalated"], order["no_input"],
            order["no_match"], order["in_progress"]) == (4, 1, 1, 1, 0, 2, 1)
    assert nodes["order_desk"]["escalated"] == 1 and nodes["order_desk"]["completed"] == 0
    assert (main["abandon_rate"], main["escalate_rate"], main["no_input_rate"], main["no_match_rate"]) == \
        (round(1 / 9, 4), round(1 / 9, 4), round(1 / 9, 4), 0.0)
    assert nodes["call_me"]["escalated"] == 1
    assert nodes["bye"]["entered"] == nodes["bye"]["completed"] == 2
    assert r["versions"] and sum(r["versions"].values()) == 9
    # time in the IVR: every ended call has one; the in-progress call has none
    assert r["median_seconds"] is not None and r["median_seconds"] > 0
    assert r["journeys"]["contained:bye"]["calls"] == 2
    assert r["journeys"]["transferred:order_number"]["turns"] == 3.0  # "2", "12#", "34#"
    assert r["journeys"]["abandoned:main"] == {"outcome": "abandoned", "node": "main", "calls": 1, "turns": 0.0,
                                               "seconds": r["journeys"]["abandoned:main"]["seconds"]}


def test_a_hang_up_is_never_contained(calls: Calls, db_url: str) -> None:
    """The flow said goodbye: contained; the caller hung up at the goodbye-less menu: abandoned."""
    calls.run(CONTAINED)
    calls.run(HANGUP_AT_MAIN)
    calls.run(CONTAINED.replace("steps:\n", "steps:\n  - silence: 5\n"))
    r = _the(report_json(db_url))
    assert (r["contained"], r["abandoned"], r["transferred"]) == (2, 1, 0)
    assert r["nodes"]["main"]["abandoned"] == 1 and r["nodes"]["main"]["no_input"] == 1


def test_first_contact_resolution_across_two_calls_of_one_caller(calls: Calls, db_url: str) -> None:
    again_soon = 'flow: shop\ncaller: "+15557770001"\nsteps:\n  - press: "1"\n'
    again_later = 'flow: shop\ncaller: "+15557770002"\nsteps:\n  - press: "1"\n'
    once = 'flow: shop\ncaller: "+15557770003"\nsteps:\n  - press: "0"\n'
    calls.run(again_soon, at=START)
    calls.run(again_soon, at=START + 2 * HOUR)          # within 24 h: the first call did not resolve it
    calls.run(again_later, at=START + 10 * 60)
    calls.run(again_later, at=START + 10 * 60 + 3 * DAY)  # after 24 h, within 7 d
    calls.run(once, at=START + 20 * 60)
    anonymous = LocalCall(calls.services.driver, "shop", "", clock=calls.clock)  # no caller ID: not counted
    anonymous.start()
    anonymous.press("1")
    anonymous.clock.advance(60)
    again = LocalCall(calls.services.driver, "shop", "", clock=calls.clock)
    again.start()
    again.press("1")
    r = _the(report_json(db_url))
    assert r["calls"] == 7
    assert r["fcr_24h"] == 0.8   # of 5 calls with a caller ID, only the first of +15557770001 was followed in 24 h
    assert r["fcr_7d"] == 0.6    # ... and the first of +15557770002 within 7 days
    # a window holding only the first calls still sees the repeat calls after it
    first_day = report_json(db_url, "--until", datetime.fromtimestamp(START + HOUR, timezone.utc).isoformat())
    assert _the(first_day)["calls"] == 5  # the first call of each caller and the two without caller ID
    assert _the(first_day)["fcr_24h"] == round(2 / 3, 4)


def test_the_time_window_and_the_flow_filter(calls: Calls, db_url: str) -> None:
    calls.run(CONTAINED, at=START)
    calls.run(ORDER, at=START + 2 * DAY)
    calls.run(AGENT, at=START + 2 * DAY + HOUR)
    calls.run(HANGUP_AT_MAIN, at=START + 5 * DAY)
    iso = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = _the(report_json(db_url, "--since", iso(START + DAY), "--until", iso(START + 3 * DAY)))
    assert (r["calls"], r["contained"], r["transferred"], r["abandoned"]) == (2, 0, 2, 0)
    assert r["transfer_reasons"] == {"caller_request": 1, "order_enquiry": 1}
    r = _the(report_json(db_url, "--since", iso(START + 5 * DAY)))
    assert (r["calls"], r["abandoned"]) == (1, 1)
    assert report_json(db_url, "--until", iso(START - DAY)) == []
    r = _the(report_json(db_url, "--flow", "other"), "other")  # a flow with no calls: zeros, not an error
    assert r["calls"] == 0 and r["containment"] is None and r["nodes"] == {}
    # the same through the API, with the window as datetimes and per UTC day
    a = calls.services.analytics
    days = a.daily("shop")
    assert [d["calls"] for d in days] == [1, 2, 1]
    assert days[1]["transfer_reasons"] == {"caller_request": 1, "order_enquiry": 1}
    assert days[0]["day"] == datetime.fromtimestamp(START, timezone.utc).date().isoformat()
    assert a.report("shop", since=datetime.fromtimestamp(START + DAY, timezone.utc))[0]["calls"] == 3


def test_reports_split_by_flow_version(calls: Calls, db_url: str, tmp_path: Path) -> None:
    calls.run(CONTAINED)
    calls.run(AGENT)
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "shop.yaml").write_text(SHOP.replace("Welcome to the shop.", "Welcome to the new shop."))
    later = Calls(db_url, edited, tmp_path / "instance2")
    try:
        later.run(ORDER)
    finally:
        later.close()
    r = _the(report_json(db_url))
    assert sorted(r["versions"].values()) == [1, 2]
    old = next(v for v, n in r["versions"].items() if n == 2)
    new = next(v for v, n in r["versions"].items() if n == 1)
    assert r["by_version"][new]["transferred"] == 1
    only_new = _the(report_json(db_url, "--flow-version", new))
    assert (only_new["calls"], only_new["transfer_reasons"]) == (1, {"order_enquiry": 1})
    assert _the(report_json(db_url, "--flow-version", old))["contained"] == 1


def test_call_started_carries_the_flow_version(calls: Calls) -> None:
    from ivr.engine.engine import flow_version
    result = calls.run(CONTAINED)
    events = calls.services.store.events(result.context["call_id"])
    assert events[0]["kind"] == "call_started"
    assert events[0]["data"]["flow_version"] == flow_version(calls.services.flows.get("shop"))


def test_prompt_seconds_played_per_call_until_it_ends_or_transfers(calls: Calls, db_url: str) -> None:
    """Each call's prompts, as the driver played them (audio length, else the words' estimate), averaged."""
    from ivr.prompts.durations import estimate_seconds
    heard = []
    for script in (CONTAINED, AGENT):
        result = calls.run(script)
        heard.append(sum(estimate_seconds(p) for p in result.prompts))   # no audio built: the estimate
    r = _the(report_json(db_url))
    assert r["prompt_seconds"] == round(sum(heard) / 2, 1)
    assert heard[0] > heard[1] > 0, "the contained call heard the hours and the goodbye too"
    calls.run(STILL_IN_ORDER)
    assert _the(report_json(db_url))["prompt_seconds"] == round(sum(heard) / 2, 1), "a call in progress: no total"
