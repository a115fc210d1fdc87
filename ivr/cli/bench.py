"""``python -m ivr bench ...``: benchmarks that print JSON (targets live here, not in timed tests)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..bench import auth as auth_bench
from ..bench import speakers, stream, webhook


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


@bench.command("auth")
@click.option("--speakers", "speakers_dir", required=True, type=click.Path(file_okay=False),
              help="DIR/<speaker>/<n>.wav; files sorted by name.")
@click.option("--enroll", default=3, show_default=True, type=click.IntRange(1), help="Files per speaker that enrol it.")
@click.option("--generate", type=click.Choice(["held-out", "tuning"]),
              help="First synthesise that speaker set into DIR (cached; held-out is what the README reports).")
@click.option("--norm", default="mean", show_default=True, type=click.Choice(["mean", "as-norm", "none"]),
              help="Score normalisation against the cohort.")
@click.option("--line", default="mulaw", show_default=True, type=click.Choice(list(auth_bench.LINES)),
              help="What verification audio goes through beyond the files' own line: a GSM codec or 3 % packet loss.")
def bench_auth(speakers_dir: str, enroll: int, generate: str | None, norm: str, line: str) -> None:
    """Voice authentication: EER, FAR/FRR, net speech, speed, decision latency, replay flags (embedded engine)."""
    if generate:
        speakers.generate(speakers_dir, speakers.voice_set(generate), enroll_files=enroll)
    elif not Path(speakers_dir).is_dir():
        raise click.UsageError(f"{speakers_dir} is not a directory (add --generate held-out to create it)")
    try:
        result = auth_bench.run(speakers_dir, enroll=enroll, norm=norm, voices=auth_bench.voices_of(generate),
                                line=line)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(json.dumps(result, indent=2))


@bench.command("report")
@click.option("--calls", default=5000, show_default=True, type=click.IntRange(1), help="Calls to store first.")
@click.option("--database", "database_url", default=None,
              help="SQLAlchemy URL of an empty database to fill (default: a temporary SQLite file).")
def bench_report(calls: int, database_url: str | None) -> None:
    """Reports over many stored calls: seconds for report, daily and survey_distribution (JSON)."""
    from ..bench import report as report_bench
    click.echo(json.dumps(report_bench.run(calls=calls, database_url=database_url), indent=2))
