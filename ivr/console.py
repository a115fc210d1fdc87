"""``python -m ivr call FLOW``: talk to a flow in the terminal.

Type keys (``1``, ``1234#``) to press them, words to say them, an empty
line for silence, ``/hangup`` (or end of input) to hang up.  Uses the same
call driver as real calls, in-process.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from .sim.handles import LocalCall, SimClock, SimulationError


def run_console(services: Any, clock: SimClock, flow_id: str, caller: str) -> bool:
    """Run one interactive call; False if the flow could not be started."""
    console = Console(highlight=False, stderr=False)
    try:
        call = LocalCall(services.driver, flow_id, caller, clock=clock)
    except SimulationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return False
    call.start()
    shown = 0

    def show() -> None:
        nonlocal shown
        for text in call.heard[shown:]:
            console.print(f"[bold cyan]IVR:[/bold cyan] {text}")
        shown = len(call.heard)

    show()
    console.print("[dim](keys like 1 or 1234#, words to speak, empty line = silence, /hangup to hang up)[/dim]")
    while not call.ended:
        console.print(f"[dim]{call.node}>[/dim] ", end="")
        line = sys.stdin.readline()
        if not line or line.strip() == "/hangup":
            call.hangup()
            console.print("[yellow]You hung up.[/yellow]")
            break
        entry = line.strip()
        if not entry:
            call.silence(0)
        elif all(c in "0123456789*#" for c in entry):
            call.press(entry)
        else:
            call.say(entry)
        show()
    if call.transfer:
        ctx = call.context() or {}
        console.print(f"[green]Transferred to queue '{call.transfer}'[/green] (reason: {ctx.get('reason')}, "
                      f"path: {' > '.join(ctx.get('path', []))})")
    elif call.ended:
        console.print("[green]Call ended.[/green]")
    return True
