"""Voice authentication: engines behind one protocol, voiceprints with consent, audit and expiry."""

from .base import DECISIONS, Consent, Decision, Enrollment, Verdict, VoiceAuthenticator
from .cohort import Cohort, build_cohort, load_cohort
from .embedded import REJECT_THRESHOLD, VERIFY_THRESHOLD, EmbeddedVoiceAuthenticator
from .encoder import INSTALL_WEIGHTS, SpeakerEncoder, find_weights
from .errors import AuthConfigError, AuthError, NoStableKey, NotEnrolled, TooLittleSpeech
from .factory import make_authenticator
from .remote import HttpVoiceAuthenticator, sign_body
from .replay import fingerprint, replay_distance
from .voiceprints import AuditRow, VoiceprintStore

__all__ = ["DECISIONS", "Consent", "Decision", "Enrollment", "Verdict", "VoiceAuthenticator", "Cohort",
           "build_cohort", "load_cohort", "REJECT_THRESHOLD", "VERIFY_THRESHOLD", "EmbeddedVoiceAuthenticator",
           "INSTALL_WEIGHTS", "SpeakerEncoder", "find_weights", "AuthConfigError", "AuthError", "NoStableKey",
           "NotEnrolled", "TooLittleSpeech", "make_authenticator", "HttpVoiceAuthenticator", "sign_body", "fingerprint",
           "replay_distance", "AuditRow", "VoiceprintStore"]
