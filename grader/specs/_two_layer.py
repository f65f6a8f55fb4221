"""Shared items of the two-layer-network notebooks 2-2-1 (regression), 2-2-2 (binary) and
2-2-3 (multi-class): the backprop gradient of ``TwoLayerNet`` and the fit of the trained
``network`` on fresh test points.

Gradient: the probe builds the student's ``TwoLayerNet(input_size, hidden_size, output_size)``,
overwrites its parameters *in place* with this job's arrays (so that layers holding the arrays
by reference see them) and calls ``gradient(x, t)``. The trusted side compares with central
differences of the reference network's loss (``reference.networks.TwoLayerNet``).

Fit: fresh test inputs from the notebook's data distribution (``grader.student.datasets``);
the targets never enter the sandbox. They are recomputed on the trusted side from the inputs:
the noise-free function for regression, and the Bayes label (the nearest noise-free class
curve) for the classification sets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.engine.hints import get_hint
from grader.engine.spec import Item, ProbeOutputError, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads, one_hot, partial_credit
from reference.networks import TwoLayerNet

PARAMS = ("W1", "b1", "W2", "b2")
N_GRAD = 6  # batch of the gradient check
HIDDEN = 5


# --- gradient ---------------------------------------------------------------------------------


def gradient_inputs_maker(task: str, input_size: int, output_size: int):
    """``make_inputs`` for the gradient item of ``task`` (sizes of the notebook's problem)."""

    def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
        n, d, h, o = N_GRAD, input_size, HIDDEN, output_size
        arrays = {
            "W1": rng.standard_normal((d, h)),
            "b1": 0.5 * rng.standard_normal(h),
            "W2": rng.standard_normal((h, o)),
            "b2": 0.5 * rng.standard_normal(o),
            "x": rng.standard_normal((n, d)),
        }
        if task == "regression":
            arrays["t"] = rng.standard_normal((n, o))
        elif task == "binary":
            arrays["t"] = rng.integers(0, 2, size=(n, o)).astype(np.float64)
        else:
            arrays["t"] = one_hot(rng.integers(0, o, size=n), o)
        return arrays

    return make_inputs


PROBE_GRADIENT = """
import numpy as _np
_net = TwoLayerNet(inp["W1"].shape[0], inp["W1"].shape[1], inp["W2"].shape[1])
for _k in ("W1", "b1", "W2", "b2"):
    _net.params[_k][...] = inp[_k]
_g = _net.gradient(inp["x"].copy(), inp["t"].copy())
for _k in ("W1", "b1", "W2", "b2"):
    out[_k] = _np.asarray(_g[_k], dtype=_np.float64)
"""


def reference_loss(task: str) -> Callable[..., float]:
    """``loss(W1, b1, W2, b2, x, t)`` of the reference TwoLayerNet for ``task``."""

    def loss(W1, b1, W2, b2, x, t) -> float:
        net = TwoLayerNet(W1.shape[0], W1.shape[1], W2.shape[1], task=task)
        for key, value in zip(PARAMS, (W1, b1, W2, b2)):
            net.params[key][...] = value
        return net.loss(x, t)

    return loss


def gradient_scorer(task: str, tol: float) -> Callable[[ScoreContext], Verdict]:
    loss = reference_loss(task)

    def score(ctx: ScoreContext) -> Verdict:
        expected = layer_numeric_grads(loss, ctx.inputs, None, wrt=PARAMS)
        return compare(ctx, expected, tol=tol, batch_size=N_GRAD)

    return score


def gradient_item(item_id: str, task: str, input_size: int, output_size: int, tol: float) -> Item:
    return Item(
        id=item_id,
        title={
            "ja": "TwoLayerNet.gradient (誤差逆伝播法)",
            "en": "TwoLayerNet.gradient (backpropagation)",
        },
        points=2,
        probe=PROBE_GRADIENT,
        make_inputs=gradient_inputs_maker(task, input_size, output_size),
        score=gradient_scorer(task, tol),
    )


# --- fit on fresh test points ------------------------------------------------------------------

N_FIT = 500  # test points per job

PROBE_PREDICT = """
import numpy as _np
out["y"] = _np.asarray(network.predict(inp["x"].copy()), dtype=_np.float64)
"""


def predictions(ctx: ScoreContext, n: int, width: int) -> np.ndarray:
    """``network.predict`` output as (n, width); an (n,) vector is accepted for width 1."""
    y = ctx.require("y", shape=None, kind="f")
    if y.shape == (n,) and width == 1:
        y = y.reshape(n, 1)
    if y.shape != (n, width):
        raise ProbeOutputError(
            f"network.predict の出力の形が違います: {y.shape} (期待: ({n}, {width}))。",
            f"network.predict returned shape {y.shape}, expected ({n}, {width}).",
        )
    return y


def fit_verdict(
    value: float,
    floor: float,
    threshold: float,
    error: float,
    tolerance: float,
    what: dict[str, str],
) -> Verdict:
    """Linear partial credit on a score where larger is better (accuracy, or -RMSE);
    ``error``/``tolerance`` are what the report shows (error rate or RMSE and its bound)."""
    frac = partial_credit(value, floor, threshold)
    if frac >= 1.0:
        return Verdict.ok(what["ja"], what["en"], error=error, tolerance=tolerance)
    return Verdict.fail(
        what["ja"] + " 基準に届いていません (部分点)。",
        what["en"] + " Below the threshold (partial credit).",
        error=error,
        tolerance=tolerance,
        hint=get_hint("accuracy_low"),
        fraction=frac,
    )


def fit_item(item_id: str, make_inputs, score) -> Item:
    return Item(
        id=item_id,
        title={"ja": "学習済みネットワークの性能", "en": "Performance of the trained network"},
        points=1,
        probe=PROBE_PREDICT,
        make_inputs=make_inputs,
        score=score,
    )


__all__ = ["fit_item", "fit_verdict", "gradient_item", "predictions", "N_FIT"]
