"""Named hooks for ``action`` nodes."""

from .registry import HookCall, HookRegistry, HookReply, sign_body

__all__ = ["HookCall", "HookRegistry", "HookReply", "sign_body"]
