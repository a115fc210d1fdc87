"""Running call scripts and checking their expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..errors import IvrError
from .handles import CallHandle
from .script import CallScript, Expect


@dataclass
class ScriptResult:
    """Outcome of one script: pass/fail, why, and the final context packet."""

    script: str
    flow: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    context: Optional[dict[str, Any]] = None
    prompts: list[str] = field(default_factory=list)
    prompt_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"script": self.script, "flow": self.flow, "passed": self.passed, "failures": self.failures,
                "context": self.context, "prompt_seconds": round(self.prompt_seconds, 2),
                "prompts": self.prompts}


def _subset(expected: Any, actual: Any, where: str, out: list[str]) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            out.append(f"{where}: expected a mapping {expected!r}, got {actual!r}")
            return
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{where}.{k}: missing (have: {', '.join(sorted(actual)) or 'nothing'})")
            else:
                _subset(v, actual[k], f"{where}.{k}", out)
    elif isinstance(expected, list) and isinstance(actual, list):
        if expected != actual[:len(expected)] and expected != actual:
            out.append(f"{where}: expected {expected!r}, got {actual!r}")
    elif expected != actual and str(expected) != str(actual):
        out.append(f"{where}: expected {expected!r}, got {actual!r}")


def _events(wanted: list[dict[str, Any]], events: list[dict[str, Any]], out: list[str]) -> None:
    """Each wanted event must match (as a subset) a recorded one, after the one the previous matched."""
    at = 0
    for w in wanted:
        for j in range(at, len(events)):
            miss: list[str] = []
            _subset(w, events[j], "event", miss)
            if not miss:
                at = j + 1
                break
        else:
            kinds = ", ".join(str(e.get("kind")) for e in events[at:]) or "none"
            out.append(f"expected an event like {w!r} (in order); recorded after the last match: {kinds}")
            return


def check(expect: Expect, call: CallHandle, heard: list[str]) -> list[str]:
    """Failures of one expect step (empty when it holds)."""
    out: list[str] = []
    spoken = " | ".join(heard) or "(nothing)"
    if expect.prompt_contains is not None:
        wanted = [expect.prompt_contains] if isinstance(expect.prompt_contains, str) else expect.prompt_contains
        for w in wanted:
            if not any(w.lower() in h.lower() for h in heard):
                out.append(f"expected a prompt containing {w!r}; heard: {spoken}")
    if expect.prompt_not_contains is not None:
        banned = [expect.prompt_not_contains] if isinstance(expect.prompt_not_contains, str) else expect.prompt_not_contains
        for w in banned:
            if any(w.lower() in h.lower() for h in heard):
                out.append(f"expected no prompt containing {w!r}; heard: {spoken}")
    if expect.node is not None and call.node != expect.node:
        out.append(f"expected to be at node {expect.node!r}; the call is at {call.node!r}")
    if expect.ended is not None and call.ended != expect.ended:
        out.append(f"expected ended={expect.ended}; the call {'has ended' if call.ended else 'is still going'}")
    if expect.transfer is not None and call.transfer != expect.transfer:
        what = f"was transferred to {call.transfer!r}" if call.transfer else \
            ("ended without a transfer" if call.ended else "has not been transferred")
        out.append(f"expected a transfer to {expect.transfer!r}; the call {what}")
    if expect.context is not None:
        _subset(expect.context, call.context() or {}, "context", out)
    if expect.slots is not None:
        _subset(expect.slots, call.slots(), "slots", out)
    if expect.events is not None:
        _events(expect.events, call.events(), out)
    if expect.path_contains is not None:
        path = call.path()
        missing = [n for n in expect.path_contains if n not in path]
        if missing:
            out.append(f"expected the path to contain {missing}; path: {path}")
    return out


def run_script(script: CallScript, make_call: Callable[[CallScript], CallHandle]) -> ScriptResult:
    """Run every step; a failing expect is recorded and the script goes on (all failures at once)."""
    result = ScriptResult(script.file, script.flow, passed=True)
    try:
        call = make_call(script)
        if script.at is not None:
            call.set_time(script.at)
        call.entry = script.entry
        call.start()
    except IvrError as exc:
        result.passed = False
        result.failures.append(f"{script.file}:1:1: {exc}")
        return result
    heard_from = 0
    for step in script.steps:
        where = f"{script.file}:{step.line}:{step.col}"
        try:
            if step.kind == "expect":
                for f in check(step.value, call, call.heard[heard_from:]):
                    result.failures.append(f"{where}: {f}")
                continue
            if call.ended and step.kind not in ("hangup", "hold", "agent"):
                result.failures.append(f"{where}: cannot {step.kind}: the call has already ended")
                break
            heard_from = len(call.heard)
            if step.kind == "press":
                call.press(step.value)
            elif step.kind == "say":
                call.say(step.value)
            elif step.kind == "say_audio":
                call.say_audio(step.value)
            elif step.kind == "silence":
                call.silence(float(step.value))
            elif step.kind == "hold":
                call.hold(step.value.position, step.value.average_wait)
            elif step.kind == "agent":
                call.agent_hangup()
            elif step.kind == "hangup":
                if not call.ended:
                    call.hangup()
        except IvrError as exc:
            result.failures.append(f"{where}: {exc}")
            break
    result.passed = not result.failures
    result.context = call.context()
    result.prompts = list(call.heard)
    result.prompt_seconds = call.prompt_seconds
    return result
