"""Command line: ``python -m ivr ...`` (see DESIGN.md "Command line").

Exit codes: 0 success, 1 a finding or failure, 2 bad usage.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Optional

import click

from .config import Config
from .errors import ConfigError, FlowError, IvrError, Problem


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _expand(paths: Iterable[str], patterns: tuple[str, ...] = ("*.yaml", "*.yml")) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted({f for pat in patterns for f in p.glob(pat)})
            out += found
        else:
            out.append(p)
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name=None, version=__import__("ivr").__version__, prog_name="ivr")
def main(verbose: bool) -> None:
    """A declarative, offline, testable voice IVR."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


# -- serve --------------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--streams", default=None, type=click.IntRange(min=0),
              help="Concurrent streamed (speech) calls to hold, all workers together  [default: 80].")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Threads per worker  [default: streams per worker + 32; each open stream holds one].")
def serve(host: str, port: int, workers: int, streams: Optional[int], threads: Optional[int]) -> None:
    """Run the IVR server (gunicorn, threaded; websockets included)."""
    from .server import CPU_STREAMS_PER_WORKER, DEFAULT_STREAMS, MIN_WEBHOOK_THREADS, spare_threads, threads_for

    config = Config.from_env()
    try:
        config.check_for_server()
        from .web import create_app
        app = create_app(config)
        speech = _speech_summary(config)   # an unknown IVR_ASR_BACKEND stops here, with the valid names
    except IvrError as exc:
        _echo_err(f"error: {exc}")
        sys.exit(1)
    from .server import run_server
    if not (config.secret_key or config.auth_token) and workers > 1:
        _echo_err("warning: with several workers set IVR_SECRET_KEY (or TWILIO_AUTH_TOKEN): sensitive values "
                  "held between turns are encrypted with it, and each worker would otherwise pick its own key")
    streams = DEFAULT_STREAMS if streams is None else streams
    threads = threads or threads_for(streams, workers)
    if spare_threads(threads, streams, workers) < MIN_WEBHOOK_THREADS:
        _echo_err(f"warning: --threads {threads} leaves {max(0, spare_threads(threads, streams, workers))} "
                  f"threads per worker for webhooks once {streams} streamed calls are open: each stream holds "
                  f"a thread, so webhooks and new streams would wait; use --threads "
                  f"{threads_for(streams, workers)} or lower --streams")
    click.echo(f"IVR serving flows {', '.join(app.extensions['ivr'].flows.ids) or '(none)'} "
               f"on http://{host}:{port}/ (POST /voice)", err=True)
    click.echo(speech, err=True)
    click.echo(f"capacity: {workers} worker(s) x {threads} threads, for {streams} streamed calls "
               f"(CPU keeps replies under 1 s up to about {CPU_STREAMS_PER_WORKER * workers}; see README, Sizing)",
               err=True)
    _wait_speech_ready(app)
    run_server(app, host, port, workers=workers, threads=threads, streams=streams)


SPEECH_READY_WAIT_S = 120.0


def _wait_speech_ready(app: Any) -> None:
    """Warm the recogniser before serving, and say so; workers fork from the warmed process.

    A call that arrives before warm-up ends would still be answered (decoders
    are built on demand), only slower; waiting here keeps the first caller of
    a deploy from paying for it.
    """
    rt = app.extensions.get("ivr.media")
    if rt is None or app.extensions.get("ivr.start_call") is None:
        return
    t0 = time.perf_counter()
    if rt.wait_ready(SPEECH_READY_WAIT_S):
        state = rt.readiness()
        click.echo(f"speech ready: {state['grammars_warm']} grammars warm in {time.perf_counter() - t0:.1f} s"
                   + (f" (warm-up error: {state['error']})" if state["error"] else ""), err=True)
    else:
        click.echo(f"warning: speech warm-up not done after {SPEECH_READY_WAIT_S:.0f} s; serving anyway "
                   "(early calls build recognisers on demand)", err=True)


def _speech_summary(config: Config) -> str:
    """Which recogniser speech calls will use, and how to improve it when it is the stock model."""
    from .speech.asr import choose_backend

    backend, model = choose_backend(config.asr_backend, config.vosk_model, config.whisper_model)
    if backend == "whisper":
        return f"speech: whisper, model {model}"
    if backend == "vosk":
        return f"speech: vosk, model {model}"
    if model is not None:
        return f"speech: pocketsphinx, phone-line model {model}"
    return ("speech: pocketsphinx, stock 16 kHz model (callers are heard far better after "
            "`python -m ivr models adapt`)")


# -- validate / lint / schema -------------------------------------------------

def _hook_names() -> Optional[list[str]]:
    from .services import make_hooks
    try:
        return make_hooks(Config.from_env()).names()
    except ConfigError as exc:
        _echo_err(f"warning: hooks not checked: {exc}")
        return None


def _load_all(paths: Iterable[str]) -> tuple[list[Any], list[Problem]]:
    from .flow.loader import load_flow
    from .flow.validate import cross_check

    hooks = _hook_names()
    loaded, problems = [], []
    seen: dict[str, str] = {}
    files = _expand(paths)
    if not files:
        problems.append(Problem("-", 1, 1, "no flow files given"))
    for f in files:
        try:
            lf = load_flow(f)
        except FlowError as exc:
            problems += exc.problems
            continue
        extra = [p for p in cross_check(lf, known_hooks=hooks) if "unknown hook" in p.message] if hooks is not None else []
        if extra:
            problems += extra
            continue
        if lf.flow.flow in seen:
            problems.append(Problem(str(f), *lf.pos("flow"), f"flow id '{lf.flow.flow}' is already used by "
                                    f"{seen[lf.flow.flow]}; flow ids must be unique"))
            continue
        seen[lf.flow.flow] = str(f)
        loaded.append(lf)
    return loaded, problems


