"""2-2-3: two-layer network for multi-class classification (spiral,
``grader.student.datasets.make_spiral``, 3 classes)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment, Verdict
from grader.specs._two_layer import fit_item, fit_verdict, gradient_item

K, NOISE = 3, 0.2  # make_spiral's defaults
# Agreement with the Bayes labels on fresh points. The notebook's recipe (hidden 50, 8000 SGD
# steps, lr 2.0) measures 0.98-0.99 over init seeds; linear boundaries get ~0.5.
ACC_FULL, ACC_ZERO = 0.93, 0.60


def draw_fit(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Fresh points drawn like make_spiral: radius r ~ U(0, 1), angle 4r + 2 pi k/K + noise."""
    k = rng.integers(0, K, size=n)
    r = rng.uniform(0.0, 1.0, size=n)
    theta = 4.0 * r + 2.0 * np.pi * k / K + NOISE * rng.standard_normal(n)
    return {"x": np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)}


def bayes_labels(x: np.ndarray) -> np.ndarray:
    """The arm whose noise-free angle 4r + 2 pi k/K is nearest (mod 2 pi) to the point's."""
    r = np.hypot(x[:, 0], x[:, 1])
    theta = np.arctan2(x[:, 0], x[:, 1])
    arms = 4.0 * r[:, None] + 2.0 * np.pi * np.arange(K)[None, :] / K
    diff = np.angle(np.exp(1j * (theta[:, None] - arms)))  # wrapped to (-pi, pi]
    return np.argmin(np.abs(diff), axis=1)


def judge_fit(points: dict[str, np.ndarray], y: np.ndarray) -> Verdict:
    x = points["x"]
    acc = float(np.mean(np.argmax(y, axis=1) == bayes_labels(x)))
    what = {
        "ja": f"新しい点での正解率 {acc:.3f} (満点: {ACC_FULL} 以上)。",
        "en": f"Accuracy on fresh points: {acc:.3f} (full credit at {ACC_FULL}).",
    }
    return fit_verdict(acc, ACC_ZERO, ACC_FULL, 1.0 - acc, 1.0 - ACC_FULL, what)


ASSIGNMENT = Assignment(
    id="2-2-3_two_layer_multiclass",
    order=40,
    title={
        "ja": "2 層ニューラルネットワーク: 多クラス分類",
        "en": "Two-layer network: multi-class classification",
    },
    items=(
        # Reference net and the notebook's code: <= 1.1e-9 (40 seeds; the 1e-7 inside the
        # notebook's log changes only the loss value, not the backprop gradient (y - t)/N).
        gradient_item("multiclass_gradient", "multiclass", 2, K, tol=1e-6),
        fit_item(
            "multiclass_fit",
            task="multiclass",
            input_size=2,
            output_size=K,
            draw=draw_fit,
            judge=judge_fit,
        ),
    ),
)
