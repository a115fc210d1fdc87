"""Benchmarks behind ``python -m ivr bench ...`` (each prints JSON)."""
