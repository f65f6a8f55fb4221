"""A new exercise's solution notebook, as ``grader new`` writes it.

Cells: a title, the install cell, a locked set-up cell, the solution cell of one function
(between the solution markers), its graded ``check("<item>")`` cell and the submit cell, all
with the metadata ``grader build`` requires (``grader/notebooks/metadata.py``).
"""

from __future__ import annotations

import nbformat

from grader.notebooks.course_cells import ensure_course_cells
from grader.notebooks.metadata import check_meta, setup_meta, solution_meta

SETUP = "import numpy as np\n\nfrom grader.student import check\n"

SOLUTION = '''\
def {name}(x):
    """x: (N, D) -> (N, D)"""
    ### BEGIN SOLUTION
    return np.tanh(x)
    ### END SOLUTION
'''


def _code(source: str, meta: dict) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = meta
    return cell


def scaffold_notebook(
    assignment_id: str, name: str, item_id: str, points: float, title: tuple[str, str]
) -> nbformat.NotebookNode:
    """The solution notebook of ``assignment_id``: one function ``name`` checked as ``item_id``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {assignment_id.split('_')[0]} {title[0]}\n\n{title[1]}"),
        _code(SETUP, setup_meta(f"{name}_setup")),
        nbformat.v4.new_markdown_cell(f"### 課題 / Task: `{name}(x)`"),
        _code(SOLUTION.format(name=name), solution_meta(f"{name}_impl")),
        _code(f'check("{item_id}")', check_meta(item_id, points)),
    ]
    ensure_course_cells(nb, assignment_id)
    return nb


__all__ = ["scaffold_notebook"]
