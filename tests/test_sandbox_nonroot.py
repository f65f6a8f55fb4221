"""The grader's non-root mode: ``grade_notebook`` run by an ordinary user (an instructor).

The grader here runs as root, so the test makes an ordinary user for a child process: in a
private mount namespace (``unshare --mount``) a tmpfs hides ``/root`` (mode 0700 on the host),
with the interpreter (``sys.base_prefix``, often under ``/root/.pyenv``) and, when needed, the
checkout bound back into it; then ``setpriv`` drops to an unprivileged uid with no
capabilities and runs ``CHILD``, which grades the tiny assignment (a correct notebook with a
facts probe, the blank one, a few attacks) through the real pipeline and prints JSON. With no
root, bwrap uses its own user namespace (see ``grader.jail``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from adversarial.uids import process_uid_base, worker_index

import grader
import reference
from grader.jail.layout import symlink_args

pytestmark = pytest.mark.sandbox

REPO = Path(grader.__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
UNSHARE, SETPRIV, BWRAP = (shutil.which(n) for n in ("unshare", "setpriv", "bwrap"))
# private to this test process (the base is pid-derived, see adversarial.uids); slots 40+ and
# 60+ are the root-mode sandbox tests' slot uids, 90+ is this test's ordinary user
USER_UID = process_uid_base() + 90 + worker_index()
ATTACK_NAMES = ("read_shadow", "read_solutions", "fork_bomb", "memory_bomb", "infinite_loop")
ATTACK_NAMES += ("huge_output", "fill_disk", "forked_memory")


def _prefixes() -> list[Path]:
    """Paths the ordinary user must reach: interpreter, venv, checkout."""
    return [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), REPO]


def _hidden_parents() -> list[Path]:
    """Top-level directories on the way to ``_prefixes()`` that others cannot traverse."""
    out = []
    for p in _prefixes():
        top = Path("/", p.parts[1])
        if not os.stat(top).st_mode & 0o001 and top not in out:
            out.append(top)
    return out


def _as_user(argv: list[str], home: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run ``argv`` as ``USER_UID`` with no capabilities, in a mount namespace where the
    top-level directories hiding the interpreter/checkout are tmpfs with those bound back."""
    q = shlex.quote
    stash = Path(tempfile.mkdtemp(prefix="nonroot-stash-"))
    lines = ["set -e"]
    binds = []
    for top in _hidden_parents():
        for i, p in enumerate(p for p in _prefixes() if p.is_relative_to(top)):
            keep = stash / f"{top.name}-{i}"
            lines += [f"mkdir -p {q(str(keep))}", f"mount --bind {q(str(p))} {q(str(keep))}"]
            binds.append((keep, p))
        lines.append(f"mount -t tmpfs -o mode=0755 tmpfs {q(str(top))}")
    for keep, p in binds:
        lines += [f"mkdir -p {q(str(p))}", f"mount --bind {q(str(keep))} {q(str(p))}"]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "GRADER_STATE_DIR": str(home / "state"),
        "GRADER_TEST_SECRET": "S3CRET-nonroot",
        "LANG": "C.UTF-8",
    }
    drop = [SETPRIV, f"--reuid={USER_UID}", f"--regid={USER_UID}", "--clear-groups"]
    drop += ["--inh-caps=-all", "--bounding-set=-all"]
    lines.append("exec " + shlex.join(drop + argv))
    try:
        return subprocess.run(
            [UNSHARE, "--mount", "--propagation", "private", "/bin/sh", "-c", "\n".join(lines)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=str(home),
        )
    finally:
        shutil.rmtree(stash, ignore_errors=True)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root to set up an unprivileged user (run as root; CI does)"
    if not all((UNSHARE, SETPRIV, BWRAP)):
        return "unshare, setpriv or bwrap is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        os.chown(tmp, USER_UID, USER_UID)
        argv = [BWRAP, "--unshare-user", "--ro-bind", "/usr", "/usr", *symlink_args()]
        argv += ["/usr/bin/true"]
        proc = _as_user(argv, Path(tmp), 30)
    if proc.returncode != 0:
        return f"unprivileged user namespaces are unavailable: {proc.stderr.strip()[:200]}"
    return None


FACTS = r"""
import ctypes, json, os, socket
def _status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
def _writable(d):
    try:
        with open(os.path.join(d, "w-probe"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
def _net():
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        return "open"
    except OSError as e:
        return type(e).__name__
def _setuid0():
    try:
        os.setuid(0)
        return "became root"
    except OSError as e:
        return type(e).__name__
def _listdir(d):
    try:
        return sorted(os.listdir(d))
    except OSError as e:
        return type(e).__name__
libc = ctypes.CDLL(None, use_errno=True)
facts = {
    "uid": os.getuid(), "cap_eff": _status("CapEff"), "cap_prm": _status("CapPrm"),
    "no_new_privs": _status("NoNewPrivs"),
    "uid_map": open("/proc/self/uid_map").read().split(),
    "setuid0": _setuid0(),
    "mount": libc.mount(b"none", b"/tmp", b"tmpfs", 0, None),
    "unshare_user": libc.unshare(0x10000000),
    "ifaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]],
    "net": _net(),
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "shadow": os.path.exists("/etc/shadow"),
    "reference": os.path.exists(REFERENCE_DIR),
    "repo": os.path.exists(os.path.join(REPO_DIR, "pyproject.toml")),
    "root_dir": _listdir("/root"), "env": sorted(os.environ),
    "writable": {d: _writable(d) for d in WRITE_DIRS},
}
print("FACTS=" + json.dumps(facts))
"""

CHILD = r"""
import json, os, shutil, sys, time
sys.path.insert(0, TESTS)
from adversarial import tiny
from adversarial.attacks import BY_NAME, Ctx
from grader.engine import pipeline
from grader.jail import sandbox_policy
from grader.jail.limits import MB, Limits

LIMITS = Limits(notebook_timeout=40, cell_timeout=4, memory_bytes=700 * MB, nproc=96,
                file_size_bytes=16 * MB, output_bytes=1 * MB, job_disk_bytes=32 * MB,
                tmp_bytes=32 * MB, kill_grace=5)

def own_processes():
    # processes of this uid other than this script (the sandbox must leave none behind)
    me, out = os.getpid(), []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != me:
            try:  # a process may end between listing and reading
                st = os.stat(f"/proc/{p}")
                if st.st_uid == os.getuid():
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        out.append(f.read().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return out

def outputs(res):
    nb = json.loads(res.executed_notebook or '{"cells": []}')
    return [o for c in nb["cells"] for o in c.get("outputs", [])]

def disk_bytes(root):
    # bytes the sandbox's job dirs take on the host (it never mounts anything there)
    total = 0
    for dirpath, dirs, files in os.walk(root):
        for fn in dirs + files:
            total += os.lstat(os.path.join(dirpath, fn)).st_blocks * 512
    return total

def grade(nb, name, spec=tiny.ASSIGNMENT, mnist=False):
    workdir = os.path.join(HOME, "jobs", name)
    t0 = time.monotonic()
    res = pipeline.grade_notebook(spec, tiny.to_bytes(nb), policy=sandbox_policy(False), slot=0,
                                  released=tiny.released(mnist=mnist), limits=LIMITS,
                                  workdir=workdir)
    elapsed = time.monotonic() - t0
    box = os.path.join(workdir, "box")
    host_bytes = disk_bytes(box)
    with open(os.path.join(box, "sandbox.log"), "rb") as f:
        log_tail = f.read()[-2000:].decode(errors="replace")
    shutil.rmtree(workdir)
    for _ in range(30):
        left = own_processes()
        if not left:
            break
        time.sleep(0.1)
    d = res.to_dict()
    d.pop("executed_notebook", None)
    d.update(outputs=outputs(res), left=left, elapsed=elapsed, host_bytes=host_bytes,
             sandbox_log=log_tail)
    return d

ctx = Ctx(repo=REPO_DIR, host_secret_file="/nonexistent", secret=os.environ["GRADER_TEST_SECRET"],
          env_name="GRADER_TEST_SECRET", seed_text="1" * 20, host_marker=HOME + "/pwned",
          host_notebook="/nonexistent")
out = {"uid": os.getuid()}
out["correct"] = grade(tiny.notebook(True, extra=[FACTS]), "correct")
out["blank"] = grade(tiny.notebook(False), "blank")
for name in ATTACK_NAMES:
    a = BY_NAME[name]
    spec = tiny.MNIST_ASSIGNMENT if a.uses_mnist else tiny.ASSIGNMENT
    nb = tiny.notebook(False, extra=a.cells(ctx), mnist=a.uses_mnist)
    out[name] = grade(nb, name, spec, a.uses_mnist)
out["marker"] = os.path.exists(ctx.host_marker)
print("RESULT=" + json.dumps(out))
"""


@pytest.fixture(scope="module")
def results():
    why = _skip_reason()
    if why:
        pytest.skip(why)
    # the user's home and grader state: not under pytest's base temp dir (0700, root's)
    home = Path(tempfile.mkdtemp(prefix="dlgrader-nonroot-"))
    os.chown(home, USER_UID, USER_UID)
    try:
        yield _run_child(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run_child(home: Path) -> dict:
    write_dirs = ["/tmp", "/job/out", "/", "/usr", "/etc", "/root", "/opt", "/opt/dlgrader"]
    write_dirs += ["/job", "/job/in", "/dev", "/dev/shm", "/proc", "/tmp/.."]
    write_dirs += [sys.base_prefix, sys.prefix]
    facts = FACTS.replace("REFERENCE_DIR", repr(str(Path(reference.__file__).parent)))
    facts = facts.replace("REPO_DIR", repr(str(REPO))).replace("WRITE_DIRS", repr(write_dirs))
    child = CHILD.replace("TESTS", repr(str(TESTS))).replace("REPO_DIR", repr(str(REPO)))
    child = child.replace("ATTACK_NAMES", repr(ATTACK_NAMES)).replace("HOME", repr(str(home)))
    child = child.replace("FACTS", repr(facts))
    script = home / "child.py"
    script.write_text(child)
    proc = _as_user([sys.executable, "-s", str(script)], home, 240)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT=")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT=") :])


