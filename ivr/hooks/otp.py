"""One-time codes by SMS, the step-up when a voice is not enough: hooks ``otp.send`` and ``otp.check``.

A flow sends a code to the caller's phone (Twilio's REST Messages API), asks
for it in a ``sensitive`` ask, and checks it; ``otp.check`` answers
``verified`` or ``rejected`` with ``data.auth = {method: otp, status: ...}``,
so ``auth.method`` and ``auth.status`` work in branches, routing rules, the
context packet and the agent page exactly as a PIN does::

  send_code:
    action: {hook: otp.send, outcomes: {sent: code, failed: pin}}
  code:
    ask: {slot: code, prompt: Please enter the six digit code we just sent you., input: digits,
          min_length: 6, max_length: 6, sensitive: true}
    next: check_code
  check_code:
    action: {hook: otp.check, args: {code: "{code}"}, outcomes: {verified: menu, rejected: security}}

Why stateless: the code is an HMAC of the call, the number it went to and the
time step under ``IVR_SECRET_KEY``, so any worker can check what another one
sent, nothing is stored, and a code is worthless for another call or number.
A code is good for the step it was sent in and the next (``ttl`` seconds each:
5 to 10 minutes). How many tries a caller gets is the flow's (its retries and
branches); the code itself is never logged, stored or returned.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from typing import Any, Callable, Optional

from ..errors import ConfigError
from .registry import HookCall, HookRegistry, HookReply

log = logging.getLogger(__name__)

TTL_S = 300
"""Seconds of one time step; a code is accepted in its step and the next."""
DIGITS = 6
MESSAGE = "Your verification code is {code}. It expires in 10 minutes. We will never ask you to read it out."
"""The SMS (``args.message`` overrides it; it must contain ``{code}``)."""


class OneTimeCodes:
    """Sends and checks one-time codes.

    Args:
        secret: HMAC key (``IVR_SECRET_KEY``); None: a random key of this process, so codes only
            verify in the process that sent them (logged once; set the key with several workers).
        client: returns a ``twilio.rest.Client`` (raises with the fix when Twilio is not configured).
        sender: ``IVR_SMS_FROM``: the Twilio number (E.164) or Messaging Service SID (``MG...``) to send from.
    """

    def __init__(self, secret: Optional[str], client: Callable[[], Any], sender: Optional[str],
                 ttl: int = TTL_S) -> None:
        self._unkeyed = not secret
        self._key = (secret or os.urandom(32).hex()).encode()
        self._client = client
        self.sender = sender
        self.ttl = ttl

    def code(self, call_id: str, number: str, step: int) -> str:
        mac = hmac.new(self._key, f"otp|{call_id}|{number}|{step}".encode(), hashlib.sha256).digest()
        return f"{int.from_bytes(mac[:8], 'big') % 10 ** DIGITS:0{DIGITS}d}"

    def send(self, call: HookCall) -> HookReply:
        """``sent``, or ``failed`` (no number to send to, Twilio not configured or refusing) with ``error``."""
        number = str(call.args.get("to") or call.caller or "")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
            return HookReply("failed", {"error": "no mobile number to send the code to"})
        if not self.sender:
            log.error("otp.send: IVR_SMS_FROM is not set (a Twilio number or Messaging Service SID)")
            return HookReply("failed", {"error": "sending codes is not configured"})
        if self._unkeyed:
            self._unkeyed = False
            log.warning("one-time codes use a random key of this process: set IVR_SECRET_KEY so that every "
                        "worker can check a code another one sent")
        template = str(call.args.get("message") or MESSAGE)
        if "{code}" not in template:
            template += " {code}"
        body = template.replace("{code}", self.code(call.call_id, number, int(call.at // self.ttl)))
        sender = {"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender}
        try:
            self._client().messages.create(to=number, body=body, **sender)
        except Exception as exc:  # TwilioRestException, ConfigError, network: the flow's other way
            log.warning("otp.send for call %s failed: %s", call.call_id, getattr(exc, "msg", None) or exc)
            return HookReply("failed", {"error": "the code could not be sent"})
        return HookReply("sent", {"otp_to": _masked(number)})

    def check(self, call: HookCall) -> HookReply:
        """``verified`` when ``args.code`` is the code sent for this call and number, in time; else ``rejected``."""
        number = str(call.args.get("to") or call.caller or "")
        typed = re.sub(r"\D", "", str(call.args.get("code", "")))
        step = int(call.at // self.ttl)
        good = len(typed) == DIGITS and any(hmac.compare_digest(typed, self.code(call.call_id, number, s))
                                            for s in (step, step - 1))
        status = "verified" if good else "rejected"
        return HookReply(status, {"auth": {"method": "otp", "status": status}})


def _masked(number: str) -> str:
    """"+1 *** *** 0000": enough for the caller to know which phone, not enough to harvest."""
    return f"{number[:2]}{'*' * (len(number) - 6)}{number[-4:]}"


def one_time_codes(config: Any) -> OneTimeCodes:
    """The deployment's codes: ``IVR_SECRET_KEY``, ``IVR_SMS_FROM``, Twilio's REST client built on first send."""
    made: list[Any] = []

    def client() -> Any:
        if not made:
            if not (config.twilio_account_sid and config.auth_token):
                raise ConfigError("sending one-time codes needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
            from twilio.rest import Client
            made.append(Client(config.twilio_account_sid, config.auth_token))
        return made[0]
    return OneTimeCodes(config.secret_key, client, config.sms_from)


def register(registry: HookRegistry, codes: OneTimeCodes) -> None:
    registry.register("otp.send", codes.send)
    registry.register("otp.check", codes.check)
