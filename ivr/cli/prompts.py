"""``python -m ivr prompts ...``: render and list prompt audio.

The command group is added to the root command by :mod:`ivr.cli.main`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..config import Config
from ..errors import FlowError
from ..flow.loader import flow_files, load_flow
from ..prompts.builder import build
from ..prompts.cache import PromptCache
from ..prompts.catalog import all_specs, iter_entries
from ..prompts.resolve import RECORDED_PARTS


def _load_flows(flows_dir: str) -> tuple[list[Any], list[str]]:
    """Flows of a directory, and one message per file that does not load."""
    d = Path(flows_dir)
    if not d.is_dir():
        return [], [f"flows directory {d} does not exist; pass --flows DIR or set IVR_FLOWS_DIR"]
    flows, errors = [], []
    for f in flow_files(d):
        try:
            flows.append(load_flow(f).flow)
        except FlowError as exc:
            errors += [p.format() for p in exc.problems] or [f"{f}: does not load"]
    return flows, errors


def _dirs(flows_dir: str | None, audio_dir: str | None) -> tuple[str, str]:
    config = Config.from_env()
    return (flows_dir or config.flows_dir, audio_dir or config.audio_dir)


@click.group("prompts")
def prompts() -> None:
    """Prompt audio: render every prompt ahead of time, list what is there."""


@prompts.command("build")
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--audio-dir", default=None, help="Audio directory (default IVR_AUDIO_DIR or audio/).")
@click.option("--prune/--no-prune", default=False, show_default=True,
              help="Delete rendered audio no flow needs any more.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def build_cmd(flows_dir: str | None, audio_dir: str | None, prune: bool, progress: bool, as_json: bool) -> None:
    """Render every prompt of every flow into the audio directory (only what changed)."""
    flows_dir, audio_dir = _dirs(flows_dir, audio_dir)
    flows, errors = _load_flows(flows_dir)
    for e in errors:
        click.echo(f"error: {e}", err=True)
    try:
        specs = all_specs(flows)
    except ValueError as exc:  # a flow language that is no language tag
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if prune and errors:
        click.echo("warning: not pruning while a flow does not load (its audio would be lost)", err=True)
        prune = False
    report = build(specs, audio_dir, progress=progress and not as_json, prune=prune)
    for f in report.failures:
        click.echo(f"error: could not render {f.text or f.key!r}: {f.error}", err=True)
    if as_json:
        click.echo(json.dumps({"flows": [f.flow for f in flows], "prompts": len(specs),
                               "rendered": report.rendered, "reused": report.reused, "pruned": report.pruned,
                               "recorded": report.recorded, "failed": report.failed + len(errors),
                               "seconds": report.seconds, "audio_dir": str(audio_dir)}))
    else:
        click.echo(f"{len(flows)} flow(s), {len(specs)} prompts in {audio_dir}: {report.summary()}")
    sys.exit(0 if report.ok and not errors else 1)


@prompts.command("list")
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--audio-dir", default=None, help="Audio directory (default IVR_AUDIO_DIR or audio/).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per prompt (a line each).")
def list_cmd(flows_dir: str | None, audio_dir: str | None, as_json: bool) -> None:
    """List every prompt of every flow with its audio: recorded, tts, pieces or missing."""

    flows_dir, audio_dir = _dirs(flows_dir, audio_dir)
    flows, errors = _load_flows(flows_dir)
    for e in errors:
        click.echo(f"error: {e}", err=True)
    cache = PromptCache(audio_dir)
    missing = 0
    for e in iter_entries(flows):
        rec = cache.lookup_recorded(e.flow, e.node) if e.part in RECORDED_PARTS and not e.dynamic else None
        if rec is not None:
            source, secs, where = "recorded", rec.duration_s, rec.relpath
        elif e.dynamic:
            found = [cache.lookup(s) for s in e.specs()]
            ok = all(found)
            source = "pieces" if ok else "missing"
            secs = sum(a.duration_s for a in found if a) if ok else None
            where = ""
        else:
            a = next((cache.lookup(s) for s in e.specs()), None)
            source, secs, where = ("tts", a.duration_s, a.relpath) if a else ("missing", None, "")
        missing += source == "missing"
        if as_json:
            click.echo(json.dumps({"flow": e.flow, "node": e.node, "part": e.part, "text": e.text,
                                   "language": e.language, "source": source, "duration_s": secs,
                                   "path": where}, ensure_ascii=False))
        else:
            dur = f"{secs:5.1f}s" if secs is not None else "   -  "
            click.echo(f"{e.flow}/{e.node}:{e.part:9} {source:8} {dur}  {e.text[:70]}")
    if not as_json:
        click.echo(f"{missing} missing" + ("; run `python -m ivr prompts build`" if missing else ""), err=True)
    sys.exit(1 if errors else 0)


__all__ = ["prompts"]
