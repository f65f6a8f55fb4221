"""Step 2: restore locked cells from the released notebook, neutralise self-check cells.

Locked cells are set-up cells (``grade_id`` ending in ``_setup``) and graded check cells. A
student may have edited or deleted them; the released version wins, and a deleted one is put
back after the nearest earlier cell that the two notebooks share.

Check cells (``check("item")``) run the student's self-checks in their own kernel. The server
never trusts them, they can take seconds (numeric gradients, accuracy on MNIST) and a failing
one only adds noise next to the server's verdict, so the graded run replaces them with a
comment saying the item is graded on the server.

Cells the released notebook tags ``grader_ignore`` (experiments no graded item reads, set-up
that only they use) are
replaced by a comment too, when the student's cell still has the released source and no cell
that runs reads what it binds (``grader.notebooks.ignore``); the student's own notebook
keeps and runs them.
"""

from __future__ import annotations

import copy
from typing import Any

from grader.engine.upload import nbgrader_meta
from grader.notebooks.ignore import (
    IGNORE_TAG,
    ignored_sources,
    may_skip,
    needed_cells,
    normalised,
)

SERVER_GRADED = (
    "# この項目 ({item}) はサーバーで採点されます (自己チェックは採点では実行しません)。\n"
    "# Item {item} is graded on the server (self-checks are not run when grading)."
)

NOT_RUN = (
    "# このセルは採点では実行しません (配布版で {tag} の印が付いたセルです)。\n"
    "# This cell is not run when grading (it is tagged {tag} in the released notebook)."
)


def is_locked(meta: dict | None) -> bool:
    if not meta:
        return False
    gid = str(meta.get("grade_id", ""))
    return bool(meta.get("locked")) and (gid.endswith("_setup") or bool(meta.get("grade")))


def is_check_cell(meta: dict | None) -> bool:
    return bool(meta and meta.get("grade") and meta.get("locked"))


def restore_locked_cells(nb: Any, released: Any) -> tuple[Any, list[str]]:
    """A copy of ``nb`` whose locked cells equal the released ones; also the restored ids."""
    nb = copy.deepcopy(nb)
    changed: list[str] = []
    position = {m["grade_id"]: i for i, c in enumerate(nb.cells) if (m := nbgrader_meta(c))}
    last_anchor: str | None = None
    for rcell in released.cells:
        rmeta = nbgrader_meta(rcell)
        if not rmeta:
            continue
        gid = rmeta["grade_id"]
        if is_locked(rmeta):
            fresh = copy.deepcopy(rcell)
            if fresh.cell_type == "code":
                fresh.outputs = []
                fresh.execution_count = None
            if gid in position:
                old = nb.cells[position[gid]]
                if old.get("source") != fresh.get("source") or old.cell_type != fresh.cell_type:
                    changed.append(gid)
                nb.cells[position[gid]] = fresh
            else:
                at = position[last_anchor] + 1 if last_anchor in position else 0
                nb.cells.insert(at, fresh)
                changed.append(gid)
                position = {
                    m["grade_id"]: i for i, c in enumerate(nb.cells) if (m := nbgrader_meta(c))
                }
        if gid in position:
            last_anchor = gid
    return nb, changed


def neutralise_check_cells(nb: Any) -> list[str]:
    """Replace each graded check cell's source by a comment (in place); the item ids."""
    items = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and is_check_cell(meta):
            cell.source = SERVER_GRADED.format(item=meta["grade_id"])
            items.append(meta["grade_id"])
    return items


def skip_ignored_cells(nb: Any, released: Any, later_sources: tuple[str, ...] = ()) -> list[str]:
    """Replace (in place) each code cell whose source is a released ``grader_ignore`` cell's
    by a comment, except those a cell that runs (or ``later_sources``, the grader's probes)
    reads from; log lines saying what was skipped and what ran anyway."""
    wanted = ignored_sources(released)
    if not wanted:
        return []
    positions = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    code = [nb.cells[i] for i in positions]
    skipped = {k for k, c in enumerate(code) if may_skip(c) and normalised(c.source) in wanted}
    needed = needed_cells([c.source for c in code] + list(later_sources), skipped)

    def where(k: int) -> str:  # cell numbers as Jupyter users count them (from 1)
        return f"cell {positions[k] + 1}" if k < len(code) else "the grader's probe"

    log = [
        f"{where(n.cell)} ({IGNORE_TAG}) ran anyway: {where(n.reader)} reads {n.name!r}"
        for n in needed
    ]
    skipped -= {n.cell for n in needed}
    for k in sorted(skipped):
        code[k].source = NOT_RUN.format(tag=IGNORE_TAG)
    if skipped:
        log.insert(0, f"not run ({IGNORE_TAG}): " + ", ".join(where(k) for k in sorted(skipped)))
    return log
