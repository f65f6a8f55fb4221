"""``grader new <id>``: scaffold a new exercise: ``solutions/<id>.ipynb`` and its spec module
``grader/specs/<name>.py`` with one declared item (``docs/AUTHORING.md``)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# "<number>-<number>..._<name>", as the course's ids (ASCII; the name is a Python identifier,
# the spec module's name)
ID = re.compile(r"^(?P<number>[0-9]+(?:-[0-9]+)*)_(?P<name>[a-z][a-z0-9_]*)$")

SPEC = '''\
"""{assignment_id}: the spec (docs/AUTHORING.md)."""

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._declare import declare, function, mistake


def solution(x):
    """The trusted solution (correct code: the correct variant and `grader author check`)."""
    return np.tanh(x)


def inputs(rng):
    return {{"x": rng.standard_normal((int(rng.choice([5, 6, 7])), 3))}}


ASSIGNMENT = Assignment(
    id="{assignment_id}",
    order={order},
    title={{"ja": {title_ja}, "en": {title_en}}},
    items=(
        declare(
            "{item_id}",
            ({title_ja}, {title_en}),
            points={points},  # the one home of the points (the check cell's metadata copies it)
            call=function("{name}", "x", save="y"),
            solution=solution,
            inputs=inputs,
            expect={{"y": solution}},
            tol=1e-10,
            mistakes=[
                mistake(
                    "{item_id}_identity",
                    ja="x をそのまま返しています。",
                    en="The function returns x unchanged.",
                    y=lambda x: x,
                ),
            ],
        ),
    ),
)
'''


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "new",
        help="scaffold a new exercise: solution notebook and spec module",
        description="Write solutions/<id>.ipynb (solution region, locked check cell, submit "
        "cell) and grader/specs/<name>.py (one declared item) for the new assignment <id>, "
        "e.g. 3-1-4_label_smoothing. Refuses an id that exists or is malformed.",
    )
    p.add_argument("assignment_id", metavar="ID")
    p.add_argument("--title-ja", default="新しい課題")
    p.add_argument("--title-en", default="A new exercise")
    p.add_argument("--solutions", type=Path, default=Path("solutions"), help="notebook folder")
    p.set_defaults(func=run)


def _refusal(ja: str, en: str) -> int:
    print(f"grader new: {ja}\ngrader new: {en}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from grader.notebooks.scaffold import scaffold_notebook
    from grader.specs import FOLDER, SpecLoadError, all_assignments

    aid = args.assignment_id
    found = ID.match(aid)
    if not found:
        return _refusal(
            f"課題 ID {aid!r} の形が違います。例: 3-1-4_label_smoothing (番号_英小文字の名前)。",
            f"malformed assignment id {aid!r}; expected e.g. 3-1-4_label_smoothing "
            "(numbers, an underscore, a lower-case name).",
        )
    name = found["name"]
    try:
        known = {a.id: a for a in all_assignments()}
    except SpecLoadError as exc:
        return _refusal(f"既存の spec を読めません: {exc}", f"an existing spec cannot load: {exc}")
    notebook = args.solutions / f"{aid}.ipynb"
    spec = FOLDER / f"{name}.py"
    taken = [str(p) for p in (notebook, spec) if p.exists()] + ([aid] if aid in known else [])
    if taken:
        return _refusal(
            f"課題 {aid!r} は既にあります: {', '.join(taken)}",
            f"assignment {aid!r} already exists: {', '.join(taken)}",
        )
    item_id = name
    if any(it.id == item_id for a in known.values() for it in a.items):
        return _refusal(
            f"項目 ID {item_id!r} は別の課題で使われています。別の名前を選んでください。",
            f"item id {item_id!r} is already used by another assignment; choose another name.",
        )
    title = (args.title_ja, args.title_en)
    order = max((a.order for a in known.values()), default=0) + 10
    import nbformat

    args.solutions.mkdir(parents=True, exist_ok=True)
    nbformat.write(scaffold_notebook(aid, name, item_id, 1, title), notebook)
    spec.write_text(
        SPEC.format(
            assignment_id=aid,
            title_ja=repr(title[0]),
            title_en=repr(title[1]),
            order=order,
            item_id=item_id,
            name=name,
            points=1,
        ),
        encoding="utf-8",
    )
    print(
        f"wrote {notebook}\nwrote {spec}\nnext: edit both, then `grader build` and "
        f"`grader author check {aid} --seeds 1000`"
    )
    return 0
