"""Slow hooks on the keypad path: one deadline a turn, a holding message instead of silence.

Through signed HTTP, with short test-only budgets (``hold_after``, ``turn_deadline``)
so each test takes a few seconds: the production numbers are 2.5 s and 8 s.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest

from ivr.web import parts

from tests.conftest import SignedClient, call_params

HOLD_AFTER = 0.5
DEADLINE = 2.0

FLOW = """\
flow: slow
start: member
nodes:
  member:
    ask: {{slot: member, prompt: "Member number?", input: digits}}
    next: a1
{actions}
  done:
    say: Thanks, all checked.
    next: bye
  bye:
    hangup: Goodbye.
"""

ACTION = """\
  a{i}:
    action:
      hook: {hook}
      timeout: 30
      outcomes: {{ok: {next}}}
"""


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Lets hooks that 'never return' go at the end of the test, so no thread outlives it for long."""
    event = threading.Event()
    yield event
    event.set()


def _client(make_app, flows_dir: Path, hooks: dict, chain: list[str]) -> SignedClient:
    app = make_app(hold_after=HOLD_AFTER, turn_deadline=DEADLINE)
    registry = parts(app).services.hooks
    for name, fn in hooks.items():
        registry.register(name, fn)
    actions = "".join(ACTION.format(i=i + 1, hook=h, next=f"a{i + 2}" if i + 1 < len(chain) else "done")
                      for i, h in enumerate(chain))
    (flows_dir / "slow.yaml").write_text(FLOW.format(actions=actions))
    c = SignedClient(app)
    first = c.post("/voice?flow=slow", call_params())
    assert first.status_code == 200 and b"Member number?" in first.data
    return c


def _xml(resp) -> ET.Element:
    assert resp.status_code == 200, resp.data
    root = ET.fromstring(resp.data)
    assert root.tag == "Response" and len(root), resp.data  # never empty TwiML
    return root


def _is_holding(root: ET.Element) -> bool:
    return [el.tag for el in root] == ["Say", "Redirect"] and root.find("Say").text == "One moment, please."


def _follow(c: SignedClient, root: ET.Element, limit: int = 20) -> tuple[ET.Element, int]:
    """Follow holding redirects like Twilio does; the final document and how many holds were heard."""
    holds = 0
    while _is_holding(root):
        holds += 1
        assert holds <= limit
        root = _xml(c.post(root.find("Redirect").text, call_params()))
    return root, holds


def _input(c: SignedClient, member: str = "42", **headers: str):
    return c.post("/voice/input?node=member&turn=1", call_params(Digits=member + "#"))


def test_slow_hook_holds_then_the_redirect_gets_its_result(make_app, flows_dir) -> None:
    def slow(call):
        time.sleep(1.5)
        return "ok"
    c = _client(make_app, flows_dir, {"slow": slow}, ["slow"])
    t0 = time.monotonic()
    root = _xml(_input(c))
    assert time.monotonic() - t0 < HOLD_AFTER + 0.5
    assert _is_holding(root)
    redirect = root.find("Redirect")
    assert redirect.get("method") == "POST" and redirect.text.startswith("/voice/pending?hold=1&turn=1")
    final, holds = _follow(c, root)
    assert [s.text for s in final.iter("Say")] == ["Thanks, all checked.", "Goodbye."]
    assert holds >= 2 and time.monotonic() - t0 < 1.5 + HOLD_AFTER + 0.5
    # The redirect retried by Twilio: the same answer, nothing applied twice.
    again = _xml(c.post(redirect.text, call_params()))
    assert ET.tostring(again) == ET.tostring(final)


def test_fast_hook_answers_at_once_without_holding(make_app, flows_dir) -> None:
    c = _client(make_app, flows_dir, {"quick": lambda call: "ok"}, ["quick"])
    root = _xml(_input(c))
    assert [s.text for s in root.iter("Say")] == ["Thanks, all checked.", "Goodbye."]


def test_hook_that_never_returns_reaches_a_person_within_the_deadline(make_app, flows_dir, release) -> None:
    c = _client(make_app, flows_dir, {"stuck": lambda call: release.wait(60) and "ok"}, ["stuck"])
    t0 = time.monotonic()
    final, holds = _follow(c, _xml(_input(c)))
    elapsed = time.monotonic() - t0
    assert holds >= 1 and elapsed < DEADLINE + 1.0
    task = json.loads(final.find("Enqueue/Task").text)
    assert task["reason"] == "hook_failed" and task["failed_node"] == "a1"
    assert task["results"]["a1"] == "timeout"
    health = c.get("/api/health").json
    assert health["hooks"]["abandoned"] == 1 and health["hooks"]["max_threads"] >= 1


