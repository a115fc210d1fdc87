"""``python -m ivr``."""

from .cli import main

main(prog_name="python -m ivr")
