"""Self-checks of notebook 2-6: He and Glorot initialisers, by sample statistics.

Each initialiser is called as ``f(n_in, n_out)`` with ``n_in != n_out`` (so that mixing them up
shows) and must return an ``(n_in, n_out)`` array drawn with ``np.random``. With
``n = n_in * n_out`` samples, every bound below is 5 standard errors wide, so a correct
implementation fails by chance with probability below 1e-6 (and the seeds are fixed anyway):

* mean: ``|mean| <= 5 s / sqrt(n)``;
* standard deviation: ``|s - sigma| <= 5 SE(s)`` with ``SE(s) = sqrt((m4 - s**4) / n) / (2 s)``
  (delta method; ``m4`` is the sample's fourth central moment, so this holds for any shape);
* shape of the distribution: the fraction of samples within one sample std of the mean is
  0.6827 for a normal and 1/sqrt(3) = 0.5774 for a uniform; its standard error is
  ``sqrt(p (1 - p) / n)``;
* uniform only: ``max |w| <= limit`` exactly and ``max |w| >= limit (1 - 20 / n)``
  (probability ``(1 - 20/n)**n ~ e**-20`` of falling short).
"""

from __future__ import annotations

import math

import numpy as np

from grader.student.checks._random import kept_random_state
from grader.student.selfcheck import CheckContext, register_check

N_IN, N_OUT = 300, 700
Z = 5.0
NORMAL_WITHIN_1SD = math.erf(1 / math.sqrt(2))  # 0.6827
UNIFORM_WITHIN_1SD = 1 / math.sqrt(3)  # 0.5774


def _draw(ctx: CheckContext, name: str) -> np.ndarray | None:
    """Call the student's initialiser; check shape, dtype and that it uses ``np.random``."""
    fn = ctx.get(name)
    with kept_random_state(2026):
        w = np.asarray(fn(N_IN, N_OUT))
        again = np.asarray(fn(N_IN, N_OUT))
    with kept_random_state(2026):
        same = np.asarray(fn(N_IN, N_OUT))
    if not ctx.expect(
        w.shape == (N_IN, N_OUT),
        ctx.t("返す配列の形", "shape of the result"),
        str(w.shape) if w.shape == (N_IN, N_OUT) else f"{w.shape} != {(N_IN, N_OUT)}",
        ctx.t(
            "形は (n_in, n_out) です (x @ W で使うため)。",
            "the shape is (n_in, n_out), as used in x @ W.",
        ),
    ):
        return None
    if not ctx.expect(
        np.issubdtype(w.dtype, np.floating) and bool(np.all(np.isfinite(w))),
        ctx.t("有限の浮動小数点数", "finite floating-point values"),
        str(w.dtype),
    ):
        return None
    if not ctx.expect(
        float(np.std(w)) > 0,
        ctx.t("値がばらついている", "values are spread out"),
        hint=ctx.t(
            "すべて同じ値です。乱数で初期化してください。",
            "all values are equal; draw them at random.",
        ),
    ):
        return None
    ctx.expect(
        np.array_equal(w, same) and not np.array_equal(w, again),
        ctx.t("np.random で乱数を生成している", "drawn with np.random"),
        hint=ctx.t(
            "np.random.randn / np.random.uniform "
            "を使ってください (np.random.seed で再現できるように)。"
            "毎回同じ値を返していないかも確認してください。",
            "use np.random.randn / np.random.uniform so that np.random.seed reproduces it, "
            "and do not return the same values on every call.",
        ),
    )
    return w.astype(np.float64)


def _std_standard_error(w: np.ndarray) -> float:
    centred = w - w.mean()
    s2 = float(np.mean(centred**2))
    m4 = float(np.mean(centred**4))
    return math.sqrt(max(m4 - s2 * s2, 0.0) / w.size) / (2 * math.sqrt(s2))


def _expect_moments(
    ctx: CheckContext, w: np.ndarray, sigma: float, wrong: list[tuple[float, str, str]]
) -> None:
    """Mean 0 and standard deviation ``sigma``; ``wrong`` = (std of a known mistake, hint)."""
    n, s = w.size, float(w.std())
    mean_bound = Z * s / math.sqrt(n)
    ctx.expect(
        abs(float(w.mean())) <= mean_bound,
        ctx.t("平均が 0", "mean is 0"),
        f"{w.mean():.2e} (|.| <= {mean_bound:.1e})",
        ctx.t("平均 0 の分布から取ってください。", "draw from a distribution with mean 0."),
    )
    bound = Z * _std_standard_error(w)
    hint = ctx.t(
        f"標準偏差は {sigma:.4f} のはずです。", f"the standard deviation should be {sigma:.4f}."
    )
    for wrong_sigma, ja, en in wrong:
        if abs(s - wrong_sigma) <= bound:
            hint = ctx.t(ja, en)
            break
    ctx.expect(
        abs(s - sigma) <= bound,
        ctx.t("標準偏差", "standard deviation"),
        ctx.t(
            f"{s:.5f} (期待値 {sigma:.5f} ± {bound:.5f})",
            f"{s:.5f} (expected {sigma:.5f} ± {bound:.5f})",
        ),
        hint,
    )


