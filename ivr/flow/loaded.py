"""A validated flow together with its YAML source, so later checks can point at lines.

Its own module because the loader builds it and the validator, lint and the
registry read it: none of them needs the others to name the type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import model as m
from .yaml_source import locate, locate_key


@dataclass(frozen=True)
class LoadedFlow:
    """A validated flow with the source it came from (for positions in later checks)."""

    flow: m.Flow
    file: str
    source: Any = field(repr=False, compare=False)

    def pos(self, *loc: Any) -> tuple[int, int]:
        """Line and column of a path into the source, e.g. ``pos("nodes", "main")``."""
        return locate(self.source, tuple(loc))

    def key_pos(self, *loc: Any) -> tuple[int, int]:
        """Line and column of the key that ends ``loc`` (e.g. a node's id)."""
        return locate_key(self.source, tuple(loc))
