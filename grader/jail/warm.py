"""Warm sandboxes: the next job's jail started before the job arrives, used once, destroyed.

A worker keeps one ``WarmSandbox`` ready (``WarmPool``): a fresh job root and box, its slot's
lease, its cgroup, and the runner started in bwrap exactly as for a cold job (same command
line, limits, seccomp filter and non-root chain) with the kernel up and connected. Nothing of
any job is in it yet: the runner waits on a "go" pipe (``grader/jail/inside/runner.py``). The
judge then writes the job's files into ``in/`` as for a cold job (the MNIST file, which a cold
job gets bound at ``/data``, is moved to ``in/mnist.npz``) and ``go`` starts the job's clocks:
the wall clock here, the notebook's timeout and RLIMIT_CPU in the runner. After the job, or
when it is never used, ``destroy`` kills its processes and removes its cgroup, tmpfs and
directories. A worker killed meanwhile leaves no process (bwrap dies with its parent, and the
runner sees the go pipe close); its job root is swept by the next lease of the slot
(``slots.sweep_stale_jobs``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import select
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from grader.jail import runner_report, slots
from grader.jail.availability import bwrap_usable
from grader.jail.command import cpu_limit_seconds, sandbox_env
from grader.jail.jobdir import grow_job_tmpfs, make_box, unmount
from grader.jail.layout import KERNEL_NAME, MNIST_IN_JOB, workdir
from grader.jail.limits import Limits
from grader.jail.memwatch import killpg
from grader.jail.run import SandboxRun, StartedRun, start_sandboxed, wait_sandboxed

log = logging.getLogger("grader.jail")

# The longest notebook timeout a warm sandbox serves: it starts with this RLIMIT_CPU, which
# the runner lowers at go to the job's own (a process may lower its limit, never raise it).
MAX_NOTEBOOK_SECONDS = 3600.0
READY_TIMEOUT = 60.0  # seconds a job waits for a warm sandbox still starting (then: cold)


class WarmSandbox:
    """One job's jail, started when made (before the job); ``go`` runs the job in it."""

    def __init__(self, slot: int, limits: Limits, lang: str, mnist: bool) -> None:
        self.limits, self.lang, self.mnist = limits, lang, mnist
        self._stack = ExitStack()  # the slot's lease, released last
        self.slot = self._stack.enter_context(slots.lease(slot))
        self.started: StartedRun | None = None
        self._fds: list[int] = []
        self._ready = False  # the runner said its kernel is up
        try:
            slots.sweep_stale_jobs(self.slot, unmount)
            self.root = Path(tempfile.mkdtemp(prefix=slots.JOB_PREFIX))
            slots.mark_owner(self.root, self.slot)
            os.chmod(self.root, 0o700)
            self.box, self.mounted = make_box(self.root, limits, self.slot)
            self._start()
        except BaseException:
            self.destroy()
            raise

    def _start(self) -> None:
        report_fd = runner_report.open_report(self.root)
        self._fds.append(report_fd)
        self._ready_r, ready_w = os.pipe()
        self._fds.append(self._ready_r)
        go_r, self._go_w = os.pipe()
        self._fds.append(self._go_w)
        try:
            start = {  # the runner's start settings: nothing of a job (see runner.py)
                "report_fd": report_fd,
                "ready_fd": ready_w,
                "go_fd": go_r,
                "workdir": workdir(),
                "kernel_name": KERNEL_NAME,
                "output_bytes": self.limits.output_bytes,
            }
            run_json = self.box / "in" / "run.json"
            run_json.write_text(json.dumps(start))
            run_json.chmod(0o644)
            env = sandbox_env(self.lang, MNIST_IN_JOB if self.mnist else None)
            self.started = start_sandboxed(
                self.box,
                self.limits.with_(notebook_timeout=MAX_NOTEBOOK_SECONDS),
                self.slot,
                env,
                None,
                "bwrap",
                tag=f"{os.getpid()}-{self.slot}-warm-{secrets.token_hex(4)}",
                keep_fds=[report_fd, ready_w, go_r],
            )
        finally:
            os.close(ready_w)
            os.close(go_r)

    def serves(self, limits: Limits, lang: str, mnist: bool) -> bool:
        """Whether a job with these settings gets exactly the sandbox a cold start would give
        it (the timeouts start at go; everything else was fixed at start)."""
        untimed = limits.with_(notebook_timeout=None, cell_timeout=None)
        return (
            untimed == self.limits.with_(notebook_timeout=None, cell_timeout=None)
            and (limits.notebook_timeout or 600.0) <= MAX_NOTEBOOK_SECONDS
            and (lang, mnist) == (self.lang, self.mnist)
        )

    def wait_ready(self, timeout: float) -> bool:
        """True once the runner's kernel is up and it waits for go; False when it failed or
        is not ready within ``timeout`` seconds."""
        if not self._ready:
            readable, _, _ = select.select([self._ready_r], [], [], timeout)
            self._ready = bool(readable) and os.read(self._ready_r, 1) == b"1"
        return self._ready

    def go(self, limits: Limits, mnist_host: Path | None) -> SandboxRun:
        """Run the job whose files the judge has written into ``box/in`` (``mnist_host``:
        this job's MNIST file, moved in as ``in/mnist.npz``); blocks like ``run_sandboxed``,
        the wall clock counted from now."""
        assert self.started is not None
        if mnist_host is not None:
            if self.mounted:
                grow_job_tmpfs(self.box, limits.job_disk_bytes + mnist_host.stat().st_size)
            dest = self.box / "in" / Path(MNIST_IN_JOB).name
            shutil.move(mnist_host, dest)
            dest.chmod(0o644)
        message = json.dumps({"cpu_seconds": cpu_limit_seconds(limits)}).encode()
        os.write(self._go_w, message)  # a few bytes: a pipe holds them without blocking
        self._close(self._go_w)
        return wait_sandboxed(self.started, limits)

    @contextmanager
    def holding_slot(self) -> Iterator[int]:
        """The slot lease for the job's whole grading (a retry in a cold sandbox too); the
        warm sandbox is destroyed on the way out."""
        try:
            yield self.slot
        finally:
            self.destroy()

    def destroy(self) -> None:
        """Kill what runs, remove the cgroup, tmpfs and directories, release the slot.
        Idempotent."""
        for fd in list(self._fds):
            self._close(fd)  # the go pipe's end: a waiting runner exits
        if self.started is not None:
            killpg(self.started.proc.pid)
            self.started.proc.wait()
            self.started.cgroup.remove()
            self.started = None
        root = getattr(self, "root", None)
        if root is not None:
            if getattr(self, "mounted", False):
                unmount(self.box)
            shutil.rmtree(root, ignore_errors=True)
            self.root = None
        self._stack.close()

    def _close(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.remove(fd)
            os.close(fd)


class WarmPool:
    """One worker's next sandbox: started when the worker is idle (``refill``), taken by the
    next job that it serves (``take``), torn down when the worker stops (``close``)."""

    def __init__(self, slot: int, limits: Limits | None = None, lang: str = "ja") -> None:
        self.slot, self.limits, self.lang = slot, limits or Limits(), lang
        self.mnist = False  # the next sandbox's kind: that of the last job
        self._ready: WarmSandbox | None = None

    def refill(self) -> None:
        """Start the next sandbox unless one is there (nothing without bwrap)."""
        if self._ready is not None or not bwrap_usable()[0]:
            return
        try:
            self._ready = WarmSandbox(self.slot, self.limits, self.lang, self.mnist)
        except (OSError, slots.NoFreeSlot) as exc:  # the job will start cold
            log.warning("cannot start a warm sandbox: %s", exc)

    def take(self, mode: str, limits: Limits, lang: str, mnist: bool) -> WarmSandbox | None:
        """The ready sandbox when it serves this job (the caller then owns it), else None
        (a sandbox that does not serve it is destroyed: the job starts cold)."""
        sandbox, self._ready = self._ready, None
        self.mnist = mnist
        if sandbox is None:
            return None
        if mode == "bwrap" and sandbox.serves(limits, lang, mnist):
            if sandbox.wait_ready(READY_TIMEOUT):
                return sandbox
            log.warning("the warm sandbox was not ready in %g s; starting cold", READY_TIMEOUT)
        sandbox.destroy()
        return None

    def close(self) -> None:
        if self._ready is not None:
            self._ready.destroy()
            self._ready = None
