"""A pytest plugin for flow designers and testers: run call scripts in tests.

Enable it in ``conftest.py`` with ``pytest_plugins = ["ivr.testing.pytest_plugin"]``,
then::

    def test_lost_card(run_call):
        result = run_call("tests/calls/acme_lost_card.yaml")
        assert result.passed, result.failures
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Union

import pytest

from ..config import Config
from ..services import build_services
from ..sim import LocalCall, load_script, parse_script, run_script
from ..sim.handles import SimClock
from ..sim.runner import ScriptResult


@pytest.fixture
def run_call(tmp_path: Path) -> Iterator[Callable[..., ScriptResult]]:
    """Run a call script (path or YAML text) in-process against a flows directory."""
    built = []

    def run(script: Union[str, Path], flows: Union[str, Path, None] = None) -> ScriptResult:
        clock = SimClock()
        config = Config.from_env(instance_dir=str(tmp_path / f"sim{len(built)}"),
                                 database_url=None, redis_url=None, secret_key="test", flow_check_interval=0.0,
                                 **({"flows_dir": str(flows)} if flows else {}))
        services = build_services(config, clock=clock)
        built.append(services)
        text = str(script)
        parsed = parse_script(text, "<script>") if "\n" in text else load_script(text)
        return run_script(parsed, lambda s: LocalCall(services.driver, s.flow, s.caller, s.called, clock=clock,
                                                                  services=services))

    yield run
    for s in built:
        s.close()
