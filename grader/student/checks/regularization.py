"""Self-checks for notebook 2-10: parameter norm penalties (seed 001 section 9.1).

``l2_regularization(W, alpha) -> (alpha * sum(W**2), 2 * alpha * W)`` and
``l1_regularization(W, alpha) -> (alpha * sum(|W|), alpha * sign(W))``, applied to weight
matrices only. Each gradient is compared with central differences of the student's own penalty
(for L1 at points away from 0, where |w| is differentiable), and the penalty with its
definition.
"""

from __future__ import annotations

import numpy as np

from grader.student.numeric import numerical_gradient, rel_error
from grader.student.selfcheck import CheckContext, register_check

ALPHA = 0.3
GRAD_TOL = 1e-7  # quadratic / piecewise-linear penalties: central differences are near exact


def _weights(seed: int) -> np.ndarray:
    """A (6, 4) weight matrix with no entry closer than 0.05 to 0 (|w| is kinked at 0)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.05, 1.5, size=(6, 4))
    return w * rng.choice([-1.0, 1.0], size=w.shape)


def _call(ctx: CheckContext, name: str, W: np.ndarray, alpha: float, report: bool = True):
    """The student's (penalty, grad), or None after reporting a wrong return shape; with
    ``report``, also whether W was left unchanged (the notebook says so: it is the weights)."""
    arg = W.copy()
    result = ctx.get(name)(arg, alpha)
    if report:
        ctx.expect(
            np.array_equal(arg, W),
            ctx.t("引数 W を変更しない", "argument W left unchanged"),
            hint=ctx.t(
                f"{name} が受け取った W をその場で書き換えています "
                "(W *= ..., np.sign(W, out=W) 等)。"
                "学習中のネットワークの重みが壊れるので、新しい配列で計算して返してください。",
                f"{name} writes into the W it was given (W *= ..., np.sign(W, out=W), ...), "
                "which would destroy the network's weights in training: compute new arrays.",
            ),
        )
    ok = isinstance(result, tuple) and len(result) == 2
    if ok:
        penalty, grad = result
        ok = np.ndim(penalty) == 0 and np.shape(grad) == W.shape
    if not ok or report:
        ctx.expect(
            ok,
            ctx.t("戻り値 (penalty, grad)", "return value (penalty, grad)"),
            hint=ctx.t(
                f"{name} はスカラーの penalty と W と同じ形の grad のタプルを返します。",
                f"{name} returns a tuple of a scalar penalty and a grad shaped like W.",
            ),
        )
    if not ok:
        return None
    return float(penalty), np.asarray(grad, dtype=np.float64)


def _check(ctx: CheckContext, name: str, seed: int, definition, grad_formula, hints) -> None:
    W = _weights(seed)
    got = _call(ctx, name, W, ALPHA)
    if got is None:
        return
    penalty, grad = got
    expected_penalty = definition(W, ALPHA)
    hint = hints["penalty"]
    if abs(penalty - expected_penalty / 2) <= 1e-12 * abs(expected_penalty):
        hint = hints.get("penalty_half", hint)
    ctx.expect_close(
        ctx.t("penalty (定義と比較)", "penalty vs definition"),
        rel_error(penalty, expected_penalty),
        1e-12,
        hint,
    )
    numeric = numerical_gradient(lambda v: float(ctx.get(name)(v.copy(), ALPHA)[0]), W.copy())
    hint = hints["grad"]
    if rel_error(grad, grad_formula(W, ALPHA) / 2) < 1e-12:
        hint = hints.get("half", hint)
    ctx.expect_close(
        ctx.t("grad (自分の penalty の数値微分と比較)", "grad vs numeric gradient of penalty"),
        rel_error(grad, numeric),
        GRAD_TOL,
        hint,
    )
    # alpha must scale both outputs linearly (no alpha hard-coded or applied twice).
    got2 = _call(ctx, name, W, 2 * ALPHA, report=False)
    if got2 is None:
        return
    ctx.expect(
        rel_error(got2[0], 2 * penalty) < 1e-12 and rel_error(got2[1], 2 * grad) < 1e-12,
        ctx.t("alpha に比例する", "proportional to alpha"),
        hint=ctx.t(
            "penalty と grad には alpha を 1 回だけ掛けます。",
            "Multiply both the penalty and the grad by alpha exactly once.",
        ),
    )


@register_check("l2_regularization")
def check_l2(ctx: CheckContext) -> None:
    _check(
        ctx,
        "l2_regularization",
        0,
        lambda W, a: a * float(np.sum(W**2)),
        lambda W, a: 2 * a * W,
        {
            "penalty": ctx.t(
                "penalty = alpha * np.sum(W**2) (全成分の 2 乗和)です。",
                "penalty = alpha * np.sum(W**2) (sum of squares of all entries).",
            ),
            "penalty_half": ctx.t(
                "この講義の定義には 1/2 がありません: penalty = alpha * sum(W**2)。",
                "This course's definition has no 1/2: penalty = alpha * sum(W**2).",
            ),
            "grad": ctx.t("grad = 2 * alpha * W です。", "grad = 2 * alpha * W."),
            "half": ctx.t(
                "W**2 の微分は 2W: grad = 2 * alpha * W と係数 2 が付きます。",
                "The derivative of W**2 is 2W: grad = 2 * alpha * W, with the factor 2.",
            ),
        },
    )
