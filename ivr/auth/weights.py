"""Read PyTorch checkpoint files without PyTorch.

Serving must not need torch (about 870 MB installed) just to load 1.4 M
floats. A ``.pt`` file is pickled Python objects whose tensors point at raw
storages: in the legacy format (what resemblyzer's ``pretrained.pt`` uses)
the storages follow the pickles in the same file; in the zip format (torch
>= 1.6) each storage is a member ``<name>/data/<key>``. A small restricted
unpickler turns every tensor into a numpy array and refuses any other class,
so a checkpoint cannot run code while it is read.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import AuthError

__all__ = ["load_checkpoint"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    """Stands for ``torch.FloatStorage`` and friends: only the element type matters."""

    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_DTYPES[name])


class _Tensor:
    """A tensor waiting for its storage's bytes (they come after the pickle in the legacy format)."""

    def __init__(self, storage: "_Storage", offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise AuthError(f"checkpoint storage {self.storage.key} has no data")
        itemsize = data.dtype.itemsize
        return np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * itemsize for s in self.stride)).copy()


class _Storage:
    def __init__(self, key: str, dtype: np.dtype) -> None:
        self.key, self.dtype = key, dtype
        self.data: np.ndarray | None = None


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _Tensor:
    return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(tensor: _Tensor, *_: Any) -> _Tensor:
    return tensor


class _Unpickler(pickle.Unpickler):
    """Resolves only the handful of globals a state dict needs; anything else is refused."""

    def __init__(self, f: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch.nn.modules.module" or module.startswith("torch.optim"):
            return _Ignored
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which a weights file should not")

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        _, stype, key, *_ = pid
        key = str(key)
        if key not in self.storages:
            dtype = stype.dtype if isinstance(stype, _StorageType) else np.dtype(np.float32)
            self.storages[key] = _Storage(key, dtype)
        return self.storages[key]


class _Ignored:
    """Placeholder for objects a checkpoint may carry beside the weights (module metadata)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


def _arrays(obj: Any) -> Any:
    """Replace every pending tensor in a nested structure by its numpy array."""
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _arrays(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_arrays(v) for v in obj)
    return obj


def load_checkpoint(path: str | Path) -> Any:
    """Load a ``torch.save`` file as nested dicts of numpy arrays.

    Args:
        path: the ``.pt`` file (legacy or zip format).

    Returns:
        The saved object, every tensor replaced by a float numpy array.

    Raises:
        AuthError: the file is missing, truncated or not a checkpoint of weights.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        with path.open("rb") as f:
            return _load_legacy(f)
    except (OSError, pickle.UnpicklingError, EOFError, struct.error, ValueError) as exc:
        raise AuthError(f"{path}: cannot read the speaker-encoder weights ({exc})") from exc


def _load_legacy(f: BinaryIO) -> Any:
    if pickle.load(f) != _LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch checkpoint (wrong magic number)")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info (endianness, type sizes): little-endian files only in practice
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(f, storages).load()
    keys = pickle.load(f)
    for key in keys:
        st = storages[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        raw = f.read(count * st.dtype.itemsize)
        if len(raw) != count * st.dtype.itemsize:
            raise EOFError(f"storage {key} is truncated")
        st.data = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
    return _arrays(obj)


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("/data.pkl") or n == "data.pkl")
        root = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl)), storages).load()
        for key, st in storages.items():
            st.data = np.frombuffer(z.read(f"{root}data/{key}"), dtype=st.dtype.newbyteorder("<"))
    return _arrays(obj)