def test_sixteen_slow_hooks_share_one_deadline(make_app, flows_dir) -> None:
    def slowish(call):
        time.sleep(0.4)
        return "ok"
    c = _client(make_app, flows_dir, {"slowish": slowish}, ["slowish"] * 16)
    t0 = time.monotonic()
    final, _ = _follow(c, _xml(_input(c)))
    assert time.monotonic() - t0 < DEADLINE + 1.0  # 16 x 0.4 s would be 6.4 s
    task = json.loads(final.find("Enqueue/Task").text)
    assert task["reason"] == "hook_failed" and task["results"][task["failed_node"]] == "timeout"
    assert 3 <= int(task["failed_node"][1:]) <= 6  # about DEADLINE / 0.4 hooks finished first


def test_retried_webhook_during_the_wait_gets_the_same_answer(make_app, flows_dir) -> None:
    runs = []

    def slow(call):
        runs.append(call.args)
        time.sleep(1.2)
        return "ok"
    c = _client(make_app, flows_dir, {"slow": slow}, ["slow"])
    token = {"I-Twilio-Idempotency-Token": "retry-1"}
    first = _xml(c.client.post("/voice/input?node=member&turn=1", data=call_params(Digits="42#"),
                               headers={**token, "X-Twilio-Signature": c.validator.compute_signature(
                                   "http://localhost/voice/input?node=member&turn=1", call_params(Digits="42#"))}))
    assert _is_holding(first)
    retry = _xml(_input(c))  # Twilio retries the same webhook while the hook runs
    assert _is_holding(retry)
    final, _ = _follow(c, retry)
    assert [s.text for s in final.iter("Say")] == ["Thanks, all checked.", "Goodbye."]
    assert len(runs) == 1  # the hook ran once
    late = _xml(_input(c))  # a retry after the turn is saved: the saved answer
    assert ET.tostring(late) == ET.tostring(final)
    assert len(runs) == 1


def test_holding_message_is_in_the_flow_language(make_app, flows_dir) -> None:
    def slow(call):
        time.sleep(1.0)
        return "ok"
    app = make_app(hold_after=HOLD_AFTER, turn_deadline=DEADLINE)
    parts(app).services.hooks.register("slow", slow)
    (flows_dir / "lento.yaml").write_text(
        FLOW.format(actions=ACTION.format(i=1, hook="slow", next="done")).replace("flow: slow\n",
                                                                                "flow: lento\nlanguage: it-IT\n"))
    c = SignedClient(app)
    _xml(c.post("/voice?flow=lento", call_params()))
    root = _xml(_input(c))
    assert root.find("Say").text == "Un momento, prego." and root.find("Say").get("language") == "it-IT"
    _follow_it = root
    while root.find("Redirect") is not None and root.find("Gather") is None and root.find("Hangup") is None:
        root = _xml(c.post(root.find("Redirect").text, call_params()))
    assert _follow_it is not root


def test_the_redirect_reaching_another_worker_reads_the_turn_from_the_store(make_app, flows_dir) -> None:
    """Two workers on one database: the slow turn runs on the first; Twilio's ``<Redirect>`` lands on the
    second, which knows nothing of it, polls the store and answers once the first saved the turn."""
    def slow(call):
        time.sleep(1.5)
        return "ok"
    first = _client(make_app, flows_dir, {"slow": slow}, ["slow"])
    second_app = make_app(hold_after=HOLD_AFTER, turn_deadline=DEADLINE)      # same instance dir: one SQLite
    parts(second_app).services.hooks.register("slow", slow)
    assert not parts(second_app).services.flows.reload().get("slow"), "the flow loads once its hook exists"
    second = SignedClient(second_app)
    t0 = time.monotonic()
    root = _xml(_input(first))
    assert _is_holding(root)
    assert parts(second_app).services.pending.get(call_params()["CallSid"]) is None, "the second knows nothing"
    final, holds = _follow(second, root)
    assert [s.text for s in final.iter("Say")] == ["Thanks, all checked.", "Goodbye."]
    assert holds >= 1 and time.monotonic() - t0 < 1.5 + 2 * HOLD_AFTER + 0.5
    events = parts(second_app).services.store.events(call_params()["CallSid"])
    assert [e["data"]["outcome"] for e in events if e["kind"] == "hook"] == ["ok"], "the hook ran once, on the first"
