"""What every command shares: error output and expanding file arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import click


def echo_err(msg: str) -> None:
    """A message for the operator on stderr (stdout stays for results, often JSON)."""
    click.echo(msg, err=True)


def expand(paths: Iterable[str], patterns: tuple[str, ...] = ("*.yaml", "*.yml")) -> list[Path]:
    """Files as given, and the YAML files of any directory given (sorted, so runs repeat)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted({f for pat in patterns for f in p.glob(pat)})
        else:
            out.append(p)
    return out
