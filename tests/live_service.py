"""Start a real ``grader serve`` in a subprocess on a free loopback port (tests, benchmarks).

A test helper, not product code: it needs httpx (a dev dependency). The child gets this folder
on its ``PYTHONPATH`` so that ``--grade-fn structural_grader:grade`` resolves there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from grader.engine.spec import Assignment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(home: Path, *args: str) -> str:
    """Run a ``grader`` sub-command against ``home``; returns stdout, raises on failure."""
    out = subprocess.run(
        [sys.executable, "-m", "grader.cli", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"grader {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def _with_tests_path() -> str:
    old = os.environ.get("PYTHONPATH")
    return f"{TESTS}{os.pathsep}{old}" if old else str(TESTS)


@dataclass
class LiveService:
    home: Path
    workers: int = 2
    extra: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiveService:
        self.port = self.port or free_port()
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 - lives as long as the server
        self.home.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "grader.cli",
            "serve",
            "--home",
            str(self.home),
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *self.extra,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _with_tests_path()},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"grader serve exited: {self.log_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"grader serve not ready after {timeout} s: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        p = self.home / "serve.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def __enter__(self) -> LiveService:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
FAST_ASSIGNMENT = "3-1-2_softmax_with_loss"  # the fastest notebook: no training


def fast_spec() -> Assignment:
    """The spec of FAST_ASSIGNMENT: tests read its points and items there, never copies of
    them, so that an instructor's edit of the course breaks no test of the service."""
    from grader import specs

    return specs.get_assignment(FAST_ASSIGNMENT)


def solution_notebook(assignment_id: str = FAST_ASSIGNMENT) -> bytes:
    """The instructor's complete notebook (full marks when graded)."""
    return (REPO / "solutions" / f"{assignment_id}.ipynb").read_bytes()


def released_env(scratch: Path) -> dict[str, str]:
    """Environment for the engine to find released notebooks: the checkout's ``assignments/``
    when it is built, else a fresh ``grader build`` into ``scratch``."""
    if (REPO / "assignments" / f"{FAST_ASSIGNMENT}.ipynb").exists():
        return {}
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "build",
            "--solutions",
            str(REPO / "solutions"),
            "--assignments",
            str(scratch),
        ],
        check=True,
        capture_output=True,
    )
    return {"GRADER_ASSIGNMENTS_DIR": str(scratch)}
