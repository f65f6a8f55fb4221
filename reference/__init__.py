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
from reference.initializers import glorot_normal, glorot_uniform, he_normal, std_normal
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
from reference.optimizers import (
    SGD,
    AdaGrad,
    Adam,
    LinearDecay,
    Momentum,
    Nesterov,
    Optimizer,
    PolyakAveraging,
    RMSProp,
    clip_grad_norm,
)
from reference.regularization import (
    add_regularization_grads,
    l1_regularization,
    l2_regularization,
    regularization_penalty,
    weight_keys,
)

# networks / trainer / datasets are re-exported below by their author (see the end of file).

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
    # initializers
    "std_normal",
    "he_normal",
    "glorot_normal",
    "glorot_uniform",
    # optimizers
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "LinearDecay",
    "PolyakAveraging",
    "clip_grad_norm",
    # regularization
    "l2_regularization",
    "l1_regularization",
    "weight_keys",
    "regularization_penalty",
    "add_regularization_grads",
]

# --- networks / trainer / datasets (reference/networks.py, trainer.py, datasets.py) ---------
# Their author appends the imports and extends __all__ here, e.g.
#   from reference.networks import MultiLayerNet, TwoLayerNet
#   __all__ += ["MultiLayerNet", "TwoLayerNet"]

from reference.datasets import load_mnist, make_moons, make_sine, make_spiral  # noqa: E402
from reference.networks import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet  # noqa: E402
from reference.trainer import Trainer  # noqa: E402

__all__ += [
    "TwoLayerNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "Trainer",
    "load_mnist",
    "make_sine",
    "make_moons",
    "make_spiral",
]
