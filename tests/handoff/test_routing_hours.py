"""Pure parts: routing rules, business hours, callback windows and numbers, flow validation."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivr.engine import CallStarted, DigitsReceived, step
from ivr.engine.hours import is_open, next_opening, spoken_opening
from ivr.engine.routing import route
from ivr.engine.state import CallState
from ivr.errors import FlowError
from ivr.flow.loader import load_flow, load_flow_text
from ivr.flow.model import Hours
from ivr.handoff import callbacks as cbs
from tests.handoff.helpers import HELPDESK

FLOW = load_flow(HELPDESK).flow


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def state(**kw) -> CallState:
    return CallState(call_id="CA1", flow="helpdesk", **kw)


def test_rule_by_path():
    r = route(FLOW, state(path=["main", "cards_menu"]), "general", "caller_request", ts("2026-03-04T12:00:00+00:00"))
    assert (r.queue, r.rule, r.requested, r.mode, r.open) == ("cards", "cards-path", "general", "agent", True)


def test_rule_by_history_within_24_hours_only():
    at = ts("2026-03-04T12:00:00+00:00")
    recent = state(path=["main"], history=[{"started_at": "2026-03-03T13:00:00.000Z"}])
    old = state(path=["main"], history=[{"started_at": "2026-03-02T11:00:00.000Z"}])
    assert route(FLOW, recent, "general", "caller_request", at).queue == "priority"
    assert route(FLOW, old, "general", "caller_request", at).rule is None
    assert route(FLOW, recent, "sales", "sales", at).queue == "sales"  # rule limited to requested: general


def test_no_rule_keeps_the_requested_queue():
    r = route(FLOW, state(path=["main"]), "general", "caller_request", 0.0)
    assert (r.queue, r.rule) == ("general", None)


def test_closed_queue_switches_mode():
    r = route(FLOW, state(), "closed", "claims", 0.0)
    assert (r.mode, r.open) == ("callback", False)
    assert route(FLOW, state(), "nights", "x", 0.0).mode == "voicemail"
    assert route(FLOW, state(), "closed", "x", 0.0, mode="voicemail").mode == "voicemail"


def test_slot_and_auth_conditions():
    text = HELPDESK.read_text().replace("routing:\n", "routing:\n"
                                        "  - {name: vip, when: {slot: account, in: ['999999']}, queue: priority}\n"
                                        "  - {name: verified, when: {auth: verified}, queue: sales}\n")
    flow = load_flow_text(text, "x.yaml").flow
    assert route(flow, state(slots={"account": "999999"}), "general", "x", 0).rule == "vip"
    assert route(flow, state(auth={"status": "verified"}), "general", "x", 0).rule == "verified"
    assert route(flow, state(), "general", "x", 0).rule is None


LONDON = Hours(timezone="Europe/London", weekly={"mon": ["09:00-17:00"], "sat": ["10:00-12:00"]},
               holidays=["2026-12-28"])


def test_called_number_and_entry_point_conditions():
    text = HELPDESK.read_text().replace("routing:\n", "routing:\n"
                                        "  - {name: cards-line, when: {called: ['+1 500-555-0007', '+15005550008']}, "
                                        "queue: cards}\n"
                                        "  - {name: web, when: {entry: [mortgage-web, loans-web]}, queue: sales}\n")
    flow = load_flow_text(text, "x.yaml").flow
    assert route(flow, state(called="+15005550007"), "general", "caller_request", 0.0).rule == "cards-line"
    assert route(flow, state(called="+15005550009"), "general", "caller_request", 0.0).rule is None
    r = route(flow, state(entry="loans-web"), "general", "caller_request", 0.0)
    assert (r.queue, r.rule) == ("sales", "web")
    assert route(flow, state(entry="other"), "general", "caller_request", 0.0).rule is None


def test_branch_on_the_entry_point_reaches_the_specialist_without_menus():
    bank = load_flow(Path(__file__).resolve().parents[2] / "flows" / "bank.yaml").flow
    st, actions = step(bank, None, CallStarted("CA9", "+1555", "+15005550006", at=0.0, entry="mortgage-web"))
    assert st.path == ["welcome", "entry_point", "mortgage", "mortgage_transfer"]
    assert actions[-1].queue == "mortgages" and actions[-1].context["entry"] == "mortgage-web"
    st, _ = step(bank, None, CallStarted("CA9", "+1555", "+15005550007", at=0.0))
    assert st.path[-1] == "cards_transfer"
    st, _ = step(bank, None, CallStarted("CA9", "+1555", "+15005550006", at=0.0))
    assert st.node == "main"


def test_call_condition_names_one_fact_and_entry_names_are_checked():
    with pytest.raises(FlowError, match="exactly one of slot:, result: or call:"):
        load_flow_text("flow: x\nstart: b\nnodes:\n  b:\n    branch:\n      cases:\n        - when: {call: entry, "
                       "slot: a, equals: q}\n          goto: e\n      default: e\n  e:\n    hangup: Bye.\n", "x.yaml")
    with pytest.raises(FlowError, match="call"):
        load_flow_text("flow: x\nstart: b\nnodes:\n  b:\n    branch:\n      cases:\n        - when: {call: mood, "
                       "equals: q}\n          goto: e\n      default: e\n  e:\n    hangup: Bye.\n", "x.yaml")


def test_hours_are_local_and_respect_holidays():
    assert is_open(LONDON, ts("2026-07-06T08:30:00+00:00"))          # 09:30 BST, Monday
    assert not is_open(LONDON, ts("2026-07-06T16:30:00+00:00"))      # 17:30 BST
    assert is_open(LONDON, ts("2026-01-05T16:30:00+00:00"))          # 16:30 GMT
    assert not is_open(LONDON, ts("2026-12-28T12:00:00+00:00"))      # holiday Monday
    assert not is_open(LONDON, ts("2026-07-07T12:00:00+00:00"))      # Tuesday: not listed
    assert is_open(None, 0.0)


def test_next_opening_and_how_it_is_said():
    at = ts("2026-07-06T18:00:00+00:00")  # Monday 19:00 BST
    nxt = next_opening(LONDON, at)
    assert nxt.isoformat() == "2026-07-11T10:00:00+01:00"
    assert spoken_opening(nxt, at) == "at 10 AM on Saturday"
    friday = ts("2026-07-10T20:00:00+00:00")
    assert spoken_opening(next_opening(LONDON, friday), friday) == "at 10 AM tomorrow"


def test_out_of_hours_in_the_engine_says_when_they_open():
    text = HELPDESK.read_text().replace("hours: {timezone: Europe/London, weekly: {}}",
                                        'hours: {timezone: Europe/London, weekly: {mon: ["09:00-17:00"]}}')
    flow = load_flow_text(text, "x.yaml").flow
    at = ts("2026-07-07T12:00:00+00:00")  # Tuesday
    st, _ = step(flow, None, CallStarted("CA1", "+15551230000", at=at))
    st, actions = step(flow, st, DigitsReceived("4", at=at))
    said = [a.text for a in actions if hasattr(a, "text")]
    assert said == ["Sorry, the team that can help is closed right now. They open at 9 AM on Monday."]
    transfer = actions[-1]
    assert (transfer.queue, transfer.reason, transfer.mode) == ("closed", "out_of_hours", "callback")
    assert transfer.context["routing"]["requested"] == "closed"
    assert transfer.context["routing"]["opens_at"].startswith("2026-07-13T09:00")


def test_out_of_hours_says_when_they_open_in_the_flows_language():
    text = HELPDESK.read_text().replace("hours: {timezone: Europe/London, weekly: {}}",
                                        'hours: {timezone: Europe/London, weekly: {mon: ["09:00-17:00"]}}')
    text = text.replace("flow: helpdesk", "flow: helpdesk\nlanguage: it-IT", 1)
    flow = load_flow_text(text, "x.yaml").flow
    at = ts("2026-07-07T12:00:00+00:00")  # Tuesday
    st, _ = step(flow, None, CallStarted("CA1", "+15551230000", at=at))
    st, actions = step(flow, st, DigitsReceived("4", at=at))
    said = " ".join(a.text for a in actions if hasattr(a, "text"))
    assert said.startswith("Scusi, il servizio") and "Riapre" in said and "Monday" not in said, said


def test_callback_numbers_and_windows():
    assert cbs.usable_caller_id("+15551230000") == "+15551230000"
    for withheld in ("anonymous", "+266696687", "", "12345"):
        assert cbs.usable_caller_id(withheld) is None
    assert cbs.normalize_number("2125550100", "+15551230000") == "+12125550100"
    assert cbs.normalize_number("00442071234567", "+447700900000") == "+442071234567"
    assert cbs.normalize_number("12") is None
    assert cbs.spoken_number("+442071234567") == "4 4 2, 0 7 1, 2 3 4, 5 6 7"
    at = ts("2026-07-06T18:00:00+00:00")  # Monday 19:00 in London
    due, end = cbs.due_window(cbs.window_for_key("2"), LONDON, at)  # morning: next open morning is Saturday 10
    assert datetime.fromtimestamp(due, tz=timezone.utc).isoformat() == "2026-07-11T09:00:00+00:00"
    assert datetime.fromtimestamp(end, tz=timezone.utc).isoformat() == "2026-07-11T11:00:00+00:00"
    asap, _ = cbs.due_window(cbs.window_for_key("1"), None, at)
    assert asap == at


@pytest.mark.parametrize("snippet, message", [
    ("  - {name: x, when: {path_contains: nowhere}, queue: general}\n", "path_contains 'nowhere' is not a node"),
    ("  - {name: x, when: {called_within_hours: 1}, queue: vip}\n", "unknown queue 'vip'"),
    ("  - {name: x, when: {}, queue: general}\n", "at least one condition"),
    ("  - {name: x, when: {slot: pin, equals: '1234'}, queue: general}\n", "slot 'pin' is sensitive"),
    ("  - {name: x, when: {called_within_hour: 1}, queue: general}\n", "did you mean 'called_within_hours'"),
])
def test_routing_rule_errors(snippet, message):
    text = HELPDESK.read_text().replace("routing:\n", "routing:\n" + snippet)
    with pytest.raises(FlowError) as err:
        load_flow_text(text, "x.yaml")
    assert message in str(err.value)


@pytest.mark.parametrize("old, new, message", [
    ("fields: [account]", "fields: [pin]", "slot 'pin' is sensitive"),
    ('uri: "sip:cards@pbx.example.com", ', "", "a sip target needs uri"),
    ('number: "+15550001111"', 'number: "5550001111"', "must be E.164"),
    ("weekly: {}}", 'weekly: {mon: ["17:00-09:00"]}}', "HH:MM-HH:MM"),
    ("timezone: UTC", "timezone: Mars/Base", "unknown time zone"),
    ("weekly: {}}", "weekly: {monday: []}}", "unknown day 'monday'"),
    ("out_of_hours: callback", "out_of_hours: email", "out_of_hours"),
])
def test_queue_config_errors(old, new, message):
    text = HELPDESK.read_text()
    assert old in text
    with pytest.raises(FlowError) as err:
        load_flow_text(text.replace(old, new, 1), "x.yaml")
    assert message in str(err.value)
    assert "x.yaml:" in str(err.value)


def test_design_example_queues_still_load():
    flow = load_flow(HELPDESK.parents[4] / "flows" / "acme.yaml").flow
    assert flow.queues["general"].target.type == "taskrouter" and flow.queues["general"].hours is None
    assert load_flow(HELPDESK.parents[4] / "flows" / "support.yaml").flow.routing[0].name == "repeat-caller"
