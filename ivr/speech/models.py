"""Finding and downloading speech models for real deployments.

Where models live: ``IVR_MODELS_DIR`` (default ``models/``) holds downloaded
vosk models and the phone-line pocketsphinx model that ``models adapt``
builds (:mod:`ivr.speech.asr.adapt`).

Models are large (50 MB to 2 GB) and never ship with the project. This
module fetches one by name, verifies it really is a model, and unpacks it
atomically so a half-finished download is never mistaken for a model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from ivr.errors import SpeechError

BASE_URL = "https://alphacephei.com/vosk/models"
"""Where vosk models are published; override with ``base_url`` or IVR_VOSK_MODELS_URL."""

DEFAULT_MODELS_DIR = Path("models")
"""Default directory that ``models download`` unpacks into."""

ADAPTED_NAME = "en-us-telephone"
"""Directory name of the phone-line pocketsphinx model under the models directory."""

MARKER = "adaptation.json"
"""File in an adapted model directory that records how it was built."""


def default_models_dir() -> Path:
    """``IVR_MODELS_DIR``, else ``models/``: where models are downloaded and built."""
    return Path(os.environ.get("IVR_MODELS_DIR") or DEFAULT_MODELS_DIR)


def find_adapted(models_dir: os.PathLike[str] | str | None = None) -> Path | None:
    """The pocketsphinx acoustic model to use: ``IVR_PS_MODEL``, else ``<models>/en-us-telephone`` if built."""
    env = os.environ.get("IVR_PS_MODEL")
    if env:
        return Path(env)
    path = (Path(models_dir) if models_dir is not None else default_models_dir()) / ADAPTED_NAME
    return path if (path / MARKER).is_file() and (path / "means").is_file() else None

ProgressFn = Callable[[int, int], None]
"""Called with (bytes received, total bytes or 0 when unknown)."""


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` looks like an unpacked vosk model (has am/ and conf/)."""
    p = Path(path)
    return (p / "am").is_dir() and (p / "conf").is_dir()


def find_model(models_dir: str | os.PathLike[str] | None = None) -> str | None:
    """Return the configured vosk model: ``IVR_VOSK_MODEL``, else one under ``IVR_MODELS_DIR`` (``models/``).

    Returns None when there is none (the caller then uses pocketsphinx).
    """
    env = os.environ.get("IVR_VOSK_MODEL")
    if env:
        return env
    base = Path(models_dir) if models_dir is not None else default_models_dir()
    if base.is_dir():
        for child in sorted(base.iterdir()):
            if child.is_dir() and is_model_dir(child):
                return str(child)
    return None


def download_model(name: str, dest: str | os.PathLike[str] = DEFAULT_MODELS_DIR,
                   progress: ProgressFn | None = None, base_url: str | None = None,
                   timeout: float = 60.0) -> Path:
    """Download ``<base_url>/<name>.zip`` and unpack it as ``dest/<name>``.

    Args:
        name: model name, e.g. ``vosk-model-small-en-us-0.15``.
        dest: directory to unpack into.
        progress: optional callback for a progress display.
        base_url: where models live (tests point this at a local server).
        timeout: socket timeout in seconds.

    Returns:
        The model directory.

    Raises:
        SpeechError: bad name, network failure, not a zip, or no model inside.
    """
    if not name or "/" in name or name.startswith("."):
        raise SpeechError(f"bad model name {name!r}; use a name from the vosk model list")
    base = (base_url or os.environ.get("IVR_VOSK_MODELS_URL") or BASE_URL).rstrip("/")
    dest = Path(dest)
    target = dest / name
    if is_model_dir(target):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    url = f"{base}/{name}.zip"
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        zpath = Path(tmp) / "model.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(zpath, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                got = 0
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    got += len(chunk)
                    if progress:
                        progress(got, total)
        except OSError as exc:
            raise SpeechError(f"could not download {url}: {exc}") from exc
        if not zipfile.is_zipfile(zpath):
            raise SpeechError(f"{url} is not a zip file; check the model name")
        unpack = Path(tmp) / "unpacked"
        with zipfile.ZipFile(zpath) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise SpeechError(f"{url}: unsafe path {member!r} in archive")
            zf.extractall(unpack)
        root = _model_root(unpack)
        if root is None:
            raise SpeechError(f"{url} does not contain a vosk model (no am/ and conf/)")
        if target.exists():
            shutil.rmtree(target)
        os.replace(root, target)
    return target


def _model_root(path: Path) -> Path | None:
    if is_model_dir(path):
        return path
    for child in sorted(path.iterdir()):
        if child.is_dir() and is_model_dir(child):
            return child
    return None