def _facts(res: dict) -> dict:
    for out in res["outputs"]:
        text = out.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        if text.startswith("FACTS="):
            return json.loads(text[len("FACTS=") :])
    raise AssertionError("no facts printed")


def test_graded_in_bwrap_as_an_ordinary_user(results):
    assert results["uid"] == USER_UID
    correct, blank = results["correct"], results["blank"]
    assert correct["status"] == blank["status"] == "graded", (correct["reason"], blank["reason"])
    assert correct["sandbox_mode"] == blank["sandbox_mode"] == "bwrap"
    assert correct["score"] == correct["max_score"] == 3.0
    assert blank["score"] == 0.0
    assert correct["left"] == blank["left"] == []
    # no delegated memory cgroup for an ordinary user here: said in the result, not silently
    assert any("RLIMIT_DATA" in line for line in correct["log"]), correct["log"]


def test_sandbox_is_unprivileged_and_isolated(results):
    f = _facts(results["correct"])
    # the user's own uid, mapped alone (no uid 0 behind it), with no capabilities at all
    assert f["uid"] == USER_UID and f["uid_map"][0] == str(USER_UID)
    assert f["uid_map"][2] == "1"
    assert int(f["cap_eff"], 16) == 0 and int(f["cap_prm"], 16) == 0
    assert f["no_new_privs"] == "1"
    assert f["setuid0"] != "became root"
    assert f["mount"] != 0 and f["unshare_user"] != 0
    # writes only into its own /tmp and the job's out dir
    assert f["writable"].pop("/tmp") and f["writable"].pop("/job/out")
    assert not any(f["writable"].values()), f["writable"]
    # no network, no host processes, no secrets
    assert set(f["ifaces"]) <= {"lo"} and f["net"] != "open"
    assert max(f["pids"]) < 100
    assert not f["shadow"] and not f["reference"] and not f["repo"]
    assert f["root_dir"] in ([], [".pyenv"], "PermissionError"), f["root_dir"]
    assert "GRADER_TEST_SECRET" not in f["env"] and "GRADER_STATE_DIR" not in f["env"]


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_attack_gains_nothing_without_root(results, name):
    res, blank = results[name], results["blank"]
    assert res["status"] == "graded", res["reason"]
    assert res["sandbox_mode"] == "bwrap"
    assert res["score"] <= blank["score"]
    assert res["left"] == [], res["left"]
    assert res["elapsed"] < 40 + 5 + 15
    text = json.dumps(res["outputs"])
    assert "LEA" + "KED:" not in text
    assert "S3CRET-nonroot" not in json.dumps(res)
    assert not results["marker"]
    run = res["run"]
    # the job's files on the host: /job/out is a 32 MB tmpfs (copied back when the sandbox is
    # gone), the sandbox log one file (RLIMIT_FSIZE 16 MB); in/ is small
    assert res["host_bytes"] <= (32 + 16 + 2) * 2**20, res["host_bytes"]
    if name == "memory_bomb":
        # RLIMIT_DATA (no cgroup): the allocation fails inside the kernel (MemoryError)
        assert "MemoryError" in text or run["state"] == "kernel_died" or run["stopped"], run
        assert not any(i["probe_error"] for i in res["items"]) or "MemoryError" in text
    elif name == "forked_memory":
        # no cgroup here: the watchdog on the job's summed resident memory killed the hogs
        assert any("memory limit was hit" in line for line in res["log"]), res["log"]
    elif name == "fork_bomb":
        refused = [int(t.split()[0]) for t in text.split('"fork refused after')[1:]]
        assert all(n < 96 for n in refused), refused
    elif name == "infinite_loop":
        # the interrupt worked: the probe still ran and recorded the blank's errors
        assert all("NotImplementedError" in (i["probe_error"] or "") for i in res["items"]), run
    elif name == "huge_output":
        assert run["stopped"] == "output_cap", (run, res["sandbox_log"])
    elif name == "fill_disk":
        wrote = [int(w.split()[1].strip('\\n"')) for w in text.split('"WROTE')[1:]]
        assert all(w <= (32 + 32 + 16 + 8) * 2**20 for w in wrote), wrote
