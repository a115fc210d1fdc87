"""The set of flows a server runs, reloaded safely while calls are live.

Validate fully, then swap (as FreeSWITCH reloads): a flow file that no
longer validates never replaces the last good version of that flow; its
errors are kept in :attr:`FlowSet.errors` for the designer to see.

Reloading happens off the request path.  A background thread checks the
files' stamps every ``check_interval`` seconds, loads and validates them, and
publishes the result by swapping one reference; lookups only read the
current snapshot and never wait for a reload, however large or broken the
file a designer just saved.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConfigError, FlowError, Problem
from .loader import LoadedFlow, flow_files, load_flow
from .model import Flow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Snapshot:
    """Everything a lookup reads, published at once by one reference swap."""

    by_id: dict[str, LoadedFlow] = field(default_factory=dict)
    by_number: dict[str, str] = field(default_factory=dict)
    by_file: dict[str, LoadedFlow] = field(default_factory=dict)
    errors: dict[str, list[Problem]] = field(default_factory=dict)
    stamp: tuple = ()


class FlowSet:
    """Flows of one directory, looked up by id or called number.

    Args:
        directory: the flows directory.
        validator: extra checks run on each loaded flow (e.g. hook names); its
            problems count as errors.
        check_interval: seconds between checks for changed files, made by a
            background thread started here (stop it with :meth:`close`).
            ``0`` starts no thread and checks in the caller's thread on every
            lookup instead: for tests and simulations that edit files and
            expect the change at once, never for a live server.
    """

    def __init__(self, directory: str | Path,
                 validator: Optional[Callable[[LoadedFlow], list[Problem]]] = None,
                 check_interval: float = 1.0) -> None:
        self.directory = Path(directory)
        self.validator = validator
        self.check_interval = check_interval
        self._reload_lock = threading.Lock()  # one reload at a time; lookups never take it
        self._snap = _Snapshot()
        self._preparers: list[Callable[[Flow], None]] = []
        self._preparing: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if not self.directory.is_dir():
            raise ConfigError(f"flows directory {self.directory} does not exist; create it or set IVR_FLOWS_DIR")
        self.reload()
        if check_interval > 0:
            self._thread = threading.Thread(target=_watch, args=(weakref.ref(self), self._stop, check_interval),
                                            name=f"ivr-flow-reloader({self.directory})", daemon=True)
            self._thread.start()
            weakref.finalize(self, self._stop.set)  # a set never closed still ends its thread when collected

    def on_change(self, prepare: Callable[[Flow], None]) -> None:
        """Run ``prepare(flow)`` for each flow a reload adds or changes, *before* the reload is published.

        The media layer builds the new grammars' decoders and the prompt layer
        renders the new prompts here, so the first caller of an edited flow
        is not the one who pays for them. Preparers run in the reloading
        thread (the background reloader on a live server); one that fails is
        logged and the flow is still published: a slower first call beats a
        fix held back.
        """
        self._preparers.append(prepare)

    def _prepare(self, flows: list[LoadedFlow]) -> None:
        me = threading.get_ident()
        self._preparing[me] = True
        try:
            self._prepare_all(flows)
        finally:
            self._preparing.pop(me, None)

    def _prepare_all(self, flows: list[LoadedFlow]) -> None:
        for lf in flows:
            for prepare in list(self._preparers):
                if self._stop.is_set():
                    return
                try:
                    prepare(lf.flow)
                except Exception:  # noqa: BLE001 - preparing is an optimisation, never a reason to keep old flows
                    log.exception("preparing flow '%s' after a reload failed; it is served anyway", lf.flow.flow)

    # -- reloading ---------------------------------------------------------

    def _stamp(self) -> tuple:
        out = []
        for p in flow_files(self.directory):
            try:
                st = p.stat()
            except OSError:  # deleted since the listing, or unreadable: the next check sees it
                continue
            out.append((str(p), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def check(self) -> bool:
        """Reload if any file changed since the last load; True when it reloaded."""
        if self._preparing.get(threading.get_ident()) or self._stamp() == self._snap.stamp:
            return False  # (a preparer looking flows up mid-reload sees the published set)
        self.reload()
        return True

    def reload(self) -> dict[str, list[Problem]]:
        """Re-read the directory now; keep the last good version of any broken file.

        Runs in the caller's thread (the CLI and tests use it to force a
        check); the background thread calls it too.  Returns the errors.
        """
        with self._reload_lock:
            old = self._snap
            stamp = self._stamp()
            by_id: dict[str, LoadedFlow] = {}
            by_number: dict[str, str] = {}
            by_file: dict[str, LoadedFlow] = {}
            errors: dict[str, list[Problem]] = {}
            for path_s, _, _ in stamp:
                if self._stop.is_set():  # closing: publish nothing half-done
                    return old.errors
                lf = self._load_one(path_s, old, errors)
                if lf is None:
                    continue
                if lf.flow.flow in by_id:
                    other = by_id[lf.flow.flow].file
                    errors.setdefault(path_s, []).append(Problem(
                        path_s, *lf.pos("flow"), f"flow id '{lf.flow.flow}' is already used by {other}; "
                        "flow ids must be unique across flows/"))
                    continue
                by_id[lf.flow.flow] = lf
                by_file[path_s] = lf
                for number in lf.flow.numbers:
                    if number in by_number:
                        errors.setdefault(path_s, []).append(Problem(
                            path_s, *lf.pos("numbers"), f"number {number} is already claimed by flow "
                            f"'{by_number[number]}'"))
                    else:
                        by_number[number] = lf.flow.flow
            before = {path: (mtime, size) for path, mtime, size in old.stamp}
            now = {path: (mtime, size) for path, mtime, size in stamp}
            self._prepare([lf for path, lf in by_file.items()
                           if old.by_file.get(path) is not lf and before.get(path) != now.get(path)])
            self._snap = _Snapshot(by_id, by_number, by_file, errors, stamp)  # the swap
            return errors

    def _load_one(self, path_s: str, old: _Snapshot, errors: dict[str, list[Problem]]) -> Optional[LoadedFlow]:
        """The new version of one file, else its last good version (its problems go to ``errors``)."""
        try:
            lf = load_flow(path_s)
            extra = [p for p in (self.validator(lf) if self.validator else []) if p.severity == "error"]
            if extra:
                raise FlowError(extra)
            return lf
        except FlowError as exc:
            errors[path_s] = exc.problems
            for p in exc.problems:
                log.warning("flow not loaded: %s", p.format())
        except Exception as exc:  # a bug must not stop the other flows loading, nor the reloader
            log.exception("flow not loaded: %s: internal error", path_s)
            errors[path_s] = [Problem(path_s, 1, 1, f"internal error while loading ({type(exc).__name__}: {exc}); "
                                      "please report it with this file")]
        if path_s in old.by_file:
            log.warning("keeping the last good version of %s", path_s)
            return old.by_file[path_s]
        return None

    def close(self) -> None:
        """Stop the background reloader and wait for it (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
            self._thread = None

    # -- lookups: read one snapshot, never wait ------------------------------

    def _current(self) -> _Snapshot:
        if self.check_interval <= 0:
            self.check()
        return self._snap

    @property
    def errors(self) -> dict[str, list[Problem]]:
        """Problems of the files that did not load, by file (shown by ``/api/flows`` and ``/``)."""
        return self._current().errors

    @property
    def ids(self) -> list[str]:
        return sorted(self._current().by_id)

    def get(self, flow_id: str) -> Optional[Flow]:
        """A flow by id, or None."""
        lf = self._current().by_id.get(flow_id)
        return lf.flow if lf else None

    def loaded(self, flow_id: str) -> Optional[LoadedFlow]:
        return self._current().by_id.get(flow_id)

    def select(self, called: Optional[str] = None, flow_id: Optional[str] = None,
               default: Optional[str] = None) -> Optional[Flow]:
        """The flow for an incoming call.

        Order: explicit ``flow_id``; the flow whose ``numbers:`` holds the called
        number; ``default`` (IVR_DEFAULT_FLOW); the only flow, if there is one.
        """
        snap = self._current()
        if flow_id:
            lf = snap.by_id.get(flow_id)
            return lf.flow if lf else None
        if called and called in snap.by_number:
            return snap.by_id[snap.by_number[called]].flow
        if default and default in snap.by_id:
            return snap.by_id[default].flow
        if len(snap.by_id) == 1:
            return next(iter(snap.by_id.values())).flow
        return None


def _watch(ref: "weakref.ref[FlowSet]", stop: threading.Event, interval: float) -> None:
    """The reloader thread: check every ``interval`` s until stopped or the FlowSet is gone.

    It holds the FlowSet only weakly between checks, so a set that was never
    closed is still collected, which sets ``stop`` and ends the thread.
    """
    while not stop.wait(interval):
        flows = ref()
        if flows is None:
            return
        try:
            flows.check()
        except Exception:  # keep watching: the next save may fix it
            log.exception("flow reload check failed")
        del flows
