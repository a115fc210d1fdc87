"""A one-sentence summary of a caller's story, for the agent whisper and the agent page.

Pure and built only from the context packet, which already masks sensitive
values, so nothing secret can reach an agent's ear or screen through it.
"""

from __future__ import annotations

from typing import Any

REASONS = {
    "caller_request": "asked for a person",
    "retries_exhausted": "could not get through self-service",
    "out_of_hours": "called out of hours",
    "auth_failed": "failed authentication",
    "hook_failed": "hit a system problem",
    "hook_unhandled": "hit an unhandled case",
    "system_error": "hit a system problem",
    "flow_error": "hit a system problem",
    "flow_changed": "hit a system problem",
    "flow": "was sent by the menu",
    "voicemail": "left a message",
    "callback": "asked for a call back",
}


def _words(name: str) -> str:
    return str(name).replace("_", " ").replace("-", " ")


def reason_text(reason: str | None) -> str:
    """A reason code as words an agent understands."""
    if not reason:
        return "was transferred"
    return REASONS.get(reason, f"needs help with {_words(reason)}")


def summary(ctx: dict[str, Any]) -> str:
    """One sentence, e.g. "Repeat caller, verified, needs help with lost card in cards; said: lost card."."""
    history = ctx.get("history") or []
    who = f"Repeat caller ({len(history)} earlier call{'s' if len(history) != 1 else ''})" if history \
        else "First-time caller"
    auth_info = ctx.get("auth") or {}
    auth = auth_info.get("status") or "none"
    method = auth_info.get("method")
    by = f" by {method}" if method and method != "none" and auth in ("verified", "rejected") else ""
    auth_text = {"verified": f"verified{by}", "none": "not verified", "failed": "failed verification",
                 "rejected": f"failed verification{by}", "not_enrolled": "not verified (no voiceprint)",
                 "inconclusive": "not verified (voice inconclusive)"}.get(auth, f"auth {_words(auth)}")
    if auth_info.get("replay"):
        auth_text += " (a recording was played back)"
    parts = [f"{who}, {auth_text}, {reason_text(ctx.get('reason'))}"]
    path = [p for p in ctx.get("path") or []]
    if path:
        parts.append(f"via {' > '.join(_words(p) for p in path[-3:])}")
    if ctx.get("failed_node"):
        parts.append(f"stuck at {_words(ctx['failed_node'])}")
    said = [t.get("text") or t.get("keys") for t in ctx.get("transcript") or [] if t.get("text")]
    sentence = " ".join(parts)
    if said:
        sentence += f"; said: {said[-1]}"
    return sentence.rstrip(".") + "."
