"""Run the notebook runner inside bubblewrap, with limits, as an unprivileged uid.

Layout inside the sandbox (everything else is absent, never ``/`` as a whole):

* ``/usr`` (plus the ``/bin``, ``/lib``... symlinks) and a few files of ``/etc``, read-only;
* the Python interpreter (``sys.base_prefix``) and the venv (``sys.prefix``) at their own paths,
  read-only, with the venv's editable-install hooks masked (they would point at the checkout);
* ``/opt/dlgrader``: a staged copy of ``grader/__init__.py`` + ``grader/student/`` (on
  ``PYTHONPATH``), the runner script and a kernelspec; nothing else of the project;
* ``/job/in`` (read-only: notebook, probe inputs, run settings), ``/job/out`` (writable);
* ``/data/mnist.npz`` read-only for MNIST assignments (no test labels in it);
* a private, size-capped ``/tmp``; fresh ``/proc`` and ``/dev``.

In both modes a seccomp filter (``grader.engine.seccomp``, bwrap's ``--seccomp``) refuses new
namespaces inside the jail; bwrap's options reach it through a pipe (``--args``), since its
command line is /proc/1/cmdline there; the staged root is bound from a per-job copy
(``job_stage``), since mountinfo shows each bind mount's source path.

As root (no user namespace): bwrap does the mounts, then ``setpriv`` drops to the slot's uid
with no capabilities and ``no_new_privs`` before anything else runs (bwrap's ``--unshare-user
--uid`` run by root still maps to host root). Not root: bwrap's user namespace with our uid.
Without bwrap: limits only ("limits-only"), only with an explicit opt-in.

Not root, two things root mode gets from the host need a substitute (see ``run_sandboxed``):

* the job's size-capped tmpfs: ``unshare --user --map-root-user --mount`` gives an outer user
  namespace of our own in which a tmpfs of ``job_disk_bytes`` is mounted and bound at
  ``/job/out``; bwrap runs nested in it (``--uid``/``--gid`` = our uid, no capabilities) and,
  once bwrap and every sandboxed process are gone, ``cp -a`` copies the (capped) outputs to the
  host's ``out/``. Without that chain ``/job/out`` is host disk and only ``RLIMIT_FSIZE`` caps
  each file (logged).
* the memory cgroup, unless one is delegated to us: ``RLIMIT_DATA`` of ``memory_bytes`` per
  process instead, and for the job as a whole a watchdog on the summed resident memory of its
  process tree (``_wait_watching_memory``, every ``MEMORY_WATCH_PERIOD``); the grader logs
  that the cgroup limit is not there and what replaces it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import json
import logging
import os
import platform
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.engine import seccomp
from grader.engine.limits import MB, Limits, slot_uid, state_dir

log = logging.getLogger("grader.engine.sandbox")

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"

STAGE_IN_SANDBOX = "/opt/dlgrader"
JOB_IN = "/job/in"
JOB_OUT = "/job/out"
MNIST_IN_SANDBOX = "/data/mnist.npz"
KERNEL_NAME = "dlgrader"

# Files of /etc that Python, NumPy and Matplotlib may read; none of them is secret.
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "hosts", "nsswitch.conf", "host.conf")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here and limits-only mode was not allowed."""


# --------------------------------------------------------------------------- staging


def _python_paths() -> tuple[Path, Path, Path]:
    """(interpreter prefix, venv prefix, venv python executable)."""
    base = Path(sys.base_prefix).resolve()
    venv = Path(sys.prefix)
    exe = Path(sys.executable)
    return base, venv, exe


def _student_package_root() -> Path:
    import grader.student

    return Path(grader.student.__file__).resolve().parent


def _runner_source() -> Path:
    return Path(__file__).with_name("runner.py")


