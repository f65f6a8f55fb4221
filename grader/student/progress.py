"""Progress bars that never get in the way.

``progress(iterable, desc=...)`` is tqdm's notebook-aware bar when tqdm is installed and plain
iteration otherwise, so notebooks and the grading sandbox run the same code either way. In the
graded run (``DL_COURSE_GRADED_RUN``) it is the text bar with only its first and last state.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


GRADED_RUN_ENV = "DL_COURSE_GRADED_RUN"  # set by the grader's sandbox


def _graded_run() -> bool:
    return bool(os.environ.get(GRADED_RUN_ENV))


def _tqdm():
    """The bar class, or None when tqdm is missing: tqdm's ``auto`` flavour (a widget in
    Jupyter) where ipywidgets is installed, else the text bar (``tqdm.auto`` would warn
    "IProgress not found" with the path of the Python installation)."""
    try:
        from tqdm import tqdm as text_bar
    except ImportError:  # tqdm is optional for the student package
        return None
    if _graded_run() or importlib.util.find_spec("ipywidgets") is None:
        return text_bar
    from tqdm.auto import tqdm

    return tqdm


def _quiet() -> dict:
    """In the graded run a bar writes its first and final state only (no per-update lines
    in the feedback)."""
    return {"mininterval": float("inf")} if _graded_run() else {}


def progress(
    iterable: Iterable[T],
    desc: str | None = None,
    total: int | None = None,
    disable: bool = False,
    leave: bool = True,
) -> Iterator[T]:
    """Iterate over ``iterable`` with a progress bar labelled ``desc``.

    Falls back to the bare iterable when tqdm is missing or ``disable`` is true.
    """
    tqdm = _tqdm()
    if tqdm is None or disable:
        return iter(iterable)
    return iter(tqdm(iterable, desc=desc, total=total, leave=leave, **_quiet()))


class ByteBar:
    """A download bar counted in bytes: ``update(n)`` then ``close()`` (no-op without tqdm)."""

    def __init__(self, total: int | None, desc: str, disable: bool = False):
        tqdm = _tqdm()
        self._bar = None
        if tqdm is not None and not disable:
            self._bar = tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                leave=False,
                **_quiet(),
            )

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ByteBar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
