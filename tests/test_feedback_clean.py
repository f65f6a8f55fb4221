"""Graded runs of the MNIST notebooks read cleanly: no server noise (fontconfig, tqdm's
ipywidgets warning), no host path, a progress bar writes its first and last state only, and
the feedback page shows the notebook's formulas as MathML."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from grader.engine import grade_notebook
from grader.engine.nbhtml import render_markdown
from grader.engine.report import render_notebook
from grader.jail import sandbox_policy
from grader.specs import get_assignment

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]
ROOT = Path(__file__).resolve().parents[1]
BAR_STATE = re.compile(r"^(.+?):\s+\d+%\|", re.M)


def _bar_states(text: str) -> Counter:
    """How many states each progress bar (by its label) wrote."""
    return Counter(BAR_STATE.findall(text.replace("\r", "\n")))


@pytest.mark.parametrize("assignment", ["2-4_multilayer_mnist", "2-10_regularization"])
def test_graded_notebook_has_no_server_noise(assignment, tmp_path):
    solution = (ROOT / "solutions" / f"{assignment}.ipynb").read_bytes()
    result = grade_notebook(
        get_assignment(assignment), solution, policy=sandbox_policy(False), workdir=tmp_path
    )
    assert result.status == "graded" and result.score == result.max_score, result.log
    executed = result.executed_notebook
    for noise in ("TqdmWarning", "IProgress", "Fontconfig", "Matplotlib is building"):
        assert noise not in executed, noise
    for host in {sys.prefix, sys.base_prefix, str(ROOT)} - {"/", "/usr", "/usr/local"}:
        assert host not in executed, host
    states = _bar_states(executed)
    assert states, "the notebook's progress bars are gone altogether"
    assert max(states.values()) <= 3, states  # first and final state (no per-update lines)

    page = render_notebook(executed)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML"' in page
    prose = [c for c in json.loads(executed)["cells"] if c["cell_type"] == "markdown"]
    for cell in prose:  # no raw TeX or Markdown left in the rendered prose
        rendered = render_markdown("".join(cell["source"]))
        assert "$" not in rendered and "**" not in rendered, rendered
