"""Adversarial notebooks: none may score above the honest blank notebook or touch the host.

Each attack (``attacks.py``) is the blank tiny notebook plus attack cells, graded through the
real pipeline (bwrap, setpriv, cgroup, rlimits) with tight limits so that each run is short.
After each run: status "graded", score <= the blank notebook's, nothing leaked into the
outputs or the result, no host marker file, no process of the slot's uid left, the job's tmpfs
unmounted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from adversarial import tiny
from adversarial.attacks import ATTACKS, BY_NAME, Ctx
from adversarial.uids import private_uid_base, worker_index
from grader.engine import pipeline
from grader.engine.spec import TrustedData
from grader.jail import bwrap_usable, sandbox_policy
from grader.jail.limits import MB, Limits, slot_uid

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not bwrap_usable()[0], reason="bubblewrap cannot run here"),
]

LIMITS = Limits(
    notebook_timeout=40,
    cell_timeout=4,
    memory_bytes=700 * MB,
    nproc=96,
    file_size_bytes=16 * MB,
    output_bytes=1 * MB,
    job_disk_bytes=32 * MB,
    tmp_bytes=32 * MB,
    kill_grace=5,
)
SEED = 271828182845904523536028747135266249775
REPO = str(Path(pipeline.__file__).resolve().parents[2])


@pytest.fixture(scope="module", autouse=True)
def uid_base():
    """Slot uids of this test process only (see ``uids``)."""
    with private_uid_base() as base:
        yield base


@pytest.fixture(scope="module")
def slot(uid_base) -> int:
    return 40 + worker_index()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> Ctx:
    base = tmp_path_factory.mktemp("host-secrets")
    secret = "S3CRET-" + os.urandom(8).hex()
    secret_file = base / "other-job-result.npy"
    np.save(secret_file, np.full((5, 4), 0.25))
    (base / "secret.txt").write_text(secret)
    host_nb = base / "host.ipynb"
    host_nb.write_text(json.dumps({"cells": [], "metadata": {"leak": secret}, "nbformat": 4}))
    return Ctx(
        repo=REPO,
        host_secret_file=str(secret_file),
        secret=secret,
        env_name="GRADER_TEST_SECRET",
        seed_text=str(SEED),
        host_marker=str(base / "pwned-marker"),
        host_notebook=str(host_nb),
    )


def _grade(nb, spec, released, slot, workdir=None):
    return pipeline.grade_notebook(
        spec,
        tiny.to_bytes(nb),
        policy=sandbox_policy(False),
        slot=slot,
        released=released,
        limits=LIMITS,
        workdir=workdir,
    )


@pytest.fixture(scope="module")
def blank_score(slot) -> float:
    res = _grade(tiny.notebook(False), tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded"
    return res.score


def outputs_text(res) -> str:
    """All outputs of the executed notebook as text (sources excluded)."""
    if not res.executed_notebook:
        return ""
    nb = json.loads(res.executed_notebook)
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append(json.dumps(out))
    return "\n".join(parts)


def _processes_of(uid: int) -> list[str]:
    proc = subprocess.run(["pgrep", "-u", str(uid), "-a"], capture_output=True, text=True)
    return proc.stdout.splitlines()


def _label_hashes() -> set[str]:
    labels = TrustedData().mnist_test_labels
    return {
        hashlib.sha256(np.ascontiguousarray(labels.astype(dt)).tobytes()).hexdigest()
        for dt in (np.uint8, np.int64)
    }


def _extra_checks(name: str, res, text: str, ctx: Ctx) -> None:
    run = res.run_state
    if name == "memory_bomb":
        # The cgroup caps memory; the kernel is OOM-killed, or stalls in reclaim until the
        # cell timeout stops the run. Either way the probe never runs and memory stayed capped.
        assert run["oom_killed"] or run["state"] == "kernel_died" or run["stopped"], run
        if run["peak_memory_mb"] is not None:
            assert run["peak_memory_mb"] <= LIMITS.memory_bytes / MB + 1, run
        assert not any(i.probe_error for i in res.items)
    elif name == "infinite_loop":
        # the interrupt worked, so the probe still ran and recorded the blank's errors
        assert all("NotImplementedError" in (i.probe_error or "") for i in res.items)
    elif name == "swallow_interrupt":
        assert (
            run["stopped"] in ("kernel_stuck", "notebook_timeout") or run["killed_by_wall_clock"]
        ), run
    elif name == "huge_output":
        assert run["stopped"] == "output_cap", run
        assert len(res.executed_notebook or "") < 3 * LIMITS.output_bytes
    elif name == "fill_disk":
        # the attack's own line; its source also shows up in a traceback when interrupted
        wrote = [int(n) for n in re.findall(r"WROTE (\d+)", text)]
        if wrote:
            cap = LIMITS.tmp_bytes + LIMITS.job_disk_bytes + LIMITS.file_size_bytes
            assert wrote[0] <= cap + 8 * MB, wrote
    elif name in ("os_exit",):
        assert run["state"] == "kernel_died", run
        assert not any(i.probe_error for i in res.items)
    elif name in ("kill_parent", "planted_symlinks"):
        assert run["state"] == "no report", run
    elif name == "test_labels":
        assert "LABEL-HASHES" in text
        assert not (_label_hashes() & set(text.replace('"', " ").replace(",", " ").split()))
    elif name == "nan_inf_results":
        assert any("NaN" in i.message["en"] or "inf" in i.message["en"] for i in res.items)


@pytest.mark.parametrize("name", [a.name for a in ATTACKS])
def test_attack_gains_nothing(name, ctx, slot, uid_base, blank_score, monkeypatch, tmp_path):
    attack = BY_NAME[name]
    monkeypatch.setenv(ctx.env_name, ctx.secret)
    monkeypatch.setattr(pipeline, "new_seed", lambda: SEED)
    spec = tiny.MNIST_ASSIGNMENT if attack.uses_mnist else tiny.ASSIGNMENT
    nb = tiny.notebook(False, extra=attack.cells(ctx), mnist=attack.uses_mnist)
    workdir = tmp_path / "job"
    t0 = time.monotonic()
    res = _grade(nb, spec, tiny.released(mnist=attack.uses_mnist), slot, workdir)
    elapsed = time.monotonic() - t0

    assert res.status == "graded", res.reason_text
    assert res.sandbox_mode == "bwrap"
    assert res.score <= blank_score, [i.to_dict() for i in res.items if i.points]
    assert elapsed < LIMITS.notebook_timeout + LIMITS.kill_grace + 15
    text = outputs_text(res)
    assert "LEAKED:" not in text
    dumped = json.dumps(res.to_dict()) + (res.executed_notebook or "")
    assert ctx.secret not in dumped
    assert not Path(ctx.host_marker).exists()
    # no process of the slot's uid survives, and the job tmpfs is gone; the uid is this test
    # process's own (``uid_base``), so another suite on the machine cannot show up here
    assert slot_uid(slot) == uid_base + slot
    for _ in range(30):
        left = _processes_of(slot_uid(slot))
        if not left:
            break
        time.sleep(0.1)
    assert not left, left
    assert str(workdir) not in Path("/proc/mounts").read_text()
    _extra_checks(name, res, text, ctx)


def test_grader_still_works_after_attacks(slot):
    res = _grade(tiny.notebook(True), tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded"
    assert res.score == res.max_score == 3.0
