"""2-5-2: optimisers compared on MNIST; the trained ``network`` is graded by accuracy."""

from __future__ import annotations

from grader.engine.spec import Assignment
from grader.specs._checks import mnist_accuracy_item

ASSIGNMENT = Assignment(
    id="2-5-2_optimizers_mnist",
    order=110,
    title={"ja": "最適化手法の比較 (MNIST)", "en": "Optimisers compared on MNIST"},
    items=(mnist_accuracy_item("mnist_accuracy_2_5_2", floor=0.85, threshold=0.96),),
    notebook_timeout=900.0,
    cell_timeout=600.0,
    uses_mnist=True,
)
