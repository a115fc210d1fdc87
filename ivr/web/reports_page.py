"""The report page (``/reports/<flow>``): where callers struggle, what self-service contains, how they rate it.

For the people who own a flow, not for a dashboard tool: one server-rendered
page, inline SVG and CSS, no script and no build step. It opens with the
bearer token or a signed link (``GET /api/reports/<flow>/link`` hands one
out), so it can be shared with a team that has no API token. The window is
``?days=N`` (default 30) up to now, or ``?since=YYYY-MM-DD&until=YYYY-MM-DD``
(whole UTC days, both included).

Numbers come from :class:`ivr.analytics.Analytics` (SQL over the stored
calls and events), the picture from the flow model, the lint findings from
:mod:`ivr.flow.lint` and the script coverage from what the last
``python -m ivr coverage`` run saved under ``<instance>/coverage``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

from flask import Blueprint, Response, jsonify, render_template_string, request, url_for
from markupsafe import Markup

from ..analytics.coverage import load_saved
from ..errors import ConfigError
from ..flow.layout import layout
from ..flow.lint import lint
from ..handoff.links import MAX_REPORT_TTL_S, REPORT_TTL_S, report_link_valid, report_path
from . import app_state, report_charts, report_graph
from .api import bearer_required, token_ok
from .call_view import now

bp = Blueprint("reports", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366
UTC = dt.timezone.utc


class BadWindow(ValueError):
    """A ``since``/``until``/``days`` query parameter that cannot be read (answered with 400 and the fix)."""


def _allowed(flow_id: str) -> bool:
    """The bearer token, or a valid signed link for this flow (open only in development without secrets)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and token_ok(header[7:].strip()):
        return True
    if report_link_valid(app_state.handoff().link_secret, flow_id, request.args.get("exp"), request.args.get("sig"),
                         now()):
        return True
    cfg = app_state.config()
    return not cfg.api_token and not cfg.secret_key and cfg.dev


