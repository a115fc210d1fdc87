"""Call scripts: testers' YAML description of a whole call (see the README, "Call scripts").

```yaml
flow: acme
caller: "+15551230000"
steps:
  - expect: {prompt_contains: Welcome}
  - press: "2"
  - expect: {transfer: cards, context: {reason: lost_card}}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import FlowError, Problem
from ..flow.model import ENTRY_NAME
from ..flow.yaml_source import SourceList, SourceMap, locate, parse_yaml

STEP_KINDS = ("press", "say", "say_audio", "silence", "hangup", "hold", "agent", "expect")
HOLD_KEYS = ("position", "average_wait")


class Expect(BaseModel):
    """What must hold at this point of the call; every given key is checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_contains: Optional[Union[str, list[str]]] = Field(
        None, description="Text heard since the previous caller step (case-insensitive).")
    prompt_not_contains: Optional[Union[str, list[str]]] = None
    node: Optional[str] = Field(None, description="The node the call is at.")
    transfer: Optional[str] = Field(None, description="Queue of the transfer that ended the call.")
    context: Optional[dict[str, Any]] = Field(None, description="Subset of the context packet.")
    ended: Optional[bool] = None
    slots: Optional[dict[str, Any]] = Field(None, description="Subset of the (masked) slots.")
    path_contains: Optional[list[str]] = None
    events: Optional[list[dict[str, Any]]] = Field(
        None, description="Recorded call events that must be there, in this order: each a subset of one "
                          "event ({kind: survey_answer, data: {question: csat, value: 4}}).")


@dataclass(frozen=True)
class Hold:
    """One turn of the queue's wait loop, with the figures Twilio posts to the waitUrl."""

    position: int = 1
    average_wait: int = 0


@dataclass(frozen=True)
class Step:
    """One script step with its source line."""

    kind: str
    value: Any
    line: int
    col: int


@dataclass(frozen=True)
class CallScript:
    """A parsed call script."""

    file: str
    flow: str
    caller: str
    called: str
    steps: tuple[Step, ...] = field(default_factory=tuple)
    at: Optional[float] = None
    """When the call starts (epoch seconds), for scripts whose flow depends on the time
    (opening hours); None: now."""
    entry: str = ""
    """The entry point the call comes in through (``?entry=NAME`` on the first webhook)."""


