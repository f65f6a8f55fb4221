"""Self-checks for notebooks 3-1-1..3-1-3: Affine, softmax, cross-entropy and the layers.

Backward passes are compared with central differences of the student's own forward:
activation and affine layers through ``E = sum(forward(x) * G)`` with a random upstream
gradient ``G`` (so that dE/dY = G), loss layers through the loss itself (``dout = 1``).
Forward passes are compared with the defining formulas (written out below) and the worked
examples of the syllabus.
"""

from __future__ import annotations

import numpy as np

from grader.student.checks._gradhints import (
    LOG_LOSS_GRAD_TOL,
    as_array,
    compare_gradient,
)
from grader.student.numeric import numerical_gradient, rel_error
from grader.student.selfcheck import CheckContext, register_check

VALUE_TOL = 1e-9
LOSS_TOL = 1e-5  # log(y + 1e-7) versus the exact log y
N = 5


def _forward_value(ctx: CheckContext, got, expected: np.ndarray, hint: str, tol=VALUE_TOL) -> bool:
    got = as_array(got, "forward(...)")
    if not ctx.expect(
        got.shape == expected.shape,
        ctx.t("forward の出力の形", "shape of forward's output"),
        ctx.t(f"{got.shape} (正解 {expected.shape})", f"{got.shape} (expected {expected.shape})"),
        hint,
    ):
        return False
    return ctx.expect_close(
        ctx.t("forward = 定義どおりの値", "forward follows the definition"),
        rel_error(got, expected),
        tol,
        hint,
    )


# --------------------------------------------------------------------------- 3-1-1 Affine


def _loss_layer_grad(ctx: CheckContext, cls, x, t, name: str, tol: float) -> None:
    """backward() of a loss layer against central differences of its own forward, in ``x``."""
    probe = cls()
    numeric = numerical_gradient(lambda _: float(probe.forward(x, t)), x)
    layer = cls()
    layer.forward(x.copy(), t.copy())
    grad = as_array(layer.backward(), "backward()")
    compare_gradient(ctx, f"{name} (N={N})", grad, numeric, n=N, tol=tol)


# --------------------------------------------------------------------------- 3-1-2 Softmax


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@register_check("softmax")
def check_softmax(ctx: CheckContext) -> None:
    softmax = ctx.get("softmax")
    rng = np.random.default_rng(51)
    x = rng.normal(size=(N, 4)) * 3
    row_hint = ctx.t(
        "最大値と和は各行ごとに (axis=-1, keepdims=True) とります。",
        "Take the max and the sum per row (axis=-1, keepdims=True).",
    )
    _forward_value(ctx, softmax(x.copy()), _softmax(x), row_hint)
    v = np.array([0.3, 2.9, 4.0])
    _forward_value(ctx, softmax(v.copy()), _softmax(v), ctx.t("1 次元の入力", "1-D input"))
    big = np.array([[1e4, 1e4 - 1.0, 0.0], [-1e4, 0.0, 1e4]])
    with np.errstate(all="ignore"):
        y = as_array(softmax(big.copy()), "softmax(x)")
    ctx.expect(
        y.shape == big.shape and bool(np.all(np.isfinite(y))) and np.allclose(y, _softmax(big)),
        ctx.t("ロジット 1e4 でもオーバーフローしない", "no overflow at logits of 1e4"),
        "",
        ctx.t(
            "exp の前に各行の最大値を引いてください (値は変わりません)。",
            "Subtract each row's maximum before exp (the value does not change).",
        ),
    )


