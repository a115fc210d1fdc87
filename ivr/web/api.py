"""JSON API under ``/api/`` (bearer ``IVR_API_TOKEN``)."""

from __future__ import annotations

import hmac
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, abort, current_app, jsonify, request

bp = Blueprint("api", __name__, url_prefix="/api")


def token_ok(given: str | None) -> bool:
    """Whether a presented token is the configured API token (constant-time)."""
    cfg = current_app.extensions["ivr"].config
    if not cfg.api_token:
        return cfg.dev  # open only in development without a token
    return bool(given) and hmac.compare_digest(given, cfg.api_token)


def bearer_required(view: Callable) -> Callable:
    """401 without the bearer token (in dev with no token configured, open)."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else None
        if not token_ok(given):
            cfg = current_app.extensions["ivr"].config
            msg = "send Authorization: Bearer <IVR_API_TOKEN>" if cfg.api_token else \
                "IVR_API_TOKEN is not set; set it to use the API"
            resp = jsonify(error="unauthorized", hint=msg)
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = "Bearer"
            return resp
        return view(*args, **kwargs)
    return wrapper


def svc():
    return current_app.extensions["ivr"]


@bp.get("/health")
def health() -> Any:
    return jsonify(status="ok", flows=svc().flows.ids)


@bp.get("/flows")
@bearer_required
def flows() -> Any:
    s = svc()
    return jsonify(flows=s.flows.ids,
                   errors={f: [p.as_dict() for p in probs] for f, probs in s.flows.errors.items()})


@bp.get("/calls")
@bearer_required
def calls() -> Any:
    limit = min(int(request.args.get("limit", 50)), 500)
    return jsonify(calls=svc().store.calls(limit))


@bp.get("/calls/<call_sid>")
@bearer_required
def call(call_sid: str) -> Any:
    state = svc().store.load_state(call_sid)
    if state is None:
        abort(404)
    return jsonify(call_id=state.call_id, flow=state.flow, node=state.node, ended=state.ended,
                   end_reason=state.end_reason, path=state.path, queue=state.queue, reason=state.reason,
                   waiting=state.waiting, prompts=state.last_prompts)


@bp.get("/calls/<call_sid>/context")
@bearer_required
def context(call_sid: str) -> Any:
    ctx = svc().store.context(call_sid)
    if ctx is None:
        return jsonify(error="not_found", hint=f"no call {call_sid}"), 404
    return jsonify(ctx)


@bp.get("/calls/<call_sid>/events")
@bearer_required
def events(call_sid: str) -> Any:
    return jsonify(events=svc().store.events(call_sid))
