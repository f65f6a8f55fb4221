"""Self-checks for notebook 2-7: ``BatchNormalization``.

The student's class is ``BatchNormalization(gamma, beta, momentum=0.9, running_mean=None,
running_var=None)`` with ``forward(x, train_flg=True)`` and ``backward(dout) -> dx`` that sets
``dgamma`` and ``dbeta``. For an input ``x`` of shape (N, K)::

    mu = mean(x, axis=0)        var = mean((x - mu)**2, axis=0)
    xhat = (x - mu) / sqrt(var + eps)        y = gamma * xhat + beta
    running = momentum * running + (1 - momentum) * batch_statistic   (training only)

Only the student's own code is used: the backward pass is compared with central differences of
the student's own forward, with a random upstream gradient (an all-ones upstream gradient makes
the mean and variance terms of ``dx`` vanish and hides exactly the mistakes this check is for).
``eps`` may be anything up to about 1e-5: no check depends on its value.
"""

from __future__ import annotations

import numpy as np

from grader.student.checks._gradhints import returned_dx
from grader.student.numeric import numerical_gradient, rel_error
from grader.student.selfcheck import CheckContext, register_check

N, K = 8, 5
GRAD_TOL = 1e-6  # a correct float64 implementation measures about 1e-9
VALUE_TOL = 1e-5  # eps <= 1e-5 changes a standardised output by far less than this


