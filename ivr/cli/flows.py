"""``validate``, ``lint`` and ``schema``: precise feedback on flow files, for designers and CI."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Optional

import click

from ..config import Config
from ..errors import ConfigError, FlowError, Problem
from ..flow.lint import lint as lint_flow
from ..flow.loader import load_flow
from ..flow.schema import flow_schema
from ..flow.validate import cross_check
from ..prompts.durations import duration_lookup
from ..services import make_hooks
from .common import echo_err, expand


def _hook_names() -> Optional[list[str]]:
    try:
        return make_hooks(Config.from_env()).names()
    except ConfigError as exc:
        echo_err(f"warning: hooks not checked: {exc}")
        return None


def _load_all(paths: Iterable[str]) -> tuple[list[Any], list[Problem]]:
    hooks = _hook_names()
    loaded, problems = [], []
    seen: dict[str, str] = {}
    files = expand(paths)
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


@click.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check flow files; errors as file:line:col: message."""
    loaded, problems = _load_all(paths)
    for p in problems:
        click.echo(p.format())
    for lf in loaded:
        echo_err(f"{lf.file}: ok")
    sys.exit(1 if problems else 0)


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Findings as a JSON array.")
def lint(paths: tuple[str, ...], as_json: bool) -> None:
    """Check flows against IVR design rules (errors exit 1)."""
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
        echo_err(f"{len(loaded)} flow(s): {errors} error(s), {len(problems) - errors} warning(s)")
    sys.exit(1 if any(p.severity == "error" for p in problems) else 0)


def _prompt_durations() -> Any:
    """Rendered prompt durations (for the prompt-length rules), from the configured audio directory."""
    return duration_lookup(Config.from_env())


@click.command()
def schema() -> None:
    """Print the JSON Schema of a flow file."""
    click.echo(json.dumps(flow_schema(), indent=2))
