"""Self-checks for notebook 2-9: ``Dropout(dropout_ratio=0.5)``.

The course's convention (seed 001 section 9.2), which is *not* inverted dropout::

    training:   mask[i] = False with probability dropout_ratio, True otherwise (boolean array)
                y = x * mask
    inference:  y = x * (1 - dropout_ratio)
    backward:   dx = dout * mask      (the mask drawn in the last training forward)

The student's layer draws its mask from ``np.random``; the checks seed it for reproducible
reports and put the notebook's random state back afterwards.
"""

from __future__ import annotations

import math

import numpy as np

from grader.student.checks._random import kept_random_state
from grader.student.checks._returned import returned_dx
from grader.student.numeric import rel_error
from grader.student.selfcheck import CheckContext, register_check

SHAPE = (200, 50)  # 10,000 mask entries: the dropped fraction is within +-0.025 at 5 sigma
RATIOS = (0.5, 0.2)  # 0.5 is the default; 0.2 tells "keep with probability p" from the right way


def _x(seed: int) -> np.ndarray:
    """Strictly positive inputs, so that a zero in the output can only come from the mask."""
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=SHAPE)


def _make(ctx: CheckContext, ratio: float):
    cls = ctx.get("Dropout")
    return cls() if ratio == 0.5 else cls(dropout_ratio=ratio)


def _mask_of(ctx: CheckContext, layer) -> np.ndarray | None:
    mask = getattr(layer, "mask", None)
    if mask is None:
        ctx.expect(
            False,
            ctx.t("self.mask がある", "self.mask exists"),
            hint=ctx.t(
                "学習時の forward でマスクを self.mask に保存してください (backward で使います)。",
                "Store the training mask in self.mask during forward (backward needs it).",
            ),
        )
        return None
    return np.array(mask, copy=True)


@register_check("dropout_forward")
def check_forward(ctx: CheckContext) -> None:
    x = _x(0)
    for k, ratio in enumerate(RATIOS):
        layer = _make(ctx, ratio)
        with kept_random_state(10 + k):
            y = np.asarray(layer.forward(x.copy(), train_flg=True), dtype=np.float64)
        mask = _mask_of(ctx, layer)
        if mask is None:
            return
        label = f"dropout_ratio={ratio}"
        if not ctx.expect(
            mask.dtype == np.bool_ and mask.shape == x.shape and y.shape == x.shape,
            ctx.t(f"{label}: mask は x と同じ形の bool 配列", f"{label}: mask is a bool array"),
            f"mask {mask.dtype} {mask.shape}, y {y.shape}",
            ctx.t(
                "mask = np.random.rand(*x.shape) > self.dropout_ratio のように比較で作ると "
                "bool 配列になります。",
                "Build the mask with a comparison, e.g. "
                "np.random.rand(*x.shape) > self.dropout_ratio, which gives a bool array.",
            ),
        ):
            return
        dropped = 1.0 - float(mask.mean())
        bound = 5 * math.sqrt(ratio * (1 - ratio) / mask.size)
        hint = ctx.t(
            f"各成分は確率 {ratio} で False (消去) になるはずです。",
            f"Each entry should be False (dropped) with probability {ratio}.",
        )
        if abs(dropped - (1 - ratio)) <= bound:
            hint = ctx.t(
                "比較の向きが逆です: dropout_ratio は「消す」確率なので、"
                "rand > dropout_ratio のとき True (残す) にします。",
                "The comparison is reversed: dropout_ratio is the probability of dropping, so "
                "keep (True) where rand > dropout_ratio.",
            )
        ctx.expect(
            abs(dropped - ratio) <= bound,
            ctx.t(f"{label}: 消去された割合", f"{label}: fraction dropped"),
            ctx.t(
                f"{dropped:.4f} (期待値 {ratio} ± {bound:.3f})",
                f"{dropped:.4f} (expected {ratio} ± {bound:.3f})",
            ),
            hint,
        )
        err = rel_error(y, x * mask)
        hint = ctx.t("学習時の出力は x * mask です。", "The training output is x * mask.")
        if rel_error(y, x * mask / (1 - ratio)) < 1e-12:
            hint = ctx.t(
                "1 / (1 - dropout_ratio) 倍するのは inverted dropout の流儀です。この講義では"
                "学習時は x * mask のまま、予測時に (1 - dropout_ratio) 倍します。",
                "Scaling by 1 / (1 - dropout_ratio) is inverted dropout. This course keeps "
                "x * mask in training and scales by (1 - dropout_ratio) at inference.",
            )
        ctx.expect_close(
            ctx.t(f"{label}: y = x * mask", f"{label}: y = x * mask"), err, 1e-12, hint
        )
    # A new mask for every training forward: each mini-batch drops different neurons.
    layer = _make(ctx, 0.5)
    with kept_random_state(20):
        layer.forward(x.copy(), train_flg=True)
        first = _mask_of(ctx, layer)
        layer.forward(x.copy(), train_flg=True)
        second = _mask_of(ctx, layer)
    if first is None or second is None:
        return
    ctx.expect(
        first.shape == second.shape and bool(np.any(first != second)),
        ctx.t("forward のたびに新しいマスク", "a fresh mask on every forward"),
        hint=ctx.t(
            "マスクは __init__ ではなく forward(train_flg=True) のたびに作り直します。",
            "Draw the mask in every forward(train_flg=True), not once in __init__.",
        ),
    )


@register_check("dropout_backward")
def check_backward(ctx: CheckContext) -> None:
    x = _x(1)
    dout = np.random.default_rng(2).normal(size=SHAPE)
    for k, ratio in enumerate(RATIOS):
        layer = _make(ctx, ratio)
        with kept_random_state(30 + k):
            layer.forward(x.copy(), train_flg=True)
            mask = _mask_of(ctx, layer)
            if mask is None:
                return
            dx = layer.backward(dout.copy())
        dx = returned_dx(ctx, dx)
        if dx is None:
            return
        hint = ctx.t(
            "dx = dout * self.mask です (順伝播で消したニューロンには勾配が流れません)。",
            "dx = dout * self.mask (no gradient flows through the neurons dropped in forward).",
        )
        after = getattr(layer, "mask", None)
        if after is not None and np.shape(after) == mask.shape and np.any(after != mask):
            hint = ctx.t(
                "backward の中でマスクを作り直しています。順伝播で保存した同じ self.mask を"
                "使ってください。",
                "The mask is drawn again in backward. Use the same self.mask saved in forward.",
            )
        elif rel_error(dx, dout * mask / (1 - ratio)) < 1e-12:
            hint = ctx.t(
                "1 / (1 - dropout_ratio) 倍は不要です "
                "(この講義は inverted dropout ではありません)。",
                "No 1 / (1 - dropout_ratio) factor: this course does not use inverted dropout.",
            )
        ctx.expect_close(
            ctx.t(
                f"dropout_ratio={ratio}: dx = dout * (forward のマスク)",
                f"dropout_ratio={ratio}: dx = dout * (mask of forward)",
            ),
            rel_error(dx, dout * mask),
            1e-12,
            hint,
        )
