"""The private read-only root bound at ``/opt/dlgrader``: the student package, the runner and a
kernelspec, staged once per content digest; and each job's own copy of it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

from grader.jail.layout import KERNEL_NAME
from grader.jail.limits import state_dir


def python_paths() -> tuple[Path, Path, Path]:
    """(interpreter prefix, venv prefix, venv python executable)."""
    base = Path(sys.base_prefix).resolve()
    venv = Path(sys.prefix)
    exe = Path(sys.executable)
    return base, venv, exe


def _student_package_root() -> Path:
    import grader.student

    return Path(grader.student.__file__).resolve().parent


def _runner_source() -> Path:
    return Path(__file__).with_name("inside") / "runner.py"


def _stage_digest() -> str:
    h = hashlib.sha256()
    h.update(sys.executable.encode())
    roots = [(_student_package_root(), "grader/student")]
    for root, rel in roots:
        # every file, data too: `grader build` writes the declared self-checks as JSON
        for p in sorted(root.rglob("*")):
            if "__pycache__" in p.parts or not p.is_file() or p.suffix == ".pyc":
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


def job_stage(box: Path) -> Path:
    """A copy of the staged root inside the job's own directory (the job tmpfs as root): the
    jail's mountinfo shows a bind mount's source path, and the shared copy's names the
    grader's state directory. 560 kB, a few milliseconds."""
    dest = box / "stage"
    if not dest.is_dir():
        shutil.copytree(staged_root(), dest, symlinks=True)
    return dest
