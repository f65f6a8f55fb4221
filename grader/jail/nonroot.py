"""Not root: the outer user namespace that mounts the job's capped ``/job/out`` tmpfs, with bwrap
nested in it."""

from __future__ import annotations

import functools
import logging
import os
import shlex
import subprocess
from pathlib import Path

from grader.jail.command import bwrap_command
from grader.jail.layout import BWRAP, UNSHARE, symlink_args
from grader.jail.limits import MB, Limits
from grader.jail.staging import job_stage

log = logging.getLogger("grader.jail")


def _outfs_script(outfs: Path, out: Path, size_bytes: int) -> str:
    """Shell run (as root of our own user namespace) around bwrap in non-root mode.

    Mounts the capped tmpfs that bwrap binds at ``/job/out``, runs bwrap (``"$@"``), then
    copies the outputs to the host's ``out/``: by then bwrap's PID namespace, and with it
    every sandboxed process, is gone, so nothing can change them during the copy. ``cp -a``
    copies links as links; the trusted side reads ``out/`` without following any.
    """
    q = shlex.quote
    opts = f"size={size_bytes},nr_inodes={_OUTFS_INODES},mode=0700,nosuid,nodev"
    return (
        f"mount -t tmpfs -o {opts} tmpfs {q(str(outfs))} || exit 96\n"
        '"$@"; rc=$?\n'
        f"cp -a -- {q(str(outfs))}/. {q(str(out))}/ || echo 'copying /job/out failed' >&2\n"
        "exit $rc\n"
    )


_OUTFS_INODES = 4096  # files and directories in /job/out (the runner writes a few dozen)


def _outfs_prefix(outfs: Path, out: Path, size_bytes: int) -> list[str]:
    return [
        UNSHARE,
        "--user",
        "--map-root-user",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _outfs_script(outfs, out, size_bytes),
        "sh",
    ]


@functools.lru_cache(maxsize=1)
def outfs_usable() -> tuple[bool, str]:
    """Not root: whether the capped ``/job/out`` chain (unshare + tmpfs + nested bwrap) runs."""
    if os.geteuid() == 0:
        return False, "root mode mounts the job tmpfs itself"
    if not Path(UNSHARE).exists():
        return False, "util-linux unshare is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dlgrader-outfs-check-") as tmp:
        outfs, out = Path(tmp) / "outfs", Path(tmp) / "out"
        outfs.mkdir()
        out.mkdir()
        cmd = _outfs_prefix(outfs, out, MB)
        cmd += [BWRAP, "--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
        cmd += ["--ro-bind", "/usr", "/usr", *symlink_args(), "--bind", str(outfs), "/o"]
        cmd += ["--", "/bin/sh", "-c", "echo ok > /o/probe"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"unshare failed to start: {exc}"
        if proc.returncode != 0 or not (out / "probe").is_file():
            err = proc.stderr.decode(errors="replace").strip()[:300]
            return False, f"unshare/tmpfs/nested bwrap failed (rc {proc.returncode}): {err}"
    return True, ""


def nonroot_bwrap(
    box: Path,
    limits: Limits,
    slot: int,
    env: dict[str, str],
    mnist_file: Path | None,
    data_bytes: int | None,
    seccomp_fd: int | None,
) -> tuple[list[str], str]:
    """Non-root command: bwrap nested in our own user namespace with a capped ``/job/out``

    (``outfs_usable``), or plain ``bwrap --unshare-user`` with ``/job/out`` on host disk; and
    a note when the disk cap could not be applied."""
    ok, why = outfs_usable()
    if not ok:
        note = (
            f"job disk not capped: /job/out is host disk, each file up to "
            f"{limits.file_size_bytes // MB} MB ({why})"
        )
        log.warning(note)
        cmd = bwrap_command(
            box / "in",
            box / "out",
            limits,
            slot,
            env,
            mnist_file,
            data_bytes=data_bytes,
            seccomp_fd=seccomp_fd,
            stage=job_stage(box),
        )
        return cmd, note
    outfs = box / "outfs"
    outfs.mkdir(mode=0o700, exist_ok=True)
    inner = bwrap_command(
        box / "in",
        outfs,
        limits,
        slot,
        env,
        mnist_file,
        userns_id=(os.getuid(), os.getgid()),
        data_bytes=data_bytes,
        seccomp_fd=seccomp_fd,
        stage=job_stage(box),
    )
    return _outfs_prefix(outfs, box / "out", limits.job_disk_bytes) + inner, ""
