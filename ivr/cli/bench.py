"""``python -m ivr bench ...``: benchmarks that print JSON (targets live here, not in timed tests)."""

from __future__ import annotations

import json

import click

from ..bench import stream, webhook


@click.group()
def bench() -> None:
    """Benchmarks (print JSON)."""


@bench.command("webhook")
@click.option("--calls", default=2000, show_default=True, help="Complete calls to place.")
@click.option("--concurrency", default=16, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Server worker processes.")
def bench_webhook(calls: int, concurrency: int, workers: int) -> None:
    """Keypad calls under load against a running server vs a bare Flask route."""
    click.echo(json.dumps(webhook.run(calls=calls, concurrency=concurrency, workers=workers), indent=2))




@bench.command("speech")
@click.option("--quick", is_flag=True, help="Fewer voices and calls (a smoke run).")
@click.option("--levels", default="10,20,40,60,80", show_default=True,
              help="Concurrent streamed calls to ramp through.")
@click.option("--workers", default=1, show_default=True, help="Server worker processes.")
@click.option("--whisper/--no-whisper", default=True, show_default=True,
              help="Also measure Whisper tiny.en and pocketsphinx+whisper on the held-out set.")
def bench_speech(quick: bool, levels: str, workers: int, whisper: bool) -> None:
    """Menu accuracy (all backends), reply latency and gap over the websocket, real-time factor, capacity."""
    steps = tuple(int(x) for x in levels.split(",") if x.strip())
    click.echo(json.dumps(stream.run(quick=quick, levels=steps, workers=workers, whisper=whisper), indent=2))
