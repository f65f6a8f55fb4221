"""Which released notebooks give away the answers of other assignments.

A released notebook's locked set-up cells (restored by the grader, so students see them as
they are) sometimes carry finished code of an earlier exercise, e.g. a complete ``Affine``
layer in the set-up of the multi-layer network. Released before the earlier assignment's
deadline, that notebook would hand out its answers. This module finds those pairs from the
notebooks themselves: assignment B *reveals* assignment A when, for some solution region of
``solutions/A.ipynb``, at least :data:`MATCH_FRACTION` of its significant lines (stripped,
not blank, not comments) appear in the locked set-up cells of ``assignments/B.ipynb``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nbformat

from grader.notebooks.markers import find_regions
from grader.notebooks.metadata import cell_kind

MATCH_FRACTION = 0.8
MIN_LINES = 2  # a one-line answer ("return x") is too common to call a leak


def _significant(lines: list[str]) -> list[str]:
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def solution_blocks(nb) -> list[list[str]]:  # noqa: ANN001
    """The significant lines of every solution region of a solution notebook."""
    blocks = []
    for cell in nb.cells:
        if cell.cell_type != "code" or cell_kind(cell) != "solution":
            continue
        lines = cell.source.splitlines()
        for region in find_regions(cell.source):
            if region.kind == "solution":
                block = _significant(lines[region.begin + 1 : region.end])
                if len(block) >= MIN_LINES:
                    blocks.append(block)
    return blocks


def setup_lines(nb) -> set[str]:  # noqa: ANN001
    """The significant lines of a released notebook's locked set-up cells."""
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and cell_kind(cell) == "setup":
            found.update(_significant(cell.source.splitlines()))
    return found


def reveals(setup: set[str], block: list[str]) -> bool:
    return sum(line in setup for line in block) >= MATCH_FRACTION * len(block)


def leak_map(solutions: Path, assignments: Path) -> dict[str, set[str]]:
    """``{B: {A, ...}}``: the assignments whose answers B's locked cells carry."""
    return {b: set(a) for b, a in _leak_map(Path(solutions), Path(assignments)).items()}


@lru_cache(maxsize=4)
def _leak_map(solutions: Path, assignments: Path) -> dict[str, tuple[str, ...]]:
    blocks = {
        p.stem: solution_blocks(nbformat.read(p, as_version=4))
        for p in sorted(solutions.glob("*.ipynb"))
    }
    leaks: dict[str, tuple[str, ...]] = {}
    for released in sorted(assignments.glob("*.ipynb")):
        setup = setup_lines(nbformat.read(released, as_version=4))
        leaks[released.stem] = tuple(
            a
            for a, its_blocks in blocks.items()
            if a != released.stem and any(reveals(setup, blk) for blk in its_blocks)
        )
    return leaks
