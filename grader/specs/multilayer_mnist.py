"""2-4: MultiLayerNet (ReLU hidden layers, softmax output) and its MNIST accuracy."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads, mnist_accuracy_item, one_hot
from grader.specs._large import LARGE_COLS, LARGE_ROWS, large_verdict, timed
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
    small = {**p, "x": x, "t": one_hot(rng.integers(0, C, size=N), C)}
    return {**small, **_large_inputs(rng)}


LARGE_HIDDEN, LARGE_C = (100, 50), 10  # the large check's net, batch LARGE_ROWS


def _large_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A large net and batch (``_large.py``: no credit for finite differences)."""
    sizes = [LARGE_COLS, *LARGE_HIDDEN, LARGE_C]
    arrays = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        arrays[f"large_W{i}"] = rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)
        arrays[f"large_b{i}"] = 0.5 * rng.standard_normal(n_out)
    arrays["large_x"] = rng.standard_normal((LARGE_ROWS, LARGE_COLS))
    arrays["large_t"] = one_hot(rng.integers(0, LARGE_C, size=LARGE_ROWS), LARGE_C)
    return arrays


PROBE_GRADIENT = """
import numpy as _np
_net = MultiLayerNet(input_size=5, hidden_size_list=[4, 3], output_size=3,
                     activation="relu", weight_init_std=0.1)
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    _net.params[_k][...] = inp[_k]
_g = _net.gradient(inp["x"].copy(), inp["t"].copy())
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    out[_k] = _np.array(_g[_k], dtype=_np.float64)
""" + timed("""
_net = MultiLayerNet(input_size=inp["large_W1"].shape[0],
                     hidden_size_list=[inp["large_W1"].shape[1], inp["large_W2"].shape[1]],
                     output_size=inp["large_W3"].shape[1], activation="relu", weight_init_std=0.1)
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    _net.params[_k][...] = inp["large_" + _k]
_g = _net.gradient(inp["large_x"].copy(), inp["large_t"].copy())
for _k in ("W1", "b1", "W2", "b2", "W3", "b3"):
    out["large_" + _k] = _np.array(_g[_k], dtype=_np.float64)
""")


def _loss(x, t, **params) -> float:
    net = MultiLayerNet(D, list(HIDDEN), C, activation="relu", weight_init_std=0.1)
    for k, v in params.items():
        net.params[k][...] = v
    return net.loss(x, t)


def score_gradient(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    expected = layer_numeric_grads(_loss, {k: i[k] for k in (*KEYS, "x", "t")}, None, wrt=KEYS)
    # Reference net vs central differences: <= 2.2e-7 (40 seeds; no kink within 1e-3).
    small = compare(ctx, expected, tol=1e-5, batch_size=N)
    ref = MultiLayerNet(LARGE_COLS, list(LARGE_HIDDEN), LARGE_C, activation="relu")
    for k in KEYS:
        ref.params[k][...] = i["large_" + k]
    grads = ref.gradient(i["large_x"], i["large_t"])
    # analytic vs analytic (the reference's backprop): rounding only
    return large_verdict(ctx, small, {"large_" + k: grads[k] for k in KEYS}, tol=1e-8)


ASSIGNMENT = Assignment(
    id="2-4_multilayer_mnist",
    order=90,
    title={"ja": "多層ニューラルネットワークで MNIST", "en": "A multi-layer network on MNIST"},
    items=(
        Item(
            id="multilayer_gradient",
            title={"ja": "MultiLayerNet.gradient", "en": "MultiLayerNet.gradient"},
            points=2,
            probe=PROBE_GRADIENT,
            make_inputs=make_gradient_inputs,
            score=score_gradient,
            hints=GENERIC_HINTS,
        ),
        mnist_accuracy_item("mnist_accuracy_2_4", floor=0.80, threshold=0.95),
    ),
    notebook_timeout=600.0,
    cell_timeout=300.0,
    uses_mnist=True,
)
