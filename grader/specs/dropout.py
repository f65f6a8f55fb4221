"""2-9: Dropout (the course's convention: training multiplies by the mask, inference by
``1 - dropout_ratio``; not inverted dropout).

Forward: the kept fraction of a large input (5e4 units) must be within five standard errors
``5 sqrt(p (1-p) / n)`` of ``1 - p``, kept units pass unchanged and ``mask`` marks exactly the
kept units. Backward: ``dx`` must be ``dout`` times the mask of the *same* forward pass.
Inference: ``x * (1 - p)``.
"""

from __future__ import annotations

import math

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS, Mistake
from grader.engine.hints import get_hint
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, scalar, signed_uniform

SHAPE = (200, 250)
Z = 5.0


def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Non-zero inputs (a dropped unit is exactly 0), p != 0.5 so that swapping p and 1 - p
    shows, a seed for np.random."""
    return {
        "x": signed_uniform(rng, SHAPE, 0.5, 1.5),
        "dout": rng.standard_normal(SHAPE),
        "p": scalar(rng.choice([0.2, 0.3, 0.4])),
        "seed": np.asarray(int(rng.integers(0, 2**31 - 1)), dtype=np.int64),
    }


PROBE_FORWARD = """
import numpy as _np
_np.random.seed(int(inp["seed"]))
_d = Dropout(dropout_ratio=float(inp["p"]))
out["y"] = _np.array(_d.forward(inp["x"].copy(), train_flg=True), dtype=_np.float64)
out["mask"] = _np.array(_d.mask, dtype=_np.float64)
"""

PROBE_BACKWARD = """
import numpy as _np
_np.random.seed(int(inp["seed"]))
_d = Dropout(dropout_ratio=float(inp["p"]))
out["y"] = _np.array(_d.forward(inp["x"].copy(), train_flg=True), dtype=_np.float64)
_yo = Dropout(dropout_ratio=float(inp["p"])).forward(inp["x"].copy(), train_flg=True)
out["y_other"] = _np.array(_yo, dtype=_np.float64)  # a second layer between forward and backward
out["dx"] = _np.array(_d.backward(inp["dout"].copy()), dtype=_np.float64)
"""

# The kept fraction of a training forward on another instance tells a wrong inference scale
# (p instead of 1 - p) from a ratio swapped everywhere; its failure is not this item's.
PROBE_INFERENCE = """
import numpy as _np
_d = Dropout(dropout_ratio=float(inp["p"]))
out["y"] = _np.array(_d.forward(inp["x"].copy(), train_flg=False), dtype=_np.float64)
try:
    _np.random.seed(int(inp["seed"]))
    _yt = _np.asarray(Dropout(dropout_ratio=float(inp["p"])).forward(inp["x"].copy(), True))
    out["train_kept"] = _np.array(_np.mean(_yt != 0), dtype=_np.float64)
except Exception:
    pass
