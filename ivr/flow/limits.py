"""Size limits of a flow file, so a hostile or broken file is refused fast.

A flow is written by people and read on a live server.  Real flows are a few
kilobytes, a handful of levels deep and a few dozen nodes (the demo flows:
at most 4 KB, 7 levels, 18 nodes).  Every limit here sits far above that, and
each one bounds a cost that otherwise grows without end: reading the file,
the recursion of composing nested YAML (deep nesting used to end in a
``RecursionError``), validating and phrase-matching every option.

Each check refuses the file with ``file:line:col: message`` naming the limit
and what to do instead, like every other flow error.
"""

from __future__ import annotations

MAX_FILE_BYTES = 1024 * 1024
"""Largest flow file (1 MiB), checked with ``stat`` before a byte is read.

The demo flows are 1-4 KB; a 1 MiB file is 250 times the largest.  Reading,
parsing and validating 1 MiB takes about two seconds, off the request path."""

MAX_DEPTH = 32
"""Deepest nesting of YAML mappings and lists.

A flow needs at most about 10 levels (flow > nodes > node > menu > options >
option > say).  The limit is checked on each YAML event before it is
composed, so nothing recurses deeper than this whatever the file holds."""

MAX_ITEMS = 1000
"""Most entries in any one YAML mapping or list (nodes, options, phrases,
routing rules, numbers...), checked while composing."""

MAX_NODES = 500
"""Most nodes in one flow.  Larger designs belong in several flows, each
reached by its own number (``numbers:``) or entry point (``?entry=NAME``)."""

MAX_MENU_OPTIONS = 24
"""Most options in one menu: two keypads' worth, though good menus offer
five or fewer (``lint`` says so).  Phrase checks compare every option with
every other one, so this bounds their cost too."""

MAX_PHRASES = 20
"""Most ``say:`` phrases of one menu option (the demo flows use at most five)."""

MAX_TEXT_CHARS = 10_000
"""Longest single text (a prompt, a phrase, a key): about ten minutes of
speech, far beyond any prompt a caller would listen to."""


def human_size(n: int) -> str:
    """``1.0 MiB``-style sizes for messages (binary units)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