def load_script(path: Union[str, Path]) -> CallScript:
    """Parse and check a call script; FlowError with file:line:col for every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([Problem(str(path), 1, 1, f"cannot read script: {exc.strerror}")]) from None
    return parse_script(text, str(path))


def parse_script(text: str, file: str) -> CallScript:
    doc = parse_yaml(text, file)
    data = doc.data
    problems: list[Problem] = []
    if not isinstance(data, SourceMap):
        raise FlowError([Problem(file, 1, 1, "a call script is a mapping with 'flow:' and 'steps:'")])
    for key in data:
        if key not in ("flow", "caller", "called", "entry", "at", "steps", "description"):
            problems.append(Problem(file, *data.key_pos[key], f"unknown script property '{key}'; "
                                    "use flow, caller, called, entry, at, steps, description"))
    entry = data.get("entry")
    if entry is not None and (not isinstance(entry, str) or not ENTRY_NAME.fullmatch(entry)):
        problems.append(Problem(file, *locate(data, ("entry",)), "entry: takes a name of letters, digits, _ . - "
                                "(at most 64), as the entry point passes it: entry: cards-line"))
    at = _parse_at(data, file, problems)
    if not isinstance(data.get("flow"), str):
        problems.append(Problem(file, *locate(data, ("flow",)), "missing 'flow: <flow id>'"))
    raw_steps = data.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, SourceList):
        problems.append(Problem(file, *locate(data, ("steps",)), "missing 'steps:' list"))
        raw_steps = SourceList()
        raw_steps.item_pos = []
    for i, raw in enumerate(raw_steps):
        line, col = raw_steps.item_pos[i]
        if raw == "hangup":
            steps.append(Step("hangup", True, line, col))
            continue
        if not isinstance(raw, SourceMap) or len(raw) != 1:
            problems.append(Problem(file, line, col, f"step {i + 1} must have exactly one of {', '.join(STEP_KINDS)}"))
            continue
        kind, value = next(iter(raw.items()))
        if kind not in STEP_KINDS:
            problems.append(Problem(file, line, col, f"step {i + 1}: unknown step '{kind}'; use one of "
                                    f"{', '.join(STEP_KINDS)}"))
            continue
        if kind == "press":
            if isinstance(value, int) and not isinstance(value, bool):
                problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: quote the keys: press: \"{value}\" "
                                        "(unquoted, YAML reads them as a number and drops leading zeros)"))
                continue
            if not isinstance(value, str) or not value or any(c not in "0123456789*#" for c in value):
                problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: press takes keys 0-9 * #, "
                                        f"quoted: press: \"12#\" (got {value!r})"))
                continue
        elif kind in ("say", "say_audio") and not isinstance(value, str):
            problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: {kind} takes text"))
            continue
        elif kind == "hold":
            value = _parse_hold(raw, kind, value, i, file, problems)
            if value is None:
                continue
        elif kind == "agent":
            if value != "hangup":
                problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: agent takes hangup (the person "
                                        f"ends their leg of the call): agent: hangup (got {value!r})"))
                continue
        elif kind == "silence":
            if value is None:
                value = 0
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: silence takes seconds"))
                continue
        elif kind == "expect":
            try:
                value = Expect.model_validate(value)
            except ValidationError as exc:
                for err in exc.errors():
                    problems.append(Problem(file, *locate(raw, (kind, *err["loc"])),
                                            f"step {i + 1}: expect.{'.'.join(map(str, err['loc']))}: {err['msg']}"))
                continue
        steps.append(Step(kind, value, line, col))
    if problems:
        raise FlowError(problems)
    return CallScript(file, data["flow"], str(data.get("caller") or "+15550000000"),
                      str(data.get("called") or ""), tuple(steps), at, str(entry or ""))


def _parse_hold(raw: SourceMap, kind: str, value: Any, i: int, file: str,
                problems: list[Problem]) -> Optional[Hold]:
    """``hold: {position: N, average_wait: S}`` (both optional: next in line, no wait figure)."""
    example = "hold: {position: 2, average_wait: 90}"
    if value is None:
        return Hold()
    if not isinstance(value, SourceMap):
        problems.append(Problem(file, *raw.val_pos[kind], f"step {i + 1}: hold takes a mapping: {example}"))
        return None
    ok = True
    for key in value:
        if key not in HOLD_KEYS:
            problems.append(Problem(file, *value.key_pos[key], f"step {i + 1}: hold: unknown key '{key}'; "
                                    f"use position (place in line, 1 = next) and average_wait (seconds): {example}"))
            ok = False
    for key, low in (("position", 1), ("average_wait", 0)):
        v = value.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
            problems.append(Problem(file, *value.val_pos[key], f"step {i + 1}: hold: {key} takes a whole number "
                                    f"of at least {low} (got {v!r}): {example}"))
            ok = False
    if not ok:
        return None
    return Hold(int(value.get("position", 1)), int(value.get("average_wait", 0)))


def _parse_at(data: SourceMap, file: str, problems: list[Problem]) -> Optional[float]:
    """``at:`` as epoch seconds: an ISO 8601 date-time with its UTC offset."""
    if "at" not in data:
        return None
    raw = data["at"]
    where = locate(data, ("at",))
    if not isinstance(raw, str):
        problems.append(Problem(file, *where, "at: quote the time, with its offset: at: \"2026-11-30T10:00:00+00:00\""))
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(file, *where, f"at: {raw!r} is not an ISO 8601 date-time; "
                                "write at: \"2026-11-30T10:00:00+00:00\""))
        return None
    if when.tzinfo is None:
        problems.append(Problem(file, *where, f"at: {raw!r} has no UTC offset, so its moment is ambiguous; "
                                "add one: \"2026-11-30T10:00:00+00:00\" or \"...Z\""))
        return None
    return when.timestamp()
