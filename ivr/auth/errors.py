"""Errors of voice authentication."""

from __future__ import annotations

from ..errors import ConfigError, IvrError

__all__ = ["AuthError", "AuthConfigError", "NotEnrolled", "NoStableKey", "TooLittleSpeech"]


class AuthError(IvrError):
    """Raised when voice authentication cannot work as configured (missing weights, unreadable files)."""


class AuthConfigError(AuthError, ConfigError):
    """Raised at start-up when an optional piece of an engine is missing; the message has the install command."""


class NotEnrolled(AuthError):
    """Raised by ``VoiceAuthenticator.verify`` when the subject has no usable voiceprint.

    That covers never enrolled, deleted, and expired after inactivity. The
    caller maps it to the ``not_enrolled`` outcome of an ``authenticate``
    node; it is an exception, not a verdict, so a missing voiceprint can
    never be mistaken for a low score.
    """

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"no voiceprint for {subject!r} (never enrolled, deleted or expired)")


class NoStableKey(AuthConfigError):
    """Raised by ``enroll`` when ``IVR_SECRET_KEY`` is unset: a voiceprint sealed with a per-process key
    could never be read after a restart, so nothing is stored."""


class TooLittleSpeech(AuthError):
    """Raised by ``enroll`` when the audio holds less net speech than a voiceprint needs: ask for more."""

    def __init__(self, subject: str, net_speech_s: float, needed_s: float) -> None:
        self.net_speech_s, self.needed_s = net_speech_s, needed_s
        super().__init__(f"{net_speech_s:.1f} s of net speech is not enough to enrol {subject!r}; "
                         f"at least {needed_s:g} s is needed")
