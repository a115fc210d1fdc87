"""The status page at ``/``: which flows are loaded and which files are broken, and where Twilio should call.

It is public (no token), so it shows nothing about callers: calls are read
through the API, the agent pages and the report pages it links to, which need
the bearer token or a signed link.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template_string

from . import app_state

bp = Blueprint("pages", __name__)

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>IVR</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}
.err{color:#a00} code{background:#f4f4f4;padding:0 .2rem} td,th{padding:.2rem .6rem;text-align:left}</style>
</head><body>
<h1>IVR</h1>
<h2>Flows</h2>
<ul id="flows">{% for f in flows %}<li><code>{{ f }}</code>
 · <a class="report" href="{{ url_for('reports.report', flow_id=f) }}">report</a></li>{% else %}<li>No flow loaded.</li>{% endfor %}</ul>
<p>Reports need the API token or a signed link (<code>GET /api/reports/&lt;flow&gt;/link</code>).</p>
{% if errors %}<h2 class="err">Flow errors</h2>
<p>These files are not loaded (a previous good version keeps running, if there was one):</p>
<ul>{% for file, probs in errors.items() %}{% for p in probs %}
<li class="err"><code>{{ p.format() }}</code></li>{% endfor %}{% endfor %}</ul>{% endif %}
<p>Webhook for Twilio: <code>POST {{ base }}/voice</code></p>
</body></html>"""


@bp.get("/")
def index() -> Any:
    s = app_state.services()
    return render_template_string(INDEX, flows=s.flows.ids, errors=s.flows.errors,
                                  base=s.config.public_url or "")
