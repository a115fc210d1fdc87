"""A declarative, offline, testable voice IVR driven by Twilio webhooks."""

__version__ = "0.1.0"
