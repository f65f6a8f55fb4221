"""A tiny assignment for engine tests: ``softmax(x)`` (1 point) and ``Triple`` (2 points).

Self-contained (no ``grader.specs``, no ``reference``), so the engine's tests do not depend on
the course specs. The released notebook has the usual cells: a locked set-up cell, solution
cells (``_impl``) and graded check cells whose ``grade_id`` is the item id.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np

from grader.engine.spec import Assignment, Item, ScoreContext, Verdict, relative_error

ID = "tiny_softmax"


def _meta(gid: str, *, grade=False, locked=False, solution=False, points=0.0) -> dict:
    return {
        "nbgrader": {
            "grade": grade,
            "grade_id": gid,
            "locked": locked,
            "points": float(points),
            "schema_version": 3,
            "solution": solution,
            "task": False,
        }
    }


SETUP = "import numpy as np\nfrom grader.student import check"
SOFTMAX_SOLUTION = """\
def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)"""
SOFTMAX_BLANK = """\
def softmax(x):
    # YOUR CODE HERE
    raise NotImplementedError()"""
TRIPLE_SOLUTION = """\
class Triple:
    def forward(self, x):
        return 3 * x

    def backward(self, dout):
        return 3 * dout"""
TRIPLE_BLANK = """\
class Triple:
    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError()

    def backward(self, dout):
        # YOUR CODE HERE
        raise NotImplementedError()"""


PREDICT_BLANK = """\
def predict(x):
    # YOUR CODE HERE
    raise NotImplementedError()"""


def notebook(
    solved: bool,
    extra: list[str] | tuple[str, ...] = (),
    at: int | None = None,
    mnist: bool = False,
) -> nbformat.NotebookNode:
    """The released (``solved=False``) or solved notebook, with ``extra`` code cells at ``at``

    (default: at the end, after the student's own definitions, so attacks can replace them).
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [
        nbformat.v4.new_markdown_cell("# Tiny assignment\nソフトマックスを実装します。"),
        nbformat.v4.new_code_cell(SETUP, metadata=_meta("tiny_setup", locked=True)),
        nbformat.v4.new_code_cell(
            SOFTMAX_SOLUTION if solved else SOFTMAX_BLANK,
            metadata=_meta("softmax_impl", solution=True),
        ),
        nbformat.v4.new_code_cell(
            'check("tiny_softmax")',
            metadata=_meta("tiny_softmax", grade=True, locked=True, points=1),
        ),
        nbformat.v4.new_code_cell(
            TRIPLE_SOLUTION if solved else TRIPLE_BLANK,
            metadata=_meta("triple_impl", solution=True),
        ),
        nbformat.v4.new_code_cell(
            'check("tiny_triple")', metadata=_meta("tiny_triple", grade=True, locked=True, points=2)
        ),
    ]
    if mnist:
        cells += [
            nbformat.v4.new_code_cell(PREDICT_BLANK, metadata=_meta("predict_impl", solution=True)),
            nbformat.v4.new_code_cell(
                'check("tiny_mnist")',
                metadata=_meta("tiny_mnist", grade=True, locked=True, points=3),
            ),
        ]
    at = len(cells) if at is None else at
    for i, src in enumerate(extra):
        cells.insert(at + i, nbformat.v4.new_code_cell(src))
    nb.cells = cells
    return nb


def to_bytes(nb) -> bytes:
    return json.dumps(nb).encode()


def released(mnist: bool = False) -> nbformat.NotebookNode:
    return notebook(solved=False, mnist=mnist)


def _softmax_inputs(rng, data):
    return {"x": rng.standard_normal((5, 4)) * 3}


def _score_softmax(ctx: ScoreContext) -> Verdict:
    x = ctx.inputs["x"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    y = ctx.require("y", shape=x.shape)
    err = relative_error(y, want)
    if err <= 1e-10:
        return Verdict.ok(measured_error=err, tolerance=1e-10)
    return Verdict.fail(
        "softmax の値が違います。", "Wrong softmax values.", measured_error=err, tolerance=1e-10
    )


def _triple_inputs(rng, data):
    return {"x": rng.standard_normal((3, 2)), "dout": rng.standard_normal((3, 2))}


def _score_triple(ctx: ScoreContext) -> Verdict:
    x, dout = ctx.inputs["x"], ctx.inputs["dout"]
    y = ctx.require("y", shape=x.shape)
    dx = ctx.require("dx", shape=x.shape)
    err = max(relative_error(y, 3 * x), relative_error(dx, 3 * dout))
    if err <= 1e-12:
        return Verdict.ok(measured_error=err, tolerance=1e-12)
    return Verdict.fail("値が違います。", "Wrong values.", measured_error=err, tolerance=1e-12)


ASSIGNMENT = Assignment(
    id=ID,
    title={"ja": "ミニ課題", "en": "Tiny assignment"},
    items=(
        Item(
            "tiny_softmax",
            {"ja": "softmax", "en": "softmax"},
            1.0,
            'out["y"] = np.asarray(softmax(inp["x"]), dtype=np.float64)',
            _softmax_inputs,
            _score_softmax,
        ),
        Item(
            "tiny_triple",
            {"ja": "Triple レイヤ", "en": "Triple layer"},
            2.0,
            '_l = Triple()\nout["y"] = np.asarray(_l.forward(inp["x"]), dtype=np.float64)\n'
            'out["dx"] = np.asarray(_l.backward(inp["dout"]), dtype=np.float64)',
            _triple_inputs,
            _score_triple,
        ),
    ),
    notebook_timeout=60.0,
    cell_timeout=20.0,
)


def _score_mnist(ctx: ScoreContext) -> Verdict:
    labels = ctx.data.mnist_test_labels
    pred = ctx.require("pred", shape=labels.shape, kind="i")
    acc = float(np.mean(pred == labels))
    if acc >= 0.9:
        return Verdict.ok(measured_error=1 - acc, tolerance=0.1)
    return Verdict.fail(
        f"正解率 {acc:.3f}", f"accuracy {acc:.3f}", measured_error=1 - acc, tolerance=0.1
    )


MNIST_ASSIGNMENT = Assignment(
    id="tiny_mnist",
    title={"ja": "ミニ課題 (MNIST)", "en": "Tiny assignment (MNIST)"},
    items=ASSIGNMENT.items
    + (
        Item(
            "tiny_mnist",
            {"ja": "MNIST 予測", "en": "MNIST predictions"},
            3.0,
            'out["pred"] = np.asarray(predict(MNIST_PROBE_X), dtype=np.int64)',
            lambda rng, data: {},
            _score_mnist,
        ),
    ),
    notebook_timeout=60.0,
    cell_timeout=20.0,
    uses_mnist=True,
)
