"""The per-job memory watchdog used where no memory cgroup can be made (non-root mode):
real processes that fork and allocate, in their own sessions as bwrap's are."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from grader.jail import memwatch
from grader.jail.limits import MB

# A parent that starts ``n`` children in new sessions (like bwrap --new-session), each
# touching ``mb`` MB, then waits for them; prints "done" if they all ended by themselves.
HOGS = """
import os, sys, time
n, mb = int(sys.argv[1]), int(sys.argv[2])
kids = []
for _ in range(n):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        hog = bytearray(mb * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(float(sys.argv[3]))
        os._exit(0)
    kids.append(pid)
codes = [os.waitpid(pid, 0)[1] for pid in kids]
print("done", codes, flush=True)
"""


def _start(n: int, mb: int, sleep: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOGS), str(n), str(mb), str(sleep)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_forked_children_over_the_job_limit_are_killed_until_the_rest_fits():
    proc = _start(n=4, mb=150, sleep=3)  # 600 MB in all, each child alone under the limit
    rc, hit = memwatch.wait_watching_memory(proc, wall=120, limit=250 * MB)
    assert hit and rc == 0
    out = proc.stdout.read()
    codes = [int(c) for c in out.split("[", 1)[1].split("]", 1)[0].split(",")]
    # at most one 150 MB child fits next to the parent: the others were SIGKILLed (status
    # 9); the parent (small) survived to report it
    killed = sum(1 for c in codes if c & 0x7F == 9)
    assert killed >= 3, codes


def test_a_job_under_its_limit_is_left_alone():
    proc = _start(n=2, mb=20, sleep=0.5)
    rc, hit = memwatch.wait_watching_memory(proc, wall=60, limit=400 * MB)
    assert (rc, hit) == (0, False)
    assert "done [0, 0]" in proc.stdout.read()


def test_the_wall_clock_still_applies():
    proc = _start(n=1, mb=1, sleep=30)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            memwatch.wait_watching_memory(proc, wall=0.5, limit=400 * MB)
    finally:
        for pid in memwatch.descendants(proc.pid)[::-1]:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        proc.wait()


def test_descendants_cross_sessions_and_resident_bytes_counts_them():
    proc = _start(n=2, mb=64, sleep=30)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = memwatch.descendants(proc.pid)
            if len(pids) == 3 and memwatch.resident_bytes(pids) > 128 * MB:
                break
            time.sleep(0.1)
        assert len(pids) == 3 and pids[0] == proc.pid
        assert memwatch.resident_bytes(pids) > 128 * MB
        assert memwatch.resident_bytes([999_999_999]) == 0  # gone processes count nothing
    finally:
        for pid in memwatch.descendants(proc.pid)[::-1]:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        proc.wait()
