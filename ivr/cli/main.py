"""Command line: ``python -m ivr ...`` (the command contract in the README, "Command line").

One click group per area, each in its own module; this module only builds
the root group and adds them. Exit codes: 0 success, 1 a finding or failure,
2 bad usage.
"""

from __future__ import annotations

import logging

import click

import ivr
from .bench import bench
from .calls import call, simulate
from .coverage import coverage
from .flows import lint, schema, validate
from .handoff import callbacks, voicemails
from .prompts import prompts
from .report import report
from .serve import serve
from .speech import models, recognize


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.version_option(package_name=None, version=ivr.__version__, prog_name="ivr")
def main(verbose: bool) -> None:
    """A declarative, offline, testable voice IVR."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


for command in (serve, validate, lint, schema, simulate, coverage, call, bench, recognize, models, prompts, callbacks,
                voicemails, report):
    main.add_command(command)