def _stage_digest() -> str:
    h = hashlib.sha256()
    h.update(sys.executable.encode())
    roots = [(_student_package_root(), "grader/student")]
    for root, rel in roots:
        for p in sorted(root.rglob("*.py")):
            if "__pycache__" in p.parts:
                continue
            h.update(f"{rel}/{p.relative_to(root)}".encode())
            h.update(p.read_bytes())
    h.update(_runner_source().read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def staged_root() -> Path:
    """The private read-only root bound at ``/opt/dlgrader`` (built once per content digest)."""
    parent = state_dir() / "sandbox-stage"
    parent.mkdir(parents=True, exist_ok=True)
    dest = parent / _stage_digest()
    if dest.is_dir():
        return dest
    tmp = parent / f".tmp-{secrets.token_hex(6)}"
    pkg = tmp / "pkg" / "grader"
    shutil.copytree(
        _student_package_root(),
        pkg / "student",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    # grader/__init__.py is import-free on purpose (see its docstring); a copy is enough.
    import grader

    shutil.copy2(Path(grader.__file__), pkg / "__init__.py")
    shutil.copy2(_runner_source(), tmp / "runner.py")
    kdir = tmp / "jupyter" / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True)
    spec = {
        "argv": [
            sys.executable,
            "-s",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ],
        "display_name": "Python 3 (grader sandbox)",
        "language": "python",
        # Signal-mode interrupts would hit bwrap's process tree, not the kernel.
        "interrupt_mode": "message",
        "env": {},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    (tmp / "empty").write_text("")
    # The sandbox cannot write bytecode (read-only, PYTHONDONTWRITEBYTECODE): compile it here.
    import compileall

    compileall.compile_dir(tmp / "pkg", quiet=1)
    for p in [tmp, *tmp.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    try:
        os.rename(tmp, dest)
    except OSError:  # another process staged the same digest first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# --------------------------------------------------------------------------- availability


@functools.lru_cache(maxsize=1)
def bwrap_usable() -> tuple[bool, str]:
    """Whether a minimal bwrap sandbox starts here (cached), and why not."""
    if not Path(BWRAP).exists():
        return False, "bubblewrap (bwrap) is not installed"
    cmd = [BWRAP, "--ro-bind", "/usr", "/usr", "--unshare-pid", "--unshare-net", "--unshare-cgroup"]
    cmd += _symlink_args()
    if os.geteuid() != 0:
        cmd += ["--unshare-user"]
    cmd += ["--", "/usr/bin/true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return False, "bwrap failed: " + proc.stderr.decode(errors="replace").strip()[:300]
    return True, ""


@functools.lru_cache(maxsize=1)
def _bwrap_can_disable_userns() -> bool:
    """bwrap >= 0.8 can forbid new user namespaces inside the sandbox (non-root mode only)."""
    try:
        proc = subprocess.run([BWRAP, "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--disable-userns" in proc.stdout + proc.stderr


def _outfs_script(outfs: Path, out: Path, size_bytes: int) -> str:
    """Shell run (as root of our own user namespace) around bwrap in non-root mode.

    Mounts the capped tmpfs that bwrap binds at ``/job/out``, runs bwrap (``"$@"``), then
    copies the outputs to the host's ``out/``: by then bwrap's PID namespace, and with it
    every sandboxed process, is gone, so nothing can change them during the copy. ``cp -a``
    copies links as links; the trusted side reads ``out/`` without following any.
    """
    q = shlex.quote
    opts = f"size={size_bytes},nr_inodes={_OUTFS_INODES},mode=0700,nosuid,nodev"
    return (
        f"mount -t tmpfs -o {opts} tmpfs {q(str(outfs))} || exit 96\n"
        '"$@"; rc=$?\n'
        f"cp -a -- {q(str(outfs))}/. {q(str(out))}/ || echo 'copying /job/out failed' >&2\n"
        "exit $rc\n"
    )


_OUTFS_INODES = 4096  # files and directories in /job/out (the runner writes a few dozen)


def _outfs_prefix(outfs: Path, out: Path, size_bytes: int) -> list[str]:
    return [
        UNSHARE,
        "--user",
        "--map-root-user",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        _outfs_script(outfs, out, size_bytes),
        "sh",
    ]


@functools.lru_cache(maxsize=1)
def outfs_usable() -> tuple[bool, str]:
    """Not root: whether the capped ``/job/out`` chain (unshare + tmpfs + nested bwrap) runs."""
    if os.geteuid() == 0:
        return False, "root mode mounts the job tmpfs itself"
    if not Path(UNSHARE).exists():
        return False, "util-linux unshare is not installed"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dlgrader-outfs-check-") as tmp:
        outfs, out = Path(tmp) / "outfs", Path(tmp) / "out"
        outfs.mkdir()
        out.mkdir()
        cmd = _outfs_prefix(outfs, out, MB)
        cmd += [BWRAP, "--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
        cmd += ["--ro-bind", "/usr", "/usr", *_symlink_args(), "--bind", str(outfs), "/o"]
        cmd += ["--", "/bin/sh", "-c", "echo ok > /o/probe"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"unshare failed to start: {exc}"
        if proc.returncode != 0 or not (out / "probe").is_file():
            err = proc.stderr.decode(errors="replace").strip()[:300]
            return False, f"unshare/tmpfs/nested bwrap failed (rc {proc.returncode}): {err}"
    return True, ""


def _symlink_args() -> list[str]:
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args


# --------------------------------------------------------------------------- cgroups


@dataclass
class Cgroup:
    """A per-job cgroup (v2, or v1 memory + pids) that the sandbox is started in."""

    procs_files: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    version: int = 0
    memory_dir: Path | None = None
    cpu_dir: Path | None = None

    def cpu_seconds(self) -> float | None:
        """CPU time used by everything in the job's cgroup (user + system)."""
        if self.cpu_dir is None:
            return None
        try:
            if self.version == 2:
                for line in (self.cpu_dir / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
                return None
            return int((self.cpu_dir / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    @property
    def active(self) -> bool:
        return bool(self.procs_files)

    def peak_memory(self) -> int | None:
        if self.memory_dir is None:
            return None
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((self.memory_dir / name).read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return None

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        try:
            if self.version == 2:
                events = (self.memory_dir / "memory.events").read_text()
                return any(
                    line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                    for line in events.splitlines()
                )
            ctl = (self.memory_dir / "memory.oom_control").read_text().split()
            if "oom_kill" in ctl:
                return int(ctl[ctl.index("oom_kill") + 1]) > 0
            return int((self.memory_dir / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, IndexError):
            return False

    def kill_all(self) -> None:
        """SIGKILL whatever is still in the cgroup (nothing should be)."""
        for procs in self.procs_files:
            try:
                pids = [int(x) for x in procs.read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _own_cgroup_paths() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def make_cgroup(limits: Limits, tag: str) -> tuple[Cgroup, str]:
    """A fresh cgroup for one job with memory and pids limits, or an inactive one and why."""
    own = _own_cgroup_paths()
    root = Path("/sys/fs/cgroup")
    name = f"dlgrader-{tag}"
    cg = Cgroup()
    # cgroup v2 with the memory controller delegated to our cgroup.
    for base in (root, root / "unified"):
        ctrl = base / "cgroup.controllers"
        if "" in own and ctrl.exists() and "memory" in ctrl.read_text().split():
            parent = base / own[""].lstrip("/")
            try:
                d = parent / name
                d.mkdir()
                cg.dirs.append(d)
                (d / "memory.max").write_text(str(limits.memory_bytes))
                if (d / "memory.swap.max").exists():
                    (d / "memory.swap.max").write_text("0")
                if (d / "pids.max").exists():
                    (d / "pids.max").write_text(str(limits.nproc))
                cg.procs_files.append(d / "cgroup.procs")
                cg.version, cg.memory_dir, cg.cpu_dir = 2, d, d
                return cg, ""
            except OSError as exc:
                cg.remove()
                cg = Cgroup()
                reason = f"cgroup v2 not writable ({exc})"
                break
    else:
        reason = ""
    # cgroup v1: separate memory and pids hierarchies.
    mem = root / "memory"
    if (mem / "memory.limit_in_bytes").exists():
        try:
            d = mem / own.get("memory", "/").lstrip("/") / name
            d.mkdir()
            cg.dirs.append(d)
            (d / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            if (d / "memory.memsw.limit_in_bytes").exists():
                try:
                    (d / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
                except OSError:
                    pass
            cg.procs_files.append(d / "cgroup.procs")
            cg.version, cg.memory_dir = 1, d
            acct = root / "cpuacct"
            if (acct / "cpuacct.usage").exists():
                try:
                    ad = acct / own.get("cpuacct", "/").lstrip("/") / name
                    ad.mkdir()
                    cg.dirs.append(ad)
                    cg.procs_files.append(ad / "cgroup.procs")
                    cg.cpu_dir = ad
                except OSError:
                    pass
            pids = root / "pids"
            if (pids / "cgroup.procs").exists():
                try:
                    pd = pids / own.get("pids", "/").lstrip("/") / name
                    pd.mkdir()
                    cg.dirs.append(pd)
                    (pd / "pids.max").write_text(str(limits.nproc))
                    cg.procs_files.append(pd / "cgroup.procs")
                except OSError:
                    pass
            return cg, ""
        except OSError as exc:
            cg.remove()
            cg = Cgroup()
            reason = (reason + "; " if reason else "") + f"cgroup v1 memory not writable ({exc})"
    return cg, reason or "no writable memory cgroup"


# --------------------------------------------------------------------------- job tmpfs

_libc = None


def _libc_handle():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def mount_job_tmpfs(path: Path, size_bytes: int) -> bool:
    """Mount a size-capped tmpfs on ``path`` (root only) so a full disk stays a full tmpfs."""
    if os.geteuid() != 0:
        return False
    libc = _libc_handle()
    ms_nosuid, ms_nodev = 2, 4
    opts = f"size={size_bytes},mode=0755".encode()
    rc = libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", ms_nosuid | ms_nodev, opts)
    if rc != 0:
        log.warning("cannot mount the job tmpfs: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def unmount(path: Path) -> None:
    libc = _libc_handle()
    mnt_detach = 2
    libc.umount2(str(path).encode(), mnt_detach)


# --------------------------------------------------------------------------- running


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


def _parents(path: Path) -> list[Path]:
    """Ancestors of ``path`` below ``/``, outermost first."""
    return [p for p in reversed(path.parents) if str(p) != "/"]


def _editable_masks(venv: Path) -> list[Path]:
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    if not site.is_dir():
        return []
    return sorted(
        p for p in site.iterdir() if p.name.startswith("__editable__") or p.suffix == ".egg-link"
    )


def sandbox_env(
    lang: str,
    mnist: str | None,
    stage: str = STAGE_IN_SANDBOX,
    tmp: str = "/tmp",
    threads: int = 1,
) -> dict[str, str]:
    """The sandbox's whole environment (bwrap starts from ``--clearenv``).

    ``stage``/``tmp``: where the staged root and the private temp folder are as the runner
    sees them (sandbox paths in bwrap mode, host paths in limits-only mode).
    """
    _, venv, _ = _python_paths()
    home = f"{tmp}/home"
    env = {
        "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{stage}/pkg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "JUPYTER_PATH": f"{stage}/jupyter",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": f"{home}/.ipython",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "OPENBLAS_NUM_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "GRADER_LANG": lang,
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "DL_COURSE_GRADED_RUN": "1",  # submit() does nothing, progress bars stay quiet
        "FONTCONFIG_FILE": f"{home}/.fonts.conf",  # the runner writes an empty one
    }
    if mnist:
        env["DL_COURSE_MNIST"] = mnist
    return env


def bwrap_command(
    job_in: Path,
    job_out: Path,
    limits: Limits,
    slot: int,
    env: dict[str, str],
    mnist_file: Path | None,
    *,
    userns_id: tuple[int, int] | None = None,
    data_bytes: int | None = None,
    seccomp_fd: int | None = None,
    stage: Path | None = None,
) -> list[str]:
    """The full command line: bwrap [mounts] -- setpriv ... -- prlimit ... -- python runner.

    Not root: ``userns_id`` is the (uid, gid) the sandbox gets when bwrap runs nested in our
    own user namespace (there we are its root; without ``--uid`` the sandbox would be too).
    ``data_bytes``: per-process ``RLIMIT_DATA`` (the memory fallback without a cgroup).
    ``seccomp_fd``: a descriptor holding the filter of ``grader.engine.seccomp``.
    ``stage``: the staged root to bind (default: the shared one; see ``job_stage``).
    """
    base, venv, exe = _python_paths()
    stage = stage or staged_root()
    a = [BWRAP]
    a += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    a += ["--unshare-cgroup", "--die-with-parent", "--new-session", "--clearenv"]
    a += ["--hostname", "sandbox"]
    root = os.geteuid() == 0
    if not root:
        a += ["--unshare-user"]
        if userns_id is not None:
            a += ["--uid", str(userns_id[0]), "--gid", str(userns_id[1])]
        if _bwrap_can_disable_userns():
            a += ["--disable-userns"]  # both modes: the seccomp filter refuses them too
    if seccomp_fd is not None:
        a += ["--seccomp", str(seccomp_fd)]
    a += ["--ro-bind", "/usr", "/usr"] + _symlink_args()
    a += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        a += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    a += ["--proc", "/proc", "--dev", "/dev"]
    a += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    # Interpreter and venv at their own paths; parents made traversable (pyenv lives in
    # root's 0700 home, and bwrap would copy that mode).
    made: set[str] = {"/usr", "/tmp", "/proc", "/dev"}
    for target in (base, venv, Path(STAGE_IN_SANDBOX), Path(JOB_IN), Path(JOB_OUT)):
        for parent in _parents(target):
            if str(parent) not in made:
                a += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
    a += ["--ro-bind", str(base), str(base)]
    if venv.resolve() != base:
        a += ["--ro-bind", str(venv), str(venv)]
        for mask in _editable_masks(venv):
            a += ["--ro-bind", str(stage / "empty"), str(mask)]
    a += ["--ro-bind", str(stage), STAGE_IN_SANDBOX]
    a += ["--ro-bind", str(job_in), JOB_IN, "--bind", str(job_out), JOB_OUT]
    if mnist_file is not None:
        a += ["--perms", "0755", "--dir", "/data"]
        a += ["--ro-bind", str(mnist_file), MNIST_IN_SANDBOX]
    if not root:
        # In its own user namespace the sandbox's uid owns bwrap's root and /dev tmpfs (as
        # root, root does): read-only, or it could write there, uncapped.
        a += ["--remount-ro", "/", "--remount-ro", "/dev"]
    for k, v in env.items():
        a += ["--setenv", k, v]
    a += ["--chdir", "/tmp", "--"]
    if root:
        uid = slot_uid(slot)
        a += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        a += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    a += prlimit_args(limits, data_bytes)
    a += [str(exe), "-s", f"{STAGE_IN_SANDBOX}/runner.py", f"{JOB_IN}/run.json"]
    return a


def prlimit_args(limits: Limits, data_bytes: int | None = None) -> list[str]:
    """prlimit's rlimits; ``data_bytes`` adds ``RLIMIT_DATA`` (only when no cgroup caps memory:
    it counts each process's writable private mappings, per process)."""
    cpu = int((limits.notebook_timeout or 600) + limits.kill_grace)
    args = [
        PRLIMIT,
        f"--nproc={limits.nproc}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        f"--cpu={cpu}",
        "--core=0",
    ]
    if data_bytes is not None:
        args.append(f"--data={data_bytes}")
    return args + ["--"]


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
    pass_fds: list[int] = [] if report_fd is None else [report_fd]
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
        cmd, disk_note = _nonroot_bwrap(box, limits, slot, env, mnist_file, data_bytes, seccomp_fd)
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
        cmd = _args_through_fd(cmd, pass_fds)
    if cg.active:
        # Join the cgroup before bwrap starts, so no process escapes it.
        joins = " ".join(f"echo $$ > {shlex.quote(str(p))} || exit 97;" for p in cg.procs_files)
        cmd = ["/bin/sh", "-c", f'{joins} exec "$@"', "sh", *cmd]
    log_path = box / "sandbox.log"
    wall = (limits.notebook_timeout or 600.0) + limits.kill_grace
    t0 = time.monotonic()
    killed = False
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
        finally:
            for fd in pass_fds:
                if fd != report_fd:  # the caller's
                    os.close(fd)
        watched_oom = False
        try:
            if cg.active:
                rc = proc.wait(timeout=wall)
            else:
                rc, watched_oom = _wait_watching_memory(proc, wall, limits.memory_bytes)
        except subprocess.TimeoutExpired:
            killed = True
            _killpg(proc.pid)
            rc = proc.wait()
    elapsed = time.monotonic() - t0
    _killpg(proc.pid)  # stragglers of the group (limits-only mode)
    oom = cg.oom_killed() or watched_oom
    peak = cg.peak_memory()
    cpu = cg.cpu_seconds()
    cg.remove()
    return SandboxRun(
        mode=mode,
        returncode=rc,
        wall_seconds=elapsed,
        killed_by_wall_clock=killed,
        oom_killed=oom,
        peak_memory=peak,
        cpu_seconds=cpu,
        cgroup_note=cg_note,
        log_tail=_tail(log_path, 4000),
        weakened=weakened,
    )


def _nonroot_bwrap(
    box: Path,
    limits: Limits,
    slot: int,
    env: dict[str, str],
    mnist_file: Path | None,
    data_bytes: int | None,
    seccomp_fd: int | None,
) -> tuple[list[str], str]:
    """Non-root command: bwrap nested in our own user namespace with a capped ``/job/out``

    (``outfs_usable``), or plain ``bwrap --unshare-user`` with ``/job/out`` on host disk; and
    a note when the disk cap could not be applied."""
    ok, why = outfs_usable()
    if not ok:
        note = (
            f"job disk not capped: /job/out is host disk, each file up to "
            f"{limits.file_size_bytes // MB} MB ({why})"
        )
        log.warning(note)
        cmd = bwrap_command(
            box / "in",
            box / "out",
            limits,
            slot,
            env,
            mnist_file,
            data_bytes=data_bytes,
            seccomp_fd=seccomp_fd,
            stage=job_stage(box),
        )
        return cmd, note
    outfs = box / "outfs"
    outfs.mkdir(mode=0o700, exist_ok=True)
    inner = bwrap_command(
        box / "in",
        outfs,
        limits,
        slot,
        env,
        mnist_file,
        userns_id=(os.getuid(), os.getgid()),
        data_bytes=data_bytes,
        seccomp_fd=seccomp_fd,
        stage=job_stage(box),
    )
    return _outfs_prefix(outfs, box / "out", limits.job_disk_bytes) + inner, ""


def job_stage(box: Path) -> Path:
    """A copy of the staged root inside the job's own directory (the job tmpfs as root): the
    jail's mountinfo shows a bind mount's source path, and the shared copy's names the
    grader's state directory. 560 kB, a few milliseconds."""
    dest = box / "stage"
    if not dest.is_dir():
        shutil.copytree(staged_root(), dest, symlinks=True)
    return dest


def _args_through_fd(cmd: list[str], pass_fds: list[int]) -> list[str]:
    """``cmd`` with bwrap's options moved into a pipe (``--args FD``; the command after
    ``--`` stays): bwrap is PID 1 of the sandbox, and its command line (every host path
    it binds) would be readable there as /proc/1/cmdline."""
    at = cmd.index(BWRAP) + 1
    end = cmd.index("--", at)
    data = b"".join(arg.encode() + b"\0" for arg in cmd[at:end])
    read_end, write_end = os.pipe()
    try:
        if len(data) >= 60_000:  # a pipe buffers 64 KiB; bwrap reads only once started
            raise RuntimeError(f"bwrap's arguments are too long ({len(data)} bytes)")
        os.write(write_end, data)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    pass_fds.append(read_end)
    return cmd[:at] + ["--args", str(read_end)] + cmd[end:]


MEMORY_WATCH_PERIOD = 0.1  # seconds between two sums of the job's resident memory


def _wait_watching_memory(proc: subprocess.Popen, wall: float, limit: int) -> tuple[int, bool]:
    """Wait for ``proc`` like ``proc.wait(timeout=wall)`` while keeping the resident memory
    of it and all its descendants under ``limit`` bytes: the per-job memory limit where no
    cgroup can be made (RLIMIT_DATA alone caps each process, so a job that forks could use
    nproc times the limit). Like the kernel's OOM killer, the largest processes are killed
    until the rest fits (the kernel or its children; the runner then reports what happened).
    Returns (return code, whether anything was killed for memory)."""
    deadline = time.monotonic() + wall
    hit = False
    while True:
        try:
            return proc.wait(timeout=MEMORY_WATCH_PERIOD), hit
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
        sizes = {pid: resident_bytes([pid]) for pid in descendants(proc.pid)}
        total = sum(sizes.values())
        for pid in sorted(sizes, key=sizes.__getitem__, reverse=True):
            if total <= limit:
                break
            log.warning(
                "job over its memory limit (%d MB > %d MB): killing pid %d (%d MB)",
                total // MB,
                limit // MB,
                pid,
                sizes[pid] // MB,
            )
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            total -= sizes[pid]
            hit = True


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (host pids), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])  # state, ppid, ...
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def resident_bytes(pids: list[int]) -> int:
    """Sum of the resident set sizes of ``pids`` (shared pages counted in each: an upper
    bound, which errs on the safe side for a limit)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def _killpg(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


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


def describe_limits(limits: Limits) -> str:
    return (
        f"memory {limits.memory_bytes // MB} MB (cgroup), processes {limits.nproc}, "
        f"file size {limits.file_size_bytes // MB} MB, open files {limits.open_files}, "
        f"output {limits.output_bytes // MB} MB"
    )
