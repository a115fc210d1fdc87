"""Static checks on menu phrases shared by lint (how callers' words may collide)."""

from __future__ import annotations

from typing import Iterator

from .model import Menu
from .phrases import contains_phrase, normalize


def phrase_collisions(menu: Menu) -> Iterator[tuple[int, int, str, str]]:
    """``(i, j, a, b)`` where option j's phrase ``b`` contains option i's phrase ``a``."""
    for i, oi in enumerate(menu.options):
        for j, oj in enumerate(menu.options):
            if i == j:
                continue
            for a in oi.say:
                for b in oj.say:
                    na, nb = normalize(a), normalize(b)
                    if na and nb and na != nb and contains_phrase(nb, na):
                        yield i, j, a, b
