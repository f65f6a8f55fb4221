"""The student self-check of each declared item, precomputed as data by ``grader build``.

For a :class:`~grader.specs._declare.DeclaredItem`, the data holds the call, public inputs
(seed ``PUBLIC_SEED``, never a graded seed: those are fresh secrets per job), the expected
outputs, the tolerance, and every mistake the trusted scorer knows (the declared ones and the
generic patterns) with the mistaken outputs on those inputs and the hint's text. The student
package reads it (``grader/student/checks/declared/``) and never imports ``reference/`` or
the engine: it runs the same call with the same caller and compares arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from grader.engine.diagnose import DIAGNOSIS_TOLERANCE, generic_mistakes
from grader.engine.hints import get_hint
from grader.specs._declare import DeclaredItem, trusted
from grader.student.explain import CAUSE_HINTS

PUBLIC_SEED = 0


def encode(array: np.ndarray) -> dict[str, Any]:
    """An array as JSON data (float64 digits round-trip exactly through ``repr``)."""
    a = np.asarray(array)
    dtype = "int64" if a.dtype.kind in "iub" else "float64"
    return {"dtype": dtype, "shape": list(a.shape), "data": a.astype(dtype).ravel().tolist()}


def selfcheck_data(item: DeclaredItem) -> dict[str, Any]:
    d = item.declaration
    inputs = (d.public_inputs or d.inputs)(np.random.default_rng(PUBLIC_SEED))
    expected = d.expected(inputs)
    generic = generic_mistakes(expected, d.batch_size(inputs), factor_two=d.factor_two)
    known = d.mistaken(inputs) + generic
    conditions = [k.when for k in d.mistakes] + [None] * len(generic)  # d.mistaken's order
    mistakes = []
    for m, when in zip(known, conditions):
        outputs = {name: encode(value) for name, value in m.outputs.items()}
        mistake = {**hint_text(m.hint_id), "outputs": outputs}
        if when is not None:  # looked for only when it holds (its source, run with np only)
            mistake["when"] = trusted(when).data
        mistakes.append(mistake)
    return {
        "item": item.id,
        "call": d.call.data(),
        "inputs": {name: encode(value) for name, value in inputs.items()},
        "expected": {name: encode(value) for name, value in expected.items()},
        "tol": d.tol,
        "diagnosis_tol": DIAGNOSIS_TOLERANCE,
        "mistakes": mistakes,
        # the arguments the call must leave as they were, with the trusted check's hint
        "unchanged": d.call.kept(),
        "unchanged_hint": hint_text("argument_modified"),
        "nonfinite_hint": hint_text(d.nonfinite_hint) if d.nonfinite_hint else None,
        # outputs of steps that may raise (after=, either=), with the hint their failure gets
        "staged": {
            name: hint_text(hint)
            for key in ("after", "either")
            for hint, names in d.call.staged(key).items()
            for name in names
        },
        # worked examples: the call on the course material's inputs, one line each
        "examples": [
            {
                "ja": ex.label[0],
                "en": ex.label[1],
                "inputs": {name: encode(v) for name, v in ex.inputs.items()},
                "expected": {name: encode(v) for name, v in ex.worked(item.id, d).items()},
            }
            for ex in d.examples
        ],
        # the hints of grader.student.explain's exception rules, shown when the call raises
        "cause_hints": {hint_id: hint_text(hint_id) for hint_id in CAUSE_HINTS},
    }


def hint_text(hint_id: str) -> dict[str, str]:
    hint = get_hint(hint_id)
    return {"hint": hint.id, "ja": hint.ja, "en": hint.en}


def write_selfchecks(folder: Path, items: Iterable[DeclaredItem], *, check: bool) -> list[Path]:
    """Make ``folder`` hold exactly one ``<item id>.json`` per declared item whose self-check
    is derived (with ``check``, change nothing); returns the files written or removed (or
    that would be) because they differ."""
    changed = []
    wanted = {}
    for item in items:
        if not item.declaration.own_selfcheck:
            data = selfcheck_data(item)
            wanted[folder / f"{item.id}.json"] = json.dumps(data, ensure_ascii=False, indent=1)
    for path in sorted(set(folder.glob("*.json")) - set(wanted)):
        changed.append(path)  # an item no longer declared
        if not check:
            path.unlink()
    for path, text in wanted.items():
        if path.exists() and path.read_text(encoding="utf-8") == text + "\n":
            continue
        changed.append(path)
        if not check:
            path.write_text(text + "\n", encoding="utf-8")
    return changed


def declared_items(assignments: Iterable[Any]) -> list[DeclaredItem]:
    return [it for a in assignments for it in a.items if isinstance(it, DeclaredItem)]


__all__ = ["PUBLIC_SEED", "declared_items", "encode", "selfcheck_data", "write_selfchecks"]
