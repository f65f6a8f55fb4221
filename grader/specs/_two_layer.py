"""Shared items of the two-layer-network notebooks 2-2-1 (regression), 2-2-2 (binary) and
2-2-3 (multi-class): the backprop gradient of ``TwoLayerNet`` and the fit of the trained
``network`` on fresh test points.

Gradient: the probe builds the student's ``TwoLayerNet(input_size, hidden_size, output_size)``,
overwrites its parameters *in place* with this job's arrays (so that layers holding the arrays
by reference see them) and calls ``gradient(x, t)``. The trusted side compares with central
differences of the reference network's loss (``reference.networks.TwoLayerNet``).

Fit: the probe reads the trained ``network.params`` (W1, b1, W2, b2) and calls
``network.predict`` on ``N_CHECK`` fresh points; the trusted side rebuilds the network with
the reference ``TwoLayerNet`` from those parameters, requires its own predictions on those
points to match the sandbox's (so ``predict`` is the network's own), and scores the rebuilt
network on ``N_FIT`` further points drawn from the notebook's data distribution with a secret
generator: neither those inputs nor their targets ever enter the sandbox. The targets are
computed on the trusted side: the noise-free function for regression, and the Bayes label
(the nearest noise-free class curve) for the classification sets.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable

import numpy as np

from grader.engine.hints import get_hint
from grader.engine.spec import (
    Item,
    ProbeOutputError,
    ScoreContext,
    TrustedData,
    Verdict,
    relative_error,
)
from grader.engine.text import Bilingual
from grader.specs._checks import one_hot, partial_credit
from grader.specs._declare import construct, declare, gradient
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference.networks import TwoLayerNet

PARAMS = ("W1", "b1", "W2", "b2")
N_GRAD = 6  # batch of the gradient check
HIDDEN = 5


# --- gradient ---------------------------------------------------------------------------------


LARGE_HIDDEN = 100  # the large check's net: LARGE_COLS -> 100 -> output_size, batch LARGE_ROWS


def _gradient_arrays(rng: np.random.Generator, task: str, n: int, d: int, h: int, o: int):
    """A network of sizes (d, h, o) as inputs (its sizes as integers, for the constructor),
    a batch ``x`` and targets ``t`` of ``task``."""
    arrays = {
        "input_size": np.array(d),
        "hidden_size": np.array(h),
        "output_size": np.array(o),
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


def reference_loss(task: str) -> Callable[..., float]:
    """``loss(W1, b1, W2, b2, x, t)`` of the reference TwoLayerNet for ``task``."""

    def loss(W1, b1, W2, b2, x, t) -> float:
        net = TwoLayerNet(W1.shape[0], W1.shape[1], W2.shape[1], task=task)
        for key, value in zip(PARAMS, (W1, b1, W2, b2)):
            net.params[key][...] = value
        return net.loss(x, t)

    return loss


def gradient_item(item_id: str, task: str, input_size: int, output_size: int, tol: float):
    """``TwoLayerNet(...).gradient(x, t)`` on this job's parameters, written into the student's
    ``params`` in place (so that layers holding the arrays by reference see them), against
    central differences of the reference network's loss."""
    loss = reference_loss(task)
    return declare(
        item_id,
        ("TwoLayerNet.gradient (誤差逆伝播法)", "TwoLayerNet.gradient (backpropagation)"),
        points=2,
        call=construct("TwoLayerNet", "input_size", "hidden_size", "output_size")
        .fill("params", **{k: k for k in PARAMS})
        .then("gradient", "x", "t", save={k: k for k in PARAMS}),
        solution=functools.partial(TwoLayerNet, task=task),
        inputs=lambda rng: _gradient_arrays(rng, task, N_GRAD, input_size, HIDDEN, output_size),
        expect={k: gradient(loss, k) for k in PARAMS},
        tol=tol,
        batch_of="x",
        large=lambda rng: _gradient_arrays(
            rng, task, LARGE_ROWS, LARGE_COLS, LARGE_HIDDEN, output_size
        ),
        large_tol=1e-8,  # analytic vs analytic (the reference's backprop): rounding only
    )


# --- fit on fresh test points ------------------------------------------------------------------

N_CHECK = 100  # points the sandbox's predict is called on (agreement with the rebuilt net)
N_FIT = 2000  # secret points per job, seen by the trusted side only
# The course's two-layer nets have 5-32 hidden units; the cap bounds the trusted side's work.
MAX_HIDDEN = 4096
# Same formula in float64 on both sides: measured ~1e-15; classes must agree on 99%.
AGREE_TOL, MIN_CLASS_AGREEMENT = 1e-6, 0.99

PROBE_PARAMS = """
import numpy as _np
for _k in ("W1", "b1", "W2", "b2"):
    out["p_" + _k] = _np.array(network.params[_k], dtype=_np.float64)
"""
PROBE_PREDICT = (
    PROBE_PARAMS + 'out["y"] = _np.array(network.predict(inp["x"].copy()), dtype=_np.float64)\n'
)


