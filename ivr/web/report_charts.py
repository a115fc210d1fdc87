"""The report page's charts as inline SVG: outcomes per day, transfer reasons, survey answers.

Hand-drawn bars rather than a chart library: the page needs no build step,
no script and no network, prints, and stays readable in a screenshot. Each
bar carries its number (``data-n``) and a ``<title>`` tooltip.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from markupsafe import escape

OUTCOME_COLOURS = {"contained": "#2e9e5b", "transferred": "#3b73b9", "abandoned": "#d64545",
                   "in_progress": "#b8c0ca"}
OUTCOMES = tuple(OUTCOME_COLOURS)
"""Stacked bottom to top; ``in_progress`` (calls not over yet) only drawn and explained when there are any."""
SCALES = {"csat": [str(v) for v in range(1, 6)], "ces": [str(v) for v in range(1, 8)],
          "nps": [str(v) for v in range(0, 11)], "yesno": ["yes", "no"]}
"""Every answer a question kind allows, so an unanswered value still shows as an empty bar."""


def nice_max(n: float) -> tuple[int, int]:
    """An axis top at or above ``n`` and its tick step (1, 2 or 5 times a power of ten; at least 1)."""
    if n <= 5:
        return 5, 1
    raw = n / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return int(math.ceil(n / step) * step), int(step)


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> str:
    out = []
    for label, colour in items:
        out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="11" height="11" fill="{colour}"/>'
                   f'<text x="{_f(x + 15)}" y="{_f(y)}">{escape(label)}</text>')
        x += 24 + 7 * len(label)
    return f'<g class="chart-legend">{"".join(out)}</g>'


def _y_grid(left: float, width: float, base: float, scale: float, top_v: int, step: int) -> str:
    """Horizontal grid lines with their values, every ``step`` up to ``top_v``."""
    out = []
    for v in range(0, top_v + 1, step):
        y = base - v * scale
        out.append(f'<line class="grid" x1="{_f(left)}" y1="{_f(y)}" x2="{_f(width - 16)}" y2="{_f(y)}"/>'
                   f'<text class="tick" x="{_f(left - 6)}" y="{_f(y + 4)}" text-anchor="end">{v}</text>')
    return "".join(out)


def _day_labels(days: list[dict[str, Any]], left: float, base: float, bar_w: float) -> str:
    """"Mar 4" under about eight of the day bars."""
    every = max(1, math.ceil(max(len(days), 1) / 8))
    out = []
    for i, d in enumerate(days[::every]):
        day = dt.date.fromisoformat(d["day"])
        x = left + i * every * bar_w
        out.append(f'<text class="tick" x="{_f(x + bar_w / 2)}" y="{_f(base + 15)}" text-anchor="middle">'
                   f'{day.strftime("%b")} {day.day}</text>')
    return "".join(out)


def daily_chart(days: list[dict[str, Any]]) -> str:
    """Stacked bars per UTC day (contained, transferred, abandoned) with a y axis in calls."""
    n = max(len(days), 1)
    bar_w = max(4.0, min(26.0, 720.0 / n))
    left, top, plot_h = 44.0, 30.0, 170.0
    width = left + n * bar_w + 20
    top_v, step = nice_max(max((int(d.get("calls") or 0) for d in days), default=0))
    scale = plot_h / top_v
    base = top + plot_h
    out = [f'<svg id="daily-chart" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} 250" '
           f'width="{_f(width)}" height="250" role="img" aria-label="Calls per day by outcome">',
           _legend(left, 14, [(o.replace("_", " "), c) for o, c in OUTCOME_COLOURS.items()
                              if o != "in_progress" or any(d.get(o) for d in days)])]
    out.append(_y_grid(left, width, base, scale, top_v, step))
    out.append(f'<text class="axis-label" transform="translate(12 {_f(base - plot_h / 2)}) rotate(-90)" '
               'text-anchor="middle">calls</text>')
    for i, d in enumerate(days):
        x = left + i * bar_w
        calls = int(d.get("calls") or 0)
        tip = f'{d["day"]}: {calls} calls' + "".join(f', {int(d.get(o) or 0)} {o.replace("_", " ")}'
                                                     for o in OUTCOMES if o != "in_progress" or d.get(o))
        out.append(f'<g class="day" data-day="{escape(d["day"])}" data-calls="{calls}"><title>{escape(tip)}</title>')
        y = base
        for o in OUTCOMES:
            k = int(d.get(o) or 0)
            if k:
                h = k * scale
                y -= h
                out.append(f'<rect class="bar {o}" data-n="{k}" x="{_f(x + 1)}" y="{_f(y)}" '
                           f'width="{_f(bar_w - 2)}" height="{_f(h)}" fill="{OUTCOME_COLOURS[o]}"/>')
        out.append("</g>")
    out.append(_day_labels(days, left, base, bar_w))
    out.append(f'<line class="axis" x1="{_f(left)}" y1="{_f(base)}" x2="{_f(width - 16)}" y2="{_f(base)}"/>'
               f'<line class="axis" x1="{_f(left)}" y1="{_f(top)}" x2="{_f(left)}" y2="{_f(base)}"/>'
               f'<text class="axis-label" x="{_f(left + n * bar_w / 2)}" y="{_f(base + 36)}" '
               'text-anchor="middle">day (UTC)</text></svg>')
    return "".join(out)


def reasons_chart(reasons: dict[str, int]) -> str:
    """Transfer reasons in the window, most frequent first, as horizontal bars with their counts."""
    items = sorted(((r, int(n)) for r, n in reasons.items() if n), key=lambda rn: (-rn[1], rn[0]))
    row, left, plot_w = 24.0, 150.0, 300.0
    height = 40 + row * max(len(items), 1)
    top_v, step = nice_max(max((n for _, n in items), default=0))
    out = [f'<svg id="reasons-chart" class="chart" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {_f(left + plot_w + 50)} {_f(height)}" width="{_f(left + plot_w + 50)}" '
           f'height="{_f(height)}" role="img" aria-label="Transfers by reason">']
    for i, (reason, n) in enumerate(items):
        y = 10 + i * row
        w = plot_w * n / top_v
        out.append(f'<g class="reason" data-reason="{escape(reason)}" data-n="{n}"><title>{escape(reason)}: {n}'
                   f'</title><text class="tick" x="{_f(left - 8)}" y="{_f(y + 14)}" text-anchor="end">'
                   f'{escape(reason.replace("_", " "))}</text><rect class="bar" x="{_f(left)}" y="{_f(y + 2)}" '
                   f'width="{_f(max(w, 1))}" height="{_f(row - 6)}" fill="{OUTCOME_COLOURS["transferred"]}"/>'
                   f'<text class="value" x="{_f(left + w + 5)}" y="{_f(y + 15)}">{n}</text></g>')
    if not items:
        out.append(f'<text x="{_f(left)}" y="24">No transfers in this window.</text>')
    base = 10 + row * max(len(items), 1)
    out.append(f'<line class="axis" x1="{_f(left)}" y1="{_f(base)}" x2="{_f(left + plot_w)}" y2="{_f(base)}"/>'
               f'<text class="axis-label" x="{_f(left + plot_w / 2)}" y="{_f(base + 22)}" text-anchor="middle">'
               f'transfers (axis to {top_v})</text></svg>')
    return "".join(out)


REASON_PALETTE = ("#3b73b9", "#e08a2c", "#7a5cc4", "#2aa6a6", "#c45c8e", "#8a9a3b", "#6b7b8c")
"""Colours of the transfer reasons over time (the most frequent first; the rest share the last)."""


def reasons_daily_chart(days: list[dict[str, Any]]) -> str:
    """Transfer reasons per UTC day, stacked: whether a reason grows (a broken menu, an outage) shows at once."""
    totals: dict[str, int] = {}
    for d in days:
        for reason, k in (d.get("transfer_reasons") or {}).items():
            totals[reason] = totals.get(reason, 0) + int(k)
    ranked = [r for r, _ in sorted(totals.items(), key=lambda rn: (-rn[1], rn[0]))]
    shown = ranked[:len(REASON_PALETTE) - 1] if len(ranked) > len(REASON_PALETTE) else ranked
    colour = {r: REASON_PALETTE[i] for i, r in enumerate(shown)}
    other = "other" if len(shown) < len(ranked) else None
    n = max(len(days), 1)
    bar_w = max(4.0, min(26.0, 720.0 / n))
    left, top, plot_h = 44.0, 30.0, 120.0
    width = left + n * bar_w + 20
    per_day = [sum(int(k) for k in (d.get("transfer_reasons") or {}).values()) for d in days]
    top_v, step = nice_max(max(per_day, default=0))
    scale, base = plot_h / top_v, top + plot_h
    items = [(r.replace("_", " "), colour[r]) for r in shown] + ([("other", REASON_PALETTE[-1])] if other else [])
    out = [f'<svg id="reasons-daily-chart" class="chart" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {_f(width)} 200" width="{_f(width)}" height="200" role="img" '
           f'aria-label="Transfer reasons per day">', _legend(left, 14, items)]
    out.append(_y_grid(left, width, base, scale, top_v, step))
    for i, d in enumerate(days):
        x, y = left + i * bar_w, base
        reasons = d.get("transfer_reasons") or {}
        tip = f'{d["day"]}: ' + (", ".join(f"{k} {r}" for r, k in sorted(reasons.items())) or "no transfers")
        out.append(f'<g class="reason-day" data-day="{escape(d["day"])}" data-transfers="{per_day[i]}">'
                   f'<title>{escape(tip)}</title>')
        for r in ranked:
            k = int(reasons.get(r) or 0)
            if k:
                h = k * scale
                y -= h
                out.append(f'<rect class="bar" data-reason="{escape(r)}" data-n="{k}" x="{_f(x + 1)}" '
                           f'y="{_f(y)}" width="{_f(bar_w - 2)}" height="{_f(h)}" '
                           f'fill="{colour.get(r, REASON_PALETTE[-1])}"/>')
        out.append("</g>")
    out.append(_day_labels(days, left, base, bar_w))
    out.append(f'<line class="axis" x1="{_f(left)}" y1="{_f(base)}" x2="{_f(width - 16)}" y2="{_f(base)}"/>'
               f'<line class="axis" x1="{_f(left)}" y1="{_f(top)}" x2="{_f(left)}" y2="{_f(base)}"/></svg>')
    return "".join(out)


def _count(counts: dict[str, int], value: str) -> int:
    """Stored answer counts by value; yes/no answers may be keyed as JSON or Python booleans."""
    keys = {"yes": ("yes", "true", "True", "1"), "no": ("no", "false", "False", "0")}.get(value, (value,))
    return sum(int(counts.get(k) or 0) for k in keys)


def _answer_colour(kind: str, value: str) -> str:
    """Good answers green, bad red, in between grey (NPS: promoters, passives, detractors)."""
    if kind == "nps":
        v = int(value)
        return "#2e9e5b" if v >= 9 else "#9aa5b1" if v >= 7 else "#d64545"
    if kind == "csat":
        return "#2e9e5b" if int(value) >= 4 else "#9aa5b1" if value == "3" else "#d64545"
    if kind == "ces":  # 7 = very easy
        return "#2e9e5b" if int(value) >= 5 else "#9aa5b1" if value == "4" else "#d64545"
    return "#2e9e5b" if value == "yes" else "#d64545"


def survey_chart(question: str, dist: dict[str, Any]) -> str:
    """One question's answers: a bar per possible value, how many callers gave it."""
    kind = str(dist.get("kind") or "")
    counts = {str(k): int(v or 0) for k, v in (dist.get("counts") or {}).items()}
    values = SCALES.get(kind) or sorted(k for k in counts if k not in ("None", "null"))
    ns = [_count(counts, v) for v in values]
    top_v, step = nice_max(max(ns, default=0))
    bar_w, left, plot_h, top = 24.0, 30.0, 90.0, 10.0
    width = left + bar_w * max(len(values), 1) + 10
    base = top + plot_h
    out = [f'<svg class="chart survey-chart" data-question="{escape(question)}" data-kind="{escape(kind)}" '
           f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_f(width)} 140" width="{_f(width)}" height="140" '
           f'role="img" aria-label="Answers to {escape(question)}">',
           f'<text class="tick" x="{_f(left - 5)}" y="{_f(top + 4)}" text-anchor="end">{top_v}</text>'
           f'<text class="tick" x="{_f(left - 5)}" y="{_f(base + 4)}" text-anchor="end">0</text>']
    for i, (v, n) in enumerate(zip(values, ns)):
        x = left + i * bar_w
        h = plot_h * n / top_v
        out.append(f'<g class="answer" data-value="{escape(v)}" data-n="{n}"><title>{escape(v)}: {n}</title>'
                   f'<rect class="bar" x="{_f(x + 2)}" y="{_f(base - h)}" width="{_f(bar_w - 4)}" '
                   f'height="{_f(h)}" fill="{_answer_colour(kind, v)}"/>'
                   f'<text class="tick" x="{_f(x + bar_w / 2)}" y="{_f(base + 14)}" text-anchor="middle">'
                   f'{escape(v)}</text></g>')
    out.append(f'<line class="axis" x1="{_f(left)}" y1="{_f(base)}" x2="{_f(width - 6)}" y2="{_f(base)}"/>'
               f'<text class="axis-label" x="{_f(left + (width - left) / 2)}" y="{_f(base + 32)}" '
               f'text-anchor="middle">answer ({escape(kind)})</text></svg>')
    return "".join(out)
