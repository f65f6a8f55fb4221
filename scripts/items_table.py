"""Write docs/ITEMS.md: one row per graded item, generated from the specs (never by hand).

For each item: what the solution notebook states about it (the Markdown cell before the last
solution cell ahead of the check cell, and that solution cell's docstrings), what the probe
passes and reads back (the input arrays of one job and the outputs it saves), the tolerance
and the largest error the correct variants of ``tests/mutations/variants.py`` measure (on the
mutation suite's seeds), and the known mistakes the mutation suite proves caught, with their hints.

    python scripts/items_table.py           # rewrite docs/ITEMS.md
    python scripts/items_table.py --check   # exit 1 when docs/ITEMS.md is out of date

``tests/test_items_table.py`` runs the check.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the mutation variants are the table's evidence

from mutations.harness import run_item  # noqa: E402
from mutations.variants import BUGGY, CORRECT  # noqa: E402

from grader.engine.hints import get_hint  # noqa: E402
from grader.engine.spec import Item, TrustedData  # noqa: E402
from grader.specs import all_assignments  # noqa: E402

OUT = ROOT / "docs" / "ITEMS.md"
SEEDS = (11, 12, 13)  # as tests/test_mutations.py
MAX_STATED = 400  # characters of notebook text per item


def _cell_text(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _docstrings(source: str) -> list[str]:
    """Docstrings of the functions, classes and methods defined in a code cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    kinds = (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)
    docs = []
    for node in ast.walk(tree):
        if isinstance(node, kinds):
            doc = ast.get_docstring(node)
            if doc:
                docs.append(f"{node.name}: {doc}")
    return docs


def stated(assignment_id: str, item_id: str) -> str:
    """The docstrings of the last solution cell before the item's check cell and the
    Markdown cell before that solution cell, as one line."""
    nb = nbformat.read(ROOT / "solutions" / f"{assignment_id}.ipynb", as_version=4)
    cells = nb.cells
    meta = [c.metadata.get("nbgrader", {}) for c in cells]
    ends = [k for k, m in enumerate(meta) if m.get("grade_id") == item_id]
    if not ends:
        return ""
    end = ends[0]
    solution = max((k for k in range(end) if meta[k].get("solution")), default=end)
    markdown = max((k for k in range(solution) if cells[k].cell_type == "markdown"), default=None)
    parts = [cells[markdown].source] if markdown is not None else []
    if solution < end:
        parts += _docstrings(cells[solution].source)
    text = _cell_text(" / ".join(parts))
    return text if len(text) <= MAX_STATED else text[: MAX_STATED - 1] + "…"


def _arrays(arrays: dict[str, np.ndarray]) -> str:
    small = {k: v for k, v in arrays.items() if not k.startswith("large_")}
    out = ", ".join(f"`{k}` {tuple(np.shape(v))}" for k, v in small.items()) or "none"
    if len(small) < len(arrays):
        out += "; a large input for the no-finite-differences check"
    return out


def probed(item: Item) -> str:
    """The inputs of one job (seed 11) and the outputs the reference variant's probe saves."""
    inputs = item.make_inputs(np.random.default_rng(SEEDS[0]), TrustedData())
    variants = CORRECT.get(item.id)
    outputs = ""
    if variants:
        g = dict(variants[-1][1])
        g["inp"] = {k: np.array(v, copy=True) for k, v in inputs.items()}
        g["out"] = {}
        np.random.seed(SEEDS[0])
        exec(compile(item.probe, f"<probe {item.id}>", "exec"), g)
        names = [k for k in g["out"] if not k.startswith("large_")]
        outputs = "; reads back " + ", ".join(f"`{k}`" for k in names)
    return f"passes {_arrays(inputs)}{outputs}"


def measured(item: Item) -> tuple[str, str]:
    """(tolerance, largest error of the correct variants) over the mutation suite's seeds."""
    tols, errs = set(), []
    for _name, ns in CORRECT.get(item.id, []):
        for seed in SEEDS:
            np.random.seed(seed)
            v = run_item(item, ns, seed)
            if not v.passed:
                raise SystemExit(f"{item.id}: a correct variant fails: {v.message['en']}")
            if v.tolerance is not None:
                tols.add(v.tolerance)
            if v.measured_error is not None:
                errs.append(v.measured_error)
    tol = ", ".join(f"{t:.0e}" for t in sorted(tols)) or "-"
    return tol, (f"{max(errs):.0e}" if errs else "-")


def mistakes(item: Item) -> str:
    rows = []
    for name, _ns, hint_id in BUGGY.get(item.id, []):
        if hint_id is None:
            rows.append(f"{name} (no hint of its own)")
        else:
            rows.append(f"{name} → `{hint_id}`: {_cell_text(get_hint(hint_id).en)}")
    return "<br>".join(rows) or "-"


HEADER = """# Graded items

Generated by `scripts/items_table.py` from the specs (`grader/specs/`), the solution notebooks and
the mutation suite (`tests/mutations/variants.py`); do not edit by hand
(`tests/test_items_table.py` fails when this file is out of date).

* **Notebook states**: the Markdown cell before the solution cell the item checks, and that
  cell's docstrings.
* **Probe**: the hidden inputs of one job (shapes; new values every job) and the outputs read back.
* **Tolerance / measured**: the bound the item holds the relative error to, and the largest error
  the suite's correct variants (other styles included) measure on its seeds.
  Trained items (accuracy, fit) score thresholds instead (their title says which; see
  `tests/test_specs.py`).
* **Known mistakes**: the suite's buggy variants, each proven to lose the points, with the hint
  the student sees.

| item | points | notebook states | probe | tolerance | measured | known mistakes → hint |
| --- | --- | --- | --- | --- | --- | --- |
"""


def render() -> str:
    rows = []
    for assignment in all_assignments():
        for item in assignment.items:
            trained = "accuracy" in item.id or item.id.endswith("_fit")
            tol, err = ("threshold", "-") if trained else measured(item)
            probe = "the trained `network`" if trained else probed(item)
            says = (
                f"{item.title['ja']} / {item.title['en']}"
                if trained
                else stated(assignment.id, item.id)
            )
            cells = [
                f"`{item.id}` ({assignment.id})",
                f"{item.points:g}",
                says,
                probe,
                tol,
                err,
                mistakes(item),
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return HEADER + "\n".join(rows) + "\n"


def out_of_date(path: Path, text: str) -> bool:
    """True when ``path`` does not hold exactly ``text``."""
    return not path.exists() or path.read_text(encoding="utf-8") != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/ITEMS.md is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if out_of_date(OUT, text):
            print("docs/ITEMS.md is out of date: run python scripts/items_table.py")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
