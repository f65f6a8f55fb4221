"""Resource limits of one sandboxed run, and where the grader keeps its state."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Limits of one grading run. ``None`` for the timeouts means "the assignment's own".

    Memory goes through a cgroup (``RLIMIT_AS`` breaks OpenBLAS); processes, file size, open
    files and CPU seconds through rlimits; output bytes are counted by the runner; the wall
    clock is enforced from outside by killing the whole process group.
    """

    notebook_timeout: float | None = None  # seconds, whole notebook (kernel start included)
    cell_timeout: float | None = None  # seconds, per cell
    memory_bytes: int = 3072 * MB  # cgroup memory limit (kernel + runner + job tmpfs)
    nproc: int = 128  # processes/threads of the slot's uid (RLIMIT_NPROC) and pids cgroup
    file_size_bytes: int = 128 * MB  # RLIMIT_FSIZE: largest file the sandbox may write
    open_files: int = 1024  # RLIMIT_NOFILE
    output_bytes: int = 8 * MB  # notebook outputs kept; more stops the run
    job_disk_bytes: int = 256 * MB  # size of the job's tmpfs (probe outputs, executed notebook)
    tmp_bytes: int = 256 * MB  # size of the sandbox's private /tmp
    kill_grace: float = 10.0  # extra seconds before the outside wall clock kills everything

    def with_(self, **changes) -> Limits:
        return replace(self, **changes)


def state_dir() -> Path:
    """``$GRADER_STATE_DIR``, default ``~/.local/state/dl-course-grader`` (created, 0700)."""
    env = os.environ.get("GRADER_STATE_DIR")
    path = Path(env).expanduser() if env else Path.home() / ".local" / "state" / "dl-course-grader"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


UID_BASE_DEFAULT = 61000
_UID_MAX = 2**32 - 2  # (uid_t)-1 means "no change" to setuid-like calls


def uid_base() -> int:
    """First slot uid: env ``GRADER_UID_BASE`` (or its older name ``GRADER_SANDBOX_UID_BASE``),
    default 61000. Per process, so that two graders (or two test runs) on one machine can use
    disjoint uids and never see, or kill, each other's sandboxed processes."""
    for name in ("GRADER_UID_BASE", "GRADER_SANDBOX_UID_BASE"):
        raw = os.environ.get(name)
        if raw is None or not raw.strip():
            continue
        try:
            base = int(raw)
        except ValueError:
            raise ValueError(f"{name} must be an integer uid, got {raw!r}") from None
        if not 1000 <= base <= _UID_MAX - 999:
            raise ValueError(f"{name} must be in 1000..{_UID_MAX - 999}, got {base}")
        return base
    return UID_BASE_DEFAULT


def slot_uid(slot: int) -> int:
    """The unprivileged uid (and gid) of a concurrent slot when the grader runs as root."""
    if not 0 <= slot < 1000:
        raise ValueError(f"slot must be in 0..999, got {slot}")
    return uid_base() + slot


# Source characters a notebook may hold (the upload validator's limit; the stored executed
# notebook's cap is computed from it).
MAX_SOURCE_CHARS = 2 * 1024 * 1024
