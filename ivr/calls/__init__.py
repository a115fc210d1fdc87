"""Running calls: the driver shared by every transport."""

from .driver import CallDriver, Turn

__all__ = ["CallDriver", "Turn"]
