"""Trusted NumPy reference implementation of the course interface (深層学習 Part 2).

Only the grader's trusted side imports this package; students never see it. Everything public
is re-exported here, e.g. ``from reference import Affine, SoftmaxWithLoss, Adam``.
"""

from reference.functions import (
    cross_entropy_error,
    numerical_gradient,
    rel_error,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from reference.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    LeakyRelu,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    SquaredErrorLoss,
    Tanh,
)

__all__ = [
    # functions
    "sigmoid",
    "relu",
    "tanh",
    "softmax",
    "cross_entropy_error",
    "numerical_gradient",
    "rel_error",
    # layers
    "Affine",
    "Sigmoid",
    "Relu",
    "Tanh",
    "LeakyRelu",
    "SquaredErrorLoss",
    "SigmoidWithLoss",
    "SoftmaxWithLoss",
    "BatchNormalization",
    "Dropout",
]
