"""``grader validate``: solutions earn full marks, blank assignments zero (CI runs this)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import jail
from grader.cli import main as cli_main

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here"),
]
REPO = Path(__file__).resolve().parents[1]
QUICK = ["3-1-1_affine_layer", "3-1-2_softmax_with_loss"]


def _have(ids: list[str]) -> bool:
    return all(
        (REPO / d / f"{i}.ipynb").is_file() for i in ids for d in ("solutions", "assignments")
    )


@pytest.mark.skipif(not _have(QUICK), reason="3-1-x notebooks not built yet")
def test_validate_layer_notebooks(capsys):
    assert cli_main(["validate", *QUICK, "--repo", str(REPO), "-j", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == 4 and "4/4 notebooks as expected" in out


@pytest.mark.skipif(not _have(QUICK[1:]), reason="3-1-2 notebooks not built yet")
def test_validate_fails_when_a_solution_loses_points(tmp_path, capsys):
    for d in ("solutions", "assignments"):
        (tmp_path / d).mkdir()
        shutil.copy(REPO / "assignments" / f"{QUICK[1]}.ipynb", tmp_path / d)
    assert cli_main(["validate", QUICK[1], "--repo", str(tmp_path), "-j", "2"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "want full marks" in out and "NotImplementedError" in out


def test_validate_usage_errors(capsys):
    assert cli_main(["validate", "no_such_assignment", "--repo", str(REPO)]) == 2


@pytest.mark.slow
def test_validate_whole_course():
    assert cli_main(["validate", "--repo", str(REPO), "-j", "2"]) == 0
