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
