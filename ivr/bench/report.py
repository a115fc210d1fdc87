"""``python -m ivr bench report``: how long reports take over many stored calls.

The calls are real: the acme demo flow driven through the call driver (the
engine, the store, the same events a server writes) with a mix of journeys:
self-service that ends well, transfers, a wrong key then a person, hang-ups,
and transfers followed by a post-call survey. Then ``report``, ``daily`` and
``survey_distribution`` are timed over all of them (best of three runs).
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ..config import Config
from ..engine import events as E
from ..services import build_services

FLOWS = Path(__file__).resolve().parents[2] / "flows"
JOURNEYS: dict[str, list[Any]] = {
    "balance": [E.DigitsReceived("1")],
    "lost_card": [E.DigitsReceived("2")],
    "wrong_key_then_person": [E.DigitsReceived("7"), E.DigitsReceived("0")],
    "hangs_up": [E.CallerHungUp()],
    "surveyed": [E.DigitsReceived("2"), E.AgentLegEnded("bridged", 120), E.DigitsReceived("1"),
                 "csat", "nps"],
}


def _populate(services: Any, calls: int, seed: int) -> float:
    """Drive ``calls`` acme calls into the services' store; returns the seconds it took."""
    rng = random.Random(seed)
    clock = services.driver.clock
    flow = services.flows.get("acme")
    names = list(JOURNEYS)
    started = time.perf_counter()
    for i in range(calls):
        clock.now += rng.uniform(20, 600)   # calls spread over days, callers who call again
        sid = f"CA{i:032d}"
        caller = f"+1555{rng.randrange(10 ** 6, 10 ** 7)}" if rng.random() < 0.9 else f"+15550000{i % 100:03d}"
        services.driver.start(sid, caller, "+15005550006", flow)
        for step in JOURNEYS[rng.choice(names)]:
            clock.now += rng.uniform(2, 15)
            if step == "csat":
                step = E.DigitsReceived(str(rng.randint(1, 5)))
            elif step == "nps":
                step = E.DigitsReceived(f"{rng.randint(0, 10)}#")
            services.driver.feed(sid, step)
    return time.perf_counter() - started


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _best(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(calls: int = 5000, database_url: Optional[str] = None, seed: int = 1) -> dict[str, Any]:
    """Store ``calls`` calls (in a fresh SQLite file unless ``database_url`` is given) and time the reports."""
    tmp = Path(tempfile.mkdtemp(prefix="ivr-bench-report-"))
    try:
        flows = tmp / "flows"
        flows.mkdir()
        shutil.copy(FLOWS / "acme.yaml", flows / "acme.yaml")
        url = database_url or f"sqlite:///{tmp / 'records.sqlite3'}"
        config = Config.from_env({}, flows_dir=str(flows), instance_dir=str(tmp / "instance"), database_url=url,
                                 flow_check_interval=3600.0, secret_key="bench-report-key", demo_hooks=False)
        services = build_services(config, clock=_Clock(1_790_000_000.0))
        try:
            fill_s = _populate(services, calls, seed)
            analytics = services.analytics
            report_s, rows = _best(lambda: analytics.report(flow="acme"))
            daily_s, days = _best(lambda: analytics.daily("acme"))
            survey_s, _ = _best(lambda: analytics.survey_distribution("acme"))
            with analytics.engine.connect() as conn:
                events = conn.exec_driver_sql("SELECT COUNT(*) FROM call_events").scalar()
        finally:
            services.close()
        r = rows[0]
        return {"database": url.split(":", 1)[0], "calls": r["calls"], "events": int(events or 0),
                "days": len(days), "store_calls_per_s": round(calls / fill_s, 1),
                "report_s": round(report_s, 3), "daily_s": round(daily_s, 3),
                "survey_distribution_s": round(survey_s, 3),
                "containment": r["containment"], "transferred": r["transferred"],
                "survey_responses": r["survey"]["responses"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
