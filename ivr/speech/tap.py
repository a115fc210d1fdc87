"""A tap on callers' voiced audio, for passive voice authentication.

The media transport publishes every 20 ms frame the VAD judged voiced inside
an utterance (pcm16, 8 kHz) under the call's id. A voice authenticator
subscribes by call id and listens in its own time, without touching the
recogniser or slowing the media loop: publishing never blocks, and memory is
bounded (recent frames per call, a bounded number of calls, bounded
subscriber queues that drop their oldest frames when nobody reads them).
"""

from __future__ import annotations

import collections
import queue
import threading
from typing import Optional

__all__ = ["VoiceTap", "Subscription"]

FRAME_MS = 20


class Subscription:
    """Frames of one call as they are published.

    Use :meth:`get` to wait for the next frame (None on timeout or once the
    call ended and every frame was read), :meth:`drain` for what is queued.
    """

    def __init__(self, tap: "VoiceTap", call_id: str, maxsize: int) -> None:
        self.tap = tap
        self.call_id = call_id
        self._q: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=max(2, maxsize))
        self.dropped = 0
        self.ended = False

    def _put(self, frame: Optional[bytes]) -> None:
        while True:
            try:
                self._q.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._q.get_nowait()  # drop the oldest: a slow reader never holds the call up
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next voiced frame; None on timeout or when the call's audio ended."""
        if self.ended and self._q.empty():
            return None
        try:
            frame = self._q.get(timeout=timeout)
        except queue.Empty:
            return None
        if frame is None:
            self.ended = True
        return frame

    def drain(self) -> bytes:
        """Every frame queued now, joined (non-blocking)."""
        out = []
        while True:
            try:
                frame = self._q.get_nowait()
            except queue.Empty:
                break
            if frame is None:
                self.ended = True
            else:
                out.append(frame)
        return b"".join(out)

    def close(self) -> None:
        """Stop receiving frames."""
        self.tap._unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VoiceTap:
    """Publishes voiced caller frames by call id.

    Args:
        keep_ms: voiced audio kept per call for late subscribers (:meth:`recent`).
        max_calls: calls whose recent audio is kept; the oldest are forgotten.
        queue_frames: capacity of each subscription's queue.
    """

    def __init__(self, keep_ms: int = 30_000, max_calls: int = 500, queue_frames: int = 1500) -> None:
        self.keep_frames = max(1, keep_ms // FRAME_MS)
        self.max_calls = max_calls
        self.queue_frames = queue_frames
        self._lock = threading.Lock()
        self._recent: collections.OrderedDict[str, collections.deque[bytes]] = collections.OrderedDict()
        self._subs: dict[str, list[Subscription]] = {}
        self.published = 0

    def subscribe(self, call_id: str, maxsize: Optional[int] = None) -> Subscription:
        """Receive the call's voiced frames from now on (see :meth:`recent` for earlier ones)."""
        sub = Subscription(self, call_id, maxsize or self.queue_frames)
        with self._lock:
            self._subs.setdefault(call_id, []).append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.call_id)
            if subs and sub in subs:
                subs.remove(sub)
                if not subs:
                    del self._subs[sub.call_id]

    def publish(self, call_id: str, frame: bytes) -> None:
        """One voiced 20 ms pcm16 frame of a call (never blocks)."""
        with self._lock:
            buf = self._recent.get(call_id)
            if buf is None:
                buf = self._recent[call_id] = collections.deque(maxlen=self.keep_frames)
                while len(self._recent) > self.max_calls:
                    self._recent.popitem(last=False)
            buf.append(frame)
            subs = list(self._subs.get(call_id, ()))
            self.published += 1
        for sub in subs:
            sub._put(frame)

    def forget(self, call_id: str) -> None:
        """Drop the call's recent frames now (a voice decision was made: no raw audio outlives it)."""
        with self._lock:
            self._recent.pop(call_id, None)

    def end(self, call_id: str) -> None:
        """The call's audio ended: subscribers' :meth:`Subscription.get` returns None after the rest."""
        with self._lock:
            subs = self._subs.pop(call_id, [])
        for sub in subs:
            sub._put(None)

    def recent(self, call_id: str) -> bytes:
        """The call's most recent voiced audio (up to ``keep_ms``), pcm16 8 kHz."""
        with self._lock:
            buf = self._recent.get(call_id)
            return b"".join(buf) if buf else b""

    def calls(self) -> list[str]:
        """Calls with kept audio, oldest first."""
        with self._lock:
            return list(self._recent)
