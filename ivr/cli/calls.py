"""``simulate`` and ``call``: scripted calls and a console call, with no phone."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import click

from ..config import Config
from ..console import run_console
from ..errors import FlowError, IvrError
from ..flow.loader import load_flow
from ..prompts.durations import play_seconds
from ..services import Services, build_services
from ..sim import LocalCall, RemoteCall, ScriptResult, SimClock, load_script, make_audio_recognizer, run_script
from .common import echo_err, expand


def _local_services(flows_dir: str, tmp: str) -> tuple[Services, SimClock]:
    config = Config.from_env(flows_dir=flows_dir, instance_dir=tmp, database_url=None, redis_url=None,
                             flow_check_interval=3600.0, secret_key=os.urandom(16).hex())
    clock = SimClock()
    return build_services(config, clock=clock), clock


@click.command()
@click.argument("scripts", nargs=-1, required=True)
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per script (a line each).")
@click.option("--server", default=None, help="Run against a running server at this URL (signed webhooks).")
@click.option("--auth-token", envvar="TWILIO_AUTH_TOKEN", default=None, help="Token to sign webhooks with.")
@click.option("--api-token", envvar="IVR_API_TOKEN", default=None, help="Bearer token for the server's API.")
@click.option("--speed", default=0.0, show_default=True, type=float,
              help="With --server, pace of speech calls' media streams: 0 as fast as possible, 1 real time.")
def simulate(scripts: tuple[str, ...], flows_dir: Optional[str], as_json: bool, server: Optional[str],
             auth_token: Optional[str], api_token: Optional[str], speed: float) -> None:
    """Run call scripts; exit 1 if any fails."""
    results = run_scripts(expand(scripts), flows_dir, server, auth_token, api_token, speed)
    for r in results:
        if as_json:
            click.echo(json.dumps(r.as_dict(), ensure_ascii=False))
        else:
            mark = "PASS" if r.passed else "FAIL"
            click.echo(f"{mark} {r.script} ({r.flow}, {len(r.prompts)} prompts, {r.prompt_seconds:.1f} s of prompts)")
            for failure in r.failures:
                click.echo(f"  {failure}")
    if not as_json:
        passed = sum(r.passed for r in results)
        click.echo(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if results and all(r.passed for r in results) else 1)


def run_scripts(files: list[Path], flows_dir: Optional[str], server: Optional[str] = None,
                auth_token: Optional[str] = None, api_token: Optional[str] = None,
                speed: float = 0.0) -> list[ScriptResult]:
    """Run call scripts in-process (fresh services on a temporary instance) or against ``server``.

    Why one function: ``simulate`` and ``coverage`` must run a script the same
    way, so a script covers in ``coverage`` exactly what it does in ``simulate``.
    A script that cannot be loaded is a failed result; services that cannot be
    built end the command (exit 1).
    """
    results: list[ScriptResult] = []
    flows_dir = flows_dir or Config.from_env().flows_dir
    with tempfile.TemporaryDirectory(prefix="ivr-sim-") as tmp:
        services = clock = None
        try:
            if server is None:
                services, clock = _local_services(flows_dir, tmp)
                for f, probs in services.flows.errors.items():
                    for p in probs:
                        echo_err(f"warning: flow not loaded: {p.format()}")
        except IvrError as exc:
            echo_err(f"error: {exc}")
            sys.exit(1)
        try:
            for f in files:
                try:
                    script = load_script(f)
                except FlowError as exc:
                    results.append(ScriptResult(str(f), "", False, [p.format() for p in exc.problems]))
                    continue
                if server is not None:
                    make = lambda s: RemoteCall(server, s.flow, s.caller, s.called, auth_token, api_token,
                                                speed=speed, base_dir=str(f.parent))
                else:
                    make = lambda s: LocalCall(services.driver, s.flow, s.caller, s.called, clock=clock,
                                               audio=make_audio_recognizer(services, f.parent),
                                               prompt_seconds=play_seconds(services.config), services=services)
                results.append(run_script(script, make))
        finally:
            if services is not None:
                services.close()
    return results


@click.command()
@click.argument("flow")
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--caller", default="+15550000000", show_default=True)
def call(flow: str, flows_dir: Optional[str], caller: str) -> None:
    """Talk to a flow in the terminal: type keys (e.g. 1 or 1234#) or words; empty line = silence."""
    flows_dir = flows_dir or Config.from_env().flows_dir
    flow_id = flow
    if flow.endswith((".yaml", ".yml")) and Path(flow).is_file():
        flows_dir, flow_id = str(Path(flow).parent), _flow_id_of(Path(flow))
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as tmp:
        try:
            services, clock = _local_services(flows_dir, tmp)
        except IvrError as exc:
            echo_err(f"error: {exc}")
            sys.exit(1)
        try:
            ok = run_console(services, clock, flow_id, caller)
        finally:
            services.close()
    sys.exit(0 if ok else 1)


def _flow_id_of(path: Path) -> str:
    try:
        return load_flow(path).flow.flow
    except FlowError as exc:
        echo_err(str(exc))
        sys.exit(1)
