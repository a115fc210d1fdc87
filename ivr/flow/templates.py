"""Slot values in prompt text: ``"Your balance is {balance} dollars."``.

Templates use ``{name}`` fields (no attribute access, no Python format
specs), so designers cannot reach into Python objects from YAML. A field may
say how its value is spoken in rendered audio, ``{balance:money}``,
``{when:date:year}`` (see :mod:`ivr.prompts.sayas`); the text keeps the value
as it is.
"""

from __future__ import annotations

import re
from typing import Mapping

FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)(?::[a-z]+(?::[A-Za-z0-9.]+)?)?\}")


def fields(text: str) -> list[str]:
    """Names used by a template."""
    return FIELD.findall(text or "")


def render(text: str, values: Mapping[str, object], missing: str = "") -> str:
    """Fill ``{name}`` fields; unknown names become ``missing`` (never a crash mid-call)."""
    def sub(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return missing if value is None else str(value)

    return FIELD.sub(sub, text)
