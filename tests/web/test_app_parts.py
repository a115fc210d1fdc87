"""The app's parts are looked up in one place: only ivr/web/app_state.py touches ``.extensions``."""

from __future__ import annotations

import ast
from pathlib import Path

from ivr.web import WebApp, app_state, create_app, parts

IVR = Path(__file__).resolve().parents[2] / "ivr"
OWNER = IVR / "web" / "app_state.py"


def _readers_of_extensions() -> list[str]:
    found = []
    for path in sorted(IVR.rglob("*.py")):
        if path == OWNER:
            continue
        tree = ast.parse(path.read_text("utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "extensions":
                found.append(f"{path.relative_to(IVR.parent)}:{node.lineno}")
    return found


def test_only_the_app_state_module_reads_app_extensions() -> None:
    assert _readers_of_extensions() == [], "use ivr.web.parts() (or the ivr.web.app_state accessors) instead"


def test_the_scan_would_catch_a_reader() -> None:
    tree = ast.parse("from flask import current_app\nx = current_app.extensions['ivr']\n")
    assert any(isinstance(n, ast.Attribute) and n.attr == "extensions" for n in ast.walk(tree))


def test_the_parts_are_typed_and_under_one_key(make_app) -> None:
    app = make_app(media_streams=True)
    web = parts(app)
    assert isinstance(web, WebApp) and app.extensions[app_state.KEY] is web
    assert web.handoff is not None and web.media is not None and web.prompts is not None
    assert web.voice_tap is web.media.tap and web.start_call is not None and web.speech_calls
    ours = {k for k in app.extensions if k.startswith("ivr")}
    assert ours == {app_state.KEY}


def test_keypad_only_app_has_no_start_call(make_app) -> None:
    app = make_app()
    web = parts(app)
    assert web.start_call is None and not web.speech_calls


def test_the_package_exports_its_public_names_only() -> None:
    import ivr.web
    assert ivr.web.create_app is create_app
    assert sorted(ivr.web.__all__) == ["WebApp", "create_app", "parts"]


def test_settings_are_read_once_from_the_environment(make_app, monkeypatch) -> None:
    """IVR_TWILIO_WORKFLOW_SID and hook secrets come from the Config built at start-up, not os.environ later."""
    import xml.etree.ElementTree as ET

    from tests.conftest import SignedClient, call_params

    monkeypatch.setenv("IVR_TWILIO_WORKFLOW_SID", "WW" + "1" * 32)
    monkeypatch.setenv("SOME_HOOK_SECRET", "s3cret")
    app = make_app()
    monkeypatch.setenv("IVR_TWILIO_WORKFLOW_SID", "WW" + "2" * 32)   # too late: the app has its settings
    cfg = parts(app).config
    assert cfg.twilio_workflow_sid == "WW" + "1" * 32 and cfg.secret("SOME_HOOK_SECRET") == "s3cret"
    assert parts(app).services.hooks.secrets["SOME_HOOK_SECRET"] == "s3cret"
    assert "s3cret" not in repr(cfg)
    c = SignedClient(app)
    c.post("/voice?flow=acme", call_params())
    root = ET.fromstring(c.post("/voice/input?node=main", call_params(Digits="2")).data)
    assert root.find("Enqueue").get("workflowSid") == "WW" + "1" * 32
