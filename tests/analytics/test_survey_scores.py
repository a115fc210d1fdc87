"""Survey scores from ``survey_answer`` events, stored as the engine stores them (the store's ``save``).

The survey node records one ``survey_answer`` per question (DESIGN.md, the
survey contract); these tests write such events with the call they belong to
and read the scores back through ``report --json`` and the API.
"""

from __future__ import annotations

from typing import Any, Optional

from ivr.engine.actions import RecordEvent

from .conftest import Calls, report_json

RATED = 'flow: shop\ncaller: "{caller}"\nsteps:\n  - press: "{key}"\n'


def answer(question: str, kind: str, value: Any, at: float) -> RecordEvent:
    return RecordEvent("survey_answer", "rate", at, {"question": question, "kind": kind, "value": value,
                                                     "channel": "none" if value is None else "dtmf",
                                                     "post_call": False})


def rate(calls: Calls, key: str, caller: str, *answers: tuple[str, str, Optional[Any]]) -> str:
    """One call (``key`` at the menu), then its survey answers saved with the call; its call id."""
    result = calls.run(RATED.format(caller=caller, key=key))
    call_id = result.context["call_id"]
    store = calls.services.store
    state = store.load_state(call_id)
    store.save(state, [answer(q, kind, v, state.updated_at) for q, kind, v in answers])
    return call_id


def test_csat_ces_nps_and_responses(calls: Calls, db_url: str) -> None:
    rate(calls, "1", "+15550000101", ("csat", "csat", 5), ("ces", "ces", 2), ("nps", "nps", 10))
    rate(calls, "1", "+15550000102", ("csat", "csat", 4), ("ces", "ces", 4), ("nps", "nps", 9))
    rate(calls, "0", "+15550000103", ("csat", "csat", 2), ("ces", "ces", 6), ("nps", "nps", 3))
    rate(calls, "0", "+15550000104", ("csat", "csat", 3), ("ces", "ces", None), ("nps", "nps", 7))
    rate(calls, "1", "+15550000105", ("csat", "csat", None))   # asked, said nothing: no response
    calls.run(RATED.format(caller="+15550000106", key="1"))    # no survey at all
    [r] = report_json(db_url)
    assert r["calls"] == 6
    survey = r["survey"]
    assert survey["responses"] == 4
    assert survey["csat"] == 0.5          # 5 and 4 of 5, 4, 2, 3
    assert survey["ces"] == 4.0           # mean of 2, 4, 6 (the unanswered one is not a 0)
    assert survey["nps"] == 25.0          # promoters 10, 9; detractor 3; passive 7: (2 - 1) / 4
    assert survey["answers"] == {"csat": 4, "ces": 3, "nps": 4}
    # transferred callers' answers count the same: the call stays transferred
    assert (r["contained"], r["transferred"]) == (4, 2)


def test_no_answers_means_no_scores(calls: Calls, db_url: str) -> None:
    rate(calls, "1", "+15550000201", ("csat", "csat", None), ("nps", "nps", None))
    [r] = report_json(db_url)
    assert r["survey"] == {"responses": 0, "csat": None, "ces": None, "nps": None,
                           "answers": {"csat": 0, "ces": 0, "nps": 0}}


def test_survey_distribution_per_question(calls: Calls) -> None:
    rate(calls, "1", "+15550000301", ("csat", "csat", 5), ("again", "yesno", True), ("nps", "nps", 10))
    rate(calls, "1", "+15550000302", ("csat", "csat", 5), ("again", "yesno", False), ("nps", "nps", 0))
    rate(calls, "1", "+15550000303", ("csat", "csat", 1), ("again", "yesno", None))
    dist = calls.services.analytics.survey_distribution("shop")
    assert dist == {
        "again": {"kind": "yesno", "counts": {"false": 1, "true": 1}, "responses": 2, "unanswered": 1},
        "csat": {"kind": "csat", "counts": {"1": 1, "5": 2}, "responses": 3, "unanswered": 0},
        "nps": {"kind": "nps", "counts": {"0": 1, "10": 1}, "responses": 2, "unanswered": 0},
    }
    assert list(dist["nps"]["counts"]) == ["0", "10"]  # numeric order, for charts
    assert calls.services.analytics.survey_distribution("shop", until=0) == {}
