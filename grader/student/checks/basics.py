"""Self-checks for notebooks 2-1 (computational graphs) and 2-2-x (two-layer networks).

* ``square_graph_backward(a, x, y) -> (dz_da, dz_dx, dz_dy)`` for ``z = (a*x - y)**2``;
* ``matmul_backward(X, W, dY) -> (dX, dW)`` for ``Y = X @ W``: ``dX = dY W^T``, ``dW = X^T dY``;
* ``TwoLayerNet(input_size, hidden_size, output_size)`` with ``params`` W1, b1, W2, b2, hidden
  sigmoid, and an output/loss per notebook (identity + sum((y-t)^2)/(2N); sigmoid + mean
  binary cross-entropy; softmax + mean cross-entropy); ``gradient(x, t)`` is compared with
  central differences of the student's own ``loss``;
* the ``*_fit`` checks measure the trained ``network`` on fresh data from the same generator;
* ``standardize(x, mean, std)`` and the YearPrediction network (2-2-4).
"""

from __future__ import annotations

import numpy as np

from grader.student.checks._gradhints import (
    GRAD_TOL,
    LOG_LOSS_GRAD_TOL,
    as_array,
    compare_gradient,
)
from grader.student.numeric import numerical_gradient, rel_error
from grader.student.selfcheck import CheckContext, register_check

VALUE_TOL = 1e-9  # forward values computed the same way agree to rounding
LOSS_TOL = 1e-5  # losses may add a tiny delta inside log


# --------------------------------------------------------------------------- 2-1


@register_check("square_graph_backward")
def check_square_graph(ctx: CheckContext) -> None:
    fn = ctx.get("square_graph_backward")
    got = [as_array(v, "dz") for v in fn(2.0, 3.0, 1.0)]
    expected = [30.0, 20.0, -10.0]  # t = 5: (2xt, 2at, -2t)
    ok = all(np.allclose(g, e) for g, e in zip(got, expected)) and len(got) == 3
    ctx.expect(
        ok,
        ctx.t("例 a=2, x=3, y=1 → (30, 20, -10)", "example a=2, x=3, y=1 -> (30, 20, -10)"),
        str([float(np.squeeze(g)) for g in got]),
        ctx.t(
            "t = ax - y = 5 のとき dz/da = 2t·x, dz/dx = 2t·a, dz/dy = -2t です。"
            "掛け算ノードでは「相手側の入力」を掛けます。",
            "With t = ax - y = 5: dz/da = 2t*x, dz/dx = 2t*a, dz/dy = -2t. A product node "
            "multiplies by the *other* input.",
        ),
    )
    rng = np.random.default_rng(11)
    a, x, y = rng.normal(size=(3, 4, 3))
    grads = fn(a.copy(), x.copy(), y.copy())
    for name, var, grad in zip("axy", (a, x, y), grads):
        numeric = numerical_gradient(lambda _: float(np.sum((a * x - y) ** 2)), var)
        compare_gradient(ctx, f"dz/d{name} (4x3)", as_array(grad, f"dz/d{name}"), numeric)


@register_check("matmul_backward")
def check_matmul(ctx: CheckContext) -> None:
    fn = ctx.get("matmul_backward")
    X = np.array([[2.0, -1.0, 1.0]])
    W = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 4.0]])
    dX, dW = (as_array(v, "result") for v in fn(X, W, np.array([[2.0, 1.0]])))
    ok = (
        dX.shape == (1, 3)
        and dW.shape == (3, 2)
        and np.allclose(dX, [[4, 3, 4]])
        and np.allclose(dW, [[4, 2], [-2, -1], [2, 1]])
    )
    swapped = dX.shape == (3, 2) and dW.shape == (1, 3)
    ctx.expect(
        ok,
        ctx.t("例題 3.6 (1): dX = [4 3 4]", "worked example 3.6 (1): dX = [4 3 4]"),
        "",
        ctx.t("(dX, dW) の順に返してください。", "Return them in the order (dX, dW).")
        if swapped
        else ctx.t(
            "dX = dY @ W.T, dW = X.T @ dY です。形 (N,K)=(N,L)(L,K) から考えましょう。",
            "dX = dY @ W.T and dW = X.T @ dY: work them out from the shapes (N,K)=(N,L)(L,K).",
        ),
    )
    rng = np.random.default_rng(12)
    X, W, G = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    dX, dW = fn(X.copy(), W.copy(), G.copy())
    energy = lambda _: float(np.sum((X @ W) * G))
    compare_gradient(ctx, "dX (5x3)", as_array(dX, "dX"), numerical_gradient(energy, X))
    compare_gradient(ctx, "dW (3x4)", as_array(dW, "dW"), numerical_gradient(energy, W))


