"""Run the notebook runner in the jail with its limits, and report what happened from outside."""

from __future__ import annotations

import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.jail import seccomp
from grader.jail.cgroups import Cgroup, make_cgroup
from grader.jail.command import args_through_fd, bwrap_command, prlimit_args
from grader.jail.limits import MB, Limits
from grader.jail.memwatch import MEMORY_WATCH_PERIOD, killpg, wait_watching_memory
from grader.jail.nonroot import nonroot_bwrap
from grader.jail.staging import job_stage, staged_root

log = logging.getLogger("grader.jail")


@dataclass
class SandboxRun:
    """What happened to one sandboxed run, as seen from outside."""

    mode: str  # "bwrap" or "limits-only"
    returncode: int | None
    wall_seconds: float
    killed_by_wall_clock: bool
    oom_killed: bool
    peak_memory: int | None
    cpu_seconds: float | None
    cgroup_note: str
    log_tail: str
    weakened: list[str] = field(default_factory=list)  # limits not enforced as configured


@dataclass
class StartedRun:
    """A sandbox whose processes run: what ``wait_sandboxed`` needs to see it end."""

    mode: str
    proc: subprocess.Popen
    cgroup: Cgroup
    cgroup_note: str
    log_path: Path
    weakened: list[str]


def run_sandboxed(
    box: Path,
    limits: Limits,
    slot: int,
    env: dict[str, str],
    mnist_file: Path | None,
    mode: str,
    tag: str,
    report_fd: int | None = None,
) -> SandboxRun:
    """Run the runner for the job whose directories are ``box/in`` and ``box/out``.

    ``mode`` is "bwrap" or "limits-only". Blocks until the run ends or the wall clock
    (``limits.notebook_timeout + limits.kill_grace``) kills the whole process group.
    ``report_fd``: a writable descriptor the runner gets at the same number (its report).
    """
    fds = [] if report_fd is None else [report_fd]
    started = start_sandboxed(box, limits, slot, env, mnist_file, mode, tag, fds)
    return wait_sandboxed(started, limits)


def start_sandboxed(
    box: Path,
    limits: Limits,
    slot: int,
    env: dict[str, str],
    mnist_file: Path | None,
    mode: str,
    tag: str,
    keep_fds: list[int],
) -> StartedRun:
    """Start the runner in a fresh sandbox and return at once (``run_sandboxed`` without the
    wait). ``keep_fds``: the caller's descriptors the runner gets at the same numbers (the
    caller closes them)."""
    job_in, job_out = box / "in", box / "out"
    cg, cg_note = make_cgroup(limits, tag)
    weakened: list[str] = []
    data_bytes = None
    if not cg.active:
        # No cgroup (non-root without delegation): a per-process cap is better than none.
        data_bytes = limits.memory_bytes
        cg_note += (
            f"; fallback: RLIMIT_DATA {limits.memory_bytes // MB} MB per process, and the job "
            f"is killed when its processes' resident memory adds up to more (checked every "
            f"{MEMORY_WATCH_PERIOD:g} s)"
        )
        log.warning("memory limit not enforced by a cgroup: %s", cg_note)
    if cg_note:
        weakened.append(f"memory limit not enforced by a cgroup: {cg_note}")
    pass_fds: list[int] = list(keep_fds)
    if mode == "bwrap":
        seccomp_fd = None
        if seccomp.supported():
            seccomp_fd = seccomp.program_fd()
            pass_fds.append(seccomp_fd)
        else:
            weakened.append(
                f"no seccomp filter for {platform.machine()}: new namespaces are refused "
                "inside the sandbox only by bwrap's --disable-userns (not root) or not at all"
            )
    if mode == "bwrap" and os.geteuid() != 0:
        cmd, disk_note = nonroot_bwrap(box, limits, slot, env, mnist_file, data_bytes, seccomp_fd)
        if disk_note:
            weakened.append(disk_note)
        run_env = {"PATH": "/usr/bin:/bin"}
    elif mode == "bwrap":
        cmd = bwrap_command(
            job_in,
            job_out,
            limits,
            slot,
            env,
            mnist_file,
            data_bytes=data_bytes,
            seccomp_fd=seccomp_fd,
            stage=job_stage(box),
        )
        run_env = {"PATH": "/usr/bin:/bin"}
    else:
        cmd = prlimit_args(limits, data_bytes)
        cmd += [sys.executable, "-s", str(staged_root() / "runner.py"), str(job_in / "run.json")]
        run_env = dict(env)
    if mode == "bwrap":
        cmd = args_through_fd(cmd, pass_fds)
    if cg.active:
        # Join the cgroup before bwrap starts, so no process escapes it.
        joins = " ".join(f"echo $$ > {shlex.quote(str(p))} || exit 97;" for p in cg.procs_files)
        cmd = ["/bin/sh", "-c", f'{joins} exec "$@"', "sh", *cmd]
    log_path = box / "sandbox.log"
    with open(log_path, "wb") as logf:
        try:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=run_env,
                start_new_session=True,
                close_fds=True,
                pass_fds=pass_fds,
            )
        except BaseException:
            cg.remove()
            raise
        finally:
            for fd in pass_fds:
                if fd not in keep_fds:  # ours: the seccomp filter, bwrap's arguments
                    os.close(fd)
    return StartedRun(mode, proc, cg, cg_note, log_path, weakened)


def wait_sandboxed(started: StartedRun, limits: Limits) -> SandboxRun:
    """Wait for a started sandbox to end, its wall clock (``limits.notebook_timeout +
    limits.kill_grace``) counted from now; then kill what is left and remove its cgroup."""
    proc, cg = started.proc, started.cgroup
    wall = (limits.notebook_timeout or 600.0) + limits.kill_grace
    t0 = time.monotonic()
    killed = False
    watched_oom = False
    try:
        if cg.active:
            rc = proc.wait(timeout=wall)
        else:
            rc, watched_oom = wait_watching_memory(proc, wall, limits.memory_bytes)
    except subprocess.TimeoutExpired:
        killed = True
        killpg(proc.pid)
        rc = proc.wait()
    elapsed = time.monotonic() - t0
    killpg(proc.pid)  # stragglers of the group (limits-only mode)
    oom = cg.oom_killed() or watched_oom
    peak = cg.peak_memory()
    cpu = cg.cpu_seconds()
    cg.remove()
    return SandboxRun(
        mode=started.mode,
        returncode=rc,
        wall_seconds=elapsed,
        killed_by_wall_clock=killed,
        oom_killed=oom,
        peak_memory=peak,
        cpu_seconds=cpu,
        cgroup_note=started.cgroup_note,
        log_tail=_tail(started.log_path, 4000),
        weakened=started.weakened,
    )


def _tail(path: Path, limit: int) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return ""
    try:
        size = os.fstat(fd).st_size
        os.lseek(fd, max(0, size - limit), os.SEEK_SET)
        return os.read(fd, limit).decode("utf-8", errors="replace")
    finally:
        os.close(fd)
