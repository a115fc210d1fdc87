"""``models download`` of Whisper models from a Hugging Face hub (a local fake one here)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.errors import SpeechError
from ivr.speech.models import (download_whisper_model, find_whisper_model, is_whisper_dir, whisper_dir_name,
                               whisper_repo)

pytest.importorskip("huggingface_hub")

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves ``/<owner>/<repo>/resolve/<rev>/<file>`` (HEAD and GET) from a directory per repository."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> Path | None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) != 5 or parts[2] != "resolve":
            return None
        root = self.server.repos.get(f"{parts[0]}/{parts[1]}")
        path = root / parts[4] if root is not None else None
        return path if path is not None and path.is_file() else None

    def _head(self) -> Path | None:
        self.server.requests.append(f"{self.command} {self.path}")
        path = self._file()
        if path is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.send_header("ETag", '"' + hashlib.sha1(path.name.encode()).hexdigest() + '"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()
        return path

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._head()

    def do_GET(self) -> None:  # noqa: N802
        path = self._head()
        if path is not None:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    self.wfile.write(chunk)


@pytest.fixture
def hub(tmp_path):
    from ivr.speech.models import bundled_whisper
    fake = tmp_path / "fake-small"
    fake.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (fake / name).write_bytes((bundled_whisper() / name).read_bytes())
    (fake / "model.bin").write_bytes(b"\0" * 300_000)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    srv = FakeHub({"Systran/faster-whisper-small.en": fake, "someone/broken": broken})
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    t.join(5)


def test_names():
    assert whisper_repo("small.en") == "Systran/faster-whisper-small.en"
    assert whisper_repo("Systran/faster-whisper-small.en") == "Systran/faster-whisper-small.en"
    assert whisper_repo("vosk-model-small-en-us-0.15") is None
    assert whisper_repo("../etc/x") is None
    assert whisper_dir_name("small.en") == "faster-whisper-small.en"


def test_download_by_short_name_then_found_by_name(hub, tmp_path, monkeypatch):
    models = tmp_path / "models"
    path = download_whisper_model("small.en", models, endpoint=hub.url)
    assert path == models / "faster-whisper-small.en" and is_whisper_dir(path)
    assert (path / "model.bin").stat().st_size == 300_000
    assert path.stat().st_mode & 0o777 == 0o755          # a service user other than the downloader can read it
    assert not [p for p in models.iterdir() if p.name.startswith(".download")]
    monkeypatch.setenv("IVR_MODELS_DIR", str(models))
    monkeypatch.setenv("IVR_WHISPER_MODEL", "Systran/faster-whisper-small.en")
    assert find_whisper_model() == path
    asked = len(hub.requests)
    assert download_whisper_model("small.en", models, endpoint=hub.url) == path  # already there: no traffic
    assert len(hub.requests) == asked


def test_cli_download_of_a_systran_name(hub, tmp_path, monkeypatch):
    from ivr.cli import main
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    res = CliRunner().invoke(main, ["models", "download", "Systran/faster-whisper-small.en",
                                    "--dest", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "IVR_ASR_BACKEND=whisper" in res.output
    assert is_whisper_dir(tmp_path / "m" / "faster-whisper-small.en")


def test_repository_without_the_model_files_is_refused(hub, tmp_path):
    with pytest.raises(SpeechError, match="has no model.bin"):
        download_whisper_model("someone/broken", tmp_path / "m", endpoint=hub.url)
    assert not (tmp_path / "m" / "broken").exists()
    assert not [p for p in (tmp_path / "m").iterdir()]


def test_offline_is_a_clear_error(tmp_path):
    import socket
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SpeechError, match="could not download .* Check the network"):
        download_whisper_model("tiny.en", tmp_path / "m", endpoint=dead)
    assert not (tmp_path / "m" / "faster-whisper-tiny.en").exists()


def test_cli_offline_exits_1(tmp_path, monkeypatch):
    from ivr.cli import main
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = CliRunner().invoke(main, ["models", "download", "base.en", "--dest", str(tmp_path)])
    assert res.exit_code == 1 and "could not download" in res.output
