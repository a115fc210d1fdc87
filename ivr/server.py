"""Serving the app with gunicorn (threaded workers, so websockets work too)."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


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


def run_server(app: Any, host: str, port: int, workers: int = 1, threads: int = 32) -> None:
    """Serve ``app`` until interrupted."""
    _Gunicorn(app, {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                    "threads": threads, "timeout": 120, "graceful_timeout": 5, "accesslog": None,
                    "loglevel": "warning"}).run()