def secret_rng() -> np.random.Generator:
    """A generator nothing in the sandbox can know (for trusted-only test points)."""
    return np.random.default_rng(secrets.randbits(128))


def rebuild_two_layer(ctx: ScoreContext, task: str, input_size: int, output_size: int):
    """The reference TwoLayerNet with the probe's ``network.params``; ProbeOutputError when
    they are missing, misshapen, non-finite or larger than ``MAX_HIDDEN`` hidden units."""
    W1 = ctx.require("p_W1", shape=(input_size, None))
    hidden = W1.shape[1]
    if not 1 <= hidden <= MAX_HIDDEN:
        raise ProbeOutputError(
            f"network の隠れ層のユニット数 {hidden} が範囲外です (1〜{MAX_HIDDEN})。",
            f"network has {hidden} hidden units (allowed: 1 to {MAX_HIDDEN}).",
        )
    arrays = {"W1": W1}
    for name, shape in (("b1", (hidden,)), ("W2", (hidden, output_size)), ("b2", (output_size,))):
        a = ctx.require("p_" + name, shape=None)
        if a.shape == (1, *shape):
            a = a[0]  # a row-vector bias broadcasts like (M,)
        if a.shape != shape:
            raise ProbeOutputError(
                f"network.params['{name}'] の形 {a.shape} が違います (期待: {shape})。",
                f"network.params['{name}'] has shape {a.shape}, expected {shape}.",
            )
        arrays[name] = a
    net = TwoLayerNet(input_size, hidden, output_size, task=task)
    for name, a in arrays.items():
        net.params[name][...] = a
    return net


def _agree(task: str, got: np.ndarray, want: np.ndarray) -> bool:
    if task == "regression":
        return relative_error(got, want) <= AGREE_TOL
    if task == "binary":
        return float(np.mean((got > 0.5) == (want > 0.5))) >= MIN_CLASS_AGREEMENT
    return float(np.mean(got.argmax(axis=1) == want.argmax(axis=1))) >= MIN_CLASS_AGREEMENT


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
    what: Bilingual,
) -> Verdict:
    """Linear partial credit on a score where larger is better (accuracy, or -RMSE);
    ``error``/``tolerance`` are what the report shows (error rate or RMSE and its bound)."""
    frac = partial_credit(value, floor, threshold)
    if frac >= 1.0:
        return Verdict.ok(what["ja"], what["en"], measured_error=error, tolerance=tolerance)
    return Verdict.fail(
        what["ja"] + " 基準に届いていません (部分点)。",
        what["en"] + " Below the threshold (partial credit).",
        measured_error=error,
        tolerance=tolerance,
        hint=get_hint("accuracy_low"),
        fraction=frac,
    )


Draw = Callable[[np.random.Generator, int], dict[str, np.ndarray]]
Judge = Callable[[dict[str, np.ndarray], np.ndarray], Verdict]


def _identity_io(ctx: ScoreContext):
    return (lambda x: x), (lambda y: y)


def fit_item(
    item_id: str,
    *,
    task: str,
    input_size: int,
    output_size: int,
    draw: Draw,
    judge: Judge,
    points: float = 1,
    probe: str = PROBE_PREDICT,
    io: Callable[[ScoreContext], tuple[Callable, Callable]] = _identity_io,
    title: Bilingual | None = None,
) -> Item:
    """A fit item: ``draw(rng, n)`` gives ``n`` points of the notebook's distribution (``x``
    and whatever ``judge`` needs), ``judge(points, y)`` the verdict on the rebuilt network's
    predictions ``y``; ``io(ctx)`` gives the pre- and post-processing the probe read back
    (default: none)."""

    def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
        return {"x": draw(rng, N_CHECK)["x"]}

    def score(ctx: ScoreContext) -> Verdict:
        net = rebuild_two_layer(ctx, task, input_size, output_size)
        pre, post = io(ctx)

        def predict(x: np.ndarray) -> np.ndarray:
            with np.errstate(over="ignore", invalid="ignore"):
                return np.asarray(post(net.predict(pre(x))), dtype=np.float64)

        if not _agree(task, predictions(ctx, N_CHECK, output_size), predict(ctx.inputs["x"])):
            return Verdict.fail(
                "network.predict の出力が network.params から計算した予測と一致しないため、"
                "この項目は 0 点です (予測は学習したパラメータから計算してください)。",
                "network.predict does not return what the parameters in network.params "
                "compute, so this item gets no credit (predict from the trained parameters).",
            )
        pts = draw(secret_rng(), N_FIT)
        return judge(pts, predict(pts["x"]))

    return Item(
        id=item_id,
        title=title
        or {"ja": "学習済みネットワークの性能", "en": "Performance of the trained network"},
        points=points,
        probe=probe,
        make_inputs=make_inputs,
        score=score,
        hints=("accuracy_low",),
    )


__all__ = ["N_FIT", "fit_item", "fit_verdict", "gradient_item", "predictions", "secret_rng"]