"""


def _fail(ja: str, en: str, err: float | None, tol: float | None, hint: str | None) -> Verdict:
    return Verdict.fail(ja, en, error=err, tolerance=tol, hint=get_hint(hint) if hint else None)


def _fraction_bound(p: float, n: int) -> float:
    return Z * math.sqrt(p * (1.0 - p) / n)


def score_forward(ctx: ScoreContext) -> Verdict:
    x, p = ctx.inputs["x"], float(ctx.inputs["p"])
    y = ctx.require("y", shape=SHAPE)
    got_mask = ctx.outputs.get("mask")
    if isinstance(got_mask, np.ndarray) and got_mask.shape == (1, SHAPE[1]):
        return _fail(
            f"self.mask の形が {got_mask.shape} です (期待: {SHAPE})。",
            f"self.mask has shape {got_mask.shape}, expected {SHAPE}.",
            None,
            None,
            "dropout_mask_row",
        )
    mask = ctx.require("mask", shape=SHAPE, kind="n")
    kept = y != 0
    frac, bound = float(kept.mean()), _fraction_bound(p, x.size)
    if abs(frac - (1.0 - p)) > bound:
        swapped = abs(frac - p) <= bound
        return _fail(
            f"残った割合 {frac:.4f} が 1 - dropout_ratio = {1 - p:.2f} と合いません。",
            f"The kept fraction {frac:.4f} does not match 1 - dropout_ratio = {1 - p:.2f}.",
            abs(frac - (1.0 - p)),
            bound,
            "dropout_ratio_swapped" if swapped else None,
        )
    scale = y[kept] / x[kept]
    if not np.allclose(scale, 1.0, rtol=1e-12, atol=0):
        inverted = np.allclose(scale, 1.0 / (1.0 - p), rtol=1e-9, atol=0)
        return _fail(
            "残したユニットの値が入力と違います (学習時はマスクを掛けるだけです)。",
            "Kept units differ from the input (training only multiplies by the mask).",
            float(np.max(np.abs(scale - 1.0))),
            1e-12,
            "dropout_inverted_scaling" if inverted else None,
        )
    if not np.array_equal(mask != 0, kept):
        return _fail(
            "self.mask が、出力で残ったユニットと一致しません。",
            "self.mask does not mark the units the output kept.",
            None,
            None,
            None,
        )
    return Verdict.ok(error=abs(frac - (1.0 - p)), tolerance=bound)


def score_backward(ctx: ScoreContext) -> Verdict:
    x, dout, p = ctx.inputs["x"], ctx.inputs["dout"], float(ctx.inputs["p"])
    y = ctx.require("y", shape=SHAPE)
    dx = ctx.require("dx", shape=SHAPE)
    local = y / x  # the derivative of the forward that was run: the mask (times any scale)
    passed = dx != 0
    if not np.array_equal(passed, y != 0):
        other = ctx.outputs.get("y_other")
        if isinstance(other, np.ndarray) and other.shape == SHAPE:
            if np.array_equal(passed, other != 0):  # the second instance's mask
                return _fail(
                    "backward が、後から forward した別の Dropout のマスクを使っています。",
                    "backward uses the mask of another Dropout whose forward ran later.",
                    float(np.mean(passed != (y != 0))),
                    0.0,
                    "layer_state_shared",
                )
        plausible = abs(float(passed.mean()) - (1.0 - p)) <= _fraction_bound(p, x.size)
        return _fail(
            "backward で勾配を通すユニットが、forward で残したユニットと違います。",
            "backward passes the gradient through other units than forward kept.",
            float(np.mean(passed != (y != 0))),
            0.0,
            "dropout_mask_resampled" if plausible else None,
        )
    # dout * mask vs dout * (y / x): equal up to one rounding, measured <= 2e-16.
    return compare(ctx, {"dx": dout * local}, tol=1e-10, student={"dx": dx})


def score_inference(ctx: ScoreContext) -> Verdict:
    x, p = ctx.inputs["x"], float(ctx.inputs["p"])
    kept = ctx.outputs.get("train_kept")
    mask_right = (
        isinstance(kept, np.ndarray)
        and kept.size == 1
        and abs(float(kept.reshape(())) - (1.0 - p)) <= _fraction_bound(p, x.size)
    )
    by_ratio = "dropout_inference_scaled_by_ratio" if mask_right else "dropout_ratio_swapped"
    mistakes = [
        Mistake("dropout_no_inference_scaling", {"y": x}),
        Mistake(by_ratio, {"y": x * p}),
    ]
    # x * (1 - p) up to rounding: measured <= 1e-16.
    return compare(ctx, {"y": x * (1.0 - p)}, tol=1e-10, mistakes=mistakes)


def _item(item_id: str, ja: str, en: str, probe: str, score, hints: tuple[str, ...]) -> Item:
    return Item(
        id=item_id,
        title={"ja": ja, "en": en},
        points=1,
        probe=probe,
        make_inputs=make_inputs,
        score=score,
        hints=hints,
    )


ASSIGNMENT = Assignment(
    id="2-9_dropout",
    order=150,
    title={"ja": "ドロップアウト", "en": "Dropout"},
    items=(
        _item(
            "dropout_forward",
            "Dropout の順伝播 (学習時)",
            "Dropout forward (training)",
            PROBE_FORWARD,
            score_forward,
            hints=("dropout_inverted_scaling", "dropout_mask_row", "dropout_ratio_swapped"),
        ),
        _item(
            "dropout_backward",
            "Dropout の逆伝播",
            "Dropout backward",
            PROBE_BACKWARD,
            score_backward,
            hints=(*GENERIC_HINTS, "dropout_mask_resampled", "layer_state_shared"),
        ),
        _item(
            "dropout_inference",
            "Dropout の推論時の出力",
            "Dropout at inference",
            PROBE_INFERENCE,
            score_inference,
            hints=(
                *GENERIC_HINTS,
                "dropout_inference_scaled_by_ratio",
                "dropout_no_inference_scaling",
                "dropout_ratio_swapped",
            ),
        ),
    ),
)
