"""The pure IVR engine: events in, actions out, plus the policy a handoff follows.

Routing rules (:mod:`.routing`), opening hours (:mod:`.hours`) and the agent
summary (:mod:`.summary`) are decisions, not IO, so they live here beside the
step function and are tested the same way.
"""

from .actions import TURN_ENDING, Action, Hangup, Listen, Play, RecordEvent, RunHook, Transfer
from .context import build_context, history_entry
from .engine import context_of, listen_at, listens, reprompt, step
from .events import (AgentLegEnded, AuthResult, CallerHungUp, CallStarted, DigitsReceived, Event, HookCompleted,
                     HookFailed, NoInput, SpeechRecognized)
from .hours import is_open, local_time, next_opening, spoken_opening
from .routing import Route, route
from .state import MASK, CallState
from .summary import reason_text, summary

__all__ = ["TURN_ENDING", "Action", "AgentLegEnded", "AuthResult", "CallState", "CallStarted", "CallerHungUp", "DigitsReceived",
           "Event", "Hangup", "HookCompleted", "HookFailed", "Listen", "MASK", "NoInput", "Play", "RecordEvent",
           "Route", "RunHook", "SpeechRecognized", "Transfer", "build_context", "context_of", "history_entry",
           "is_open", "listen_at", "listens", "local_time", "next_opening", "reason_text", "reprompt", "route",
           "spoken_opening", "step", "summary"]
