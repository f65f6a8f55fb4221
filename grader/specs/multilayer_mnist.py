"""2-4: MultiLayerNet (ReLU hidden layers, softmax output) and its MNIST accuracy."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads, mnist_accuracy_item, one_hot
from reference.networks import MultiLayerNet

D, HIDDEN, C, N = 5, (4, 3), 3, 6
KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")


def _preactivations(p: dict[str, np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    a1 = x @ p["W1"] + p["b1"]
    a2 = np.maximum(a1, 0) @ p["W2"] + p["b2"]
    return [a1, a2]


def make_gradient_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Random parameters and batch, redrawn until no hidden pre-activation lies within 1e-3
    of the ReLU kink (central differences across a kink would be wrong by O(1))."""
    sizes = [D, *HIDDEN, C]
    while True:
        p = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            p[f"W{i}"] = rng.standard_normal((n_in, n_out))
            p[f"b{i}"] = 0.5 * rng.standard_normal(n_out)
        x = rng.standard_normal((N, D))
        if all(np.min(np.abs(a)) > 1e-3 for a in _preactivations(p, x)):
            break
    return {**p, "x": x, "t": one_hot(rng.integers(0, C, size=N), C)}


PROBE_GRADIENT = """
import numpy as _np
_net = MultiLayerNet(input_size=5, hidden_size_list=[4, 3], output_size=3,
                     activation="relu", weight_init_std=0.1)
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    _net.params[_k][...] = inp[_k]
_g = _net.gradient(inp["x"].copy(), inp["t"].copy())
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    out[_k] = _np.asarray(_g[_k], dtype=_np.float64)
"""


def _loss(x, t, **params) -> float:
    net = MultiLayerNet(D, list(HIDDEN), C, activation="relu", weight_init_std=0.1)
    for k, v in params.items():
        net.params[k][...] = v
    return net.loss(x, t)


def score_gradient(ctx: ScoreContext) -> Verdict:
    expected = layer_numeric_grads(_loss, ctx.inputs, None, wrt=KEYS)
    # Reference net vs central differences: <= 2.2e-7 (40 seeds; no kink within 1e-3).
    return compare(ctx, expected, tol=1e-5, batch_size=N)


ASSIGNMENT = Assignment(
    id="2-4_multilayer_mnist",
    title={"ja": "多層ニューラルネットワークで MNIST", "en": "A multi-layer network on MNIST"},
    items=(
        Item(
            id="multilayer_gradient",
            title={"ja": "MultiLayerNet.gradient", "en": "MultiLayerNet.gradient"},
            points=2,
            probe=PROBE_GRADIENT,
            make_inputs=make_gradient_inputs,
            score=score_gradient,
        ),
        mnist_accuracy_item("mnist_accuracy_2_4", floor=0.80, threshold=0.95),
    ),
    notebook_timeout=600.0,
    cell_timeout=300.0,
    uses_mnist=True,
)
