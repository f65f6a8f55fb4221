"""Self-checks of the trained networks of notebooks 2-2-1 to 2-2-4: the ``*_fit`` checks
measure the trained ``network`` on fresh data from the same generator (the YearPrediction
network on the public test split).

The gradient and ``standardize`` items of these notebooks are declared: their self-checks are
derived (``declared/``).
"""

from __future__ import annotations

import numpy as np

from grader.student.checks._returned import (
    as_array,
)
from grader.student.selfcheck import CheckContext, register_check

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
