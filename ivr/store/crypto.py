"""Encryption at rest for values of sensitive slots held between turns.

A keypad call spans several webhooks, so a card number entered in one turn
must survive until the hook that checks it runs.  It is kept only in the
call state's ``secrets`` field, which stores encrypt with Fernet (AES-128-CBC
+ HMAC) before writing; the engine empties it when the call ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Optional

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)


class SecretBox:
    """Encrypts and decrypts small JSON values.

    Args:
        key_material: any secret text (``IVR_SECRET_KEY``, else the Twilio auth
            token); None makes a random key valid for this process only.
    """

    def __init__(self, key_material: Optional[str]) -> None:
        if key_material:
            digest = hashlib.sha256(b"ivr-secrets:" + key_material.encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        else:
            log.info("no IVR_SECRET_KEY or TWILIO_AUTH_TOKEN: sensitive values use a per-process key")
            self._fernet = Fernet(Fernet.generate_key())

    def seal(self, value: dict) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, token: str) -> dict:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            log.warning("could not decrypt sensitive values of a call (key changed?); they are dropped")
            return {}
