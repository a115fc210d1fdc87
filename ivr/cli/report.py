"""``report``: containment, transfers, the per-node funnel and survey scores from the stored calls.

Rich tables for people, ``--json`` (DESIGN.md's array, one object per flow)
for programs, ``--csv`` (one row per flow, flat columns) for spreadsheets.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table

from ..analytics import ISO_HINT, Analytics, to_epoch
from ..config import Config
from .common import echo_err

CSV_COLUMNS = ("flow", "calls", "contained", "transferred", "abandoned", "in_progress", "containment", "fcr_24h",
               "fcr_7d", "median_seconds", "mean_turns", "survey_responses", "csat", "ces", "nps")
"""The fixed CSV columns; ``transfer_reason:<reason>`` and ``abandoned_at:<node>`` columns follow, one per value
seen in any flow."""


def _time(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[float]:
    try:
        return to_epoch(value, f"--{param.name}")
    except ValueError:
        raise click.BadParameter(f"{value!r} is not {ISO_HINT}") from None


@click.command()
@click.option("--flow", "flow_id", default=None, help="Only this flow (default: every flow with calls).")
@click.option("--flow-version", default=None, help="Only calls that ran this version of the flow (see `versions`).")
@click.option("--since", callback=_time, default=None, help="Calls started at or after this ISO 8601 time (UTC).")
@click.option("--until", callback=_time, default=None, help="Calls started before this ISO 8601 time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per flow.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per flow.")
def report(flow_id: Optional[str], flow_version: Optional[str], since: Optional[float], until: Optional[float],
           as_json: bool, as_csv: bool) -> None:
    """What callers did: contained, transferred, abandoned, where they struggled, how they rated it.

    Reads the call records at IVR_DATABASE_URL (default: the SQLite file under instance/).
    """
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    if since is not None and until is not None and until <= since:
        raise click.UsageError("--until must be after --since")
    config = Config.from_env()
    analytics = Analytics.from_url(config.db_url)
    try:
        rows = analytics.report(flow_id, since, until, flow_version=flow_version)
    except Exception as exc:  # the database is unreachable, or not an IVR database
        echo_err(f"error: cannot read the call records at IVR_DATABASE_URL: {exc.__class__.__name__}: "
                 f"{str(exc).splitlines()[0] if str(exc) else ''}; check the URL and that the database is up")
        sys.exit(1)
    finally:
        analytics.close()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif as_csv:
        click.echo(to_csv(rows), nl=False)
    else:
        print_tables(rows, Console(highlight=False, width=None if sys.stdout.isatty() else 120))


def to_csv(rows: list[dict[str, Any]]) -> str:
    """One row per flow: the fixed columns, then a count column per transfer reason and abandonment node."""
    reasons = sorted({r for row in rows for r in row["transfer_reasons"]})
    nodes = sorted({n for row in rows for n in row["abandoned_by_node"]})
    header = list(CSV_COLUMNS) + [f"transfer_reason:{r}" for r in reasons] + [f"abandoned_at:{n}" for n in nodes]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        survey = row["survey"]
        flat = {**row, "survey_responses": survey["responses"], "csat": survey["csat"], "ces": survey["ces"],
                "nps": survey["nps"]}
        writer.writerow([_cell(flat[c]) for c in CSV_COLUMNS]
                        + [row["transfer_reasons"].get(r, 0) for r in reasons]
                        + [row["abandoned_by_node"].get(n, 0) for n in nodes])
    return out.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _num(value: Any, unit: str = "") -> str:
    return "–" if value is None else f"{value:g}{unit}"


def print_tables(rows: list[dict[str, Any]], console: Console) -> None:
    """A summary table of the flows, then per flow its funnel, transfer reasons and survey scores."""
    if not rows:
        console.print("No calls recorded in this window (IVR_DATABASE_URL, --since/--until, --flow).")
        return
    summary = Table(title="Calls by flow", title_justify="left")
    for name in ("flow", "calls", "contained", "transferred", "abandoned", "ongoing", "containment",
                 "FCR 24 h", "FCR 7 d", "median", "turns"):
        summary.add_column(name, justify="left" if name == "flow" else "right")
    for r in rows:
        summary.add_row(r["flow"], str(r["calls"]), str(r["contained"]), str(r["transferred"]), str(r["abandoned"]),
                        str(r["in_progress"]), _pct(r["containment"]), _pct(r["fcr_24h"]), _pct(r["fcr_7d"]),
                        _num(r["median_seconds"], " s"), _num(r["mean_turns"]))
    console.print(summary)
    for r in rows:
        console.print()
        funnel = Table(title=f"{r['flow']}: where callers went", title_justify="left")
        for name in ("node", "entered", "completed", "abandoned", "escalated", "no input", "no match"):
            funnel.add_column(name, justify="left" if name == "node" else "right")
        for node, n in r["nodes"].items():
            funnel.add_row(node, str(n["entered"]), str(n["completed"]), str(n["abandoned"]), str(n["escalated"]),
                           str(n["no_input"]), str(n["no_match"]))
        console.print(funnel)
        if r["transfer_reasons"]:
            reasons = Table(title=f"{r['flow']}: why callers transferred", title_justify="left")
            reasons.add_column("reason")
            reasons.add_column("calls", justify="right")
            reasons.add_column("share", justify="right")
            for reason, n in sorted(r["transfer_reasons"].items(), key=lambda kv: -kv[1]):
                reasons.add_row(reason, str(n), _pct(n / r["transferred"] if r["transferred"] else None))
            console.print(reasons)
            modes = ", ".join(f"{m} {n}" for m, n in r["transfer_modes"].items())
            console.print(f"Transfer modes: {modes}")
        s = r["survey"]
        if s["responses"]:
            console.print(f"Survey: {s['responses']} responses, CSAT {_pct(s['csat'])}, CES {_num(s['ces'])}, "
                          f"NPS {_num(s['nps'])}")
        else:
            console.print("Survey: no responses")
        if len(r["versions"]) > 1:
            console.print("Versions: " + ", ".join(f"{v} ({n} calls)" for v, n in r["versions"].items()))