def _parse_time(name: str, text: str, end: bool) -> dt.datetime:
    """An ISO date (a whole UTC day: its start, or for ``until`` the start of the next day) or datetime."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + dt.timedelta(days=1) if end else start
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadWindow(f"{name}={text!r} is not an ISO date: use YYYY-MM-DD (a UTC day) "
                        "or YYYY-MM-DDTHH:MM:SS") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def window(args: Any, clock_now: float) -> tuple[dt.datetime, dt.datetime]:
    """``(since, until)`` of the report, ``until`` exclusive, from the query parameters."""
    days_s = args.get("days")
    try:
        days = int(days_s) if days_s not in (None, "") else DEFAULT_DAYS
    except ValueError:
        raise BadWindow(f"days={days_s!r} is not a whole number of days (e.g. days=30)") from None
    if not 1 <= days <= MAX_DAYS:
        raise BadWindow(f"days={days} is out of range: give 1 to {MAX_DAYS}")
    until = _parse_time("until", args["until"], end=True) if args.get("until") else \
        dt.datetime.fromtimestamp(clock_now, UTC)
    since = _parse_time("since", args["since"], end=False) if args.get("since") else \
        _day_start(until - dt.timedelta(days=days - 1) - dt.timedelta(microseconds=1))
    if since >= until:
        raise BadWindow(f"since ({since.date()}) must be before until ({until.date()})")
    if (until - since).days > MAX_DAYS:
        raise BadWindow(f"the window is {(until - since).days} days long: at most {MAX_DAYS}")
    return since, until


def _day_start(t: dt.datetime) -> dt.datetime:
    return dt.datetime(t.year, t.month, t.day, tzinfo=UTC)


def window_days(since: dt.datetime, until: dt.datetime) -> list[str]:
    """Every UTC day the window touches, oldest first."""
    first, last = since.date(), (until - dt.timedelta(microseconds=1)).date()
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _fill_days(rows: list[dict[str, Any]], days: list[str]) -> list[dict[str, Any]]:
    """One row per day of the window, days without calls as zeros (a gap is a fact, not a hole in the axis)."""
    by_day = {r["day"]: r for r in rows}
    return [by_day.get(d) or {"day": d, "calls": 0, "contained": 0, "transferred": 0, "abandoned": 0,
                              "transfer_reasons": {}} for d in days]


def _pct(x: Optional[float]) -> str:
    return "\u2013" if x is None else f"{100 * x:.0f}%"


def _headline(rep: dict[str, Any]) -> list[dict[str, str]]:
    """The numbers at the top: id, label, value, and what it means (the tooltip)."""
    survey = rep.get("survey") or {}
    median = rep.get("median_seconds")
    ces, nps = survey.get("ces"), survey.get("nps")
    return [
        {"id": "calls", "label": "Calls", "value": str(rep.get("calls") or 0),
         "hint": "calls that started in the window"},
        {"id": "containment", "label": "Contained", "value": _pct(rep.get("containment")),
         "hint": "ended by the flow, no transfer, no hang-up: self-service that finished"},
        {"id": "transferred", "label": "Transferred", "value": str(rep.get("transferred") or 0),
         "hint": "handed to a person (queues, callbacks and voicemail)"},
        {"id": "abandoned", "label": "Abandoned", "value": str(rep.get("abandoned") or 0),
         "hint": "the caller hung up before the flow ended the call"},
        {"id": "fcr", "label": "FCR 24 h", "value": _pct(rep.get("fcr_24h")),
         "hint": "first-contact resolution: no call from the same caller within 24 hours"},
        {"id": "median", "label": "Median time", "value": "\u2013" if median is None else f"{median:.0f} s",
         "hint": "median seconds in the IVR per call"},
        {"id": "csat", "label": "CSAT", "value": _pct(survey.get("csat")),
         "hint": "share of satisfaction answers that are 4 or 5 (of 5)"},
        {"id": "ces", "label": "CES", "value": "\u2013" if ces is None else f"{ces:.1f}",
         "hint": "customer effort, mean of 1 (very hard) to 7 (very easy)"},
        {"id": "nps", "label": "NPS", "value": "\u2013" if nps is None else f"{nps:+.0f}",
         "hint": "% promoters (9-10) minus % detractors (0-6)"},
    ]


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>Report · {{ flow.flow }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1c1e21}
header{background:#1f3a5f;color:#fff;padding:.9rem 1.5rem}
header h1{margin:0;font-size:1.35rem} header p{margin:.25rem 0 0;font-size:.95rem;opacity:.9}
header a{color:#cfe0f5}
main{padding:1rem 1.5rem;display:grid;gap:1rem}
section{background:#fff;border-radius:6px;padding:.8rem 1rem;box-shadow:0 1px 2px #0002;overflow-x:auto}
h2{font-size:1rem;margin:.2rem 0 .6rem;color:#1f3a5f} h3{font-size:.9rem;margin:.8rem 0 .3rem;color:#1f3a5f;font-weight:600}
.numbers{display:flex;flex-wrap:wrap;gap:.6rem;list-style:none;margin:0;padding:0}
.numbers li{background:#fff;border-radius:6px;box-shadow:0 1px 2px #0002;padding:.5rem .9rem;min-width:6.5rem}
.numbers .v{display:block;font-size:1.5rem;font-weight:600;color:#1f3a5f} .numbers .l{font-size:.82rem;color:#555}
.empty{background:#fff7e0;border:1px solid #e6c75a;border-radius:6px;padding:.8rem 1rem;font-size:1.05rem}
.row{display:grid;grid-template-columns:repeat(auto-fit,minmax(26rem,1fr));gap:1rem}
.surveys{display:flex;flex-wrap:wrap;gap:1.2rem} .surveys figure{margin:0} figcaption{font-size:.85rem;color:#333}
svg text{font-size:11px;fill:#333} svg .label{font-size:12.5px;font-weight:600} svg .detail{font-size:10px}
svg .note{font-size:10px;fill:#1f3a5f;font-style:italic} svg .legend-title{font-weight:600}
svg .edge-label{font-size:10px;fill:#1f3a5f;paint-order:stroke;stroke:#fff;stroke-width:3px}
svg .grid{stroke:#e4e7eb} svg .axis{stroke:#333} svg .axis-label{font-size:11px;fill:#555}
.lint-mark circle{stroke:#fff;stroke-width:1.5} .lint-mark.error circle{fill:#b3261e}
.lint-mark.warning circle{fill:#c77700} .lint-mark text{fill:#fff;font-size:10px;font-weight:700}
svg.graph,svg.chart,svg.legend{max-width:100%;height:auto} table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #eee;font-size:.9rem;vertical-align:top}
.sev-error{color:#b3261e;font-weight:600} .sev-warning{color:#8a5300} code{background:#f1f3f5;padding:0 .2rem}
form.window{display:inline} form.window input{width:7.5rem} .muted{color:#666;font-size:.88rem}
</style></head><body>
<header>
 <h1>Report: <span id="flow-id">{{ flow.flow }}</span></h1>
 <p id="window" data-since="{{ since_s }}" data-until="{{ until_s }}">{{ since_s }} to {{ until_s }} (UTC, {{ days|length }} days)
  · <a href="{{ link(days=7) }}">7 days</a> · <a href="{{ link(days=30) }}">30 days</a>
  · <a href="{{ link(days=90) }}">90 days</a></p>
</header>
<main>
{% if not rep.calls %}
<p id="no-calls" class="empty">No calls in this window ({{ since_s }} to {{ until_s }}).
 The graph below shows the flow as designed, with its lint findings and script coverage; numbers appear
 once calls arrive.</p>
{% endif %}
<ul class="numbers" id="headline">{% for h in headline %}<li id="h-{{ h.id }}" title="{{ h.hint }}">
 <span class="v">{{ h.value }}</span><span class="l">{{ h.label }}</span></li>{% endfor %}</ul>
<section id="graph"><h2>The flow: where callers drop out</h2>
 <p class="muted">Each box is a node: its colour is the share of callers who hung up there, its size how many
 entered it. Dashed: not exercised by any call script. A badge counts lint findings. Hover for numbers.</p>
 {{ legend }}
 {{ graph }}
</section>
<div class="row">
<section id="coverage"><h2>Script coverage</h2>
{% if coverage %}
 <p id="coverage-summary" data-nodes="{{ coverage.nodes.covered }}/{{ coverage.nodes.total }}"
  data-edges="{{ coverage.edges.covered }}/{{ coverage.edges.total }}">Call scripts enter
  <b>{{ coverage.nodes.covered }} of {{ coverage.nodes.total }}</b> nodes and take
  <b>{{ coverage.edges.covered }} of {{ coverage.edges.total }}</b> edges ({{ coverage.get("calls", 0) }} scripted calls).</p>
 {% if coverage.nodes.missing %}<p>Nodes no script enters: {% for n in coverage.nodes.missing %}<code>{{ n }}</code> {% endfor %}</p>{% endif %}
 {% if coverage.edges.missing %}<p>Edges no script takes: {% for e in coverage.edges.missing %}<code>{{ e[0] }} → {{ e[1] }}</code> {% endfor %}</p>{% endif %}
{% else %}
 <p id="coverage-summary" data-nodes="" data-edges="">No coverage saved for this flow yet: run
 <code>python -m ivr coverage SCRIPT...</code> (it saves to <code>{{ coverage_dir }}</code>).</p>
{% endif %}
</section>
<section id="lint"><h2>Design lint ({{ problems|length }})</h2>
 {% if problems %}<table id="lint-findings">{% for p in problems %}<tr class="finding" data-code="{{ p.code }}">
  <td class="sev-{{ p.severity }}">{{ p.severity }}</td><td><code>{{ p.code }}</code></td>
  <td>{{ p.message }} <span class="muted">(line {{ p.line }})</span></td></tr>{% endfor %}</table>
 {% else %}<p>No findings: the flow follows the design rules.</p>{% endif %}
</section>
</div>
<div class="row">
<section id="outcomes"><h2>Containment over time</h2>{{ daily }}</section>
<section id="reasons"><h2>Why callers were transferred</h2>{{ reasons }}<h3>Day by day</h3>{{ reasons_daily }}</section>
</div>
<section id="surveys"><h2>Survey answers</h2>
 {% if survey_charts %}<div class="surveys">{% for q, chart, n in survey_charts %}<figure>
  <figcaption>{{ q }} ({{ n }} responses)</figcaption>{{ chart }}</figure>{% endfor %}</div>
 {% else %}<p id="no-survey">No survey answers in this window.</p>{% endif %}
</section>
</main>
</body></html>"""

NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No such flow</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}</style></head><body>
<h1>No flow called <code>{{ flow_id }}</code></h1>
<p>Reports exist for the loaded flows:</p>
<ul id="flows">{% for f in flows %}<li><a href="{{ url_for('reports.report', flow_id=f) }}">{{ f }}</a></li>
{% else %}<li>No flow is loaded.</li>{% endfor %}</ul>
</body></html>"""


def _unauthorized() -> Response:
    return Response("Unauthorized: open a signed report link (GET /api/reports/<flow>/link with the bearer token "
                    "makes one), or send the bearer token.\n", status=401, mimetype="text/plain",
                    headers={"WWW-Authenticate": "Bearer"})


@bp.get("/reports/<flow_id>")
def report(flow_id: str) -> Any:
    """A flow's report: the graph with drop-off, coverage and lint; outcomes over time; survey answers."""
    if not _allowed(flow_id):
        return _unauthorized()
    svc = app_state.services()
    loaded = svc.flows.loaded(flow_id)
    if loaded is None:
        html = render_template_string(NOT_FOUND, flow_id=flow_id, flows=svc.flows.ids)
        return Response(html, status=404, mimetype="text/html")
    try:
        since, until = window(request.args, now())
    except BadWindow as exc:
        return Response(f"Bad request: {exc}.\n", status=400, mimetype="text/plain")
    flow = loaded.flow
    try:
        analytics = svc.analytics
    except ConfigError as exc:
        return Response(f"Reports are unavailable: {exc}\n", status=503, mimetype="text/plain")
    reps = analytics.report(flow=flow_id, since=since, until=until)
    rep = reps[0] if reps else {"flow": flow_id, "calls": 0}
    days = window_days(since, until)
    daily = _fill_days(analytics.daily(flow_id, since=since, until=until), days)
    dist = analytics.survey_distribution(flow_id, since=since, until=until)
    problems = lint(loaded)
    coverage_dir = Path(svc.config.instance_dir) / "coverage"
    coverage = load_saved(coverage_dir, flow_id)
    graph = report_graph.render(flow, layout(flow), rep.get("nodes") or {},
                                report_graph.node_findings(problems, flow), coverage)
    asked = [q.id for n in flow.nodes.values() if n.survey is not None for q in n.survey.questions]
    order = {q: i for i, q in enumerate(asked)}  # as callers hear them; questions since removed last
    survey_charts = [(q, Markup(report_charts.survey_chart(q, d)), int(d.get("responses") or 0))
                     for q, d in sorted(dist.items(), key=lambda qd: (order.get(qd[0], len(order)), qd[0]))]
    keep = {k: request.args[k] for k in ("exp", "sig") if request.args.get(k)}

    def link(**window_args: Any) -> str:
        return url_for("reports.report", flow_id=flow_id, **keep, **window_args)

    html = render_template_string(
        PAGE, flow=flow, rep=rep, headline=_headline(rep), days=days, link=link,
        since_s=since.date().isoformat(), until_s=days[-1], graph=Markup(graph),
        legend=Markup(report_graph.legend()), daily=Markup(report_charts.daily_chart(daily)),
        reasons=Markup(report_charts.reasons_chart(rep.get("transfer_reasons") or {})),
        reasons_daily=Markup(report_charts.reasons_daily_chart(daily)),
        survey_charts=survey_charts, problems=problems, coverage=coverage, coverage_dir=str(coverage_dir))
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp


@bp.get("/api/reports/<flow_id>/link")
@bearer_required
def report_link(flow_id: str) -> Any:
    """A signed link to a flow's report page (``?ttl=SECONDS``, default a week), to share without the token."""
    svc = app_state.services()
    if svc.flows.get(flow_id) is None:
        return jsonify(error=f"no flow {flow_id!r}; loaded flows: {', '.join(svc.flows.ids) or 'none'}"), 404
    secret = app_state.handoff().link_secret
    if not secret:
        return jsonify(error="signed links need a key: set IVR_API_TOKEN or IVR_SECRET_KEY"), 409
    ttl_s = request.args.get("ttl") or str(REPORT_TTL_S)
    if not ttl_s.isdigit() or not 60 <= int(ttl_s) <= MAX_REPORT_TTL_S:
        return jsonify(error=f"ttl must be 60 to {MAX_REPORT_TTL_S} seconds"), 400
    path, exp = report_path(flow_id, secret, now(), int(ttl_s))
    return jsonify(flow=flow_id, url=(svc.config.public_url or "") + path, path=path, expires_at=exp)
