"""What code inside the sandbox sees: uid, capabilities, filesystem, network, environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from adversarial import tiny
from adversarial.uids import private_uid_base, worker_index

import reference
from grader import jail
from grader.engine import pipeline
from grader.jail import sandbox_policy
from grader.jail.layout import _ETC_FILES
from grader.jail.limits import Limits, slot_uid
from grader.jail.staging import python_paths

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here"),
]

PROBE_FACTS = r"""
import json, os, socket, sys
REFERENCE_DIR = __REFERENCE_DIR__
def _status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1:]
def _kernel_ports():
    from ipykernel.connect import get_connection_file
    conn = json.load(open(get_connection_file()))
    return [conn[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]
def _net():
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        return "open"
    except OSError as e:
        return type(e).__name__
facts = {
    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
    "cap_eff": _status("CapEff")[0], "cap_bnd": _status("CapBnd")[0],
    "no_new_privs": _status("NoNewPrivs")[0],
    "root": sorted(os.listdir("/")), "etc": sorted(os.listdir("/etc")),
    "env": sorted(os.environ), "hostname": socket.gethostname(), "net": _net(),
    "ifaces": [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]],
    "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "grader_pkg": sorted(os.listdir(os.path.dirname(__import__("grader").__file__))),
    "shadow": os.path.exists("/etc/shadow"), "repo": os.path.exists(REFERENCE_DIR),
    "home_root": sorted(os.listdir("/root")),
    "kernel_ports": _kernel_ports(),
}
print("FACTS=" + json.dumps(facts))
"""
# the host path of this checkout's reference/ package, wherever the checkout lives
PROBE_FACTS = PROBE_FACTS.replace("__REFERENCE_DIR__", repr(str(Path(reference.__file__).parent)))


@pytest.fixture(scope="module", autouse=True)
def uid_base():
    with private_uid_base() as base:
        yield base


@pytest.fixture(scope="module")
def facts(uid_base):
    slot = 60 + worker_index()
    res = pipeline.grade_notebook(
        tiny.ASSIGNMENT,
        tiny.to_bytes(tiny.notebook(True, extra=[PROBE_FACTS])),
        policy=sandbox_policy(False),
        slot=slot,
        released=tiny.released(),
        limits=Limits(notebook_timeout=60, cell_timeout=20),
    )
    assert res.status == "graded" and res.score == 3.0
    nb = json.loads(res.executed_notebook)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if text.startswith("FACTS="):
                return slot, json.loads(text[len("FACTS=") :])
    raise AssertionError("no facts printed")


@pytest.mark.skipif(os.geteuid() != 0, reason="uid switching is the root mode")
def test_runs_as_the_slot_uid_without_capabilities(facts):
    slot, f = facts
    assert f["uid"] == f["euid"] == f["gid"] == slot_uid(slot)
    assert f["groups"] == []
    assert int(f["cap_eff"], 16) == 0 and int(f["cap_bnd"], 16) == 0
    assert f["no_new_privs"] == "1"


def _top_level(path) -> str:
    return Path(path).parts[1]


def test_filesystem_is_minimal(facts):
    _, f = facts
    # system directories, the sandbox's own mount points, and the top-level directories of
    # the interpreter and the venv (which are mounted at their host paths, wherever they are)
    base, venv, _ = python_paths()
    mounted = {jail.STAGE_IN_SANDBOX, jail.JOB_IN, jail.MNIST_IN_SANDBOX, base, venv}
    allowed = {"bin", "lib", "lib32", "lib64", "libx32", "sbin", "usr", "etc", "tmp", "proc", "dev"}
    allowed |= {_top_level(p) for p in mounted}
    assert set(f["root"]) <= allowed, sorted(set(f["root"]) - allowed)
    assert not f["shadow"] and not f["repo"]
    assert set(f["etc"]) <= set(_ETC_FILES)
    # no engine, specs or service: only the student helpers (and their bytecode)
    assert set(f["grader_pkg"]) <= {"__init__.py", "student", "__pycache__"}
    assert "student" in f["grader_pkg"]
    assert f["home_root"] == [".pyenv"] or f["home_root"] == []


def test_kernel_ports_lie_outside_the_ephemeral_range(facts):
    """Client connections take ephemeral source ports; a kernel port from that range can be
    taken before the kernel binds it (the kernel then dies at start)."""
    _, f = facts
    lo, hi = (int(v) for v in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = f["kernel_ports"]
    assert len(set(ports)) == 5
    if lo - 20000 >= 1000 or 65535 - hi >= 1000:  # room outside the range on this machine
        assert not [p for p in ports if lo <= p <= hi], (ports, lo, hi)


def test_no_network_and_private_namespaces(facts):
    _, f = facts
    assert f["net"] != "open"
    assert set(f["ifaces"]) <= {"lo"}
    assert f["hostname"] == "sandbox"
    assert max(f["pids"]) < 100  # a fresh PID namespace


def test_environment_is_cleared(facts):
    _, f = facts
    assert "JPY_PARENT_PID" not in f["env"]
    assert not [k for k in f["env"] if "SECRET" in k or "TOKEN" in k or k.startswith("GRADER_S")]
    assert {"PATH", "HOME", "PYTHONPATH", "OPENBLAS_NUM_THREADS"} <= set(f["env"])
