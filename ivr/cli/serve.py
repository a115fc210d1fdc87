"""``python -m ivr serve``: the server under gunicorn, sized for its streamed calls, warm before it listens."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, Optional

import click

from ..config import Config
from ..errors import IvrError
from ..speech.asr import choose_backend
from ..web import create_app, parts
from ..web.server import (CPU_STREAMS_PER_WORKER, DEFAULT_STREAMS, MIN_WEBHOOK_THREADS, prepare_metrics,
                          run_server, spare_threads, threads_for)
from .common import echo_err


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option("--streams", default=None, type=click.IntRange(min=0),
              help="Concurrent streamed (speech) calls to hold, all workers together  [default: 80].")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Threads per worker  [default: streams per worker + 32; each open stream holds one].")
@click.option("--asr-processes", default=None, type=click.IntRange(min=0),
              help="Processes per worker that decode speech; 0 decodes in the worker itself  "
                   "[default: IVR_ASR_PROCESSES, else 1].")
def serve(host: str, port: int, workers: int, streams: Optional[int], threads: Optional[int],
          asr_processes: Optional[int]) -> None:
    """Run the IVR server (gunicorn, threaded; websockets included)."""
    config = Config.from_env()
    if asr_processes is None:
        asr_processes = 1 if config.asr_processes is None else config.asr_processes
    # One decoding process by default: pocketsphinx holds the GIL while it decodes, which would
    # stall every other streamed call's audio in the worker (ivr.speech.asr.process_pool).
    config = dataclasses.replace(config, asr_processes=asr_processes)
    try:
        config.check_for_server()
        prepare_metrics(workers, config.instance_dir)   # before any metric exists: workers share the totals
        app = create_app(config)
        speech = _speech_summary(config)   # an unknown IVR_ASR_BACKEND stops here, with the valid names
    except IvrError as exc:
        echo_err(f"error: {exc}")
        sys.exit(1)
    if not (config.secret_key or config.auth_token) and workers > 1:
        echo_err("warning: with several workers set IVR_SECRET_KEY (or TWILIO_AUTH_TOKEN): sensitive values "
                  "held between turns are encrypted with it, and each worker would otherwise pick its own key")
    streams = DEFAULT_STREAMS if streams is None else streams
    threads = threads or threads_for(streams, workers)
    if spare_threads(threads, streams, workers) < MIN_WEBHOOK_THREADS:
        echo_err(f"warning: --threads {threads} leaves {max(0, spare_threads(threads, streams, workers))} "
                  f"threads per worker for webhooks once {streams} streamed calls are open: each stream holds "
                  f"a thread, so webhooks and new streams would wait; use --threads "
                  f"{threads_for(streams, workers)} or lower --streams")
    click.echo(f"IVR serving flows {', '.join(parts(app).services.flows.ids) or '(none)'} "
               f"on http://{host}:{port}/ (POST /voice)", err=True)
    click.echo(speech, err=True)
    click.echo(_voice_auth_summary(app, config), err=True)
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
    web = parts(app)
    rt = web.media
    if rt is None or not web.speech_calls:
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
    backend, model = choose_backend(config.asr_backend, config.vosk_model, config.whisper_model)
    if backend == "whisper":
        return f"speech: whisper, model {model}"
    if backend == "vosk":
        return f"speech: vosk, model {model}"
    if model is not None:
        return f"speech: pocketsphinx, phone-line model {model}"
    return ("speech: pocketsphinx, stock 16 kHz model (callers are heard far better after "
            "`python -m ivr models adapt`)")


def _voice_auth_summary(app: Any, config: Config) -> str:
    """Whether callers are verified by voice, by which engine, and how to turn it on when it is off."""
    va = parts(app).services.driver.voice_auth
    if va is not None:
        return f"voice authentication: {getattr(va.authenticator, 'name', 'on')}"
    if config.voice_auth == "off":
        return "voice authentication: off (IVR_VOICE_AUTH=off)"
    return ("voice authentication: off (the embedded engine needs its weights: "
            "pip install --no-deps Resemblyzer==0.1.4)")
