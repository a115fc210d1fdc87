"""Build the configured voice authenticator once at start-up (``IVR_VOICE_AUTH``)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy.engine import Engine

from ..config import Config
from ..store.sql import make_engine
from .base import VoiceAuthenticator
from .errors import AuthConfigError

__all__ = ["make_authenticator"]


def make_authenticator(config: Config, engine: Optional[Engine] = None) -> Optional[VoiceAuthenticator]:
    """The authenticator ``config.voice_auth`` names, or None when it is ``off``.

    ``embedded`` loads the encoder and the cohort now (building the cohort if
    ``make models`` has not), so a missing piece fails at start-up with the
    command that installs it, not inside a call.

    Args:
        config: the settings (``voice_auth``, ``voice_auth_url``, ``voice_auth_secret``,
            ``voice_auth_timeout``, ``voiceprint_ttl_days``, ``secret_key``, ``db_url``).
        engine: the SQL engine for voiceprints; default one on ``config.db_url``.

    Raises:
        AuthConfigError: weights not installed, or the HTTP engine without a URL or secret.
    """
    kind = config.voice_auth
    if kind == "off":
        return None
    if kind == "http":
        missing = [n for n, v in (("IVR_VOICE_AUTH_URL", config.voice_auth_url),
                                  ("IVR_VOICE_AUTH_SECRET", config.voice_auth_secret)) if not v]
        if missing:
            raise AuthConfigError(f"IVR_VOICE_AUTH=http needs {' and '.join(missing)}: the vendor adapter's base "
                                  "URL and the HMAC secret it checks X-IVR-Signature with")
        from .remote import HttpVoiceAuthenticator
        return HttpVoiceAuthenticator(config.voice_auth_url or "", config.voice_auth_secret or "",
                                      config.voice_auth_timeout)
    if kind == "embedded":
        from .embedded import EmbeddedVoiceAuthenticator
        from .encoder import SpeakerEncoder
        from .voiceprints import VoiceprintStore
        store = VoiceprintStore(engine or make_engine(config.db_url, config.store_timeout), config.secret_key,
                                ttl_days=config.voiceprint_ttl_days)
        return EmbeddedVoiceAuthenticator(store, SpeakerEncoder.shared())
    raise AuthConfigError(f"IVR_VOICE_AUTH={kind!r} is not an engine; use embedded, http or off")
