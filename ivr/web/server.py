"""Serving the app with gunicorn (threaded workers, so websockets work too).

Why the thread count follows the stream count: gunicorn's ``gthread`` worker
runs each request on a thread of a fixed pool, and a Media Streams websocket
is one request that lasts the whole call. A worker with ``T`` threads and
``S`` open streams has ``T - S`` threads left for webhooks, the API and pages;
at ``S >= T`` new streams and ``GET /api/health`` queue behind calls that last
minutes. So ``serve`` sizes the pool from the streamed calls it must hold.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

from gunicorn.app.base import BaseApplication

from ..analytics import metrics

DEFAULT_STREAMS = 80
"""Open streamed calls ``serve`` has threads for by default: what one worker's CPU answers
quickly (README, Sizing)."""
CPU_STREAMS_PER_WORKER = 80
"""Streamed calls one worker answers with reply p95 under 1 s: 57 ms at 80, 1.1 s at 100
(``ivr.bench.stream`` ramp on 2 cores, one decoding process, the callers in one asyncio loop)."""
WEBHOOK_THREADS = 32
"""Threads per worker kept free of streams, for webhooks, the API and pages."""
MIN_WEBHOOK_THREADS = 4
"""Below this many threads left beside the streams, ``serve`` warns."""


def threads_for(streams: int, workers: int = 1) -> int:
    """Threads per worker: one per streamed call the worker may hold, plus the webhook headroom.

    Each worker is sized for an even share, rounded up; streams reach workers
    through one accept queue, not evenly, and the webhook headroom absorbs the
    difference.
    """
    if streams < 0 or workers < 1:
        raise ValueError("streams must be >= 0 and workers >= 1")
    return math.ceil(streams / workers) + WEBHOOK_THREADS


def spare_threads(threads: int, streams: int, workers: int = 1) -> int:
    """Threads per worker left for webhooks once the worker holds its share of ``streams``."""
    return threads - math.ceil(streams / workers)


class _Gunicorn(BaseApplication):
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def prepare_metrics(workers: int, instance_dir: str) -> Optional[Path]:
    """Before the app is built: with several workers, share ``/metrics`` totals through files.

    Each gunicorn worker is its own process with its own counters; a scrape
    reaches one of them. prometheus_client's multiprocess mode has every worker
    write its counters to a directory and sums them on each scrape, so the
    totals are the server's whatever worker answers. The directory is
    ``PROMETHEUS_MULTIPROC_DIR`` if set, else ``<instance>/metrics``; it is
    cleared of the previous run's files here. One worker keeps plain in-memory
    counters (returns None), unless ``PROMETHEUS_MULTIPROC_DIR`` is set.
    """
    chosen = metrics.multiprocess_dir()
    if workers <= 1 and chosen is None:
        return None
    return metrics.prepare_multiprocess(chosen or Path(instance_dir) / "metrics")


def _child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit``: a dead worker's live gauges leave the totals (its counters stay)."""
    metrics.worker_exited(worker.pid)


def run_server(app: Any, host: str, port: int, workers: int = 1, threads: int | None = None,
               streams: int = DEFAULT_STREAMS) -> None:
    """Serve ``app`` until interrupted; ``threads`` defaults to :func:`threads_for` ``(streams, workers)``.

    With several workers, call :func:`prepare_metrics` before building ``app``.
    """
    threads = threads or threads_for(streams, workers)
    from .app_state import parts
    media = parts(app).media
    if media is not None:
        media.before_fork()
    _Gunicorn(app, {"post_fork": lambda server, worker: media.after_fork() if media is not None else None,
                    "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                    "threads": threads, "worker_connections": max(1000, 2 * threads),
                    "timeout": 120, "graceful_timeout": 5, "accesslog": None,
                    "loglevel": "warning", "child_exit": _child_exit}).run()
