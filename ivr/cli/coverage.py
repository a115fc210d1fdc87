"""``coverage``: the nodes and edges of each flow that call scripts exercise, and what they miss."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table

from ..analytics.coverage import escalation_of, flow_coverage, percent, save
from ..config import Config
from ..errors import FlowError
from ..flow.loader import flow_files, load_flow
from ..flow.model import Flow
from ..sim import ScriptResult
from .calls import run_scripts
from .common import echo_err, expand


@click.command()
@click.argument("scripts", nargs=-1, required=True)
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array on stdout, one object per flow.")
@click.option("--min", "minimum", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when any flow's node or edge coverage is below PCT percent.")
@click.option("--save", "save_dir", default=None, metavar="DIR",
              help="Write <DIR>/<flow>.json for the report page (default <IVR_INSTANCE_DIR>/coverage).")
@click.option("--no-save", is_flag=True, help="Write no coverage files.")
@click.option("--server", default=None, help="Run against a running server at this URL (signed webhooks).")
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", default=None, help="Token to sign webhooks with.")
@click.option("--api-token", envvar="IVR_API_TOKEN", default=None, help="Bearer token for the server's API.")
@click.option("--speed", default=0.0, show_default=True, type=float,
              help="With --server, pace of speech calls' media streams: 0 as fast as possible, 1 real time.")
def coverage(scripts: tuple[str, ...], flows_dir: Optional[str], as_json: bool, minimum: Optional[float],
             save_dir: Optional[str], no_save: bool, server: Optional[str], auth_token: Optional[str],
             api_token: Optional[str], speed: float) -> None:
    """Run call scripts (as simulate does) and report per flow the nodes and edges they covered.

    Exit 1 when a script fails (coverage is still reported) or, with --min, when
    a flow's node or edge coverage is below PCT.
    """
    files = expand(scripts)
    if not files:
        raise click.UsageError(f"no call scripts (*.yaml) in {', '.join(scripts)}")
    config = Config.from_env()
    flows_dir = flows_dir or config.flows_dir
    if not Path(flows_dir).is_dir():
        raise click.UsageError(f"flows directory {flows_dir} does not exist (pass --flows DIR)")
    results = run_scripts(files, flows_dir, server, auth_token, api_token, speed)
    flows = _flows(flows_dir)
    report, unknown = _coverage(results, flows)
    failed = [r for r in results if not r.passed]
    for r in failed:
        echo_err(f"FAIL {r.script}" + "".join(f"\n  {f}" for f in r.failures))
    for flow_id, names in unknown.items():
        echo_err(f"error: flow '{flow_id}' is not in {flows_dir} (scripts {', '.join(names)}): its coverage "
                 "cannot be counted; pass --flows with the directory the flow is in")
    if not no_save:
        directory = Path(save_dir) if save_dir else Path(config.instance_dir) / "coverage"
        stamp = time.time()
        for item in report:
            save({**item, "saved_at": stamp}, directory)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        _print(report, results)
    below = _below(report, minimum) if minimum is not None else []
    for line in below:
        echo_err(line)
    if failed:
        echo_err(f"{len(failed)} of {len(results)} scripts failed")
    sys.exit(1 if failed or below or unknown else 0)


def _flows(flows_dir: str) -> dict[str, Flow]:
    """The flows of the directory that load (simulate already warned about the others)."""
    out: dict[str, Flow] = {}
    for path in flow_files(flows_dir):
        try:
            flow = load_flow(path).flow
        except FlowError:
            continue
        out.setdefault(flow.flow, flow)
    return out


def _coverage(results: list[ScriptResult], flows: dict[str, Flow]) -> tuple[list[dict[str, Any]],
                                                                             dict[str, list[str]]]:
    """Per flow (in the order scripts first named them): coverage by every call that got a context packet."""
    by_flow: dict[str, list[ScriptResult]] = {}
    for r in results:
        if r.flow:
            by_flow.setdefault(r.flow, []).append(r)
    report, unknown = [], {}
    for flow_id, runs in by_flow.items():
        flow = flows.get(flow_id)
        if flow is None:
            unknown[flow_id] = [r.script for r in runs]
            continue
        contexts = [r.context for r in runs if r.context]
        escalations = [e for e in map(escalation_of, contexts) if e is not None]
        item = flow_coverage(flow, [c.get("path") or [] for c in contexts], escalations)
        item["scripts"] = [r.script for r in runs]
        report.append(item)
    return report, unknown


def _below(report: list[dict[str, Any]], minimum: float) -> list[str]:
    out = []
    for item in report:
        for part in ("nodes", "edges"):
            tally = item[part]
            if percent(tally) < minimum:
                out.append(f"coverage below {minimum:g}%: flow '{item['flow']}' {part} {percent(tally):.1f}% "
                           f"({tally['covered']}/{tally['total']})")
    return out


def _print(report: list[dict[str, Any]], results: list[ScriptResult]) -> None:
    console = Console(soft_wrap=False, width=max(Console().width, 120))
    table = Table(title="Flow coverage by call scripts", show_lines=True)
    for name, style in (("Flow", "bold"), ("Calls", None), ("Nodes", None), ("Edges", None),
                        ("Agent exits", None), ("Missing nodes", "yellow"), ("Missing edges", "yellow")):
        table.add_column(name, style=style, justify="right" if name in ("Calls",) else "left")
    for item in report:
        n, e, a = item["nodes"], item["edges"], item["agent_exits"]
        table.add_row(item["flow"], str(item["calls"]), _frac(n), _frac(e), _frac(a),
                      ", ".join(n["missing"]) or "-",
                      ", ".join(f"{x} -> {y}" for x, y in e["missing"]) or "-")
    console.print(table)
    passed = sum(r.passed for r in results)
    console.print(f"{len(results)} scripts: {passed} passed, {len(results) - passed} failed")


def _frac(tally: dict[str, Any]) -> str:
    return f"{tally['covered']}/{tally['total']} ({percent(tally):.0f}%)"
