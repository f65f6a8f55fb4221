"""The job's box (``in/`` and ``out/``) and its size-capped tmpfs (root mode): mounted before
the run, unmounted after."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
from pathlib import Path

from grader.jail.limits import Limits, slot_uid

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
    opts = f"size={size_bytes},mode=0755".encode()
    rc = _libc_handle().mount(b"tmpfs", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts)
    if rc != 0:
        log.warning("cannot mount the job tmpfs: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


MS_NOSUID, MS_NODEV, MS_REMOUNT = 2, 4, 32


def make_box(root: Path, limits: Limits, slot: int | None) -> tuple[Path, bool]:
    """A fresh ``root/box`` with ``in/`` (the trusted side's) and ``out/`` (the sandbox's);
    ``slot``: a bwrap job's slot (its tmpfs, and as root ``out/`` owned by its uid), None in
    limits-only mode. Returns the box and whether its tmpfs is mounted."""
    box = root / "box"
    if box.exists():
        unmount(box)
        shutil.rmtree(box, ignore_errors=True)
    box.mkdir()
    mounted = slot is not None and mount_job_tmpfs(box, limits.job_disk_bytes)
    (box / "in").mkdir(mode=0o755)
    (box / "out").mkdir(mode=0o700)
    if slot is not None and os.geteuid() == 0:
        uid = slot_uid(slot)
        os.chown(box / "out", uid, uid)
    return box, mounted


def grow_job_tmpfs(path: Path, size_bytes: int) -> None:
    """Set the mounted job tmpfs's size (root only): room for a file the trusted side adds
    to ``in/`` after the sandbox started, so that ``out/`` keeps its whole share."""
    opts = f"size={size_bytes},mode=0755".encode()
    flags = MS_REMOUNT | MS_NOSUID | MS_NODEV
    if _libc_handle().mount(b"tmpfs", str(path).encode(), b"tmpfs", flags, opts) != 0:
        raise OSError(ctypes.get_errno(), f"cannot resize the job tmpfs {path}")


def unmount(path: Path) -> None:
    libc = _libc_handle()
    mnt_detach = 2
    libc.umount2(str(path).encode(), mnt_detach)
