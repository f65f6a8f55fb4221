"""Can bubblewrap run here (probed once per process), and can it forbid user namespaces."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from grader.jail.layout import BWRAP, symlink_args


@functools.lru_cache(maxsize=1)
def bwrap_usable() -> tuple[bool, str]:
    """Whether a minimal bwrap sandbox starts here (cached), and why not."""
    if not Path(BWRAP).exists():
        return False, "bubblewrap (bwrap) is not installed"
    cmd = [BWRAP, "--ro-bind", "/usr", "/usr", "--unshare-pid", "--unshare-net", "--unshare-cgroup"]
    cmd += symlink_args()
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
def bwrap_can_disable_userns() -> bool:
    """bwrap >= 0.8 can forbid new user namespaces inside the sandbox (non-root mode only)."""
    try:
        proc = subprocess.run([BWRAP, "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--disable-userns" in proc.stdout + proc.stderr
