"""What the sandbox hands back, and what it can do inside: issue 13, findings 4, 5, 6, 16.

Each test grades the blank tiny notebook plus an attack cell through the real pipeline (bwrap,
setpriv, cgroup, rlimits) and asserts that the forgery is not shown, the run status is the
runner's own, every string of the result is storable, and the jail has no user namespaces and
no host paths.
"""

from __future__ import annotations

import json

import pytest

from adversarial import tiny
from adversarial.test_attacks import LIMITS, _grade
from adversarial.uids import private_uid_base, worker_index
from grader.engine import pipeline
from grader.jail import bwrap_usable, sandbox_policy
from grader.jail.limits import state_dir

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not bwrap_usable()[0], reason="bubblewrap cannot run here"),
]

FORGED = "# derived by hand: (y - t)/N"


@pytest.fixture(scope="module", autouse=True)
def uid_base():
    with private_uid_base() as base:
        yield base


@pytest.fixture(scope="module")
def slot(uid_base) -> int:
    return 50 + worker_index()


def _sources(executed: str) -> list[str]:
    return [c["source"] for c in json.loads(executed)["cells"]]


def _outputs(executed: str) -> str:
    return "\n".join(
        json.dumps(o) for c in json.loads(executed)["cells"] for o in c.get("outputs", [])
    )