# --------------------------------------------------------------------------- 2-2-x

N_BATCH = 6
_SIZES = {"regression": (3, 5, 2), "binary": (2, 5, 1), "multiclass": (2, 5, 3)}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _definition(kind: str, params: dict, x: np.ndarray, t: np.ndarray) -> tuple:
    """(prediction, loss) from the notebook's formulas, for comparison with the student's."""
    z1 = _sigmoid(x @ params["W1"] + params["b1"])
    a2 = z1 @ params["W2"] + params["b2"]
    n = x.shape[0]
    if kind == "regression":
        return a2, np.sum((a2 - t) ** 2) / (2 * n)
    if kind == "binary":
        y = _sigmoid(a2)
        return y, -np.sum(t * np.log(y) + (1 - t) * np.log(1 - y)) / n
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return y, -np.sum(t * np.log(y)) / n


def _make_net(ctx: CheckContext, kind: str):
    """A fresh ``TwoLayerNet`` with random float64 parameters (global RNG state preserved)."""
    cls = ctx.get("TwoLayerNet")
    i, h, o = _SIZES[kind]
    state = np.random.get_state()
    try:
        np.random.seed(0)
        net = cls(i, h, o)
    finally:
        np.random.set_state(state)
    rng = np.random.default_rng(21)
    shapes = {"W1": (i, h), "b1": (h,), "W2": (h, o), "b2": (o,)}
    params = getattr(net, "params", None)
    if not isinstance(params, dict) or set(shapes) - set(params):
        raise TypeError("TwoLayerNet needs a dict `params` with keys W1, b1, W2, b2")
    for key, shape in shapes.items():
        if np.shape(params[key]) != shape:
            raise ValueError(f"params[{key!r}] has shape {np.shape(params[key])}, expected {shape}")
        params[key][...] = 0.8 * rng.standard_normal(shape)  # in place: layers may share it
    x = rng.normal(size=(N_BATCH, i))
    if kind == "regression":
        t = rng.normal(size=(N_BATCH, o))
    elif kind == "binary":
        t = (np.arange(N_BATCH) % 2).reshape(-1, 1).astype(np.float64)
    else:
        t = np.eye(o)[np.arange(N_BATCH) % o]
    return net, x, t


_OUTPUT_HINT = {
    "regression": ("出力層は恒等関数 (活性化なし) です。", "The output layer is the identity."),
    "binary": ("出力層はシグモイドです。", "The output layer is a sigmoid."),
    "multiclass": ("出力層はソフトマックス (各行の和が 1) です。", "The output is a row softmax."),
}
_LOSS_HINT = {
    "regression": ("loss = sum((y - t)**2) / (2N) です。", "loss = sum((y - t)**2) / (2N)."),
    "binary": (
        "loss = -sum(t log y + (1-t) log(1-y)) / N (バッチ平均) です。",
        "loss = -sum(t log y + (1-t) log(1-y)) / N (mean over the batch).",
    ),
    "multiclass": (
        "loss = -sum(t * log y) / N (バッチ平均) です。",
        "loss = -sum(t * log y) / N (mean over the batch).",
    ),
}


