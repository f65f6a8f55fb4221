"""``grader release``: what students get, and only that; the helper package installs alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from grader.notebooks.release import STUDENT_DIST, ReleaseError, make_release

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "course"
    result = subprocess.run(
        [sys.executable, "-m", "grader.cli", "release", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_release_holds_only_student_material(release):
    files = sorted(str(p.relative_to(release)) for p in release.rglob("*") if p.is_file())
    assert "README.md" in files
    assert f"{STUDENT_DIST}/pyproject.toml" in files
    assert f"{STUDENT_DIST}/grader/__init__.py" in files
    assert f"{STUDENT_DIST}/grader/student/selfcheck.py" in files
    notebooks = {p.name for p in (ROOT / "assignments").glob("*.ipynb")}
    assert {f"assignments/{n}" for n in notebooks} <= set(files)
    for name in files:
        parts = Path(name).parts
        assert "solutions" not in parts and "reference" not in parts, name
        assert "__pycache__" not in parts, name
        if parts[0] == STUDENT_DIST and len(parts) > 2 and parts[1] == "grader":
            assert parts[2] in {"__init__.py", "student"}, name
        else:
            assert parts[0] in {"README.md", "assignments", STUDENT_DIST}, name
    for nb in (release / "assignments").glob("*.ipynb"):
        assert "### BEGIN SOLUTION" not in nb.read_text(encoding="utf-8"), nb.name
    readme = (release / "README.md").read_text(encoding="utf-8")
    assert readme.index("日本語") < readme.index("English")


def test_release_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ReleaseError, match="not empty"):
        make_release(ROOT, tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_student_package_installs_alone_and_runs_a_notebook(release, tmp_path):
    """A fresh venv sees third-party libraries but not this checkout's grader."""
    venv = tmp_path / "venv"
    # --without-pip: pip and setuptools then come from the main venv (through the .pth below),
    # so the install needs no download and no bundled, outdated setuptools.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A plain path line: the main venv's libraries (numpy, ipykernel, ...) become importable,
    # but its .pth files (the editable install of the whole grader) are not processed.
    Path(site, "main_venv_libs.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            py,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-build-isolation",
            str(release / STUDENT_DIST),
        ],
        check=True,
    )
    probe = (
        "import grader, grader.student, importlib.util as u; print(grader.__file__); "
        "print(u.find_spec('grader.engine'), u.find_spec('reference'))"
    )
    out = subprocess.run(
        [py, "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout.splitlines()
    assert out[0].startswith(str(venv)), out
    assert out[1] == "None None", out

    kernels = tmp_path / "kernels" / "student"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "student",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = nbformat.read(release / "assignments" / "3-1-1_affine_layer.ipynb", as_version=4)
    km = KernelManager(
        kernel_name="student",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]),
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    client = NotebookClient(
        nb, km=km, timeout=120, allow_errors=True, resources={"metadata": {"path": str(workdir)}}
    )
    client.execute(env=env, cwd=str(workdir))
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert errors and errors[0]["ename"] == "NotImplementedError"
    assert all(o["ename"] in {"NotImplementedError", "CheckFailed"} for o in errors), errors