def test_forged_executed_notebook_is_not_shown(slot):
    """Finding 4: a cell writes /job/out/executed.ipynb itself (large, read-only)."""
    attack = f"""
import json, os
forged = {{"nbformat": 4, "nbformat_minor": 5, "metadata": {{}},
          "cells": [{{"cell_type": "code", "source": {FORGED!r}, "metadata": {{}},
                      "outputs": [{{"output_type": "stream", "name": "stdout",
                                   "text": "x" * (3 * 1024 * 1024)}}],
                      "execution_count": 1}}]}}
with open("/job/out/executed.ipynb", "w") as f:
    json.dump(forged, f)
os.chmod("/job/out/executed.ipynb", 0o444)
print("forgery written")
"""
    nb = tiny.notebook(False, extra=[attack])
    res = _grade(nb, tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded", res.reason
    assert res.executed_notebook
    assert FORGED not in _sources(res.executed_notebook)  # only inside the attack's source
    assert "x" * 1000 not in _outputs(res.executed_notebook)
    # what is shown is the submission as it ran: its own cells, the attack's own output
    shown = _sources(res.executed_notebook)
    assert len(shown) == len(nb.cells)
    for cell, source in zip(nb.cells, shown, strict=True):
        if not cell.source.startswith("check("):  # check cells: neutralised by the grader
            assert source == cell.source
    assert "forgery written" in _outputs(res.executed_notebook)
    assert len(res.executed_notebook) < pipeline.stored_notebook_cap(LIMITS)


def test_forged_status_is_not_believed(slot):
    """Finding 5: a hand-written status.json with the wrong types, and a directory at its
    temporary name; the trusted side neither crashes nor reports a kernel start failure."""
    attack = """
import json, os
os.mkdir("/job/out/status.json.tmp")
with open("/job/out/status.json", "w") as f:
    json.dump({"state": "runner_error", "error": "forged", "timings": [1, 2],
               "cells": "x", "stopped": {"a": 1}}, f)
os.chmod("/job/out/status.json", 0o444)
"""
    res = _grade(tiny.notebook(False, extra=[attack]), tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded", res.reason
    assert res.run_state["state"] == "done", res.run_state
    assert not any("forged" in line for line in res.log), res.log
    assert all("NotImplementedError" in (i.probe_error or "") for i in res.items)


def test_lone_surrogates_are_made_storable(slot):
    """Finding 6: the six ASCII bytes \\ud800 in a markdown cell, and a lone surrogate printed
    by the student's code and raised in an error, all come back UTF-8 encodable."""
    nb = tiny.notebook(False, extra=['print("\\ud800 out")\nraise ValueError("\\udfff err")'])
    nb.cells.insert(0, tiny.nbformat.v4.new_markdown_cell("lone \ud800 surrogate"))
    data = json.dumps(nb).encode()
    assert b"\\ud800" in data
    res = pipeline.grade_notebook(
        tiny.ASSIGNMENT,
        data,
        policy=sandbox_policy(False),
        slot=slot,
        released=tiny.released(),
        limits=LIMITS,
    )
    assert res.status == "graded", res.reason
    res.executed_notebook.encode("utf-8")
    json.dumps(res.to_dict(), ensure_ascii=False).encode("utf-8")
    assert "out" in _outputs(res.executed_notebook)


JAIL_PROBE = """
import ctypes, errno, os, json
libc = ctypes.CDLL(None, use_errno=True)
got = {}
for name, flag in (("user", 0x10000000), ("mount", 0x00020000), ("net", 0x40000000)):
    rc = libc.unshare(flag)
    got["unshare_" + name] = "ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
# raw clone(CLONE_NEWUSER | SIGCHLD): the child exits at once
pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)
if pid == 0:
    os._exit(0)
got["clone_newuser"] = "ok" if pid > 0 else errno.errorcode.get(ctypes.get_errno(), "?")
if pid > 0:
    os.waitpid(pid, 0)
fd = os.open("/proc/self/ns/user", os.O_RDONLY)
got["setns"] = "ok" if libc.setns(fd, 0) == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
got["seccomp"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")]
readable = {}
for path in ("/proc/self/mountinfo", "/proc/1/cmdline", "/proc/self/cmdline",
             "/proc/self/environ", "/proc/1/environ"):
    try:
        readable[path] = open(path, "rb").read().decode("utf-8", "replace")
    except OSError as exc:
        readable[path] = ""
import sys
readable["sys"] = json.dumps([sys.executable, sys.prefix, sys.base_prefix, sys.path])
print("JAIL " + json.dumps({"got": got, "readable": readable}))
"""


@pytest.fixture(scope="module")
def jail(slot) -> dict:
    res = _grade(tiny.notebook(False, extra=[JAIL_PROBE]), tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded", res.reason
    text = _outputs(res.executed_notebook)
    line = next(part for part in text.split("JAIL ")[1:])
    return json.loads(json.loads('"' + line.split('\\n"')[0] + '"'))


def test_no_new_user_namespaces_in_the_jail(jail):
    """Finding 16: no new user (or mount, network) namespace, by unshare, clone or setns."""
    got = jail["got"]
    assert got["seccomp"] == ["2"], got
    for key in ("unshare_user", "unshare_mount", "unshare_net", "clone_newuser", "setns"):
        assert got[key] in ("EPERM", "ENOSYS"), (key, got)


def test_no_host_paths_in_what_the_jail_can_read(jail):
    """Finding 16: the grader's state directory (staged root, job files) and bwrap's command
    line (every host path it binds) are nowhere the jail can read. The interpreter's and the
    venv's own paths are still visible: they are bound at their host paths (see
    docs/ARCHITECTURE.md, "Sandbox")."""
    for path, text in jail["readable"].items():
        assert str(state_dir()) not in text, (path, text[:2000])
        assert "--ro-bind" not in text and "--setenv" not in text, (path, text[:2000])


def test_the_runner_report_cannot_be_reached_from_the_kernel(slot):
    """The report descriptor: not in the kernel, and the runner's /proc/<pid>/fd, mem and
    ptrace are closed to the student's code (same uid)."""
    attack = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
runner = os.getppid()
reached = []
for fd in range(3, 64):
    try:
        os.fstat(fd)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "report" in target:
            reached.append(("own fd", fd, target))
    except OSError:
        pass
try:
    for name in os.listdir(f"/proc/{runner}/fd"):
        reached.append(("runner fd", name))
except OSError as exc:
    print("fd listing refused", errno.errorcode[exc.errno])
try:
    open(f"/proc/{runner}/mem", "rb").close()
    reached.append("runner mem")
except OSError as exc:
    print("mem refused", errno.errorcode[exc.errno])
if libc.ptrace(16, runner, 0, 0) == 0:  # PTRACE_ATTACH
    reached.append("ptrace")
print("REACHED", reached)
"""
    res = _grade(tiny.notebook(False, extra=[attack]), tiny.ASSIGNMENT, tiny.released(), slot)
    assert res.status == "graded", res.reason
    text = _outputs(res.executed_notebook)
    assert "REACHED []" in text, text
    assert "fd listing refused" in text and "mem refused" in text
