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
from typing import Any

from gunicorn.app.base import BaseApplication

DEFAULT_STREAMS = 80
"""Open streamed calls ``serve`` has threads for by default: twice what one worker's CPU
answers quickly, so a burst queues on the CPU, never on threads (README, Sizing)."""
CPU_STREAMS_PER_WORKER = 40
"""Streamed calls one worker answers with reply p95 under 1 s (``bench speech`` on 2 cores)."""
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


def run_server(app: Any, host: str, port: int, workers: int = 1, threads: int | None = None,
               streams: int = DEFAULT_STREAMS) -> None:
    """Serve ``app`` until interrupted; ``threads`` defaults to :func:`threads_for` ``(streams, workers)``."""
    threads = threads or threads_for(streams, workers)
    _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                    "threads": threads, "worker_connections": max(1000, 2 * threads),
                    "timeout": 120, "graceful_timeout": 5, "accesslog": None,
                    "loglevel": "warning"}).run()
