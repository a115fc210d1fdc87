"""Analytics: what callers did, from the stored call events (metrics in SQL; reports, by flow and version).

``Analytics(engine).report(...)`` is what ``python -m ivr report`` prints and
the report pages draw; ``services.analytics`` is the deployment's instance.
``ivr.analytics.coverage`` says which nodes and edges call scripts exercise.
"""

from .report import Analytics, Window
from .window import ISO_HINT, to_epoch

__all__ = ["Analytics", "ISO_HINT", "Window", "to_epoch"]
