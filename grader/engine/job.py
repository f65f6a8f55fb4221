"""One job's directory and slot: where the trusted side writes the job's inputs, how the
runner sees them, and their removal afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader import jail
from grader.jail import slots
from grader.jail.jobdir import make_box
from grader.jail.layout import MNIST_IN_JOB
from grader.jail.limits import Limits
from grader.jail.warm import WarmSandbox


@dataclass
class JobPaths:
    """Paths of one job as the trusted side and as the runner see them."""

    root: Path  # trusted (0700)
    box: Path  # job tmpfs (root only) with in/ and out/
    mounted: bool
    in_seen: str
    out_seen: str
    mnist_seen: str | None
    stage_seen: str
    tmp_seen: str
    warm: WarmSandbox | None = None  # started before the job (grader.jail.warm)

    @property
    def job_in(self) -> Path:
        return self.box / "in"

    @property
    def job_out(self) -> Path:
        return self.box / "out"


@contextmanager
def slot_lease(mode: str, slot: int) -> Iterator[int]:
    """In the sandbox, the job's uid is its own (see ``slots``); on the way in, clear what a
    killed grader left under that uid. Limits-only mode has no slot uids."""
    if mode != "bwrap":
        yield slot
        return
    with slots.lease(slot) as leased:
        slots.sweep_stale_jobs(leased, jail.unmount)
        yield leased


def warm_job(warm: WarmSandbox) -> JobPaths:
    """The job paths of a warm sandbox (bwrap mode; its MNIST file goes into ``in/``)."""
    return JobPaths(
        warm.root,
        warm.box,
        warm.mounted,
        jail.JOB_IN,
        jail.JOB_OUT,
        MNIST_IN_JOB,
        jail.STAGE_IN_SANDBOX,
        "/tmp",
        warm,
    )


def make_job(workdir: Path | None, mode: str, limits: Limits, slot: int) -> JobPaths:
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix=slots.JOB_PREFIX))
        if mode == "bwrap":
            slots.mark_owner(root, slot)
    else:
        root = Path(workdir)
        root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    box, mounted = make_box(root, limits, slot if mode == "bwrap" else None)
    if mode == "bwrap":
        return JobPaths(
            root,
            box,
            mounted,
            jail.JOB_IN,
            jail.JOB_OUT,
            jail.MNIST_IN_SANDBOX,
            jail.STAGE_IN_SANDBOX,
            "/tmp",
        )
    tmp = box / "tmp"
    tmp.mkdir()
    return JobPaths(
        root,
        box,
        mounted,
        str(box / "in"),
        str(box / "out"),
        None,
        str(jail.staged_root()),
        str(tmp),
    )


def cleanup_job(job: JobPaths, keep: bool) -> None:
    """Unmount the job tmpfs; with ``keep`` copy what the trusted side wrote (``in/``) first.

    Nothing of ``out/`` is copied as files (it is sandbox-controlled); the executed notebook
    and the result were already read safely and are written by ``grade_notebook``.
    """
    if keep and (job.box / "in").is_dir():
        shutil.rmtree(job.root / "in", ignore_errors=True)
        shutil.copytree(job.box / "in", job.root / "in", symlinks=True)
    if job.mounted:
        jail.unmount(job.box)
    if not keep:
        shutil.rmtree(job.root, ignore_errors=True)
