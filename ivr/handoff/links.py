"""Signed links to the agent page (``/agent/calls/<id>?exp=<unix>&sig=<hex>``) and the report pages
(``/reports/<flow>?exp=<unix>&sig=<hex>``).

An agent clicking a link in a CRM or a TaskRouter task cannot send a bearer
header, so the link itself carries a short-lived HMAC over the call id and
expiry, keyed with the deployment's API token (or secret key). A report link
is the same over the flow id, in its own domain (``report-page:``), so an
agent link can never open a report or the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import quote

DEFAULT_TTL_S = 8 * 3600
REPORT_TTL_S = 7 * 24 * 3600
"""A report link is shared with a team for a week by default (it shows no caller, only totals)."""
MAX_REPORT_TTL_S = 90 * 24 * 3600


def _mac(secret: str, call_id: str, exp: int, domain: str = "agent-page") -> str:
    return hmac.new(secret.encode(), f"{domain}:{call_id}:{exp}".encode(), hashlib.sha256).hexdigest()


def agent_path(call_id: str, secret: Optional[str], now: float, ttl: int = DEFAULT_TTL_S) -> str:
    """Path of the agent page, signed when a secret is configured."""
    path = f"/agent/calls/{quote(call_id, safe='')}"
    if not secret:
        return path
    exp = int(now) + ttl
    return f"{path}?exp={exp}&sig={_mac(secret, call_id, exp)}"


def link_valid(secret: Optional[str], call_id: str, exp: Optional[str], sig: Optional[str], now: float,
               domain: str = "agent-page") -> bool:
    """Whether a link's signature matches and has not expired."""
    if not secret or not exp or not sig:
        return False
    try:
        e = int(exp)
    except ValueError:
        return False
    return e >= now and hmac.compare_digest(_mac(secret, call_id, e, domain), sig)


def report_path(flow_id: str, secret: str, now: float, ttl: int = REPORT_TTL_S) -> tuple[str, int]:
    """Path of a flow's report page signed for ``ttl`` seconds, and its expiry (unix seconds)."""
    exp = int(now) + ttl
    return f"/reports/{quote(flow_id, safe='')}?exp={exp}&sig={_mac(secret, flow_id, exp, 'report-page')}", exp


def report_link_valid(secret: Optional[str], flow_id: str, exp: Optional[str], sig: Optional[str],
                      now: float) -> bool:
    """Whether a report link for ``flow_id`` is genuine and unexpired."""
    return link_valid(secret, flow_id, exp, sig, now, domain="report-page")
