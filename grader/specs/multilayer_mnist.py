"""2-4: MultiLayerNet (ReLU hidden layers, softmax output) and its MNIST accuracy."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._checks import mnist_accuracy_item, one_hot
from grader.specs._declare import as_list, constant, construct, declare, gradient
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference.networks import MultiLayerNet

D, HIDDEN, C, N = 5, (4, 3), 3, 6
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _net_arrays(rng: np.random.Generator, sizes: list[int], n: int, scaled: bool) -> dict:
    """Parameters of a net with layer widths ``sizes`` (its sizes as integer inputs for the
    constructor), a batch ``x`` and one-hot ``t``."""
    arrays = {
        "input_size": np.array(sizes[0]),
        "hidden": np.array(sizes[1:-1]),
        "output_size": np.array(sizes[-1]),
    }
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        arrays[f"W{i}"] = rng.standard_normal((n_in, n_out)) / (np.sqrt(n_in) if scaled else 1)
        arrays[f"b{i}"] = 0.5 * rng.standard_normal(n_out)
    arrays["x"] = rng.standard_normal((n, sizes[0]))
    arrays["t"] = one_hot(rng.integers(0, sizes[-1], size=n), sizes[-1])
    return arrays


def make_gradient_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random parameters and batch, redrawn until no hidden pre-activation lies within 1e-3
    of the ReLU kink (central differences across a kink would be wrong by O(1))."""
    while True:
        a = _net_arrays(rng, [D, *HIDDEN, C], N, scaled=False)
        a1 = a["x"] @ a["W1"] + a["b1"]
        a2 = np.maximum(a1, 0) @ a["W2"] + a["b2"]
        if min(np.min(np.abs(a1)), np.min(np.abs(a2))) > 1e-3:
            return a


LARGE_HIDDEN, LARGE_C = (100, 50), 10  # the large check's net, batch LARGE_ROWS


def make_large_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A large net and batch (``_large.py``: no credit for finite differences)."""
    return _net_arrays(rng, [LARGE_COLS, *LARGE_HIDDEN, LARGE_C], LARGE_ROWS, scaled=True)


def loss(W1, b1, W2, b2, W3, b3, x, t) -> float:
    """The reference net's loss with these parameters."""
    params = dict(W1=W1, b1=b1, W2=W2, b2=b2, W3=W3, b3=b3)
    net = MultiLayerNet(len(W1), [W1.shape[1], W2.shape[1]], W3.shape[1], activation="relu")
    for k, v in params.items():
        net.params[k][...] = v
    return net.loss(x, t)


ASSIGNMENT = Assignment(
    id="2-4_multilayer_mnist",
    order=90,
    title={"ja": "多層ニューラルネットワークで MNIST", "en": "A multi-layer network on MNIST"},
    items=(
        declare(
            "multilayer_gradient",
            ("MultiLayerNet.gradient", "MultiLayerNet.gradient"),
            points=2,
            call=construct(
                "MultiLayerNet",
                input_size="input_size",
                hidden_size_list=as_list("hidden"),
                output_size="output_size",
                activation=constant("relu"),
                weight_init_std=0.1,
            )
            .fill("params", **{k: k for k in KEYS})
            .then("gradient", "x", "t", save={k: k for k in KEYS}),
            solution=MultiLayerNet,
            inputs=make_gradient_inputs,
            expect={k: gradient(loss, k) for k in KEYS},
            tol=1e-5,  # reference net vs central differences: <= 2.2e-7 (40 seeds; no kink)
            batch_of="x",
            large=make_large_inputs,
            large_tol=1e-8,  # analytic vs analytic (the reference's backprop): rounding only
        ),
        mnist_accuracy_item("mnist_accuracy_2_4", floor=0.80, threshold=0.95),
    ),
    notebook_timeout=600.0,
    cell_timeout=300.0,
    uses_mnist=True,
)
