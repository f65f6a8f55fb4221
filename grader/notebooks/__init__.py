"""Reading the course's solution notebooks: markers, nbgrader metadata, build and release.

* ``markers``: ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (and hidden-test) regions.
* ``metadata``: the nbgrader cell metadata (schema 3) and the rules every notebook obeys.
* ``build``: ``solutions/<id>.ipynb`` -> ``assignments/<id>.ipynb``.
* ``release``: the folder students receive.
"""

from grader.notebooks.build import build_all, build_assignment
from grader.notebooks.markers import MarkerError
from grader.notebooks.metadata import NotebookValidationError, validate_notebook

__all__ = [
    "MarkerError",
    "NotebookValidationError",
    "build_all",
    "build_assignment",
    "validate_notebook",
]
