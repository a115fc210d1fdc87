"""Which of a turn's prompts the caller may interrupt: one rule for keypad TwiML and media streams.

A turn is prompts followed by one turn-ending action. When it ends in a
listen that allows barge-in, the trailing run of interruptible prompts is
played *while listening* (inside the ``<Gather>``, or before the stream's
turn mark with the VAD on); the prompts before them are played first, and
nothing the caller does cuts them short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..engine import actions as A


@dataclass(frozen=True)
class SplitTurn:
    """A turn's prompts split at the barge-in point.

    Attributes:
        before: prompts played before listening (all of them when the turn does not listen).
        during: prompts the caller may interrupt, played while listening.
        end: the turn-ending action (a Listen, Transfer or Hangup), if any.
    """

    before: list[A.Play]
    during: list[A.Play]
    end: Optional[A.Action]

    @property
    def listen(self) -> Optional[A.Listen]:
        """The turn's listen, when it ends in one."""
        return self.end if isinstance(self.end, A.Listen) else None


def split_turn(actions: Sequence[A.Action]) -> SplitTurn:
    """Split ``actions`` into the prompts before listening, those during it, and the turn's end."""
    plays = [a for a in actions if isinstance(a, A.Play)]
    end = next((a for a in reversed(actions) if isinstance(a, A.TURN_ENDING)), None)
    if not isinstance(end, A.Listen):
        return SplitTurn(plays, [], end)
    split = len(plays)
    while split > 0 and plays[split - 1].barge_in and end.barge_in:
        split -= 1
    return SplitTurn(plays[:split], plays[split:], end)
