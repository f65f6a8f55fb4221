"""How well the trusted recomputation agrees with the real solution notebooks' predictions,
and what the per-job MNIST file costs.

Grades each solution notebook through the real pipeline (sandbox), keeps the MNIST item's
probe arrays, and prints, per notebook: the trusted accuracy (on the test images in the job's
secret code), the agreement with the sandbox's predictions on the validation images, and the
agreement of variants that model legitimate differences (BN eps 1e-5 instead of 1e-7, the
forward in float32 instead of float64), and the job's "prepare.mnist" (writing the per-job
file) and "score" seconds. ``MIN_AGREEMENT`` in grader/specs/_provenance.py is set from these
figures. First it times ``write_job_mnist`` alone (the first call loads the canonical file).

    .venv/bin/python bench/mnist_provenance.py [assignment ids]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from grader.engine import pipeline
from grader.engine.mnist_sandbox import write_job_mnist
from grader.engine.spec import ScoreContext
from grader.jail import sandbox_policy
from grader.specs import get_assignment
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
    spec = get_assignment(assignment_id)
    captured: dict[str, np.ndarray] = {}
    job_data = []

    def capture(score):
        def wrapped(ctx: ScoreContext):
            captured.update(ctx.outputs)
            job_data.append(ctx.data)
            return score(ctx)

        return wrapped

    items = tuple(
        replace(it, score=capture(it.score)) if it.id.startswith("mnist_accuracy") else it
        for it in spec.items
    )
    nb = (pipeline.assignments_dir().parent / "solutions" / f"{assignment_id}.ipynb").read_bytes()
    t0 = time.monotonic()
    res = pipeline.grade_notebook(
        replace(spec, items=items), nb, policy=sandbox_policy(False), released=None
    )
    item = next(i for i in res.items if i.id.startswith("mnist_accuracy"))
    data = job_data[0]
    x = data.mnist_probe_images()
    test_x, labels = data.mnist_graded_test()
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
        net = rebuild(names, arr)
        agree = float(np.mean(_argmax(net, x, dtype) == pred))
        rows[label] = (agree, float(np.mean(_argmax(net, test_x, dtype) == labels)))
    t = res.timings
    print(
        f"{assignment_id}: {item.points}/{item.max_points} in {time.monotonic() - t0:.0f}s "
        f"(prepare.mnist {t.get('prepare.mnist', 0):.2f}s, score {t.get('score', 0):.2f}s); "
        f"layers {names}"
    )
    for label, (agree, acc) in rows.items():
        print(f"    trusted {label:9s} agreement {agree:.4%} ({round((1 - agree) * len(pred))} "
              f"images differ), accuracy {acc:.4f}")  # fmt: skip
    print(f"    message: {item.message['en']}")


def time_job_file() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = pipeline._trusted_data()
        for i in range(3):
            t0 = time.monotonic()
            write_job_mnist(Path(tmp) / f"{i}.npz", data)
            print(f"write_job_mnist call {i + 1}: {time.monotonic() - t0:.2f}s")


if __name__ == "__main__":
    time_job_file()
    for aid in sys.argv[1:] or IDS:
        measure(aid)
