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

from grader.engine.diagnose import GENERIC_HINTS
from grader.engine.hints import get_hint
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, scalar, signed_uniform
from grader.specs._declare import construct, declare, mistake
from reference import Dropout

SHAPE = (200, 250)
Z = 5.0


def make_inputs(rng: np.random.Generator, data: TrustedData | None = None) -> dict[str, np.ndarray]:
    """Non-zero inputs (a dropped unit is exactly 0), p != 0.5 so that swapping p and 1 - p
    shows, a seed for np.random."""
    return {
        "x": signed_uniform(rng, SHAPE, 0.5, 1.5),
        "dout": rng.standard_normal(SHAPE),
        "p": scalar(rng.choice([0.2, 0.3, 0.4])),
        "seed": np.asarray(int(rng.integers(0, 2**31 - 1)), dtype=np.int64),
    }


def make_public_inference_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The self-check's inputs (shipped with the mistakes' outputs, so small): a (10, 50)
    input; the training forward's kept fraction (500 units: 5 standard errors <= 0.11) still
    tells p from 1 - p (>= 0.2 apart)."""
    return {
        "x": signed_uniform(rng, (10, 50), 0.5, 1.5),
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


def _fail(ja: str, en: str, err: float | None, tol: float | None, hint: str | None) -> Verdict:
    return Verdict.fail(
        ja, en, measured_error=err, tolerance=tol, hint=get_hint(hint) if hint else None
    )


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
    return Verdict.ok(measured_error=abs(frac - (1.0 - p)), tolerance=bound)


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


def trained_right(y_train, x, p):
    """The training forward of another instance kept 1 - p of the units (within 5 standard
    errors): a wrong inference scale p is then not a ratio swapped everywhere. Written with
    ``np`` only: the derived self-check runs it from its source."""
    return abs(np.mean(y_train != 0) - (1.0 - p)) <= 5.0 * np.sqrt(p * (1.0 - p) / np.size(x))


class InferenceScaledByRatio(Dropout):  # the right mask, inference scaled by p
    def forward(self, x, train_flg=True):
        return super().forward(x, train_flg) if train_flg else x * self.dropout_ratio


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
        declare(
            "dropout_inference",
            ("Dropout の推論時の出力", "Dropout at inference"),
            points=1,
            # then, seeded, a training forward on another instance: its kept fraction tells a
            # wrong inference scale (p instead of 1 - p) from a ratio swapped everywhere; its
            # failure is not this item's (optional)
            call=construct("Dropout", dropout_ratio="p")
            .then("forward", "x", save="y", train_flg=False)
            .seed("seed")
            .then("forward", "x", True, save="y_train", other=True, optional=True),
            solution=Dropout,
            inputs=make_inputs,
            public_inputs=make_public_inference_inputs,
            expect={"y": lambda x, p: x * (1.0 - p)},
            tol=1e-10,  # x * (1 - p) up to rounding: measured <= 1e-16.
            mistakes=[
                mistake("dropout_no_inference_scaling", y=lambda x: x),
                mistake(
                    "dropout_inference_scaled_by_ratio",
                    code=InferenceScaledByRatio,
                    when=trained_right,
                ),
                mistake("dropout_ratio_swapped", y=lambda x, p: x * p),
            ],
        ),
    ),
)
