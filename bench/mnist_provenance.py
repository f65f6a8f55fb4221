"""How well the trusted recomputation agrees with the real solution notebooks' predictions.

Grades each solution notebook through the real pipeline (sandbox), keeps the MNIST item's
probe arrays, and prints, per notebook: the sandbox and trusted accuracies, their agreement,
and the agreement of variants that model legitimate differences (BN eps 1e-5 instead of
1e-7, the forward in float32 instead of float64). ``MIN_AGREEMENT`` in
grader/specs/_provenance.py is set from these figures.

    .venv/bin/python bench/mnist_provenance.py [assignment ids]
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

import numpy as np

from grader.engine import pipeline
from grader.engine.spec import ScoreContext
from grader.specs._provenance import _read_layout, rebuild

IDS = (
    "2-4_multilayer_mnist",
    "2-5-2_optimizers_mnist",
    "2-8_deep_optimization",
    "2-10_regularization",
)


def _argmax(net, x, dtype) -> np.ndarray:
    h = x.astype(dtype)
    for layer in net.layers:
        for attr in ("W", "b", "gamma", "beta", "running_mean", "running_var"):
            if isinstance(getattr(layer, attr, None), np.ndarray):
                setattr(layer, attr, getattr(layer, attr).astype(dtype))
        h = layer.forward(h, train_flg=False) if hasattr(layer, "momentum") else layer.forward(h)
    return np.argmax(h, axis=1)


def measure(assignment_id: str) -> None:
    spec = pipeline._get_spec(assignment_id)
    captured: dict[str, np.ndarray] = {}

    def capture(score):
        def wrapped(ctx: ScoreContext):
            captured.update(ctx.outputs)
            return score(ctx)

        return wrapped

    items = tuple(
        replace(it, score=capture(it.score)) if it.id.startswith("mnist_accuracy") else it
        for it in spec.items
    )
    nb = (pipeline.assignments_dir().parent / "solutions" / f"{assignment_id}.ipynb").read_bytes()
    t0 = time.monotonic()
    res = pipeline.grade_notebook(
        assignment_id, nb, assignment=replace(spec, items=items), released=None
    )
    item = next(i for i in res.items if i.id.startswith("mnist_accuracy"))
    data = pipeline._trusted_data()
    x, labels = data.mnist_test_images, data.mnist_test_labels
    ctx = ScoreContext({}, captured, data, item.id)
    pred = captured["pred"].astype(np.int64)
    names, arrays = _read_layout(ctx)
    rows = {}
    for label, eps, dtype in (
        ("float64", None, np.float64),
        ("float32", None, np.float32),
        ("eps 1e-5", 1e-5, np.float64),
    ):
        arr = [dict(a) for a in arrays]
        for n, a in zip(names, arr):
            if eps is not None and "batch" in n.lower():
                a["eps"] = np.asarray(eps)
        trusted = _argmax(rebuild(names, arr), x, dtype)
        rows[label] = (float(np.mean(trusted == pred)), float(np.mean(trusted == labels)))
    print(
        f"{assignment_id}: {item.points}/{item.max_points} in {time.monotonic() - t0:.0f}s; "
        f"layers {names}; sandbox accuracy {np.mean(pred == labels):.4f}"
    )
    for label, (agree, acc) in rows.items():
        print(f"    trusted {label:9s} agreement {agree:.4%} ({round((1 - agree) * len(pred))} "
              f"images differ), accuracy {acc:.4f}")  # fmt: skip
    print(f"    message: {item.message['en']}")


if __name__ == "__main__":
    for aid in sys.argv[1:] or IDS:
        measure(aid)
