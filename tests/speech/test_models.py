import functools
import http.server
import threading
import zipfile

import pytest

from ivr.errors import SpeechError
from ivr.speech.models import download_model, find_model


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    good = root / "tiny-model.zip"
    with zipfile.ZipFile(good, "w") as z:
        z.writestr("tiny-model/am/final.mdl", b"x" * 1000)
        z.writestr("tiny-model/conf/model.conf", b"--x")
    with zipfile.ZipFile(root / "empty.zip", "w") as z:
        z.writestr("readme.txt", b"nothing")
    (root / "junk.zip").write_bytes(b"not a zip")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    t.join(5)


def test_download_unpacks_with_progress(http_dir, tmp_path, monkeypatch):
    seen = []
    path = download_model("tiny-model", tmp_path / "models", lambda got, total: seen.append((got, total)),
                          base_url=http_dir)
    assert (path / "am" / "final.mdl").exists() and (path / "conf").is_dir()
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".download")]
    monkeypatch.delenv("IVR_VOSK_MODEL", raising=False)
    assert find_model(tmp_path / "models") == str(path)
    monkeypatch.setenv("IVR_VOSK_MODEL", "/x/y")
    assert find_model(tmp_path / "models") == "/x/y"


@pytest.mark.parametrize("name,msg", [("empty", "does not contain"), ("junk", "not a zip"),
                                      ("missing", "could not download"), ("../etc", "bad model name")])
def test_download_errors(http_dir, tmp_path, name, msg):
    with pytest.raises(SpeechError, match=msg):
        download_model(name, tmp_path / "models", base_url=http_dir)
    assert not (tmp_path / "models" / name).exists()


def test_the_default_models_directory_is_the_projects_wherever_the_server_starts(tmp_path):
    """A server or script started outside the project (no IVR_MODELS_DIR) must find the phone-line
    model ``make`` built in the project's models/, not silently fall back to the stock model."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("IVR_MODELS_DIR", "IVR_PS_MODEL")}
    env["PYTHONPATH"] = str(root)
    code = "from ivr.speech.models import default_models_dir; print(default_models_dir())"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == root / "models"
    env["IVR_MODELS_DIR"] = str(tmp_path / "elsewhere")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == tmp_path / "elsewhere"
