"""Hooks used by the demo flows in ``flows/``: a pretend bank back office.

They stand in for a core-banking lookup so the demo line works with nothing
installed; a deployment registers its own hooks under the same names.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .registry import HookCall, HookRegistry, HookReply

DEMO_PINS = {"+15551230000": "4321", "+15551230001": "1234"}
"""Telephone-banking PINs of the demo callers (by caller ID), for the voice step-up."""

DEMO_ACCOUNTS = {
    "12345678": {"balance": "1,204.50", "holder": "Ada"},
    "87654321": {"balance": "42.00", "holder": "Grace"},
}


def account_balance(call: HookCall) -> HookReply:
    """Balance of a demo account: outcome ``ok`` with ``balance``, or ``not_found``."""
    account = str(call.args.get("account", ""))
    found = DEMO_ACCOUNTS.get(account)
    if not found:
        return HookReply("not_found")
    return HookReply("ok", {"balance": found["balance"], "holder": found["holder"]})


def branch_hours(call: HookCall) -> HookReply:
    """Whether the demo branches are open now (Mon-Fri 9-17, Sat 9-12, Europe/London)."""
    zone = ZoneInfo(str(call.args.get("timezone", "Europe/London")))
    now = datetime.fromtimestamp(call.at, zone) if call.at else datetime.now(zone)
    open_now = (now.weekday() < 5 and 9 <= now.hour < 17) or (now.weekday() == 5 and 9 <= now.hour < 12)
    return HookReply("open" if open_now else "closed")


def check_pin(call: HookCall) -> HookReply:
    """The step-up when the voice was not enough: outcome ``ok`` (and ``auth.method`` pin) or ``wrong``.

    The PIN arrives in ``args.pin`` from a sensitive ask; it is never echoed back.
    """
    expected = DEMO_PINS.get(call.caller)
    if expected is not None and str(call.args.get("pin", "")) == expected:
        return HookReply("ok", {"auth": {"method": "pin", "status": "verified"}})
    return HookReply("wrong", {"auth": {"method": "pin", "status": "rejected"}})


def register(registry: HookRegistry) -> None:
    """Register the demo hooks."""
    registry.register("bank.check_pin", check_pin)
    registry.register("bank.account_balance", account_balance)
    registry.register("bank.branch_hours", branch_hours)
