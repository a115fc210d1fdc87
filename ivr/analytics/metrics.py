"""Prometheus metrics of the running IVR: calls, outcomes, transfers, abandonment, recognition, latency.

Why from the engine's RecordEvents: they are what the store keeps and what
``report`` reads, so ``/metrics`` and the reports count the same things the
same way (a call is exactly one of contained, transferred, abandoned). The
driver hands each saved turn's events to :meth:`CallMetrics.observe`; the web
layer times webhooks with :meth:`CallMetrics.observe_webhook`.

Labels are flows, nodes, reasons, modes and outcome classes only: values a
flow file or the engine defines, so the series stay few. Never a caller, a
call id or a slot value (cardinality, and privacy: metrics leave the
deployment for a monitoring system).

Several worker processes (``serve --workers N``) share one set of totals
through prometheus_client's multiprocess mode: :func:`prepare_multiprocess`
points ``PROMETHEUS_MULTIPROC_DIR`` at an empty directory before any metric
exists, each worker writes its own file there, and :meth:`CallMetrics.exposition`
sums them. One process (the default) uses an in-memory registry per app.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Optional

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST, multiprocess, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTCOMES = ("contained", "transferred", "abandoned")
RECOGNITION_OUTCOMES = {"match": "match", "confirmed": "match", "speech": "match", "consent_yes": "match",
                        "consent_no": "match", "no_match": "no_match", "no_input": "no_input", "agent": "agent",
                        "unsure": "unsure"}
"""Engine input outcomes -> the outcome label: an answer the node took, none that fit, silence, the agent
escape, or a low-confidence match the caller is asked to confirm."""
INPUTS = ("dtmf", "speech", "none")
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)
"""Seconds; Twilio gives up on a webhook after 15 s."""
REPLY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Seconds from the end of the caller's speech to the first audio of the answer (a natural gap is under 1 s)."""


def multiprocess_dir() -> Optional[str]:
    """The multiprocess directory in use, or None (single-process mode)."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess(directory: str | Path) -> Path:
    """Use ``directory`` (created; its metric files removed) for the totals of several worker processes.

    Must run before the app is built: prometheus_client picks multiprocess or
    in-memory values when its first metric is made.

    Raises:
        RuntimeError: metrics already exist in this process in single-process mode.
    """
    multiprocess_values = getattr(values.ValueClass, "_multiprocess", False)
    if not multiprocess_values and _MADE[0]:
        raise RuntimeError("metrics were created before multiprocess mode was set up: call prepare_multiprocess "
                           "before the app is built")
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):   # a previous run's totals would be added to this one's
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    if not multiprocess_values:
        # prometheus_client chose in-memory values when it was imported (before the variable was set);
        # no metric exists yet, so choosing again now is what importing it afterwards would have done.
        values.ValueClass = values.get_value_class()
    return path


def worker_exited(pid: int) -> None:
    """A worker process ended (gunicorn ``child_exit``): drop its live-gauge files; its counters stay counted."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)


_MADE = [0]
"""CallMetrics made in this process (multiprocess mode can only be chosen before the first)."""


class CallMetrics:
    """The IVR's metrics on their own registry (one per app), or on the shared files in multiprocess mode."""

    def __init__(self) -> None:
        _MADE[0] += 1
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls_started = Counter("ivr_calls_started", "Calls that reached a flow.", ["flow"], registry=r)
        self.calls_ended = Counter("ivr_calls_ended", "Calls by how self-service ended: contained (the flow ended "
                                   "it, no transfer), transferred (any transfer, callback and voicemail "
                                   "included), abandoned (the caller hung up first).", ["flow", "outcome"],
                                   registry=r)
        self.transfers = Counter("ivr_transfers", "Transfers to people, by reason and mode (agent, callback, "
                                 "voicemail).", ["flow", "reason", "mode"], registry=r)
        self.abandoned = Counter("ivr_abandoned", "Callers who hung up before the flow ended, by the node they "
                                 "were at.", ["flow", "node"], registry=r)
        self.recognitions = Counter("ivr_recognitions", "Caller answers at menus and asks, by input (dtmf, "
                                    "speech, none) and outcome (match, no_match, no_input, agent, unsure).",
                                    ["flow", "input", "outcome"], registry=r)
        self.webhook_seconds = Histogram("ivr_webhook_duration_seconds", "Time to answer a Twilio webhook, by "
                                         "route and method.", ["endpoint", "method"], buckets=WEBHOOK_BUCKETS,
                                         registry=r)
        self.reply_seconds = Histogram("ivr_speech_reply_seconds", "Streamed calls: from the end of the caller's "
                                       "speech to the first audio of the answer (recognition included).",
                                       buckets=REPLY_BUCKETS, registry=r)

    def observe(self, flow: str, events: Iterable[Any], transferred: bool = False) -> None:
        """Count one saved turn's RecordEvents.

        Args:
            flow: the call's flow id.
            events: the turn's ``RecordEvent``s (kind, node, data), as the store saved them.
            transferred: the call has been transferred (this turn or before): its end is no second outcome
                (a post-call survey ends a transferred call later; it stays transferred).
        """
        for ev in events:
            kind, data = ev.kind, ev.data or {}
            if kind == "call_started":
                self.calls_started.labels(flow).inc()
            elif kind == "transfer":
                self.transfers.labels(flow, str(data.get("reason") or "unknown"),
                                      str(data.get("mode") or "agent")).inc()
                self.calls_ended.labels(flow, "transferred").inc()
            elif kind == "call_ended" and not transferred:
                if data.get("abandoned"):
                    self.calls_ended.labels(flow, "abandoned").inc()
                    self.abandoned.labels(flow, ev.node or "").inc()
                else:
                    self.calls_ended.labels(flow, "contained").inc()
            elif kind == "input":
                source = data.get("input")
                self.recognitions.labels(flow, source if source in INPUTS else "none",
                                         RECOGNITION_OUTCOMES.get(str(data.get("outcome")), "other")).inc()

    def observe_webhook(self, endpoint: str, method: str, seconds: float) -> None:
        """One answered webhook: ``endpoint`` is its route (``/voice/gather``), never the URL with its query."""
        self.webhook_seconds.labels(endpoint, method).observe(seconds)

    def observe_reply(self, seconds: float) -> None:
        """One answer on a streamed call, ``seconds`` after the caller stopped speaking."""
        self.reply_seconds.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text and its content type: this app's registry, or every worker's files summed."""
        if multiprocess_dir() is not None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
