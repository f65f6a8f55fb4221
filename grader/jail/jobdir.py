"""The job's size-capped tmpfs (root mode): mounted before the run, unmounted after."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from pathlib import Path

log = logging.getLogger("grader.jail")

_libc = None


def _libc_handle():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def mount_job_tmpfs(path: Path, size_bytes: int) -> bool:
    """Mount a size-capped tmpfs on ``path`` (root only) so a full disk stays a full tmpfs."""
    if os.geteuid() != 0:
        return False
    libc = _libc_handle()
    ms_nosuid, ms_nodev = 2, 4
    opts = f"size={size_bytes},mode=0755".encode()
    rc = libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", ms_nosuid | ms_nodev, opts)
    if rc != 0:
        log.warning("cannot mount the job tmpfs: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def unmount(path: Path) -> None:
    libc = _libc_handle()
    mnt_detach = 2
    libc.umount2(str(path).encode(), mnt_detach)
