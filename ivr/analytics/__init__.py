"""Analytics: what the stored call events say (reports, metrics) and what call scripts cover.

Submodules are imported where they are used (``ivr.analytics.coverage``,
``ivr.analytics.metrics``), so that importing one does not pull in the others'
libraries.
"""
