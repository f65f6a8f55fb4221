"""What open event streams and slow clients cost the service (issue 13, findings 9 and 10).

    .venv/bin/python bench/service_abuse.py [--streams 0,50,200,400] [--slow 0,500,1100]

Against a live ``grader serve`` without workers (submissions stay queued): for each number of
open status streams on one pending submission (opened with ``--max-streams`` raised so that
they are all accepted: many students at once), the ``/healthz`` latency (median and max of
20) and the CPU the API process uses while they are open (share of one core over 5 s); then
the same latency with that many half-sent request heads held open (before the header timeout
cuts them off), and how many of them the service has closed after the header timeout. Last,
how many of 400 streams one student gets with the default per-user cap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers
from live_service import FAST_ASSIGNMENT, LiveService, cli  # noqa: E402

NB = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()
HEADER_TIMEOUT = 10.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def healthz_latency(url: str, n: int = 20) -> tuple[float, float]:
    times = []
    with httpx.Client(timeout=120) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            c.get(url + "/healthz").raise_for_status()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def core_share(pid: int, seconds: float = 5.0) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds


def submit(url: str, token: str) -> str:
    r = httpx.post(
        url + "/api/v1/submissions",
        headers={"Authorization": f"Bearer {token}"},
        data={"assignment_id": FAST_ASSIGNMENT},
        files={"notebook": ("hw.ipynb", NB)},
        timeout=60,
    )
    r.raise_for_status()
    return r.json()["id"]


def open_streams(stack, url: str, token: str, sub: str, n: int) -> list[int]:
    client = stack.enter_context(
        httpx.Client(timeout=120, limits=httpx.Limits(max_connections=None))
    )
    codes = []
    for _ in range(n):
        r = stack.enter_context(
            client.stream(
                "GET",
                f"{url}/api/v1/submissions/{sub}/events",
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        codes.append(r.status_code)
    return codes


def streams_table(home: Path, token: str, counts: list[int]) -> None:
    extra = ["--allow-unsandboxed", "--max-streams", str(max(counts) + 1)]
    with LiveService(home, workers=0, extra=extra) as svc:
        sub = submit(svc.url, token)
        print("open streams | /healthz median s | max s | API process CPU (cores)")
        for n in counts:
            with contextlib.ExitStack() as stack:
                open_streams(stack, svc.url, token, sub, n)
                med, worst = healthz_latency(svc.url)
                print(f"{n:12d} | {med:17.4f} | {worst:5.3f} | {core_share(svc.proc.pid):.2f}")


def slow_table(home: Path, counts: list[int]) -> None:
    extra = ["--allow-unsandboxed", "--header-timeout", str(HEADER_TIMEOUT)]
    with LiveService(home, workers=0, extra=extra) as svc:
        print("half-sent heads | /healthz median s | max s | closed by the service after timeout")
        for n in counts:
            socks = []
            try:
                for _ in range(n):
                    s = socket.create_connection(("127.0.0.1", svc.port))
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    socks.append(s)
                med, worst = healthz_latency(svc.url)
                time.sleep(HEADER_TIMEOUT + 2)
                closed = 0
                for s in socks:
                    s.settimeout(5)
                    with contextlib.suppress(OSError):
                        data = s.recv(4096)
                        closed += data.startswith(b"HTTP/1.1 408") or data == b""
                print(f"{n:15d} | {med:17.4f} | {worst:5.3f} | {closed}/{n}")
            finally:
                for s in socks:
                    s.close()


def one_student(home: Path, token: str, n: int = 400) -> None:
    with LiveService(home, workers=0, extra=["--allow-unsandboxed"]) as svc:
        sub = submit(svc.url, token)
        with contextlib.ExitStack() as stack:
            codes = open_streams(stack, svc.url, token, sub, n)
            med, _ = healthz_latency(svc.url)
            print(
                f"one student asks for {n} streams (default cap): {codes.count(200)} open, "
                f"{codes.count(429)} refused (429); /healthz median {med:.4f} s"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", default="0,50,200,400")
    ap.add_argument("--slow", default="0,500,1100")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this client opens many too
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        token = cli(home, "token", "create", "--student", "s1", "--name", "s1").strip()
        streams_table(home, token, [int(x) for x in args.streams.split(",")])
        slow_table(home, [int(x) for x in args.slow.split(",")])
        one_student(home, token)


if __name__ == "__main__":
    main()
