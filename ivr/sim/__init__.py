"""The call simulator: scripted calls without a phone."""

from .handles import CallHandle, LocalCall, RemoteCall, SimClock, SimulationError
from .runner import ScriptResult, run_script
from .script import CallScript, load_script, parse_script

__all__ = ["CallHandle", "CallScript", "LocalCall", "RemoteCall", "ScriptResult", "SimClock", "SimulationError",
           "load_script", "parse_script", "run_script"]
