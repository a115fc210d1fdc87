"""JSON API under ``/api/`` (bearer ``IVR_API_TOKEN``): health, flows and calls, plus the API's own rules.

The bearer check, query parameter parsing and the JSON error shapes live
here so the other API blueprints (:mod:`ivr.web.records_api`, the media
stats) answer the same way.
"""

from __future__ import annotations

import hmac
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, Response, abort, jsonify, request

from . import app_state

bp = Blueprint("api", __name__, url_prefix="/api")


def token_ok(given: str | None) -> bool:
    """Whether a presented token is the configured API token (constant-time)."""
    cfg = app_state.config()
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
            cfg = app_state.config()
            msg = "send Authorization: Bearer <IVR_API_TOKEN>" if cfg.api_token else \
                "IVR_API_TOKEN is not set; set it to use the API"
            resp = jsonify(error="unauthorized", hint=msg)
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = "Bearer"
            return resp
        return view(*args, **kwargs)
    return wrapper


class BadQuery(Exception):
    """A query parameter of an API request is unusable; answered as a 400 with the fix."""

    def __init__(self, name: str, hint: str) -> None:
        super().__init__(f"{name}: {hint}")
        self.name, self.hint = name, hint


def query_int(name: str, default: int, minimum: int = 1, maximum: int = 500) -> int:
    """An integer query parameter in ``[minimum, maximum]`` (larger values are capped); else BadQuery."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadQuery(name, f"must be a whole number from {minimum} to {maximum}, got {raw[:40]!r}") from None
    if value < minimum:
        raise BadQuery(name, f"must be at least {minimum}, got {value}")
    return min(value, maximum)


def bad_query(exc: BadQuery) -> Any:
    """JSON 400 for every API blueprint: which parameter, and what it takes."""
    resp = jsonify(error="bad_request", parameter=exc.name, hint=exc.hint)
    resp.status_code = 400
    return resp


bp.register_error_handler(BadQuery, bad_query)


def not_found(hint: str) -> tuple[Response, int]:
    """JSON 404 with what was not found (``no call CA...``)."""
    return jsonify(error="not_found", hint=hint), 404


def call_context(call_sid: str) -> dict[str, Any]:
    """A call's context packet, or a JSON 404 (raised) when the store has no such call."""
    ctx = app_state.services().store.context(call_sid)
    if ctx is None:
        body, status = not_found(f"no call {call_sid}")
        body.status_code = status
        abort(body)
    return ctx


@bp.get("/health")
def health() -> Any:
    """Liveness plus readiness: ``ready`` is false until speech calls can be answered at full speed.

    ``speech`` is the media runtime's warm-up state (recogniser loaded,
    grammars warm); ``prompts`` counts each flow's rendered and missing
    prompts and those a reload is rendering now. ``ready`` waits for warm-up
    work (grammars, prompts being rendered) but not for prompts nobody
    built: those play with ``<Say>``, and holding traffic would not fix
    them (``prompts.missing`` says so). A load balancer can hold traffic
    until ``ready``; calls that arrive earlier are still answered, slower.

    ``hooks`` says how many hook threads timed-out hooks still hold (of the
    bounded pool's ``max_threads``) and how many keypad turns run in the
    background now: a back end that stops answering shows here before
    callers notice (they reach a person meanwhile).
    """
    web = app_state.parts()
    speech = web.media.readiness() if web.media is not None and web.speech_calls else None
    flows = web.services.flows
    resolver = web.prompts
    prompts = None
    if resolver is not None:
        try:
            prompts = resolver.status([f for f in (flows.get(i) for i in flows.ids) if f is not None])
        except Exception as exc:  # noqa: BLE001 - health must answer even when the audio directory is broken
            prompts = {"error": f"{type(exc).__name__}: {exc}"}
    ready = (speech is None or bool(speech["ready"])) and not (prompts or {}).get("rendering")
    svc = web.services
    hooks = {"abandoned": svc.hooks.abandoned, "max_threads": svc.hooks.max_workers,
             "turns_running": svc.pending.running()}
    return jsonify(status="ok", flows=flows.ids, ready=ready, speech=speech, prompts=prompts, hooks=hooks)


@bp.get("/flows")
@bearer_required
def flows() -> Any:
    s = app_state.services()
    return jsonify(flows=s.flows.ids,
                   errors={f: [p.as_dict() for p in probs] for f, probs in s.flows.errors.items()})


@bp.get("/calls")
@bearer_required
def calls() -> Any:
    limit = query_int("limit", 50)
    return jsonify(calls=app_state.services().store.calls(limit))


@bp.get("/calls/<call_sid>")
@bearer_required
def call(call_sid: str) -> Any:
    st = app_state.services().store.load_state(call_sid)
    if st is None:
        abort(404)
    return jsonify(call_id=st.call_id, flow=st.flow, node=st.node, ended=st.ended,
                   end_reason=st.end_reason, path=st.path, queue=st.queue, reason=st.reason,
                   waiting=st.waiting, prompts=st.last_prompts)


@bp.get("/calls/<call_sid>/context")
@bearer_required
def context(call_sid: str) -> Any:
    return jsonify(call_context(call_sid))


@bp.get("/calls/<call_sid>/events")
@bearer_required
def events(call_sid: str) -> Any:
    return jsonify(events=app_state.services().store.events(call_sid))
