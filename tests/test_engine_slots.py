"""Slot leases: one job per slot uid on the machine, and the sweep of a killed grader's jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from adversarial import tiny
from adversarial.uids import private_uid_base, worker_index

from grader import jail
from grader.engine import pipeline
from grader.jail import sandbox_policy, slots
from grader.jail.limits import Limits, slot_uid

# slots of this test module (other modules use 0..69 plus the xdist index)
SLOT = 80 + 2 * worker_index()


@pytest.fixture(autouse=True)
def uid_base():
    with private_uid_base() as base:
        yield base


def _holder(slot: int) -> subprocess.Popen:
    """Another process that holds ``slot``'s lock until killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from grader.jail import slots
        with slots.lease({slot}) as s:
            print(s, flush=True)
            time.sleep(600)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == str(slot)
    return proc


def test_a_busy_slot_moves_the_job_and_is_free_again_when_its_holder_dies():
    holder = _holder(SLOT)
    try:
        with slots.lease(SLOT) as got:
            assert got != SLOT
            with slots.lease(SLOT) as third:  # a second lease in this very process too
                assert third not in (SLOT, got)
    finally:
        holder.kill()  # SIGKILL: the kernel releases the flock
        holder.wait()
    with slots.lease(SLOT) as got:
        assert got == SLOT


def test_all_slots_busy_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(slots, "MAX_SLOTS", SLOT + 1)
    holders = []
    try:
        with slots.lease(SLOT):
            # every other slot 0..SLOT-1 taken by this process
            for s in range(SLOT):
                cm = slots.lease(s)
                assert cm.__enter__() == s
                holders.append(cm)
            with pytest.raises(slots.NoFreeSlot, match="busy"):
                with slots.lease(SLOT):
                    pass
    finally:
        for cm in holders:
            cm.__exit__(None, None, None)


@pytest.mark.skipif(os.geteuid() != 0, reason="the job tmpfs is mounted by root only")
def test_sweep_removes_a_killed_graders_job_of_this_uid_only():
    stale = Path(tempfile.mkdtemp(prefix=slots.JOB_PREFIX))
    other = Path(tempfile.mkdtemp(prefix=slots.JOB_PREFIX))
    try:
        slots.mark_owner(stale, SLOT)
        slots.mark_owner(other, SLOT + 1)
        (stale / "box").mkdir()
        assert jail.mount_job_tmpfs(stale / "box", 1024 * 1024)
        (stale / "box" / "left.txt").write_text("x")
        with slots.lease(SLOT) as got:
            assert got == SLOT
            removed = slots.sweep_stale_jobs(got, jail.unmount)
        assert removed == [stale]
        assert not stale.exists()
        assert other.exists()
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(stale / "box") not in mounts
    finally:
        if os.path.ismount(stale / "box"):
            jail.unmount(stale / "box")
        for d in (stale, other):
            subprocess.run(["rm", "-rf", str(d)], check=False)


@pytest.mark.sandbox
@pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here")
def test_pipeline_runs_in_another_uid_when_its_slot_is_busy():
    probe = "import os\nprint('UID=%d' % os.getuid())"
    holder = _holder(SLOT)
    try:
        res = pipeline.grade_notebook(
            tiny.ASSIGNMENT,
            tiny.to_bytes(tiny.notebook(True, extra=[probe])),
            policy=sandbox_policy(False),
            slot=SLOT,
            released=tiny.released(),
            limits=Limits(notebook_timeout=60, cell_timeout=20),
        )
    finally:
        holder.kill()
        holder.wait()
    assert res.status == "graded" and res.score == 3.0
    moved = [line for line in res.log if line.startswith(f"slot {SLOT} was busy")]
    assert moved, res.log
    if os.geteuid() == 0:  # only root mode runs jobs under the slot uid
        assert f"UID={slot_uid(SLOT)}" not in res.executed_notebook
        assert "UID=" in res.executed_notebook
