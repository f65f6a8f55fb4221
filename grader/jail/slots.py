"""One sandboxed job per slot uid on this machine, whichever grader process runs it.

A slot is an unprivileged uid (``slot_uid``). Two jobs under one uid would share its process
limit (``RLIMIT_NPROC`` counts per uid, so one job's fork bomb could starve the other) and
could signal each other's processes. ``grader serve`` numbers its workers, ``grader grade`` its
threads, and a standalone ``grader worker`` or a second command on the same machine knows
nothing of either; so every job takes an exclusive ``flock`` on its uid's lock file before it
starts. The kernel drops the lock when the holder exits, even on SIGKILL, so a lock is never
stale, and a job whose preferred slot is busy moves to the first free one.

Holding the uid's lock also proves that no live job uses the uid, which is what makes it safe
to sweep what a killed grader left behind under that uid (``sweep_stale_jobs``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.jail.cgroups import sweep_stale_cgroups
from grader.jail.limits import slot_uid, state_dir

log = logging.getLogger(__name__)

MAX_SLOTS = 1000  # slot_uid accepts 0..999
JOB_PREFIX = "dlgrader-job-"
OWNER_FILE = "owner-uid"  # in a job's root: the slot uid the job runs under


class NoFreeSlot(RuntimeError):
    """Every slot uid is taken by a running job."""


def lock_dir() -> Path:
    """Root: ``/run/dl-course-grader/slots`` (shared by every grader on the machine);
    otherwise the user's state dir (a user's jobs only compete with their own)."""
    if os.geteuid() == 0:
        try:
            path = Path("/run/dl-course-grader/slots")
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            return path
        except OSError:  # no writable /run (some containers)
            pass
    path = state_dir() / "slots"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _try_lock(uid: int) -> int | None:
    fd = os.open(lock_dir() / f"uid-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def lease(preferred: int) -> Iterator[int]:
    """Hold the lock of slot ``preferred`` (or of the first free slot) while the block runs.

    Yields the slot actually leased. Raises ``NoFreeSlot`` when all are busy.
    """
    order = [preferred] + [s for s in range(MAX_SLOTS) if s != preferred]
    for slot in order:
        fd = _try_lock(slot_uid(slot))
        if fd is None:
            continue
        if slot != preferred:
            log.info(
                "slot %d is busy (another job on this machine); using slot %d", preferred, slot
            )
        try:
            yield slot
        finally:
            os.close(fd)  # releases the flock
        return
    raise NoFreeSlot(f"all {MAX_SLOTS} grading slots are busy")


def mark_owner(job_root: Path, slot: int) -> None:
    """Record in a fresh job root which slot uid it belongs to (read by the sweep)."""
    (job_root / OWNER_FILE).write_text(str(slot_uid(slot)))


def sweep_stale_jobs(slot: int, unmount) -> list[Path]:
    """Remove job roots of ``slot``'s uid left by a grader that was killed mid-job.

    Call only while holding ``lease(slot)``: then no live job owns these roots. ``unmount``
    detaches the job tmpfs (it stays mounted when the grader dies). Returns the roots removed;
    empty cgroups of graders that no longer run go as well.
    """
    uid = str(slot_uid(slot))
    sweep_stale_cgroups()
    removed = []
    for root in Path(tempfile.gettempdir()).glob(JOB_PREFIX + "*"):
        try:
            if (root / OWNER_FILE).read_text().strip() != uid:
                continue
        except OSError:
            continue
        box = root / "box"
        if os.path.ismount(box):
            unmount(box)
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
        log.warning("removed %s, left by a grader that stopped mid-job", root)
    return removed