def _inputs(seed: int) -> dict[str, np.ndarray]:
    """A batch whose features have clearly non-zero means and different scales."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.normal(size=(N, K)) * rng.uniform(0.5, 3.0, size=K) + rng.uniform(-2, 2, size=K),
        "gamma": rng.uniform(0.5, 2.0, size=K),
        "beta": rng.normal(size=K),
        "dout": rng.normal(size=(N, K)),
    }


def _make(ctx: CheckContext, gamma, beta, **kwargs):
    cls = ctx.get("BatchNormalization")
    return cls(gamma.copy(), beta.copy(), **kwargs)


def _forward(ctx: CheckContext, x, gamma, beta) -> np.ndarray:
    """Training-mode output of a fresh layer (fresh, so running statistics do not matter)."""
    return np.asarray(_make(ctx, gamma, beta).forward(x.copy(), train_flg=True), dtype=np.float64)


@register_check("batchnorm_forward")
def check_forward(ctx: CheckContext) -> None:
    d = _inputs(0)
    x, gamma, beta = d["x"], d["gamma"], d["beta"]
    y = _forward(ctx, x, gamma, beta)
    if not ctx.expect(
        y.shape == x.shape,
        ctx.t("出力の形", "output shape"),
        ctx.t(f"{y.shape} (正解 {x.shape})", f"{y.shape} (expected {x.shape})"),
        ctx.t("出力は入力と同じ (N, K) 型になります。", "The output has the input's shape (N, K)."),
    ):
        return
    mean_err = float(np.max(np.abs(y.mean(axis=0) - beta)) / (1.0 + np.max(np.abs(beta))))
    std = y.std(axis=0)
    std_err = float(np.max(np.abs(std - gamma) / gamma))
    ctx.expect_close(
        ctx.t("特徴ごとの平均が beta になる (学習時)", "per-feature mean equals beta (training)"),
        mean_err,
        VALUE_TOL,
        ctx.t(
            "平均はミニバッチ方向 (axis=0) にとります。y = gamma * xhat + beta の beta を忘れて"
            "いませんか?",
            "Take the mean over the batch (axis=0), and do not forget + beta in "
            "y = gamma * xhat + beta.",
        ),
    )
    hint = ctx.t(
        "分散は axis=0 の平均 mean((x - mu)**2) で、割るのは分散ではなく標準偏差 "
        "sqrt(var + eps) です。",
        "The variance is mean((x - mu)**2) over axis=0, and you divide by the standard deviation "
        "sqrt(var + eps), not by the variance.",
    )
    ratio = std / gamma
    if np.allclose(ratio, np.sqrt((N - 1) / N), rtol=1e-4):
        hint = ctx.t(
            "不偏分散 (N-1 で割る, ddof=1) を使っていませんか? バッチ正規化では N で割ります。",
            "Did you use the unbiased variance (ddof=1)? Batch normalisation divides by N.",
        )
    ctx.expect_close(
        ctx.t(
            "特徴ごとの標準偏差が gamma になる (学習時)", "per-feature std equals gamma (training)"
        ),
        std_err,
        VALUE_TOL,
        hint,
    )
    # The worked definition, feature by feature, with gamma = 1 and beta = 0.
    ones, zeros = np.ones(K), np.zeros(K)
    z = _forward(ctx, x, ones, zeros)
    expected = (x - x.mean(axis=0)) / x.std(axis=0)
    ctx.expect_close(
        ctx.t(
            "gamma=1, beta=0 で (x - mean) / std と一致", "gamma=1, beta=0 gives (x - mean) / std"
        ),
        rel_error(z, expected),
        VALUE_TOL,
        ctx.t(
            "平均・分散は特徴ごと (列ごと, axis=0) に計算します。axis=1 になっていませんか?",
            "Mean and variance are per feature (per column, axis=0). Did you use axis=1?",
        ),
    )
    _check_inference(ctx, gamma, beta)


def _naive_dx(x, gamma, dout, variant: str) -> np.ndarray:
    """dx with some of the mean/variance terms left out (the classic incomplete derivations)."""
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0))
    xhat = (x - mu) / std
    c = dout.mean(axis=0)
    d = (xhat * dout).mean(axis=0)
    if variant == "no_stats":
        return gamma / std * dout
    if variant == "no_var":
        return gamma / std * (dout - c)
    return gamma / std * (dout - xhat * d)  # "no_mean"


@register_check("batchnorm_backward")
def check_backward(ctx: CheckContext) -> None:
    d = _inputs(1)
    x, gamma, beta, dout = d["x"], d["gamma"], d["beta"], d["dout"]

    # Numeric gradients of the student's own forward, through E = sum(y * dout).
    def energy(x_, g_, b_) -> float:
        return float(np.sum(_forward(ctx, x_, g_, b_) * dout))

    num_dx = numerical_gradient(lambda v: energy(v, gamma, beta), x.copy())
    num_dgamma = numerical_gradient(lambda v: energy(x, v, beta), gamma.copy())
    num_dbeta = numerical_gradient(lambda v: energy(x, gamma, v), beta.copy())

    layer = _make(ctx, gamma, beta)
    layer.forward(x.copy(), train_flg=True)
    dx = layer.backward(dout.copy())
    dx = returned_dx(ctx, dx)
    if dx is None:
        return
    err = rel_error(dx, num_dx)
    hint = ctx.t(
        "dx = gamma / std * (dout - mean(dout, axis=0) - xhat * mean(xhat * dout, axis=0)) です。",
        "dx = gamma / std * (dout - mean(dout, axis=0) - xhat * mean(xhat * dout, axis=0)).",
    )
    if dx.shape == x.shape and err > GRAD_TOL:
        for variant in ("no_stats", "no_var", "no_mean"):
            if rel_error(dx, _naive_dx(x, gamma, dout, variant)) < 1e-4:
                hint = ctx.t(
                    "平均と分散もバッチの x に依存します: dx に平均の項 "
                    "-mean(dout, axis=0) と分散の項 -xhat * mean(xhat * dout, axis=0) の両方が"
                    "必要です (足りない項があります)。",
                    "The mean and the variance depend on the batch x too: dx needs both the mean "
                    "term -mean(dout, axis=0) and the variance term "
                    "-xhat * mean(xhat * dout, axis=0) (one of them is missing).",
                )
                break
    ctx.expect_close(ctx.t("dx (数値微分と比較)", "dx vs numeric gradient"), err, GRAD_TOL, hint)
    ctx.expect_close(
        ctx.t("dgamma (数値微分と比較)", "dgamma vs numeric gradient"),
        rel_error(np.asarray(getattr(layer, "dgamma", np.nan), dtype=np.float64), num_dgamma),
        GRAD_TOL,
        ctx.t(
            "self.dgamma = sum(xhat * dout, axis=0) を backward の中で設定します。",
            "Set self.dgamma = sum(xhat * dout, axis=0) inside backward.",
        ),
    )
    ctx.expect_close(
        ctx.t("dbeta (数値微分と比較)", "dbeta vs numeric gradient"),
        rel_error(np.asarray(getattr(layer, "dbeta", np.nan), dtype=np.float64), num_dbeta),
        GRAD_TOL,
        ctx.t(
            "self.dbeta = sum(dout, axis=0) を backward の中で設定します。",
            "Set self.dbeta = sum(dout, axis=0) inside backward.",
        ),
    )


@register_check("batchnorm_running_stats")
def check_running_stats(ctx: CheckContext) -> None:
    d = _inputs(2)
    x, gamma, beta = d["x"], d["gamma"], d["beta"]
    x2 = _inputs(3)["x"]
    momentum = 0.8
    rng = np.random.default_rng(4)
    run_mean0, run_var0 = rng.normal(size=K), rng.uniform(0.5, 2.0, size=K)
    layer = _make(
        ctx,
        gamma,
        beta,
        momentum=momentum,
        running_mean=run_mean0.copy(),
        running_var=run_var0.copy(),
    )
    layer.forward(x.copy(), train_flg=True)
    layer.forward(x2.copy(), train_flg=True)
    exp_mean, exp_var = run_mean0, run_var0
    swapped_mean, swapped_var = run_mean0, run_var0
    for batch in (x, x2):
        exp_mean = momentum * exp_mean + (1 - momentum) * batch.mean(axis=0)
        exp_var = momentum * exp_var + (1 - momentum) * batch.var(axis=0)
        swapped_mean = (1 - momentum) * swapped_mean + momentum * batch.mean(axis=0)
        swapped_var = (1 - momentum) * swapped_var + momentum * batch.var(axis=0)
    got_mean = np.asarray(getattr(layer, "running_mean", np.nan), dtype=np.float64)
    got_var = np.asarray(getattr(layer, "running_var", np.nan), dtype=np.float64)
    hint = ctx.t(
        "学習時に running = momentum * running + (1 - momentum) * (バッチの値) と更新します。"
        "引数 momentum を使い、0.9 を直接書かないでください。",
        "In training, update running = momentum * running + (1 - momentum) * batch_value. Use "
        "the momentum argument rather than a literal 0.9.",
    )
    if rel_error(got_mean, swapped_mean) < 1e-6:
        hint = ctx.t(
            "momentum と (1 - momentum) が逆です: 古い running 値に momentum を掛けます。",
            "momentum and (1 - momentum) are swapped: the old running value gets momentum.",
        )
    ctx.expect_close(
        ctx.t("running_mean の更新 (2 バッチ)", "running_mean update (2 batches)"),
        rel_error(got_mean, exp_mean),
        1e-8,
        hint,
    )
    ctx.expect_close(
        ctx.t("running_var の更新 (2 バッチ)", "running_var update (2 batches)"),
        rel_error(got_var, exp_var),
        1e-8,
        hint
        if rel_error(got_var, swapped_var) >= 1e-6
        else ctx.t("running_var でも momentum が逆です。", "momentum is swapped in running_var."),
    )

    # running_mean=None (the default): the statistics start from zeros.
    layer = _make(ctx, gamma, beta, momentum=momentum)
    exp_mean, exp_var = np.zeros(K), np.zeros(K)
    for batch in (x, x2):
        layer.forward(batch.copy(), train_flg=True)
        exp_mean = momentum * exp_mean + (1 - momentum) * batch.mean(axis=0)
        exp_var = momentum * exp_var + (1 - momentum) * batch.var(axis=0)
    got = np.concatenate(
        [
            np.asarray(getattr(layer, "running_mean", np.nan), dtype=np.float64).ravel(),
            np.asarray(getattr(layer, "running_var", np.nan), dtype=np.float64).ravel(),
        ]
    )
    ctx.expect_close(
        ctx.t(
            "running_mean=None のときは 0 から始めて更新",
            "running_mean=None starts from zeros and is updated",
        ),
        rel_error(got, np.concatenate([exp_mean, exp_var])),
        1e-8,
        ctx.t(
            "running_mean, running_var が None なら、最初の forward で np.zeros(K) にしてから"
            "更新します。",
            "When running_mean and running_var are None, set them to np.zeros(K) in the first "
            "forward, then update them.",
        ),
    )


def _check_inference(ctx: CheckContext, gamma, beta) -> None:
    """Inference normalises with the running statistics and leaves them unchanged."""
    rng = np.random.default_rng(4)
    run_mean0, run_var0 = rng.normal(size=K), rng.uniform(0.5, 2.0, size=K)
    momentum = 0.8
    test_x = _inputs(5)["x"][:3]
    layer = _make(
        ctx,
        gamma,
        beta,
        momentum=momentum,
        running_mean=run_mean0.copy(),
        running_var=run_var0.copy(),
    )
    y = np.asarray(layer.forward(test_x.copy(), train_flg=False), dtype=np.float64)
    expected = gamma * (test_x - run_mean0) / np.sqrt(run_var0) + beta
    ctx.expect_close(
        ctx.t("推論時 (train_flg=False) は running 統計で正規化", "inference uses running stats"),
        rel_error(y, expected),
        VALUE_TOL,
        ctx.t(
            "train_flg=False のときはバッチの平均・分散ではなく running_mean, running_var を"
            "使います (予測時はデータが 1 件のこともあるため)。",
            "With train_flg=False use running_mean and running_var, not the batch statistics "
            "(at prediction time the batch may hold a single example).",
        ),
    )
    unchanged = np.allclose(
        np.asarray(layer.running_mean, dtype=np.float64), run_mean0, rtol=0, atol=1e-12
    ) and np.allclose(np.asarray(layer.running_var, dtype=np.float64), run_var0, rtol=0, atol=1e-12)
    ctx.expect(
        unchanged,
        ctx.t("推論時は running 統計を更新しない", "inference leaves the running stats unchanged"),
        hint=ctx.t(
            "running_mean, running_var の更新は train_flg=True のときだけ行います。",
            "Update running_mean and running_var only when train_flg=True.",
        ),
    )
