"""Shared pieces of the self-check modules (gradient comparison, hints, return values).

``compare_gradient`` records one report line: the relative error between the student's
analytic gradient and central differences of the student's own forward, and when it is off a
hint chosen from the error pattern (missing 1/N, sign flip, wrong shape / transposes).
"""

from __future__ import annotations

import numpy as np

from grader.student.numeric import gradient_scale, rel_error
from grader.student.selfcheck import CheckContext

GRAD_TOL = 1e-6  # correct float64 code measures about 1e-9 with h = 1e-5
# Losses written as log(y + 1e-7) (the textbook's guard) differ from the exact (y - t)/N by
# about 1e-7 / y relative: a correct implementation measures up to ~1e-6 here.
LOG_LOSS_GRAD_TOL = 1e-5


def as_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; a clear error when it is None or not numeric."""
    if value is None:
        raise TypeError(f"{what} is None (did you forget to return it or to set it?)")
    array = np.asarray(value, dtype=np.float64)
    return array


def returned_dx(ctx: CheckContext, dx) -> np.ndarray | None:
    """``dx`` as float64; ``None`` after recording a failed line when backward returned nothing."""
    if dx is None:
        ctx.expect(
            False,
            ctx.t("backward の戻り値", "return value of backward"),
            "None",
            ctx.t("backward は dx を return します。", "backward must return dx."),
        )
        return None
    return np.asarray(dx, dtype=np.float64)


def compare_gradient(
    ctx: CheckContext,
    label: str,
    analytic,
    numeric: np.ndarray,
    n: int | None = None,
    hint: str = "",
    tol: float = GRAD_TOL,
) -> bool:
    """Record ``label``: the student's ``analytic`` gradient against ``numeric``."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        return ctx.expect(
            False,
            label,
            ctx.t(
                f"形が {analytic.shape} (期待 {numeric.shape})",
                f"shape {analytic.shape} (expected {numeric.shape})",
            ),
            ctx.t(
                "勾配は微分する変数と同じ形になります。転置 (.T) や掛ける順番、"
                "sum(axis=0) を見直してください。",
                "A gradient has the shape of the variable it is taken with respect to. "
                "Check transposes (.T), the order of the product and sum(axis=0).",
            ),
        )
    error = rel_error(analytic, numeric)
    if error <= tol:
        return ctx.expect_close(label, error, tol)
    scale = gradient_scale(analytic, numeric)
    if n and abs(scale - n) < 1e-3 * n:
        hint = ctx.t(
            f"勾配がちょうど {n} 倍 (バッチサイズ倍) です。N で割るのを忘れていませんか?",
            f"The gradient is exactly {n}x too large (the batch size): divide by N.",
        )
    elif n and abs(scale - 1 / n) < 1e-3 / n:
        hint = ctx.t(
            f"勾配がちょうど 1/{n} 倍です。N で 2 回割っていませんか?",
            f"The gradient is exactly 1/{n} of the expected one: did you divide by N twice?",
        )
    elif abs(scale + 1) < 1e-3:
        hint = ctx.t("符号が逆になっています。", "The sign is flipped.")
    elif abs(scale - 2) < 1e-3 or abs(scale - 0.5) < 1e-3:
        hint = ctx.t(
            "勾配が 2 倍または 1/2 倍ずれています。2 乗誤差の 1/2 や 2t の係数を確認してください。",
            "The gradient is off by a factor 2 or 1/2: check the 1/2 of the squared error or 2t.",
        )
    return ctx.expect_close(label, error, tol, hint)
