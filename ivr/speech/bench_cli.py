"""``python -m ivr bench speech`` (registered by :func:`register`)."""

from __future__ import annotations

import json

import click


def register(main: click.Group) -> None:
    """Add ``bench speech`` to the ``bench`` group of the command line."""
    bench = main.commands.get("bench")
    if not isinstance(bench, click.Group):
        @main.group("bench")
        def bench() -> None:
            """Benchmarks (print JSON)."""

    @bench.command("speech")
    @click.option("--quick", is_flag=True, help="Fewer voices and calls (a smoke run).")
    @click.option("--levels", default="10,20,40,60,80", show_default=True,
                  help="Concurrent streamed calls to ramp through.")
    @click.option("--workers", default=1, show_default=True, help="Server worker processes.")
    @click.option("--whisper/--no-whisper", default=True, show_default=True,
                  help="Also measure Whisper tiny.en and pocketsphinx+whisper on the held-out set.")
    def bench_speech(quick: bool, levels: str, workers: int, whisper: bool) -> None:
        """Menu accuracy (all backends), reply latency and gap over the websocket, real-time factor, capacity."""
        from ivr.speech.bench_stream import run
        steps = tuple(int(x) for x in levels.split(",") if x.strip())
        click.echo(json.dumps(run(quick=quick, levels=steps, workers=workers, whisper=whisper), indent=2))
