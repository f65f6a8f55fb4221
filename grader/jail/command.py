"""The sandbox's environment, bwrap's command line and the process limits (prlimit)."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

from grader.jail.availability import bwrap_can_disable_userns
from grader.jail.layout import (
    _ETC_FILES,
    BWRAP,
    JOB_IN,
    JOB_OUT,
    MNIST_IN_SANDBOX,
    PRLIMIT,
    SETPRIV,
    STAGE_IN_SANDBOX,
    symlink_args,
)
from grader.jail.limits import MB, Limits, slot_uid
from grader.jail.staging import python_paths, staged_root


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
    _, venv, _ = python_paths()
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
    ``seccomp_fd``: a descriptor holding the filter of ``grader.jail.seccomp``.
    ``stage``: the staged root to bind (default: the shared one; see ``job_stage``).
    """
    base, venv, exe = python_paths()
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
        if bwrap_can_disable_userns():
            a += ["--disable-userns"]  # both modes: the seccomp filter refuses them too
    if seccomp_fd is not None:
        a += ["--seccomp", str(seccomp_fd)]
    a += ["--ro-bind", "/usr", "/usr"] + symlink_args()
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


def cpu_limit_seconds(limits: Limits) -> int:
    """RLIMIT_CPU of the runner and the kernel: the notebook's wall clock and its grace."""
    return int((limits.notebook_timeout or 600) + limits.kill_grace)


def prlimit_args(limits: Limits, data_bytes: int | None = None) -> list[str]:
    """prlimit's rlimits; ``data_bytes`` adds ``RLIMIT_DATA`` (only when no cgroup caps memory:
    it counts each process's writable private mappings, per process)."""
    args = [
        PRLIMIT,
        f"--nproc={limits.nproc}",
        f"--fsize={limits.file_size_bytes}",
        f"--nofile={limits.open_files}",
        f"--cpu={cpu_limit_seconds(limits)}",
        "--core=0",
    ]
    if data_bytes is not None:
        args.append(f"--data={data_bytes}")
    return args + ["--"]


def args_through_fd(cmd: list[str], pass_fds: list[int]) -> list[str]:
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


def describe_limits(limits: Limits) -> str:
    return (
        f"memory {limits.memory_bytes // MB} MB (cgroup), processes {limits.nproc}, "
        f"file size {limits.file_size_bytes // MB} MB, open files {limits.open_files}, "
        f"output {limits.output_bytes // MB} MB"
    )
