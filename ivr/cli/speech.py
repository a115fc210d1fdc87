"""Speech commands: ``recognize``, ``models download`` and ``models adapt``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import click
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TransferSpeedColumn

from ..config import Config
from ..engine import listen_at
from ..engine.matching import match_menu, spoken_digits, wants_agent, yes_no
from ..engine.survey import speech_answer
from ..errors import FlowError, IvrError
from ..flow import Flow, load_flow
from ..speech.asr import get_recognizer
from ..speech.asr.adapt import adapt as run_adapt
from ..speech.audiofile import load_phone_audio
from ..speech.grammar import Grammar, digits_grammar
from ..speech.models import ADAPTED_NAME, default_models_dir, download_model, download_whisper_model, whisper_repo
from ..speech.vad import EndpointDetector, SpeechEnded, VadConfig


def grammar_for_node(flow: Flow, node_id: str, question: Optional[str] = None) -> tuple[Optional[Grammar], str]:
    """The recogniser grammar a live call uses at a node (a survey's ``question``), and the listen mode.

    Built through the engine's own Listen action, so `recognize` hears
    exactly what a call at that node would.
    """
    try:
        listen = listen_at(flow, node_id, question=question)
    except ValueError as exc:
        raise click.UsageError(f"{exc}; recognition needs a menu, ask or survey node") from None
    if listen.mode == "digits":
        base = digits_grammar(flow.language)
        return Grammar(base.phrases + tuple(listen.phrases), flow.language, digits=True), listen.mode
    if listen.mode == "speech":
        return None, listen.mode
    return Grammar(listen.phrases, flow.language), listen.mode


def decide(flow: Flow, node_id: str, text: str, question: Optional[str] = None) -> Any:
    """What the engine would do with ``text`` at the node: option goto, "agent", a value, or None.

    At a survey: the answer to ``question`` (default the first): a score, true/false, "agent" or None.
    """
    node = flow.nodes[node_id]
    if not text:
        return None
    if node.survey is not None:
        qs = node.survey.questions
        q = next((x for x in qs if x.id == question), qs[0])
        outcome, value = speech_answer(q, text, flow.language, flow.settings.agent_words)
        return "agent" if outcome == "agent" else value
    if node.menu is not None:
        m = match_menu(node.menu, text, flow.language, flow.settings.agent_words)
        return "agent" if m.kind == "agent" else (node.menu.options[m.index].goto if m.kind == "option" else None)
    if wants_agent(text, flow.language, flow.settings.agent_words):
        return "agent"
    ask = node.ask
    if ask.input == "digits":
        return spoken_digits(text) or None
    if ask.input == "yesno":
        return yes_no(text, flow.language)
    return text


def utterance(pcm: bytes) -> bytes:
    """The first spoken utterance of a recording, as the live VAD would cut it (else all of it)."""
    vad = EndpointDetector(VadConfig(warmup_ms=0))
    events = vad.feed(pcm) + vad.flush()
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    return ended[0].audio if ended else pcm


@click.command()
@click.option("--flow", "flow_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Flow file.")
@click.option("--node", "node_id", required=True, help="Menu, ask or survey node whose grammar to use.")
@click.option("--question", default=None, help="At a survey node: the question id (default: the first question).")
@click.option("--backend", type=click.Choice(["pocketsphinx", "vosk", "whisper"]), default=None,
              help="Recogniser (default IVR_ASR_BACKEND, else vosk if a model is set, else pocketsphinx).")
@click.argument("wavs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def recognize(flow_file: str, node_id: str, question: Optional[str], backend: Optional[str],
              wavs: tuple[str, ...]) -> None:
    """Recognise audio files at a node; one JSON object per file."""
    try:
        flow = load_flow(flow_file).flow
    except FlowError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if node_id not in flow.nodes:
        raise click.UsageError(f"no node '{node_id}' in {flow_file}; nodes: {', '.join(flow.nodes)}")
    if question is not None and flow.nodes[node_id].survey is None:
        raise click.UsageError(f"--question is for survey nodes; '{node_id}' is a {flow.nodes[node_id].kind} node")
    grammar, _mode = grammar_for_node(flow, node_id, question)
    try:
        config = Config.from_env()
        recognizer = get_recognizer(backend or config.asr_backend, config.vosk_model, config.whisper_model)
    except IvrError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    failed = False
    for wav in wavs:
        try:
            pcm = load_phone_audio(wav)
        except IvrError as exc:
            click.echo(json.dumps({"file": wav, "error": str(exc)}))
            failed = True
            continue
        t0 = time.perf_counter()
        session = recognizer.start(grammar)
        for i in range(0, len(pcm := utterance(pcm)), 320):  # 20 ms chunks, as a call delivers them
            session.accept(pcm[i:i + 320])
        hyp = session.finish()
        ms = (time.perf_counter() - t0) * 1000
        click.echo(json.dumps({"file": wav, "text": hyp.text, "confidence": round(hyp.confidence, 3),
                               "match": decide(flow, node_id, hyp.text, question), "backend": hyp.backend,
                               "ms": round(ms, 1)}, ensure_ascii=False))
    sys.exit(1 if failed else 0)

@click.group()
def models() -> None:
    """Speech models for real deployments."""

@models.command("download")
@click.argument("name")
@click.option("--dest", default=None, help="Directory to unpack into (default IVR_MODELS_DIR, else models/).")
@click.option("--base-url", default=None, envvar="IVR_VOSK_MODELS_URL",
              help="Where models are published (default: alphacephei.com/vosk/models).")
def download(name: str, dest: Optional[str], base_url: Optional[str]) -> None:
    """Fetch a named model, check it and install it atomically.

    NAME is a vosk model (e.g. vosk-model-small-en-us-0.15) or a Whisper model for the
    whisper backend: tiny.en, base.en, small.en, ... or a Hugging Face repository of a
    CTranslate2 conversion (Systran/faster-whisper-small.en); HF_ENDPOINT names the hub.
    """
    if whisper_repo(name) is not None:
        try:
            path = download_whisper_model(name, dest or default_models_dir())
        except IvrError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        click.echo(f"model ready: {path}\nuse it with: export IVR_ASR_BACKEND=whisper "
                   f"IVR_WHISPER_MODEL={Path(path).resolve()}")
        return

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), transient=True) as bar:
        task = bar.add_task(f"downloading {name}", total=None)

        def progress(got: int, total: Optional[int]) -> None:
            bar.update(task, completed=got, total=total or None)

        try:
            path = download_model(name, dest or default_models_dir(), progress=progress, base_url=base_url)
        except IvrError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    click.echo(f"model ready: {path}\nuse it with: export IVR_VOSK_MODEL={Path(path).resolve()}")

@models.command("adapt")
@click.option("--dest", default=None, help="Models directory (default IVR_MODELS_DIR, else models/).")
@click.option("--data", "data_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Your own line's recordings: name.wav with the words said in name.txt.")
@click.option("--no-synthetic", is_flag=True, help="With --data: adapt on the recordings only.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.option("--json", "as_json", is_flag=True, help="Print what was built as JSON.")
def adapt_cmd(dest: Optional[str], data_dir: Optional[str], no_synthetic: bool, force: bool,
              as_json: bool) -> None:
    """Adapt pocketsphinx's 16 kHz English model to 8 kHz phone lines (needs Debian's sphinxtrain).

    Synthesises speech through the caller audio path (or reads --data recordings) and
    moves the model's means towards it with MAP. The recogniser then uses
    <models>/en-us-telephone by itself. Does nothing when it is already up to date.
    """
    if no_synthetic and not data_dir:
        raise click.UsageError("--no-synthetic needs --data DIR with recordings to adapt on")
    out = Path(dest or default_models_dir()) / ADAPTED_NAME
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  transient=True, disable=as_json or not sys.stderr.isatty(),
                  console=None) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            kwargs: dict[str, Any] = {"recordings": data_dir, "force": force, "progress": progress}
            if no_synthetic:
                kwargs.update(voices=(), snrs=())
            info = run_adapt(out, **kwargs)
        except IvrError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
    if as_json:
        click.echo(json.dumps({"model": str(out), **info}))
    elif info["rebuilt"]:
        click.echo(f"adapted model ready: {out} ({info['utterances']} utterances, {info['seconds']} s); "
                   "the pocketsphinx recogniser uses it from now on")
    else:
        click.echo(f"adapted model up to date: {out}")


@models.command("cohort")
def cohort_cmd() -> None:
    """Build the voice-authentication cohort under the models directory (make models runs it)."""
    from ..auth.cohort import main as build_cohort  # the speaker encoder loads only for this command

    try:
        build_cohort()
    except IvrError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)

