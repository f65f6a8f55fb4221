"""2-2-2: two-layer network for binary classification (two moons,
``grader.student.datasets.make_moons``)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment, Verdict
from grader.specs._two_layer import fit_item, fit_verdict, gradient_item

NOISE = 0.15  # make_moons' default noise
# Agreement with the Bayes labels on fresh points. The notebook's recipe (hidden 10, 3000 SGD
# steps, lr 1.0) measures 0.978-0.99 over init seeds; a linear boundary gets ~0.87.
ACC_FULL, ACC_ZERO = 0.93, 0.80


def _curves(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The noise-free class curves of make_moons at parameters ``s`` in [0, pi]."""
    c0 = np.stack([np.cos(s), np.sin(s)], axis=1)
    c1 = np.stack([1.0 - np.cos(s), 0.5 - np.sin(s)], axis=1)
    return c0, c1


def draw_fit(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Fresh points drawn like make_moons (class, position on its curve, Gaussian noise)."""
    cls = rng.integers(0, 2, size=n)
    c0, c1 = _curves(rng.uniform(0.0, np.pi, size=n))
    x = np.where(cls[:, None] == 0, c0, c1) + NOISE * rng.standard_normal((n, 2))
    return {"x": x}


def bayes_labels(x: np.ndarray) -> np.ndarray:
    """Class of the nearer noise-free curve (isotropic noise: the likelier class)."""
    c0, c1 = _curves(np.linspace(0.0, np.pi, 2001))
    d0 = np.min(np.sum((x[:, None, :] - c0[None]) ** 2, axis=2), axis=1)
    d1 = np.min(np.sum((x[:, None, :] - c1[None]) ** 2, axis=2), axis=1)
    return (d1 < d0).astype(np.int64)


def judge_fit(points: dict[str, np.ndarray], y: np.ndarray) -> Verdict:
    x = points["x"]
    acc = float(np.mean((y[:, 0] > 0.5) == bayes_labels(x)))
    what = {
        "ja": f"新しい点での正解率 {acc:.3f} (満点: {ACC_FULL} 以上)。",
        "en": f"Accuracy on fresh points: {acc:.3f} (full credit at {ACC_FULL}).",
    }
    return fit_verdict(acc, ACC_ZERO, ACC_FULL, 1.0 - acc, 1.0 - ACC_FULL, what)


ASSIGNMENT = Assignment(
    id="2-2-2_two_layer_binary",
    order=30,
    title={
        "ja": "2 層ニューラルネットワーク: 2 値分類",
        "en": "Two-layer network: binary classification",
    },
    items=(
        # Reference net and the notebook's code: <= 1.1e-9 (40 seeds; the 1e-7 inside the
        # notebook's log changes only the loss value, not the backprop gradient (y - t)/N).
        gradient_item("binary_gradient", "binary", 2, 1, tol=1e-6),
        fit_item(
            "binary_fit", task="binary", input_size=2, output_size=1, draw=draw_fit, judge=judge_fit
        ),
    ),
)
