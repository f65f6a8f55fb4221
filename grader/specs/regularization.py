"""2-10: L2 / L1 penalties and their gradients; the regularised network's MNIST accuracy."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, mnist_accuracy_item, scalar, signed_uniform
from reference import l1_regularization, l2_regularization


def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Weights away from 0 (sign(W) is then unambiguous), alpha in [0.01, 0.5]."""
    return {"W": signed_uniform(rng, (5, 4), 0.05, 2.0), "alpha": scalar(rng.uniform(0.01, 0.5))}


PROBE = """
import numpy as _np
_pen, _grad = {fn}(inp["W"].copy(), float(inp["alpha"]))
out["penalty"] = _np.asarray(_pen, dtype=_np.float64)
out["grad"] = _np.asarray(_grad, dtype=_np.float64)
"""


def _expected(fn, i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    penalty, grad = fn(i["W"].copy(), float(i["alpha"]))
    return {"penalty": np.asarray(penalty, dtype=np.float64), "grad": grad}


def score_l2(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    W, a = i["W"], float(i["alpha"])
    mistakes = [
        Mistake("l2_half_convention", {"penalty": np.asarray(0.5 * a * np.sum(W**2))}),
        Mistake("l2_missing_factor_2", {"grad": a * W}),
    ]
    # Same formula up to rounding: measured <= 2e-16.
    return compare(ctx, _expected(l2_regularization, i), tol=1e-10, mistakes=mistakes)


def score_l1(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    W, a = i["W"], float(i["alpha"])
    mistakes = [Mistake("l1_gradient_sign", {"grad": a * W})]
    # Same formula up to rounding: measured <= 2e-16.
    return compare(ctx, _expected(l1_regularization, i), tol=1e-10, mistakes=mistakes)


ASSIGNMENT = Assignment(
    id="2-10_regularization",
    title={"ja": "正則化", "en": "Regularisation"},
    items=(
        Item(
            id="l2_regularization",
            title={"ja": "L2 正則化 (ペナルティと勾配)", "en": "L2 penalty and gradient"},
            points=1,
            probe=PROBE.format(fn="l2_regularization"),
            make_inputs=make_inputs,
            score=score_l2,
        ),
        Item(
            id="l1_regularization",
            title={"ja": "L1 正則化 (ペナルティと勾配)", "en": "L1 penalty and gradient"},
            points=1,
            probe=PROBE.format(fn="l1_regularization"),
            make_inputs=make_inputs,
            score=score_l1,
        ),
        mnist_accuracy_item("mnist_accuracy_2_10", floor=0.88, threshold=0.96),
    ),
    notebook_timeout=900.0,
    cell_timeout=600.0,
    uses_mnist=True,
)
