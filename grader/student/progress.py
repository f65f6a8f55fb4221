"""Progress bars that never get in the way.

``progress(iterable, desc=...)`` is tqdm's notebook-aware bar when tqdm is installed and plain
iteration otherwise, so notebooks and the grading sandbox run the same code either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def _tqdm():
    """tqdm's ``auto`` flavour (widgets in Jupyter, text elsewhere), or None when missing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional for the student package
        return None
    return tqdm


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
    return iter(tqdm(iterable, desc=desc, total=total, leave=leave))


class ByteBar:
    """A download bar counted in bytes: ``update(n)`` then ``close()`` (no-op without tqdm)."""

    def __init__(self, total: int | None, desc: str, disable: bool = False):
        tqdm = _tqdm()
        self._bar = None
        if tqdm is not None and not disable:
            self._bar = tqdm(
                total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False
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