def _check_two_layer_gradient(ctx: CheckContext, kind: str) -> None:
    net, x, t = _make_net(ctx, kind)
    expected_y, expected_loss = _definition(kind, net.params, x, t)
    y = as_array(net.predict(x.copy()), "predict(x)")
    if not ctx.expect(
        y.shape == expected_y.shape,
        ctx.t("predict の出力の形", "shape of predict's output"),
        ctx.t(f"{y.shape} (正解 {expected_y.shape})", f"{y.shape} (expected {expected_y.shape})"),
        ctx.t(*_OUTPUT_HINT[kind]),
    ):
        return
    hidden = ctx.t("隠れ層はシグモイドです。", "The hidden layer is a sigmoid.")
    ctx.expect_close(
        ctx.t("predict = 定義どおりの順伝播", "predict follows the definition"),
        rel_error(y, expected_y),
        VALUE_TOL,
        hidden + " " + ctx.t(*_OUTPUT_HINT[kind]),
    )
    loss = float(net.loss(x.copy(), t.copy()))
    loss_error = abs(loss - expected_loss) / max(1e-8, abs(expected_loss))
    hint = ctx.t(*_LOSS_HINT[kind])
    if abs(loss - expected_loss * N_BATCH) < 1e-3 * abs(expected_loss * N_BATCH):
        hint = ctx.t(f"loss が {N_BATCH} 倍です。N で割っていますか?", "Divide the loss by N.")
    ctx.expect_close(ctx.t("loss の値", "loss value"), loss_error, LOSS_TOL, hint)
    grads = net.gradient(x.copy(), t.copy())
    if not isinstance(grads, dict):
        raise TypeError(f"gradient() must return a dict, got {type(grads).__name__}")
    f = lambda _: float(net.loss(x, t))
    for key in ("W1", "b1", "W2", "b2"):
        if key not in grads:
            ctx.expect(False, f"grads[{key!r}]", ctx.t("キーがありません", "missing"))
            continue
        numeric = numerical_gradient(f, net.params[key])
        tol = LOG_LOSS_GRAD_TOL if kind != "regression" else GRAD_TOL
        compare_gradient(ctx, f"dE/d{key}", as_array(grads[key], key), numeric, N_BATCH, tol=tol)


@register_check("regression_gradient")
def check_regression_gradient(ctx: CheckContext) -> None:
    _check_two_layer_gradient(ctx, "regression")


@register_check("binary_gradient")
def check_binary_gradient(ctx: CheckContext) -> None:
    _check_two_layer_gradient(ctx, "binary")


@register_check("multiclass_gradient")
def check_multiclass_gradient(ctx: CheckContext) -> None:
    _check_two_layer_gradient(ctx, "multiclass")


FRESH_SEED = 2024  # data the network has never seen, from the same generator
REGRESSION_MSE_MAX = 0.03  # noise variance is 0.01; predicting 0 everywhere gives 0.51
BINARY_ACCURACY_MIN = 0.95
MULTICLASS_ACCURACY_MIN = 0.85


def _predict(ctx: CheckContext, x: np.ndarray, shape: tuple) -> np.ndarray | None:
    y = as_array(ctx.get("network").predict(x.copy()), "network.predict(x)")
    ok = ctx.expect(
        y.shape == shape,
        ctx.t("network.predict の出力の形", "shape of network.predict(x)"),
        ctx.t(f"{y.shape} (正解 {shape})", f"{y.shape} (expected {shape})"),
    )
    if ok and not ctx.expect(bool(np.all(np.isfinite(y))), ctx.t("出力が有限", "finite output")):
        return None
    return y if ok else None


def _train_hint(ctx: CheckContext) -> str:
    return ctx.t(
        "学習が足りないか発散しています。学習セルを最初から実行し直し、学習係数や反復回数を"
        "見直してください。",
        "Training is not done or diverged: re-run the training cell, check learning rate and "
        "the number of iterations.",
    )


@register_check("regression_fit")
def check_regression_fit(ctx: CheckContext) -> None:
    from grader.student.datasets import make_sine

    _, (x, t) = make_sine(n_train=1, n_test=500, noise=0.1, seed=FRESH_SEED)
    y = _predict(ctx, x, t.shape)
    if y is not None:
        mse = float(np.mean((y - t) ** 2))
        ctx.expect(
            mse <= REGRESSION_MSE_MAX,
            ctx.t("新しいデータでの平均 2 乗誤差", "mean squared error on fresh data"),
            f"{mse:.4f} (<= {REGRESSION_MSE_MAX})",
            _train_hint(ctx),
        )


