"""``python -m ivr callbacks`` and ``python -m ivr voicemails``: the queue's follow-ups, for staff."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

import click

from ..config import Config
from ..errors import IvrError
from ..handoff import Handoff
from ..services import build_services


@contextmanager
def _handoff() -> Iterator[Any]:
    """The handoff service of the configured deployment, closed (with its services) afterwards."""
    h = Handoff(build_services(Config.from_env()))
    try:
        yield h
    finally:
        h.close()
        h.services.close()


def _when(at: Optional[float]) -> str:
    if not at:
        return "-"
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Every callback, not only the due ones.")
@click.option("--queue", default=None, help="Only this queue.")
@click.option("--json", "as_json", is_flag=True, help="JSON array.")
@click.pass_context
def callbacks(ctx: click.Context, show_all: bool, queue: Optional[str], as_json: bool) -> None:
    """List due callback requests (python -m ivr callbacks [dial])."""
    if ctx.invoked_subcommand is not None:
        return
    with _handoff() as h:
        items = h.records.list("callback", queue=queue) if show_all else \
            h.records.due_callbacks(h.clock(), queue=queue)
    for item in items:
        item.pop("context", None)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no callbacks due" if not show_all else "no callbacks")
        return
    for c in items:
        click.echo(f"{c['id']}  {c['status']:<10} {c['queue']:<12} {c['number']:<16} {c['window']:<10} "
                   f"due {_when(c['due_at'])}  (call {c['call_id']})")

@callbacks.command("dial")
@click.option("--limit", default=10, show_default=True)
@click.option("--dry-run", is_flag=True, help="Show what would be dialed.")
def dial(limit: int, dry_run: bool) -> None:
    """Dial due callbacks through Twilio's REST API."""
    with _handoff() as h:
        if dry_run:
            for c in h.records.due_callbacks(h.clock(), limit=limit):
                click.echo(f"would dial {c['number']} for callback {c['id']} ({c['queue']})")
            return
        try:
            results = h.dialer().dial_due(limit=limit)
        except IvrError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(json.dumps(results, indent=2))
    sys.exit(1 if any(r["status"] == "error" for r in results) else 0)

@click.group(invoke_without_command=True)
@click.option("--status", default="new", show_default=True, help="Statuses, comma-separated.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def voicemails(ctx: click.Context, status: str, as_json: bool) -> None:
    """List voicemails (python -m ivr voicemails [transcribe])."""
    if ctx.invoked_subcommand is not None:
        return
    with _handoff() as h:
        items = h.records.list("voicemail", status=status)
    for item in items:
        item.pop("context", None)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for v in items:
        click.echo(f"{v['id']}  {v['status']:<9} {v['queue']:<12} {v['caller']:<16} "
                   f"{(v.get('transcript') or '(' + v['transcript_status'] + ')')[:60]}")
    if not items:
        click.echo("no voicemails")

@voicemails.command("transcribe")
@click.option("--limit", default=20, show_default=True)
def transcribe(limit: int) -> None:
    """Transcribe voicemails whose transcript is pending or failed (offline recogniser)."""
    failed = 0
    with _handoff() as h:
        for v in h.transcriber.pending(limit):
            hyp = h.transcriber.transcribe(v["id"])
            failed += hyp is None
            click.echo(json.dumps({"id": v["id"], "text": hyp.text if hyp else None,
                                   "confidence": hyp.confidence if hyp else None,
                                   "backend": hyp.backend if hyp else None}))
    sys.exit(1 if failed else 0)
