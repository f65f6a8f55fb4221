"""Warm sandboxes (grader/jail/warm.py): started before the job, used for one job, destroyed.

Real bwrap, real kernels, the real pipeline. Each warm job is checked to have run warm
(``sandbox.warm_wait`` is the runner's time spent waiting for go), so no test passes on a
cold start by accident.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from adversarial import tiny
from adversarial.uids import private_uid_base, worker_index

from grader import jail
from grader.engine import pipeline
from grader.jail import sandbox_policy, slots
from grader.jail.command import cpu_limit_seconds
from grader.jail.limits import Limits, slot_uid
from grader.jail.warm import WarmPool, WarmSandbox
from grader.service.db import make_engine, migrate
from grader.service.worker import Worker, WorkerOptions
from grader.specs import get_assignment

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here"),
]
ROOT = Path(__file__).resolve().parent.parent
SLOT = 90 + 2 * worker_index()  # other modules use 0..89 (plus the xdist index)
LIMITS = Limits(notebook_timeout=60, cell_timeout=20)

LEAVE_TRACES = """\
import os, subprocess
open("/tmp/left-by-job-1", "w").write("job 1")
subprocess.Popen(["sleep", "300"], start_new_session=True)
"""
LOOK_AROUND = """\
import os
_st = open("/proc/self/stat").read()
print("KERNEL", os.getpid(), _st[_st.rindex(")") + 2 :].split()[19])
print("TMP", sorted(os.listdir("/tmp")))
_cmds = []
for _p in os.listdir("/proc"):
    if _p.isdigit():
        try:
            _cmds.append(open(f"/proc/{_p}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
print("PROCS", _cmds)
"""
CPU_LIMIT = """\
import resource
_u = resource.getrusage(resource.RUSAGE_SELF)
print("CPU", resource.getrlimit(resource.RLIMIT_CPU)[0], _u.ru_utime + _u.ru_stime)
"""


@pytest.fixture(scope="module", autouse=True)
def uid_base():
    with private_uid_base() as base:
        yield base


@pytest.fixture
def pool():
    pool = WarmPool(SLOT)
    yield pool
    pool.close()
    assert _processes_of(slot_uid(SLOT)) == []
    assert _job_roots(SLOT) == []


def _processes_of(uid: int) -> list[str]:
    proc = subprocess.run(["pgrep", "-u", str(uid), "-a"], capture_output=True, text=True)
    return proc.stdout.splitlines()


def _job_roots(slot: int) -> list[Path]:
    roots = []
    for root in Path(tempfile.gettempdir()).glob(slots.JOB_PREFIX + "*"):
        try:
            if (root / slots.OWNER_FILE).read_text() == str(slot_uid(slot)):
                roots.append(root)
        except OSError:
            continue
    return roots


def _mounted(path: Path) -> bool:
    return any(
        line.split()[4] == str(path)
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    )


def _grade(nb, pool=None, limits=LIMITS, spec=tiny.ASSIGNMENT, mnist=False):
    return pipeline.grade_notebook(
        spec,
        tiny.to_bytes(nb),
        policy=sandbox_policy(False),
        slot=SLOT,
        released=tiny.released(mnist=mnist),
        limits=limits,
        warm_pool=pool,
    )


def _printed(result) -> str:
    return _printed_json(result.executed_notebook)


def _printed_json(executed_notebook: str) -> str:
    nb = json.loads(executed_notebook)
    return "".join(
        "".join(out.get("text", ""))
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )


def _line(text: str, key: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(key + " "))[len(key) + 1 :]


def _ran_warm(result) -> bool:
    return "sandbox.warm_wait" in result.timings


def test_a_warm_sandbox_serves_one_job_only(pool):
    pool.refill()
    first = _grade(tiny.notebook(True, extra=[LEAVE_TRACES, LOOK_AROUND]), pool)
    assert _ran_warm(first) and first.score == first.max_score == 3.0
    assert _processes_of(slot_uid(SLOT)) == []  # the sleep left by job 1 died with its jail
    assert _job_roots(SLOT) == []
    pool.refill()  # what the worker does after each job
    second = _grade(tiny.notebook(True, extra=[LOOK_AROUND]), pool)
    assert _ran_warm(second) and second.score == 3.0
    one, two = _printed(first), _printed(second)
    assert "left-by-job-1" in _line(one, "TMP") and "sleep 300" in _line(one, "PROCS")
    assert "left-by-job-1" not in _line(two, "TMP")
    assert "sleep 300" not in _line(two, "PROCS")
    # Each job's kernel started in its own jail: another process start time.
    assert _line(one, "KERNEL").split()[1] != _line(two, "KERNEL").split()[1]


def test_a_warm_job_grades_exactly_like_a_cold_one(pool):
    def verdicts(result) -> list:
        items = result.to_dict()["items"]
        return [(i["id"], i["points"], i["passed"], (i["hint"] or {}).get("id")) for i in items]

    aid = "3-1-2_softmax_with_loss"
    for path in (ROOT / "solutions" / f"{aid}.ipynb", ROOT / "assignments" / f"{aid}.ipynb"):
        policy, spec = sandbox_policy(False), get_assignment(aid)
        cold = pipeline.grade_notebook(spec, path.read_bytes(), policy=policy, slot=SLOT)
        pool.refill()
        warm = pipeline.grade_notebook(
            spec, path.read_bytes(), policy=policy, slot=SLOT, warm_pool=pool
        )
        assert _ran_warm(warm) and not _ran_warm(cold)
        assert cold.status == warm.status == "graded"
        assert (warm.score, verdicts(warm)) == (cold.score, verdicts(cold))
    assert cold.score == 0 and verdicts(cold)  # the blank: graded, and nothing passes


def test_a_warm_job_gets_its_mnist_file(pool):
    load = (
        "from grader.student import load_mnist\n(x, _), _ = load_mnist()\nprint('MNIST', x.shape)"
    )
    nb = tiny.notebook(True, extra=[load], mnist=True)
    cold = _grade(nb, spec=tiny.MNIST_ASSIGNMENT, mnist=True)
    pool.mnist = True  # the kind a worker keeps after an MNIST job
    pool.refill()
    warm = _grade(nb, pool, spec=tiny.MNIST_ASSIGNMENT, mnist=True)
    assert _ran_warm(warm) and not _ran_warm(cold)
    assert _line(_printed(warm), "MNIST") == _line(_printed(cold), "MNIST") == "(50000, 784)"
    assert [i.points for i in warm.items] == [i.points for i in cold.items]


def test_a_sandbox_of_the_other_kind_is_not_used(pool):
    pool.refill()  # no MNIST file: not for an MNIST job, which starts cold
    nb = tiny.notebook(True, mnist=True)
    result = _grade(nb, pool, spec=tiny.MNIST_ASSIGNMENT, mnist=True)
    assert result.status == "graded" and not _ran_warm(result)


def test_timeouts_count_from_go(pool):
    limits = Limits(notebook_timeout=3, cell_timeout=2)
    pool.refill()
    pool._ready.wait_ready(60)  # up, then idle for longer than the notebook may run
    time.sleep(limits.notebook_timeout + 1)
    quick = _grade(tiny.notebook(True, extra=[CPU_LIMIT]), pool, limits=limits)
    assert _ran_warm(quick) and quick.timings["sandbox.warm_wait"] > limits.notebook_timeout
    assert quick.run_state["stopped"] is None and quick.score == 3.0
    # RLIMIT_CPU too is the job's from go: what the kernel used before, plus the budget.
    limit, used = (float(v) for v in _line(_printed(quick), "CPU").split())
    assert cpu_limit_seconds(limits) <= limit <= cpu_limit_seconds(limits) + used + 1
    pool.refill()
    slow = _grade(
        tiny.notebook(True, extra=["import time\ntime.sleep(1.5)"] * 3), pool, limits=limits
    )
    assert _ran_warm(slow) and slow.run_state["stopped"] == "notebook_timeout"


def test_a_killed_workers_warm_sandbox_leaves_nothing_behind():
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from grader.jail.limits import Limits
                from grader.jail.warm import WarmSandbox
                sandbox = WarmSandbox({SLOT}, Limits(), "ja", False)
                assert sandbox.wait_ready(60)
                print(sandbox.root, *sandbox.started.cgroup.dirs, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    root, *cgroups = map(Path, holder.stdout.readline().split())
    assert _processes_of(slot_uid(SLOT)) and _mounted(root / "box")
    assert all(d.is_dir() for d in cgroups)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    for _ in range(100):  # the jail dies with its parent; give the kernel a moment
        if not _processes_of(slot_uid(SLOT)):
            break
        time.sleep(0.1)
    assert _processes_of(slot_uid(SLOT)) == []
    assert root.is_dir()  # its files stay until the slot's next lease sweeps them
    sandbox = WarmSandbox(SLOT, Limits(), "ja", False)
    try:
        assert not root.exists() and not _mounted(root / "box")
        assert not any(d.exists() for d in cgroups)
        assert _job_roots(SLOT) == [sandbox.root]
    finally:
        sandbox.destroy()
    assert _job_roots(SLOT) == [] and _processes_of(slot_uid(SLOT)) == []


def test_a_stopping_worker_tears_its_unused_sandbox_down(tmp_path, pool):
    started = []
    refill = pool.refill

    def refill_and_note():
        refill()
        started.append(pool._ready.root)

    pool.refill = refill_and_note
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    # A parent that is not ours: the worker stops after its first round (warm-up included).
    Worker(engine, lambda *a: None, WorkerOptions(slot=SLOT, parent_pid=-1, warm_pool=pool)).run()
    assert started and not started[0].exists()
    assert _processes_of(slot_uid(SLOT)) == [] and _job_roots(SLOT) == []


NONROOT_CHILD = r"""
import json, sys
sys.path.insert(0, TESTS)
from adversarial import tiny
from grader.engine import pipeline
from grader.jail import sandbox_policy
from grader.jail.limits import Limits
from grader.jail.warm import WarmPool

FACTS = '''
import os
_s = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print("FACTS", os.getuid(), _s["CapEff"].strip(), _s["NoNewPrivs"].strip(),
      open("/proc/self/uid_map").read().split())
'''
nb = tiny.to_bytes(tiny.notebook(True, extra=[FACTS]))
pool = WarmPool(0)
out = {}
for kind in ("cold", "warm"):
    pool.refill()
    res = pipeline.grade_notebook(tiny.ASSIGNMENT, nb, policy=sandbox_policy(False),
        released=tiny.released(), limits=Limits(notebook_timeout=120, cell_timeout=60),
        warm_pool=pool if kind == "warm" else None)
    out[kind] = {"score": res.score, "warm": "sandbox.warm_wait" in res.timings,
                 "mode": res.sandbox_mode, "notebook": res.executed_notebook, "log": res.log}
pool.close()
print("RESULT=" + json.dumps(out))
"""


def test_warm_sandboxes_as_an_ordinary_user():
    import test_sandbox_nonroot as nonroot

    why = nonroot._skip_reason()
    if why:
        pytest.skip(why)
    home = Path(tempfile.mkdtemp(prefix="dlgrader-nonroot-warm-"))
    os.chown(home, nonroot.USER_UID, nonroot.USER_UID)
    try:
        script = home / "child.py"
        script.write_text(NONROOT_CHILD.replace("TESTS", repr(str(nonroot.TESTS))))
        proc = nonroot._as_user([sys.executable, "-s", str(script)], home, 240)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT=")]
        assert proc.returncode == 0 and lines, proc.stderr[-3000:]
        out = json.loads(lines[-1][len("RESULT=") :])
        for _ in range(50):  # killed bwraps are reparented: wait for init to reap them
            if not _processes_of(nonroot.USER_UID):
                break
            time.sleep(0.1)
        assert _processes_of(nonroot.USER_UID) == []
    finally:
        shutil.rmtree(home, ignore_errors=True)
    cold, warm = out["cold"], out["warm"]
    assert warm["warm"] and not cold["warm"] and warm["mode"] == cold["mode"] == "bwrap"
    # generous timeouts above: a loaded CI machine once ran the cold job out of 10 s
    assert cold["score"] == 3.0, cold["log"][-3000:]
    assert warm["score"] == 3.0, warm["log"][-3000:]
    facts = [_line(_printed_json(r["notebook"]), "FACTS") for r in (cold, warm)]
    assert facts[0] == facts[1]  # same uid, no capabilities, no_new_privs, uid map
    assert facts[0].split()[:3] == [str(nonroot.USER_UID), "0000000000000000", "1"]
