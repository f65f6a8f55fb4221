"""``grader release --service-url``: the helper wheel next to the helper folder (only
``grader/__init__.py`` and ``grader/student``), and notebooks that carry the URL."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from grader.notebooks.course_cells import INSTALL, WHEEL_NAME, role
from grader.notebooks.release import make_release
from grader.notebooks.wheel import STUDENT_DIST

ROOT = Path(__file__).resolve().parents[1]
URL = "https://grader.example.ac.jp"


def test_release_writes_the_wheel_and_stamps_the_url(tmp_path):
    out = tmp_path / "course"
    files = make_release(ROOT, out, service_url=URL + "/")
    wheel = out / STUDENT_DIST / WHEEL_NAME
    assert wheel in files
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/__init__.py" in names and "grader/student/submission.py" in names
    code = [n for n in names if n.endswith(".py")]
    assert all(n == "grader/__init__.py" or n.startswith("grader/student/") for n in code)
    metadata = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith(".dist-info/METADATA")))
        .decode()
    )
    assert "Requires-Dist: numpy" in metadata and "Requires-Dist: pandas" in metadata
    for path in (out / "assignments").glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        install = [c for c in nb["cells"] if role(c) == INSTALL]
        assert len(install) == 1, path.name
        assert f'SERVICE_URL = "{URL}"' in "".join(install[0]["source"]), path.name
        assert nb["metadata"]["dl_course"]["service_url"] == URL
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert f"{STUDENT_DIST}/{WHEEL_NAME}" in readme and "submit(" in readme
