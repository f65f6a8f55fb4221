"""Solution and hidden-test regions inside a cell's source.

A region starts with a line whose stripped text is exactly ``### BEGIN SOLUTION`` and ends
with ``### END SOLUTION`` (likewise ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``).
Regions do not nest. In the student version a solution region becomes two lines at the
indentation of its ``BEGIN`` marker::

    # YOUR CODE HERE
    raise NotImplementedError()

and a hidden-test region disappears.
"""

from __future__ import annotations

from dataclasses import dataclass

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"

_ALL_MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)


class MarkerError(ValueError):
    """A malformed region: unbalanced, nested or mismatched markers."""


@dataclass(frozen=True)
class Region:
    """Lines ``begin``..``end`` (0-based, both marker lines included) of one region."""

    kind: str  # "solution" or "hidden"
    begin: int
    end: int
    indent: str


def _marker_of(line: str) -> str | None:
    text = line.strip()
    return text if text in _ALL_MARKERS else None


def find_regions(source: str, where: str = "cell") -> list[Region]:
    """All regions of ``source`` in order; ``where`` names the cell in error messages."""
    regions: list[Region] = []
    open_kind: str | None = None
    open_line = 0
    open_indent = ""
    for number, line in enumerate(source.splitlines()):
        marker = _marker_of(line)
        if marker is None:
            continue
        kind = "solution" if "SOLUTION" in marker else "hidden"
        if marker.startswith("### BEGIN"):
            if open_kind is not None:
                raise MarkerError(
                    f"{where}, line {number + 1}: {marker!r} inside the {open_kind} region "
                    f"opened on line {open_line + 1} (regions do not nest)"
                )
            open_kind, open_line = kind, number
            open_indent = line[: len(line) - len(line.lstrip())]
        else:
            if open_kind is None:
                raise MarkerError(f"{where}, line {number + 1}: {marker!r} without a BEGIN")
            if open_kind != kind:
                raise MarkerError(
                    f"{where}, line {number + 1}: {marker!r} closes the {open_kind} region "
                    f"opened on line {open_line + 1}"
                )
            regions.append(Region(kind, open_line, number, open_indent))
            open_kind = None
    if open_kind is not None:
        raise MarkerError(f"{where}, line {open_line + 1}: {open_kind} region is never closed")
    return regions


def has_markers(source: str) -> bool:
    return any(_marker_of(line) for line in source.splitlines())


def _rewrite(source: str, where: str, keep_solution: bool) -> str:
    lines = source.splitlines()
    out: list[str] = []
    cursor = 0
    for region in find_regions(source, where):
        out.extend(lines[cursor : region.begin])
        if region.kind == "solution":
            if keep_solution:
                out.extend(lines[region.begin : region.end + 1])
            else:
                out.extend(region.indent + stub for stub in CODE_STUB)
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out)


def student_source(source: str, where: str = "cell") -> str:
    """``source`` with solution regions stubbed out and hidden-test regions removed."""
    return _rewrite(source, where, keep_solution=False)


def strip_hidden_tests(source: str, where: str = "cell") -> str:
    """``source`` without hidden-test regions; solution regions are kept as they are."""
    return _rewrite(source, where, keep_solution=True)


def whole_cell_stub(cell_type: str, indent: str = "") -> str:
    """What a solution cell without markers becomes (nbgrader's convention)."""
    if cell_type == "markdown":
        return MARKDOWN_STUB
    return "\n".join(indent + stub for stub in CODE_STUB)
