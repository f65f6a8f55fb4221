"""Where things are inside the jail, the host tools that build it, and the host's ``/bin``-style
links."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

BWRAP = shutil.which("bwrap") or "/usr/bin/bwrap"


SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"


UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


STAGE_IN_SANDBOX = "/opt/dlgrader"


JOB_IN = "/job/in"


JOB_OUT = "/job/out"


MNIST_IN_SANDBOX = "/data/mnist.npz"


MNIST_IN_JOB = f"{JOB_IN}/mnist.npz"  # a warm sandbox's: written after it started


KERNEL_NAME = "dlgrader"


def workdir(tmp: str = "/tmp") -> str:
    """The notebook's working folder, inside the job's private temp folder ``tmp``."""
    return f"{tmp}/work"


# Files of /etc that Python, NumPy and Matplotlib may read; none of them is secret.
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "localtime", "hosts", "nsswitch.conf", "host.conf")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here and limits-only mode was not allowed."""


def symlink_args() -> list[str]:
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    return args
