"""Call scripts run in-process into a real database, then read back through ``python -m ivr report``.

``db_url`` is a fresh SQLite file or a fresh PostgreSQL schema (skipped when
no server answers at IVR_TEST_PG_URL); ``calls`` runs scripts into it with the
simulator's clock, so tests can space one caller's calls hours or days apart.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from click.testing import CliRunner, Result

from ivr.cli.main import main
from ivr.config import Config
from ivr.services import Services, build_services
from ivr.sim import LocalCall, ScriptResult, SimClock, parse_script, run_script

from tests.store.test_store_contract import _pg_schema

START = 1_795_000_000.0
"""2026-11-18T09:46:40Z: the simulated clock's start (a Wednesday)."""

SHOP = """\
flow: shop
start: welcome
settings:
  retries: 1
queues:
  general: {}
  orders: {}
nodes:
  welcome:
    say: Welcome to the shop.
    next: main
  main:
    menu:
      prompt: Press 1 for opening hours, 2 for an order, 3 for a callback.
      options:
        - key: "1"
          say: [hours]
          goto: hours
        - key: "2"
          say: [order]
          goto: order_number
        - key: "3"
          say: [callback]
          goto: call_me
  hours:
    say: We are open from nine to five.
    next: bye
  order_number:
    ask:
      slot: order
      prompt: Enter your order number, then the hash key.
      input: digits
      min_length: 4
    next: order_desk
  order_desk:
    transfer:
      queue: orders
      reason: order_enquiry
  call_me:
    callback:
      queue: general
  bye:
    hangup: Thank you for calling. Goodbye.
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'records.sqlite3'}"
        return
    gen = _pg_schema()
    yield next(gen).replace("postgresql+psycopg://", "postgresql://")
    next(gen, None)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


class Calls:
    """Runs call scripts (YAML text) through one deployment whose records go to ``url``."""

    def __init__(self, url: str, flows_dir: Path, instance: Path) -> None:
        config = Config.from_env(flows_dir=str(flows_dir), instance_dir=str(instance), database_url=url,
                                 flow_check_interval=3600.0, secret_key="analytics-test-key-0123456789")
        self.clock = SimClock(START)
        self.services: Services = build_services(config, clock=self.clock)

    def run(self, script: str, at: Optional[float] = None) -> ScriptResult:
        """Run one script, starting at ``at`` (epoch seconds; default: a minute after the previous call)."""
        self.clock.now = at if at is not None else self.clock.now + 60
        parsed = parse_script(textwrap.dedent(script), "<test>")
        driver = self.services.driver
        result = run_script(parsed, lambda s: LocalCall(driver, s.flow, s.caller, s.called, clock=self.clock,
                                                        services=self.services))
        assert result.passed, result.failures
        return result

    def close(self) -> None:
        self.services.close()


@pytest.fixture
def shop_flows(tmp_path: Path) -> Path:
    d = tmp_path / "flows"
    d.mkdir()
    (d / "shop.yaml").write_text(SHOP)
    return d


@pytest.fixture
def calls(db_url: str, shop_flows: Path, tmp_path: Path) -> Iterator[Calls]:
    c = Calls(db_url, shop_flows, tmp_path / "instance")
    yield c
    c.close()


def report(url: str, *args: str) -> Result:
    """``python -m ivr report ARGS`` with IVR_DATABASE_URL=url, through click's runner."""
    return CliRunner().invoke(main, ["report", *args], env={"IVR_DATABASE_URL": url}, catch_exceptions=False)


def report_json(url: str, *args: str) -> list[dict[str, Any]]:
    result = report(url, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
