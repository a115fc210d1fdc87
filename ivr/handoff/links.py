"""Signed links to the agent page: ``/agent/calls/<id>?exp=<unix>&sig=<hex>``.

An agent clicking a link in a CRM or a TaskRouter task cannot send a bearer
header, so the link itself carries a short-lived HMAC over the call id and
expiry, keyed with the deployment's API token (or secret key).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import quote

DEFAULT_TTL_S = 8 * 3600


def _mac(secret: str, call_id: str, exp: int) -> str:
    return hmac.new(secret.encode(), f"agent-page:{call_id}:{exp}".encode(), hashlib.sha256).hexdigest()


def agent_path(call_id: str, secret: Optional[str], now: float, ttl: int = DEFAULT_TTL_S) -> str:
    """Path of the agent page, signed when a secret is configured."""
    path = f"/agent/calls/{quote(call_id, safe='')}"
    if not secret:
        return path
    exp = int(now) + ttl
    return f"{path}?exp={exp}&sig={_mac(secret, call_id, exp)}"


def link_valid(secret: Optional[str], call_id: str, exp: Optional[str], sig: Optional[str], now: float) -> bool:
    """Whether a link's signature matches and has not expired."""
    if not secret or not exp or not sig:
        return False
    try:
        e = int(exp)
    except ValueError:
        return False
    return e >= now and hmac.compare_digest(_mac(secret, call_id, e), sig)
