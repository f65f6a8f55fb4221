"""2-8: optimiser, initialisation and batch normalisation together on MNIST."""

from __future__ import annotations

from grader.engine.spec import Assignment
from grader.specs._checks import mnist_accuracy_item

ASSIGNMENT = Assignment(
    id="2-8_deep_optimization",
    order=140,
    title={"ja": "深いネットワークの最適化", "en": "Optimising deep networks"},
    items=(mnist_accuracy_item("mnist_accuracy_2_8", floor=0.90, threshold=0.97),),
    notebook_timeout=900.0,
    cell_timeout=600.0,
    uses_mnist=True,
)
