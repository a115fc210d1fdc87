"""A live server keeps answering calls while hostile flow files land in its flows directory.

The reloader validates off the request path: ``POST /voice`` never waits for
it, the refused files' errors show at ``GET /api/flows``, and the last good
version of an edited flow keeps serving.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ivr.flow import limits
from ivr.web import parts
from tests.conftest import call_params

API_TOKEN = "live-reload-api-token"
RELOADER = "ivr-flow-reloader"


def reloaders() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(RELOADER)]


@pytest.fixture
def live_app(tmp_path: Path, flows_dir: Path) -> Iterator[Any]:
    """A dev server app (no signatures) whose reloader checks every 50 ms, as ``serve`` does every second."""
    from ivr.web import create_app

    app = create_app({"IVR_DEV": "1", "IVR_FLOWS_DIR": str(flows_dir), "IVR_API_TOKEN": API_TOKEN,
                      "instance_dir": str(tmp_path / "instance"), "audio_dir": str(tmp_path / "audio"),
                      "flow_check_interval": 0.05, "media_streams": False})
    try:
        yield app
    finally:
        parts(app).services.close()


def flow_errors(client: Any) -> dict[str, list[dict]]:
    resp = client.get("/api/flows", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert resp.status_code == 200
    return resp.json["errors"]


def slow_to_refuse(i: int) -> str:
    """About 1 MB that parses in full before its node count is refused (the slowest file to refuse)."""
    prompt = "Please listen carefully as our menu options have changed. " * 18
    nodes = "".join(f"  n{j}:\n    say: \"{prompt}\"\n    next: n{j + 1}\n" for j in range(900))
    return f"flow: big{i}\nstart: n0\nnodes:\n{nodes}"


def until(check: Callable[[], bool], timeout: float, during: Callable[[], None]) -> float:
    """Call ``during`` repeatedly until ``check()`` holds; the seconds it took."""
    start = time.perf_counter()
    while not check():
        assert time.perf_counter() - start < timeout, "the reloader never published the change"
        during()
    return time.perf_counter() - start


def test_calls_are_answered_at_once_while_huge_and_deep_files_are_refused(live_app: Any, flows_dir: Path) -> None:
    client = live_app.test_client()
    latencies: list[float] = []

    def call() -> None:
        sid = f"CA{len(latencies) + 1:032d}"  # a new call each time
        start = time.perf_counter()
        resp = client.post("/voice?flow=acme", data=call_params(sid))
        latencies.append(time.perf_counter() - start)
        assert resp.status_code == 200 and b"Welcome to Acme" in resp.data

    call()
    calls_before = len(latencies)
    acme = flows_dir / "acme.yaml"
    for i in range(2):
        (flows_dir / f"big{i}.yaml").write_text(slow_to_refuse(i))
    acme.write_text(slow_to_refuse(3).replace("flow: big3", "flow: acme"))  # an edit that breaks acme
    (flows_dir / "deep.yaml").write_text("[" * 100_000 + "]" * 100_000)
    with (flows_dir / "huge.yaml").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    expected = {str(flows_dir / n) for n in ("big0.yaml", "big1.yaml", "acme.yaml", "deep.yaml", "huge.yaml")}
    reload_s = until(lambda: expected <= set(flow_errors(client)), timeout=60, during=call)

    during = latencies[calls_before:]
    assert len(during) >= 3, "no call was placed while the reload ran"
    assert max(during) < 1.0 and max(during) < reload_s / 2, (
        f"a call waited {max(during):.2f} s while the reload took {reload_s:.2f} s")
    errors = flow_errors(client)
    assert f"at most {limits.MAX_NODES}" in errors[str(acme)][0]["message"]
    assert "nested more than" in errors[str(flows_dir / "deep.yaml")][0]["message"]
    huge = errors[str(flows_dir / "huge.yaml")][0]
    assert (huge["line"], huge["col"]) == (1, 1) and "at most 1.0 MiB" in huge["message"]
    call()  # the last good acme still serves
    assert "acme" in client.get("/api/flows", headers={"Authorization": f"Bearer {API_TOKEN}"}).json["flows"]


def test_a_new_flow_is_picked_up_by_the_reloader_without_a_request(live_app: Any, flows_dir: Path) -> None:
    client = live_app.test_client()
    text = (flows_dir / "acme.yaml").read_text().replace("flow: acme", "flow: extra")
    text = text.replace("Welcome to Acme", "Welcome to Extra")
    (flows_dir / "extra.yaml").write_text(text)
    flows = parts(live_app).services.flows
    until(lambda: "extra" in flows.ids, timeout=10, during=lambda: time.sleep(0.02))
    resp = client.post("/voice?flow=extra", data=call_params())
    assert resp.status_code == 200 and b"Welcome to Extra" in resp.data


def test_closing_the_app_stops_its_reloader_thread(tmp_path: Path, flows_dir: Path) -> None:
    from ivr.web import create_app

    before = set(reloaders())
    app = create_app({"IVR_DEV": "1", "IVR_FLOWS_DIR": str(flows_dir), "instance_dir": str(tmp_path / "i"),
                      "flow_check_interval": 0.05})
    mine = set(reloaders()) - before
    assert len(mine) == 1 and all(t.daemon for t in mine)
    parts(app).services.close()
    assert not any(t.is_alive() for t in mine)


def test_a_flow_set_never_closed_ends_its_thread_when_collected(flows_dir: Path) -> None:
    import gc

    from ivr.flow import FlowSet

    before = set(reloaders())
    flows = FlowSet(flows_dir, check_interval=3600)  # the thread sleeps an hour between checks
    (thread,) = set(reloaders()) - before
    del flows
    gc.collect()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_reload_prepares_new_flows_before_publishing_them_and_a_failing_preparer_holds_nothing_back(
        tmp_path: Path, flows_dir: Path) -> None:
    from ivr.flow.registry import FlowSet

    flows = FlowSet(flows_dir, check_interval=0)
    seen: list[tuple[str, bool]] = []

    def prepare(flow: Any) -> None:
        seen.append((flow.flow, flow.flow in flows.ids))       # not visible yet while being prepared
        raise RuntimeError("decoder build failed")

    flows.on_change(prepare)
    flows.reload()
    assert seen == []                                           # nothing changed: nothing to prepare
    text = (flows_dir / "acme.yaml").read_text().replace("flow: acme", "flow: extra")
    (flows_dir / "extra.yaml").write_text(text)
    flows.reload()
    assert seen == [("extra", False)]
    assert "extra" in flows.ids                                 # published although its preparer failed
    (flows_dir / "extra.yaml").write_text(text.replace("Welcome to Acme", "Welcome back"))
    flows.reload()
    assert seen[-1] == ("extra", True)                          # an edit: the old version serves meanwhile
    flows.close()
