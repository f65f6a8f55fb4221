"""A student's machine for tests: a fresh venv without the helper package, a kernel on it, and
running chosen cells of a notebook there through nbclient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat


def bare_venv(where: Path) -> Path:
    """A fresh venv that sees numpy, matplotlib, tqdm, ipykernel, nbclient and pip (the main
    venv's libraries, through a plain path line, so no download) but no ``grader``: the main
    venv's editable install is a .pth hook, which a plain path line does not run. Its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    py = where / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "main_venv_libs.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    found = subprocess.run([py, "-c", "import grader"], capture_output=True, cwd=where)
    assert found.returncode != 0, "the bare venv must not see the checkout's grader"
    return py


def kernel_dirs(py: Path, where: Path) -> Path:
    """A kernelspec folder with one kernel, ``student``, running on ``py``."""
    spec = where / "kernels" / "student"
    spec.mkdir(parents=True)
    argv = [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "student", "language": "python"})
    )
    return where / "kernels"


def run_cells(
    nb,
    workdir: Path,
    *,
    kernels: Path | None = None,
    env: dict | None = None,
    allow_errors: bool = False,
):
    """Execute every cell of ``nb`` in order; returns the executed notebook. An error stops
    the run (``metadata.stopped_by`` says so) unless ``allow_errors``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    if kernels:
        km = KernelManager(
            kernel_name="student", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)])
        )
    else:
        km = KernelManager(kernel_name="python3")
    run_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run_env.update(env or {})
    client = NotebookClient(
        nb,
        km=km,
        timeout=300,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute(env=run_env, cwd=str(workdir))
    except Exception as exc:  # CellExecutionError: the outputs are in nb
        nb.metadata["stopped_by"] = type(exc).__name__
    return nb


def outputs(cell) -> str:
    """A code cell's output as text (streams, results, error lines)."""
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type == "error":
            parts.append("\n".join(o.traceback))
        elif "text/plain" in o.get("data", {}):
            parts.append(o.data["text/plain"])
    return "".join(parts)


def cells_until(nb, last_grade_id: str):
    """A copy of ``nb`` cut after the cell whose nbgrader grade_id is ``last_grade_id``."""
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for i, cell in enumerate(copy.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == last_grade_id:
            copy.cells = copy.cells[: i + 1]
            return copy
    raise KeyError(last_grade_id)
