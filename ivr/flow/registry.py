"""The set of flows a server runs, reloaded safely while calls are live.

Validate fully, then swap (as FreeSWITCH reloads): a flow file that no
longer validates never replaces the last good version of that flow; its
errors are kept in :attr:`FlowSet.errors` for the designer to see.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConfigError, FlowError, Problem
from .loader import LoadedFlow, flow_files, load_flow
from .model import Flow

log = logging.getLogger(__name__)


@dataclass
class _Snapshot:
    by_id: dict[str, LoadedFlow] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)
    by_file: dict[str, LoadedFlow] = field(default_factory=dict)
    stamp: tuple = ()


class FlowSet:
    """Flows of one directory, looked up by id or called number.

    Args:
        directory: the flows directory.
        validator: extra checks run on each loaded flow (e.g. hook names); its
            problems count as errors.
        check_interval: seconds between checks for changed files (0: every lookup).
    """

    def __init__(self, directory: str | Path,
                 validator: Optional[Callable[[LoadedFlow], list[Problem]]] = None,
                 check_interval: float = 1.0, clock: Callable[[], float] | None = None) -> None:
        import time

        self.directory = Path(directory)
        self.validator = validator
        self.check_interval = check_interval
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._snap = _Snapshot()
        self._checked = float("-inf")
        self.errors: dict[str, list[Problem]] = {}
        if not self.directory.is_dir():
            raise ConfigError(f"flows directory {self.directory} does not exist; create it or set IVR_FLOWS_DIR")
        self.reload()

    def _stamp(self) -> tuple:
        out = []
        for p in flow_files(self.directory):
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def reload(self) -> dict[str, list[Problem]]:
        """Re-read the directory; keep the last good version of any broken file."""
        with self._lock:
            old = self._snap
            stamp = self._stamp()
            new = _Snapshot(stamp=stamp)
            errors: dict[str, list[Problem]] = {}
            for path_s, _, _ in stamp:
                try:
                    lf = load_flow(path_s)
                    extra = [p for p in (self.validator(lf) if self.validator else []) if p.severity == "error"]
                    if extra:
                        raise FlowError(extra)
                except FlowError as exc:
                    errors[path_s] = exc.problems
                    for p in exc.problems:
                        log.warning("flow not loaded: %s", p.format())
                    if path_s in old.by_file:
                        lf = old.by_file[path_s]
                        log.warning("keeping the last good version of %s", path_s)
                    else:
                        continue
                if lf.flow.flow in new.by_id:
                    other = new.by_id[lf.flow.flow].file
                    errors.setdefault(path_s, []).append(Problem(
                        path_s, *lf.pos("flow"), f"flow id '{lf.flow.flow}' is already used by {other}; "
                        "flow ids must be unique across flows/"))
                    continue
                new.by_id[lf.flow.flow] = lf
                new.by_file[path_s] = lf
                for number in lf.flow.numbers:
                    if number in new.by_number:
                        errors.setdefault(path_s, []).append(Problem(
                            path_s, *lf.pos("numbers"), f"number {number} is already claimed by flow "
                            f"'{new.by_number[number]}'"))
                    else:
                        new.by_number[number] = lf.flow.flow
            self._snap = new
            self.errors = errors
            self._checked = self._clock()
            return errors

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._checked < self.check_interval:
            return
        self._checked = now
        if self._stamp() != self._snap.stamp:
            self.reload()

    @property
    def ids(self) -> list[str]:
        self._maybe_reload()
        return sorted(self._snap.by_id)

    def get(self, flow_id: str) -> Optional[Flow]:
        """A flow by id, or None."""
        self._maybe_reload()
        lf = self._snap.by_id.get(flow_id)
        return lf.flow if lf else None

    def loaded(self, flow_id: str) -> Optional[LoadedFlow]:
        self._maybe_reload()
        return self._snap.by_id.get(flow_id)

    def select(self, called: Optional[str] = None, flow_id: Optional[str] = None,
               default: Optional[str] = None) -> Optional[Flow]:
        """The flow for an incoming call.

        Order: explicit ``flow_id``; the flow whose ``numbers:`` holds the called
        number; ``default`` (IVR_DEFAULT_FLOW); the only flow, if there is one.
        """
        self._maybe_reload()
        snap = self._snap
        if flow_id:
            return self.get(flow_id)
        if called and called in snap.by_number:
            return snap.by_id[snap.by_number[called]].flow
        if default and default in snap.by_id:
            return snap.by_id[default].flow
        if len(snap.by_id) == 1:
            return next(iter(snap.by_id.values())).flow
        return None


def flows_dir_default() -> str:
    """``IVR_FLOWS_DIR`` or ``flows/``."""
    return os.environ.get("IVR_FLOWS_DIR", "flows")