def _accuracy_check(ctx: CheckContext, x, labels, predicted, minimum: float) -> None:
    accuracy = float(np.mean(predicted == labels))
    ctx.expect(
        accuracy >= minimum,
        ctx.t("新しいデータでの正解率", "accuracy on fresh data"),
        f"{accuracy:.3f} (>= {minimum})",
        _train_hint(ctx),
    )


@register_check("binary_fit")
def check_binary_fit(ctx: CheckContext) -> None:
    from grader.student.datasets import make_moons

    _, (x, t) = make_moons(n_train=1, n_test=1000, noise=0.15, seed=FRESH_SEED)
    y = _predict(ctx, x, t.shape)
    if y is not None:
        _accuracy_check(ctx, x, t[:, 0] > 0.5, y[:, 0] > 0.5, BINARY_ACCURACY_MIN)


@register_check("multiclass_fit")
def check_multiclass_fit(ctx: CheckContext) -> None:
    from grader.student.datasets import make_spiral

    _, (x, t) = make_spiral(n_train=1, n_test=1000, noise=0.2, seed=FRESH_SEED)
    y = _predict(ctx, x, (x.shape[0], 3))
    if y is not None:
        _accuracy_check(ctx, x, t, y.argmax(axis=1), MULTICLASS_ACCURACY_MIN)


# --------------------------------------------------------------------------- 2-2-4

YEAR_R2_MIN = 0.15  # linear regression reaches about 0.24 on the real data


@register_check("standardize")
def check_standardize(ctx: CheckContext) -> None:
    fn = ctx.get("standardize")
    rng = np.random.default_rng(31)
    x = rng.normal(size=(8, 5)) * rng.uniform(1, 100, 5) + rng.uniform(-50, 1990, 5)
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = as_array(fn(x.copy(), mean.copy(), std.copy()), "standardize(x, mean, std)")
    if not ctx.expect(z.shape == x.shape, ctx.t("出力の形", "output shape"), f"{z.shape}"):
        return
    expected = (x - mean) / std
    hint = ctx.t("(x - mean) / std です。", "It is (x - mean) / std.")
    if np.allclose(z, (x - mean) / std**2):
        hint = ctx.t("分散ではなく標準偏差で割ります。", "Divide by the std, not the variance.")
    elif np.allclose(z, x - mean / std):
        hint = ctx.t("括弧: (x - mean) / std", "Mind the brackets: (x - mean) / std")
    ctx.expect_close(
        ctx.t("(x - mean) / std と一致", "equals (x - mean) / std"),
        rel_error(z, expected),
        VALUE_TOL,
        hint,
    )
    t = rng.normal(size=(8, 1)) * 10 + 2000
    zt = as_array(fn(t, t.mean(), t.std()), "standardize(t, mean, std)")
    ctx.expect_close(
        ctx.t("スカラーの mean, std でも動く", "works with scalar mean and std"),
        rel_error(zt, (t - t.mean()) / t.std()),
        VALUE_TOL,
    )


@register_check("year_prediction_fit")
def check_year_prediction_fit(ctx: CheckContext) -> None:
    x = as_array(ctx.get("x_test"), "x_test")
    t = as_array(ctx.get("t_test"), "t_test").reshape(-1, 1)
    y = _predict(ctx, x, t.shape)
    if y is None:
        return
    r2 = 1.0 - float(np.mean((y - t) ** 2) / np.var(t))
    ctx.expect(
        r2 >= YEAR_R2_MIN,
        ctx.t("テストデータの決定係数 R²", "coefficient of determination R² on the test data"),
        f"{r2:.3f} (>= {YEAR_R2_MIN})",
        ctx.t(
            "平均を予測するだけだと R² = 0 です。特徴量と目的変数の標準化、学習係数、"
            "エポック数を見直してください。",
            "Predicting the mean gives R² = 0: check standardisation of features and target, "
            "the learning rate and the number of epochs.",
        ),
    )
