"""``GET /metrics``: Prometheus text of the calls this server answers, and the timing of its webhooks.

The counting itself lives in :mod:`ivr.analytics.metrics`; the driver counts
each saved turn there. This module installs it for an app, times every
``/voice`` webhook by its route (never the URL: query strings carry call
ids), and serves the text. Open by default, as Prometheus endpoints usually
are (no label carries a caller, a call id or a slot value: totals by flow,
node and reason); ``IVR_METRICS_TOKEN`` puts it behind a bearer token of its
own, for scrapers that send ``authorization: {credentials: <token>}``.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from ..analytics.metrics import CallMetrics
from . import app_state

bp = Blueprint("metrics", __name__)
TIMED_PREFIX = "/voice"
"""Twilio's webhooks: the requests a caller waits on."""


def install(app: Flask) -> CallMetrics:
    """Count this app's calls (shared with any app on the same services) and serve ``/metrics``."""
    driver = app_state.services(app).driver
    if driver.metrics is None:
        driver.metrics = CallMetrics()
    metrics = driver.metrics
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.ivr_request_t0 = time.perf_counter()

    @app.after_request
    def _time_webhook(response: Response) -> Response:
        t0 = g.pop("ivr_request_t0", None)
        rule = request.url_rule
        if t0 is not None and rule is not None and request.path.startswith(TIMED_PREFIX):
            metrics.observe_webhook(rule.rule, request.method, time.perf_counter() - t0)
        return response

    return metrics


@bp.get("/metrics")
def metrics_text() -> Any:
    token = app_state.config().metrics_token
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            resp = jsonify(error="unauthorized", hint="send Authorization: Bearer <IVR_METRICS_TOKEN>")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = "Bearer"
            return resp
    metrics = app_state.services().driver.metrics
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
