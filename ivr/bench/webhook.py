"""Webhook throughput: complete keypad calls vs a bare Flask route, same server, same run.

Both servers run under gunicorn with the same worker settings; one client
(threads with keep-alive connections, Twilio-signed requests) drives
complete calls of the bank demo (balance: 5 webhooks and a hook per call)
against the IVR, and the same number of requests against the bare route.
"""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

TOKEN = "bench-auth-token"
ROOT = Path(__file__).resolve().parents[2]

# One complete call: (path, extra params). Ends with the goodbye hang-up.
CALL = [("/voice?flow=bank", {}), ("/voice/input?node=main", {"Digits": "1"}),
        ("/voice/input?node=account_number", {"Digits": "12345678#"}),
        ("/voice/input?node=card_pin", {"Digits": "2468#"}),
        ("/voice/input?node=anything_else", {"Digits": "2"})]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start: {proc.stderr.read().decode(errors='replace')[-2000:]}")


def _cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (0.0 where there is no /proc)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {root_pid}, 0.0
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                changed = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _drive(port: int, calls: int, concurrency: int, one_call: Callable[[http.client.HTTPConnection, str, list], int],
           server_pid: int = 0) -> dict[str, Any]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    todo = iter(range(calls))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local: list[float] = []
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                break
            try:
                errs = one_call(conn, "CA" + uuid.uuid4().hex, local)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                errs = 1
            if errs:
                with lock:
                    errors[0] += errs
        with lock:
            latencies.extend(local)
        conn.close()

    cpu0 = _cpu_seconds(server_pid) if server_pid else 0.0
    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu = _cpu_seconds(server_pid) - cpu0 if server_pid else 0.0
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"calls": calls, "requests": len(latencies), "errors": errors[0], "seconds": round(wall, 3),
            "calls_per_s": round(calls / wall, 1), "requests_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
            "server_cpu_ms_per_request": round(cpu * 1000 / len(latencies), 3) if latencies else None}


def _post(conn: http.client.HTTPConnection, validator: RequestValidator, port: int, path: str,
          params: dict[str, str], out: list) -> bytes:
    signature = validator.compute_signature(f"http://127.0.0.1:{port}{path}", params)
    body = urlencode(params)
    t0 = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                    "X-Twilio-Signature": signature})
    resp = conn.getresponse()
    data = resp.read()
    out.append(time.perf_counter() - t0)
    if resp.status != 200:
        raise http.client.HTTPException(f"status {resp.status}")
    return data


def run(calls: int = 2000, concurrency: int = 16, workers: int = 2, threads: int = 8) -> dict[str, Any]:
    """Run both benchmarks and return the figures."""
    validator = RequestValidator(TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        env.update({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_FLOWS_DIR": str(ROOT / "flows"), "IVR_INSTANCE_DIR": tmp,
                    "IVR_SECRET_KEY": "bench", "IVR_MEDIA_STREAMS": "0",  # keypad webhooks only
                    "IVR_AUDIO_DIR": str(Path(tmp) / "audio")})
        # As deployed: prompts rendered ahead of time, so TwiML plays audio (no <Say> fallbacks).
        subprocess.run([sys.executable, "-m", "ivr", "prompts", "build", "--no-progress"], cwd=ROOT, env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gunicorn = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads",
                    str(threads), "--log-level", "warning"]
        bare_port, ivr_port = _free_port(), _free_port()
        bare = _start(gunicorn + ["-b", f"127.0.0.1:{bare_port}", "ivr.bench.bare:create_bare_app()"], env, bare_port)
        try:
            def bare_call(conn, sid, out):
                for _ in CALL:
                    _post(conn, validator, bare_port, "/bare", {"CallSid": sid, "Digits": "1"}, out)
                return 0
            _drive(bare_port, max(10, calls // 10), concurrency, bare_call)  # warm-up
            bare_res = _drive(bare_port, calls, concurrency, bare_call, bare.pid)
        finally:
            bare.terminate()
            bare.wait()
        server = _start([sys.executable, "-m", "ivr", "serve", "--port", str(ivr_port), "--workers", str(workers),
                         "--threads", str(threads)], env, ivr_port)
        try:
            def ivr_call(conn, sid, out):
                base = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+1555" + sid[-7:],
                        "To": "+15005550006", "CallStatus": "in-progress"}
                last = b""
                for path, extra in CALL:
                    last = _post(conn, validator, ivr_port, path, {**base, **extra}, out)
                return 0 if b"<Hangup" in last else 1
            _drive(ivr_port, max(10, calls // 10), concurrency, ivr_call)
            ivr_res = _drive(ivr_port, calls, concurrency, ivr_call, server.pid)
        finally:
            server.terminate()
            server.wait()
    ratio = ivr_res["requests_per_s"] / bare_res["requests_per_s"] if bare_res["requests_per_s"] else 0.0
    return {"benchmark": "webhook", "call": "bank balance, 5 signed webhooks + 1 hook per call",
            "server": {"workers": workers, "threads": threads, "kind": "gunicorn gthread", "store": "sqlite",
                       "prompts": "rendered"},
            "client": {"concurrency": concurrency, "keep_alive": True},
            "ivr": ivr_res, "bare": bare_res, "throughput_ratio": round(ratio, 3), "target_ratio": 0.8,
            "cpus": os.cpu_count()}
