"""Running calls: the driver every transport uses, and the voice authentication it carries out in turns."""

from .driver import CallDriver, Turn
from .voice_auth import VoiceAuth

__all__ = ["CallDriver", "Turn", "VoiceAuth"]
