"""The agent page (``/agent/calls/<sid>``): the caller's story at a glance, for the person who answers.

Opened from the signed link in the TaskRouter task (or with the API bearer
token): who is calling, why they are here, where they went, what they said
and entered (sensitive values masked), earlier calls and follow-ups. One
page, no script needed but the one that shows times in the agent's clock.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template_string, request

from ..engine.summary import reason_text
from ..handoff.links import link_valid
from . import app_state
from .api import token_ok
from .call_view import now

bp = Blueprint("agent", __name__, url_prefix="/agent")


def _agent_allowed(call_sid: str) -> bool:
    """The bearer token, or a valid signed link for this call (open only in development without secrets)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and token_ok(header[7:].strip()):
        return True
    if link_valid(app_state.handoff().link_secret, call_sid, request.args.get("exp"), request.args.get("sig"), now()):
        return True
    cfg = app_state.config()
    return not cfg.api_token and not cfg.secret_key and cfg.dev


AGENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>Caller {{ ctx.caller or "unknown" }} · {{ ctx.queue or "" }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1c1e21}
header{background:#1f3a5f;color:#fff;padding:1rem 1.5rem}
header h1{margin:0;font-size:1.4rem} header p{margin:.3rem 0 0;font-size:1.05rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem;padding:1rem 1.5rem}
section{background:#fff;border-radius:6px;padding:.8rem 1rem;box-shadow:0 1px 2px #0002}
h2{font-size:1rem;margin:.2rem 0 .6rem;color:#1f3a5f} dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .8rem;margin:0}
dt{color:#555} dd{margin:0} .badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-size:.85rem;background:#ddd}
.verified{background:#c8efd0} .failed{background:#f7c9c9} .masked{color:#888;font-family:monospace}
ol.path{display:flex;flex-wrap:wrap;gap:.3rem;list-style:none;padding:0;margin:0}
ol.path li{background:#e8eef7;border-radius:3px;padding:.05rem .4rem} ol.path li.failed{background:#f7c9c9}
table{border-collapse:collapse;width:100%} td,th{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #eee;font-size:.92rem}
</style></head><body>
<header>
 <h1 id="caller">{{ ctx.caller or "Unknown caller" }}</h1>
 <p id="summary">{{ ctx.summary }}</p>
</header>
<main>
<section id="why"><h2>Why they are here</h2><dl>
 <dt>Reason</dt><dd id="reason" data-code="{{ ctx.reason or '' }}">{{ reason_words }}</dd>
 <dt>Queue</dt><dd id="queue">{{ ctx.queue or "" }}</dd>
 <dt>Routing rule</dt><dd id="rule">{{ routing.rule or "(none: the flow's queue)" }}</dd>
 {% if ctx.failed_node %}<dt>Stuck at</dt><dd id="failed-node">{{ ctx.failed_node }}</dd>{% endif %}
 <dt>Verified</dt><dd><span id="auth" class="badge {{ auth_status }}">{{ auth_status }}</span>
   {% if ctx.auth.method and ctx.auth.method != "none" %}<span id="auth-method">by {{ ctx.auth.method }}</span>{% endif %}
   {% if ctx.auth.score is not none %}<span id="auth-score">score {{ "%.2f"|format(ctx.auth.score) }}</span>{% endif %}
   {% if ctx.auth.net_speech_s %}<span id="auth-speech">on {{ "%.1f"|format(ctx.auth.net_speech_s) }} s of speech</span>{% endif %}
   {% if ctx.auth.replay %}<span id="auth-replay" class="badge rejected">recording played back</span>{% endif %}</dd>
 <dt>Flow</dt><dd>{{ ctx.flow }} ({{ ctx.language }})</dd>
 <dt>Started</dt><dd><time id="started" datetime="{{ ctx.timings.started_at or '' }}">{{ ctx.timings.started_at or "" }}</time></dd>
 <dt>In self-service</dt><dd id="self-service">{{ ctx.timings.self_service_seconds }} s, {{ ctx.timings.turns }} turns</dd>
 {% if waited is not none %}<dt>Waited in queue</dt><dd id="waited">{{ waited }} s</dd>{% endif %}
 <dt>Context id</dt><dd><code id="context-id">{{ ctx.call_id }}</code></dd>
</dl></section>
<section id="journey"><h2>Where they went</h2>
 <ol class="path" id="path">{% for node in ctx.path %}<li{% if node == ctx.failed_node %} class="failed"{% endif %}>{{ node }}</li>{% endfor %}</ol>
 <h2 style="margin-top:1rem">What they entered</h2>
 <table id="slots">{% for name, value in ctx.slots.items() %}<tr><th>{{ name }}</th>
  <td{% if value == "****" %} class="masked" title="sensitive: never shown"{% endif %}>{{ value }}</td></tr>
 {% else %}<tr><td>Nothing.</td></tr>{% endfor %}</table>
</section>
<section id="said"><h2>What they said and pressed</h2>
 <table id="transcript">{% for t in ctx.transcript %}<tr><td><time datetime="{{ t.time }}">{{ t.time }}</time></td>
  <td>{{ t.node }}</td><td class="said">{{ t.get("text") if t.get("text") is not none else (t.get("keys") or "") }}</td><td>{{ t.outcome or "" }}</td></tr>
 {% else %}<tr><td>No input.</td></tr>{% endfor %}</table>
</section>
<section id="history-box"><h2>Earlier calls (<span id="history-count">{{ ctx.history|length }}</span>)</h2>
 <ul id="history">{% for h in ctx.history %}<li><time datetime="{{ h.started_at or '' }}">{{ h.started_at }}</time>:
  {{ h.reason or h.outcome or "no transfer" }}{% if h.queue %} → {{ h.queue }}{% endif %}
  <small>({{ (h.path or [])|join(" › ") }})</small></li>{% else %}<li>First call.</li>{% endfor %}</ul>
</section>
{% if records.callbacks or records.voicemails %}<section id="follow-up"><h2>Follow-up</h2><ul>
 {% for c in records.callbacks %}<li class="callback">Callback to {{ c.number }}, {{ c.window }}: <b>{{ c.status }}</b></li>{% endfor %}
 {% for m in records.voicemails %}<li class="voicemail">Voicemail ({{ m.duration or 0 }} s): <b>{{ m.status }}</b>
   {% if m.transcript %}<q>{{ m.transcript }}</q>{% endif %}</li>{% endfor %}
</ul></section>{% endif %}
</main>
<script>
// Times as the agent's local clock and "x min ago", so nobody converts UTC in their head.
(function () {
  var now = Date.now();
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var t = Date.parse(el.getAttribute("datetime"));
    if (isNaN(t)) { return; }
    var mins = Math.round((now - t) / 60000);
    var ago = mins < 1 ? "just now" : mins < 90 ? mins + " min ago" : Math.round(mins / 60) + " h ago";
    el.textContent = new Date(t).toLocaleString() + " (" + ago + ")";
    el.dataset.rendered = "1";
  });
  document.body.dataset.ready = "1";
})();
</script>
</body></html>"""


@bp.get("/calls/<call_sid>")
def agent_call(call_sid: str) -> Any:
    """The caller's story at a glance, for the agent who takes the call."""
    if not _agent_allowed(call_sid):
        return Response("Unauthorized: open the signed link from the task, or send the bearer token.\n",
                        status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    svc = app_state.services()
    ctx = svc.store.context(call_sid)
    if ctx is None:
        abort(404)
    call = svc.driver.state(call_sid)
    waited = ((call.extra.get("handoff") or {}).get("queue_time") if call else None)
    auth_status = (ctx.get("auth") or {}).get("status") or "none"
    html = render_template_string(AGENT_PAGE, ctx=ctx, routing=ctx.get("routing") or {}, auth_status=auth_status,
                                  reason_words=reason_text(ctx.get("reason")), waited=waited,
                                  records=app_state.handoff().records.for_call(call_sid))
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp
