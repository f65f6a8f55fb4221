"""The jail: everything that runs inside the sandbox or starts it, and the readers of what comes
back out. The judge (``grader/engine/``) hands it a job directory, limits and a mode, and gets
back a ``SandboxRun`` plus outputs read as data; no other code starts sandboxed processes or
opens paths under a job's output.

* ``inside/runner.py``: the notebook runner, the only project code executed in the jail (with
  ``grader.student``, staged by ``staging.py``); ``probe_cell.py``: the probe cell's template;
* ``availability``: can bwrap run here; ``policy``: the mode jobs run in, decided once;
  ``layout``: paths inside the jail and host tools;
* ``command``: environment, bwrap's command line, prlimit; ``seccomp``: the namespace filter;
* ``run``: one sandboxed run (``run_sandboxed``); ``nonroot``: the user-namespace chain;
  ``cgroups`` and ``memwatch``: memory, process and CPU limits; ``jobdir``: the job's tmpfs;
* ``slots``: one uid per concurrent job; ``limits``: the limits a job runs under;
* ``outputs`` and ``runner_report``: what the jail wrote, read without trusting it.
"""

from __future__ import annotations

from grader.jail.availability import bwrap_usable
from grader.jail.command import sandbox_env
from grader.jail.jobdir import mount_job_tmpfs, unmount
from grader.jail.layout import (
    JOB_IN,
    JOB_OUT,
    KERNEL_NAME,
    MNIST_IN_SANDBOX,
    STAGE_IN_SANDBOX,
    workdir,
)
from grader.jail.policy import SandboxPolicy, sandbox_policy
from grader.jail.run import SandboxRun, run_sandboxed
from grader.jail.staging import staged_root

__all__ = [
    "JOB_IN",
    "JOB_OUT",
    "KERNEL_NAME",
    "MNIST_IN_SANDBOX",
    "STAGE_IN_SANDBOX",
    "SandboxPolicy",
    "SandboxRun",
    "bwrap_usable",
    "mount_job_tmpfs",
    "run_sandboxed",
    "sandbox_env",
    "sandbox_policy",
    "staged_root",
    "unmount",
    "workdir",
]
