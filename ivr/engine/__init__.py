"""The pure IVR engine: events in, actions out."""

from .actions import TURN_ENDING, Action, Hangup, Listen, Play, RecordEvent, RunHook, Transfer
from .engine import context_of, step
from .events import (AuthResult, CallerHungUp, CallStarted, DigitsReceived, Event, HookCompleted, HookFailed,
                     NoInput, SpeechRecognized)
from .state import MASK, CallState

__all__ = ["TURN_ENDING", "Action", "AuthResult", "CallState", "CallStarted", "CallerHungUp", "DigitsReceived",
           "Event", "Hangup", "HookCompleted", "HookFailed", "Listen", "MASK", "NoInput", "Play", "RecordEvent",
           "RunHook", "SpeechRecognized", "Transfer", "context_of", "step"]
