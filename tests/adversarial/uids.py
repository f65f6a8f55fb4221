"""Slot uids private to one test process.

Two test runs on one machine (two checkouts, or two xdist workers) must never share a sandbox
uid: each asserts that no process of its slot's uid survives a run, and would see (or count)
the other's. The base depends on the pid (unique among live processes, and below pid_max
<= 2**22, so the base stays a valid uid); the slot number adds the xdist worker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from grader.jail.limits import slot_uid


def worker_index() -> int:
    """0 for ``gw0`` (or no xdist), 1 for ``gw1``, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:] or 0)


def process_uid_base() -> int:
    """A uid base of this process: 1,000,000 + pid * 1000 (slots 0..999 stay disjoint)."""
    return 1_000_000 + os.getpid() * 1000


@contextmanager
def private_uid_base() -> Iterator[int]:
    """Set ``GRADER_UID_BASE`` to this process's base for the duration; yields it."""
    saved = os.environ.get("GRADER_UID_BASE")
    base = process_uid_base()
    os.environ["GRADER_UID_BASE"] = str(base)
    try:
        assert slot_uid(0) == base  # the engine reads it
        yield base
    finally:
        if saved is None:
            os.environ.pop("GRADER_UID_BASE", None)
        else:
            os.environ["GRADER_UID_BASE"] = saved
