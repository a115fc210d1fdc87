"""A flow that hot reload adds or edits is served only once its grammars and prompts are built (issue 9, item 3).

A live app (media streams on, background prompt rendering on, an audio
directory built by ``prompts build``) watches its flows directory; a new
flow file lands. The moment the flow is visible, its decoders are warm and
its prompts are rendered, so its first caller hears rendered audio and waits
for no decoder; ``GET /api/health`` counts prompts and says ready.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from ivr.web import parts

from tests.conftest import run_ivr
from tests.web.test_media_first_call import FLOW

pytest.importorskip("flask_sock")

NEW_FLOW = FLOW.replace("flow: voicefirst", "flow: added").replace(
    "Say balance or lost card.", "Say balance or lost card, or ask for an agent.").replace(
    "say: [cards, lost card]", "say: [cards, lost card, stolen card]")


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[Any]:
    from ivr.web import create_app

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "voicefirst.yaml").write_text(FLOW)
    audio = tmp_path / "audio"
    built = run_ivr("prompts", "build", "--flows", str(flows), "--audio-dir", str(audio), "--no-progress")
    assert built.returncode == 0, built.stderr
    app = create_app({"IVR_DEV": "1", "IVR_FLOWS_DIR": str(flows), "instance_dir": str(tmp_path / "instance"),
                      "audio_dir": str(audio), "flow_check_interval": 0.05, "media_streams": True,
                      "secret_key": "s"})
    try:
        yield app
    finally:
        parts(app).services.close()


def health(app: Any) -> dict[str, Any]:
    return app.test_client().get("/api/health").get_json()


def test_a_flow_added_by_reload_is_published_with_warm_grammars_and_rendered_prompts(live_app: Any) -> None:
    rt = parts(live_app).media
    assert rt.wait_ready(30)
    body = health(live_app)
    assert body["ready"] is True and body["prompts"]["missing"] == 0 and body["prompts"]["present"] > 0
    flows = parts(live_app).services.flows
    warm_before = rt.grammars_warm
    (flows.directory / "added.yaml").write_text(NEW_FLOW)
    deadline = time.monotonic() + 60
    while "added" not in flows.ids:
        assert time.monotonic() < deadline, "the reloader never published the new flow"
        time.sleep(0.01)
    flow = flows.get("added")
    # Visible means prepared: nothing left to build or render for its first caller.
    assert parts(live_app).prompts.missing(flow) == []
    assert rt.grammars_warm > warm_before                     # its new menu grammar (stolen card) was built
    from ivr.engine.engine import listens
    from ivr.speech.pipeline import grammar_for
    keys = {grammar_for(li, "en-US").key for li in listens(flow) if li.speech and grammar_for(li, "en-US")}
    assert keys <= rt._warmed
    body = health(live_app)
    assert body["ready"] is True and "added" in body["flows"]
    assert body["prompts"]["missing"] == 0 and body["prompts"]["rendering"] == 0


def test_health_counts_prompts_nobody_built_without_holding_traffic(make_app) -> None:
    body = make_app(extra={"prompt_background": False}).test_client().get("/api/health").get_json()
    assert body["ready"] is True
    assert body["prompts"]["missing"] > 0 and body["prompts"]["present"] == 0
    assert set(body["prompts"]["missing_by_flow"]) <= set(body["flows"])
