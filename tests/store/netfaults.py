"""Bounded local network faults for store tests: a server that never answers, a proxy that freezes.

Everything listens on 127.0.0.1 only, runs in daemon threads, and is closed by
the context managers, so no test leaves a socket or thread behind.
"""

from __future__ import annotations

import selectors
import socket
import threading
from contextlib import contextmanager
from typing import Iterator


class _Server:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        for c in self.conns:
            c.close()
        self.sock.close()


class _Silent(_Server):
    """Accepts connections and never sends a byte (a hung server whose kernel still completes handshakes)."""

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)


@contextmanager
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never answers."""
    srv = _Silent()
    srv.thread.start()
    try:
        yield srv.port
    finally:
        srv.close()


class FreezableProxy(_Server):
    """Forwards 127.0.0.1:<port> to a real server until :meth:`freeze`, then forwards nothing.

    Frozen, it still accepts connections and the kernel still acknowledges
    what clients send: from the client's side the server has stopped answering.
    """

    def __init__(self, target_port: int) -> None:
        super().__init__()
        self.target_port = target_port
        self.frozen = threading.Event()

    def freeze(self) -> None:
        self.frozen.set()

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        peers: dict[socket.socket, socket.socket] = {}
        while not self.stop.is_set():
            for key, _ in sel.select(timeout=0.05):
                s = key.fileobj
                if s is self.sock:
                    try:
                        client, _ = self.sock.accept()
                    except (socket.timeout, OSError):
                        continue
                    self.conns.append(client)
                    if self.frozen.is_set():
                        continue
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                    self.conns.append(upstream)
                    peers[client], peers[upstream] = upstream, client
                    sel.register(client, selectors.EVENT_READ)
                    sel.register(upstream, selectors.EVENT_READ)
                    continue
                if self.frozen.is_set():
                    sel.unregister(s)  # leave the bytes unread: the client waits for an answer
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    for end in (s, peers.get(s)):
                        if end is not None and end in peers:
                            sel.unregister(end)
                            peers.pop(end, None)
                    continue
                peers[s].sendall(data)
        sel.close()


@contextmanager
def freezable_proxy(target_port: int) -> Iterator[FreezableProxy]:
    """A proxy to a local server that a test can freeze."""
    proxy = FreezableProxy(target_port)
    proxy.thread.start()
    try:
        yield proxy
    finally:
        proxy.close()