@main.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check flow files; errors as file:line:col: message."""
    loaded, problems = _load_all(paths)
    for p in problems:
        click.echo(p.format())
    for lf in loaded:
        _echo_err(f"{lf.file}: ok")
    sys.exit(1 if problems else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Findings as a JSON array.")
def lint(paths: tuple[str, ...], as_json: bool) -> None:
    """Check flows against IVR design rules (errors exit 1)."""
    from .flow.lint import lint as lint_flow

    loaded, problems = _load_all(paths)
    durations = _prompt_durations()
    for lf in loaded:
        problems += lint_flow(lf, durations)
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        for p in problems:
            click.echo(p.format() + (f" [{p.code}]" if p.code else ""))
        errors = sum(p.severity == "error" for p in problems)
        _echo_err(f"{len(loaded)} flow(s): {errors} error(s), {len(problems) - errors} warning(s)")
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)


def _prompt_durations():
    """Rendered prompt durations, when the prompt layer and audio are available."""
    try:
        from .prompts.durations import duration_lookup  # provided by the prompt-audio layer
    except ImportError:
        return None
    return duration_lookup(Config.from_env())


@main.command()
def schema() -> None:
    """Print the JSON Schema of a flow file."""
    from .flow.schema import flow_schema
    click.echo(json.dumps(flow_schema(), indent=2))


# -- simulate / call ----------------------------------------------------------

def _local_services(flows_dir: str, tmp: str):
    from .services import build_services
    from .sim.handles import SimClock

    config = Config.from_env(flows_dir=flows_dir, instance_dir=tmp, database_url=None, redis_url=None,
                             flow_check_interval=3600.0, secret_key=os.urandom(16).hex())
    clock = SimClock()
    return build_services(config, clock=clock), clock


@main.command()
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
    from .sim import LocalCall, RemoteCall, load_script, run_script
    from .sim.runner import ScriptResult

    files = _expand(scripts)
    results: list[ScriptResult] = []
    flows_dir = flows_dir or os.environ.get("IVR_FLOWS_DIR") or "flows"
    with tempfile.TemporaryDirectory(prefix="ivr-sim-") as tmp:
        services = clock = None
        try:
            if server is None:
                services, clock = _local_services(flows_dir, tmp)
                for f, probs in services.flows.errors.items():
                    for p in probs:
                        _echo_err(f"warning: flow not loaded: {p.format()}")
        except IvrError as exc:
            _echo_err(f"error: {exc}")
            sys.exit(1)
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
                from .speech_hooks import audio_recognizer, prompt_seconds
                make = lambda s: LocalCall(services.driver, s.flow, s.caller, s.called, clock=clock,
                                           audio=audio_recognizer(services, f.parent),
                                           prompt_seconds=prompt_seconds(services))
            results.append(run_script(script, make))
        if services is not None:
            services.close()
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


@main.command()
@click.argument("flow")
@click.option("--flows", "flows_dir", default=None, help="Flows directory (default IVR_FLOWS_DIR or flows/).")
@click.option("--caller", default="+15550000000", show_default=True)
def call(flow: str, flows_dir: Optional[str], caller: str) -> None:
    """Talk to a flow in the terminal: type keys (e.g. 1 or 1234#) or words; empty line = silence."""
    from .console import run_console

    flows_dir = flows_dir or os.environ.get("IVR_FLOWS_DIR") or "flows"
    flow_id = flow
    if flow.endswith((".yaml", ".yml")) and Path(flow).is_file():
        flows_dir, flow_id = str(Path(flow).parent), _flow_id_of(Path(flow))
    with tempfile.TemporaryDirectory(prefix="ivr-call-") as tmp:
        try:
            services, clock = _local_services(flows_dir, tmp)
        except IvrError as exc:
            _echo_err(f"error: {exc}")
            sys.exit(1)
        try:
            ok = run_console(services, clock, flow_id, caller)
        finally:
            services.close()
    sys.exit(0 if ok else 1)


def _flow_id_of(path: Path) -> str:
    from .flow.loader import load_flow
    try:
        return load_flow(path).flow.flow
    except FlowError as exc:
        _echo_err(str(exc))
        sys.exit(1)


# -- bench ----------------------------------------------------------------------

@main.group()
def bench() -> None:
    """Benchmarks (print JSON)."""


@bench.command("webhook")
@click.option("--calls", default=2000, show_default=True, help="Complete calls to place.")
@click.option("--concurrency", default=16, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Server worker processes.")
def bench_webhook(calls: int, concurrency: int, workers: int) -> None:
    """Keypad calls under load against a running server vs a bare Flask route."""
    from .bench.webhook import run
    click.echo(json.dumps(run(calls=calls, concurrency=concurrency, workers=workers), indent=2))


def register_extensions() -> None:
    """Commands contributed by optional layers (speech, prompts, handoff)."""
    for mod in ("ivr.speech.cli", "ivr.speech.bench_cli", "ivr.prompts.cli", "ivr.handoff.cli"):
        try:
            module = __import__(mod, fromlist=["register"])
        except ImportError as exc:
            if exc.name and mod.startswith(exc.name):
                continue
            raise
        module.register(main)


register_extensions()