@register_check("cross_entropy_error")
def check_cross_entropy(ctx: CheckContext) -> None:
    cee = ctx.get("cross_entropy_error")
    rng = np.random.default_rng(52)
    y = _softmax(rng.normal(size=(N, 4)))
    labels = np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[labels]
    expected = -np.sum(np.log(y[np.arange(N), labels])) / N
    mean_hint = ctx.t(
        "-sum(t * log y) / N (バッチの平均) です。",
        "It is -sum(t * log y) / N (the mean over the batch).",
    )
    got = float(cee(y.copy(), onehot.copy()))
    if abs(got - expected * N) < 1e-3 * expected * N:
        mean_hint = ctx.t("N で割るのを忘れていませんか?", "Divide by the batch size N.")
    ctx.expect_close(
        ctx.t("ワンホットの正解", "one-hot targets"),
        abs(got - expected) / expected,
        LOSS_TOL,
        mean_hint,
    )
    got = float(cee(y.copy(), labels.copy()))
    ctx.expect_close(
        ctx.t("ラベルの正解", "integer-label targets"),
        abs(got - expected) / expected,
        LOSS_TOL,
        ctx.t(
            "t がラベル (N,) のときは y[np.arange(N), t] で正解の確率を取り出します。",
            "With labels t of shape (N,), pick y[np.arange(N), t].",
        ),
    )
    with np.errstate(all="ignore"):
        zero = float(cee(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])))
    ctx.expect(
        np.isfinite(zero),
        ctx.t("y が 0 でも有限 (log(y + 1e-7))", "finite when y is 0 (log(y + 1e-7))"),
        f"{zero:.3g}",
    )


def _swl_inputs(seed: int):
    rng = np.random.default_rng(seed)
    # Moderate logits: log(y + 1e-7) deviates from log y by 1e-7 / y, so keep y away from 0.
    x = rng.normal(size=(N, 4)) * 0.5
    t = np.eye(4)[[0, 3, 1, 1, 2]]
    return x, t


@register_check("softmax_with_loss_forward")
def check_softmax_with_loss_forward(ctx: CheckContext) -> None:
    cls = ctx.get("SoftmaxWithLoss")
    x, t = _swl_inputs(53)
    expected = -np.sum(t * np.log(_softmax(x))) / N
    got = float(cls().forward(x.copy(), t.copy()))
    ctx.expect_close(
        ctx.t("損失 = softmax + 交差エントロピーの平均", "loss = mean cross-entropy of softmax"),
        abs(got - expected) / expected,
        LOSS_TOL,
    )
    got = float(cls().forward(np.array([[3.0, 3.0]]), np.array([[1.0, 0.0]])))
    ctx.expect_close(
        ctx.t("例: x=[3, 3], t=[1, 0] → log 2", "example x=[3, 3], t=[1, 0] -> log 2"),
        abs(got - np.log(2)) / np.log(2),
        LOSS_TOL,
    )
    with np.errstate(all="ignore"):
        big = float(cls().forward(np.array([[1e4, 0.0, -1e4]] * 4), np.eye(3)[[0, 1, 2, 0]]))
    ctx.expect(
        np.isfinite(big),
        ctx.t("ロジット 1e4 でも有限", "finite at logits of 1e4"),
        f"{big:.3g}",
        ctx.t("softmax で最大値を引いていますか?", "Does softmax subtract the maximum?"),
    )


@register_check("softmax_with_loss_backward")
def check_softmax_with_loss_backward(ctx: CheckContext) -> None:
    cls = ctx.get("SoftmaxWithLoss")
    layer = cls()
    layer.forward(np.array([[3.0, 3.0]]), np.array([[1.0, 0.0]]))
    dx = as_array(layer.backward(), "backward()")
    ctx.expect(
        dx.shape == (1, 2) and np.allclose(dx, [[-0.5, 0.5]]),
        ctx.t("例題 3.6 (2): dx = [-1/2, 1/2]", "worked example 3.6 (2): dx = [-1/2, 1/2]"),
        str(np.round(dx, 6).tolist()),
        ctx.t("dx = (y - t) / N です。", "dx = (y - t) / N."),
    )
    x, t = _swl_inputs(54)
    _loss_layer_grad(ctx, cls, x, t, "dx", LOG_LOSS_GRAD_TOL)


# --------------------------------------------------------------------------- 3-1-3 others
