"""The command line (``python -m ivr``): one click group per area, added to one root group."""

from .main import main

__all__ = ["main"]
