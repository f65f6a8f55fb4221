"""Assignment specs: one module per assignment, each defining ``ASSIGNMENT``.

``get_assignment("3-1-1_affine_layer")`` returns the :class:`~grader.engine.spec.Assignment`;
``all_assignments()`` lists them in course order. The modules import ``reference`` (trusted
side only) and are loaded on first use.
"""

from __future__ import annotations

import importlib

from grader.engine.spec import Assignment

# assignment id -> module under grader/specs/ (course order)
MODULES: dict[str, str] = {
    "2-1_autodiff": "autodiff",
    "2-2-1_two_layer_regression": "two_layer_regression",
    "2-2-2_two_layer_binary": "two_layer_binary",
    "2-2-3_two_layer_multiclass": "two_layer_multiclass",
    "2-2-4_year_prediction": "year_prediction",
    "3-1-1_affine_layer": "affine_layer",
    "3-1-2_softmax_with_loss": "softmax_with_loss",
    "3-1-3_other_layers": "other_layers",
    "2-4_multilayer_mnist": "multilayer_mnist",
    "2-5-1_optimizers": "optimizers",
    "2-5-2_optimizers_mnist": "optimizers_mnist",
    "2-6_weight_init": "weight_init",
    "2-7_batch_norm": "batch_norm",
    "2-8_deep_optimization": "deep_optimization",
    "2-9_dropout": "dropout",
    "2-10_regularization": "regularization",
}


def get_assignment(assignment_id: str) -> Assignment:
    """The spec of ``assignment_id`` (e.g. ``"2-7_batch_norm"``); KeyError lists the known ids."""
    try:
        module = MODULES[assignment_id]
    except KeyError:
        raise KeyError(
            f"unknown assignment {assignment_id!r}; known: {', '.join(MODULES)}"
        ) from None
    spec = importlib.import_module(f"grader.specs.{module}").ASSIGNMENT
    if spec.id != assignment_id:  # a copy-paste slip in a module would grade the wrong items
        raise RuntimeError(f"grader/specs/{module}.py defines {spec.id!r}, not {assignment_id!r}")
    return spec


def all_assignments() -> list[Assignment]:
    """Every assignment spec, in course order."""
    return [get_assignment(a) for a in MODULES]


__all__ = ["MODULES", "all_assignments", "get_assignment"]
