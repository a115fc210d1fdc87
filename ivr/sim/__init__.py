"""The call simulator: scripted calls without a phone, in-process or against a running server.

Also the Twilio side of the wire, as tests and benchmarks need it: the
Media Streams peer (:class:`MediaStreamClient`) and ``say_audio`` recognition
through the live call's own VAD and recogniser.
"""

from .handles import CallHandle, LocalCall, RemoteCall, SimClock, SimulationError
from .media_client import MediaStreamClient
from .runner import ScriptResult, run_script
from .say_audio import make_audio_recognizer
from .script import CallScript, load_script, parse_script

__all__ = ["CallHandle", "CallScript", "LocalCall", "MediaStreamClient", "RemoteCall", "ScriptResult", "SimClock",
           "SimulationError", "load_script", "make_audio_recognizer", "parse_script", "run_script"]
