"""Test helpers that stand in for outside parties (Twilio, callers)."""