def _expect_shape(ctx: CheckContext, w: np.ndarray, normal: bool) -> None:
    """The fraction within one std tells a normal from a uniform distribution."""
    p = NORMAL_WITHIN_1SD if normal else UNIFORM_WITHIN_1SD
    frac = float(np.mean(np.abs(w - w.mean()) <= w.std()))
    bound = Z * math.sqrt(p * (1 - p) / w.size)
    ctx.expect(
        abs(frac - p) <= bound,
        ctx.t("分布の形 (±1σ 内の割合)", "shape of the distribution (fraction within ±1σ)"),
        f"{frac:.4f} ({p:.4f} ± {bound:.4f})",
        ctx.t(
            "正規分布には np.random.randn を使います。"
            if normal
            else "一様分布には np.random.uniform(-limit, limit, size) を使います。",
            "use np.random.randn for a normal distribution."
            if normal
            else "use np.random.uniform(-limit, limit, size) for a uniform distribution.",
        ),
    )


@register_check("he_normal")
def he_normal(ctx: CheckContext) -> None:
    w = _draw(ctx, "he_normal")
    if w is None:
        return
    _expect_moments(
        ctx,
        w,
        math.sqrt(2 / N_IN),
        [
            (
                math.sqrt(1 / N_IN),
                "分散は 1/n_in ではなく 2/n_in です (ReLU が半分を 0 にするため)。",
                "the variance is 2/n_in, not 1/n_in (ReLU zeroes half of the inputs).",
            ),
            (
                math.sqrt(2 / N_OUT),
                "n_out ではなく入力側のユニット数 n_in を使います。",
                "use the number of inputs n_in, not n_out.",
            ),
            (
                2 / N_IN,
                "2/n_in は分散です。標準偏差はその平方根です。",
                "2/n_in is the variance; the standard deviation is its square root.",
            ),
        ],
    )
    _expect_shape(ctx, w, normal=True)


@register_check("glorot_normal")
def glorot_normal(ctx: CheckContext) -> None:
    w = _draw(ctx, "glorot_normal")
    if w is None:
        return
    _expect_moments(
        ctx,
        w,
        math.sqrt(2 / (N_IN + N_OUT)),
        [
            (
                math.sqrt(1 / (N_IN + N_OUT)),
                "分散は 2/(n_in + n_out) です (1 ではなく 2)。",
                "the variance is 2/(n_in + n_out) (2, not 1).",
            ),
            (
                math.sqrt(2 / N_IN),
                "これは He の初期値です。分母は n_in + n_out です。",
                "this is He's initialisation; the denominator is n_in + n_out.",
            ),
            (
                2 / (N_IN + N_OUT),
                "2/(n_in + n_out) は分散です。標準偏差はその平方根です。",
                "2/(n_in + n_out) is the variance; the standard deviation is its square root.",
            ),
        ],
    )
    _expect_shape(ctx, w, normal=True)


@register_check("glorot_uniform")
def glorot_uniform(ctx: CheckContext) -> None:
    w = _draw(ctx, "glorot_uniform")
    if w is None:
        return
    limit = math.sqrt(6 / (N_IN + N_OUT))
    biggest = float(np.max(np.abs(w)))
    ctx.expect(
        limit * (1 - 20 / w.size) <= biggest <= limit,
        ctx.t("値の範囲 [-limit, limit]", "range [-limit, limit]"),
        f"max|w| = {biggest:.5f}, limit = {limit:.5f}",
        ctx.t(
            "limit = √(6/(n_in + n_out)) として "
            "np.random.uniform(-limit, limit, (n_in, n_out)) です。",
            "with limit = √(6/(n_in + n_out)) use np.random.uniform(-limit, limit, (n_in, n_out)).",
        ),
    )
    _expect_moments(
        ctx,
        w,
        limit / math.sqrt(3),
        [
            (
                math.sqrt(3 / (N_IN + N_OUT)) / math.sqrt(3),
                "limit は √(6/(n_in + n_out)) です (3 ではなく 6)。",
                "limit is √(6/(n_in + n_out)) (6, not 3).",
            ),
            (
                math.sqrt(2 / (N_IN + N_OUT)) / math.sqrt(3),
                "limit に正規分布版の標準偏差 √(2/(n_in + n_out)) "
                "を使っています。limit = √(6/(n_in + n_out)) です。",
                "you use the normal version's std √(2/(n_in + "
                "n_out)) as limit; limit = √(6/(n_in + n_out)).",
            ),
        ],
    )
    _expect_shape(ctx, w, normal=False)
