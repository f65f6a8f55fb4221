"""Without a memory cgroup: a watchdog that sums the resident memory of the job's process tree
and kills the largest processes until the rest fits."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

from grader.jail.limits import MB

log = logging.getLogger("grader.jail")

MEMORY_WATCH_PERIOD = 0.1  # seconds between two sums of the job's resident memory


def wait_watching_memory(proc: subprocess.Popen, wall: float, limit: int) -> tuple[int, bool]:
    """Wait for ``proc`` like ``proc.wait(timeout=wall)`` while keeping the resident memory
    of it and all its descendants under ``limit`` bytes: the per-job memory limit where no
    cgroup can be made (RLIMIT_DATA alone caps each process, so a job that forks could use
    nproc times the limit). Like the kernel's OOM killer, the largest processes are killed
    until the rest fits (the kernel or its children; the runner then reports what happened).
    Returns (return code, whether anything was killed for memory)."""
    deadline = time.monotonic() + wall
    hit = False
    while True:
        try:
            return proc.wait(timeout=MEMORY_WATCH_PERIOD), hit
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
        sizes = {pid: resident_bytes([pid]) for pid in descendants(proc.pid)}
        total = sum(sizes.values())
        for pid in sorted(sizes, key=sizes.__getitem__, reverse=True):
            if total <= limit:
                break
            log.warning(
                "job over its memory limit (%d MB > %d MB): killing pid %d (%d MB)",
                total // MB,
                limit // MB,
                pid,
                sizes[pid] // MB,
            )
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            total -= sizes[pid]
            hit = True


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (host pids), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])  # state, ppid, ...
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def resident_bytes(pids: list[int]) -> int:
    """Sum of the resident set sizes of ``pids`` (shared pages counted in each: an upper
    bound, which errs on the safe side for a limit)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
