"""2-10: L2 / L1 penalties and their gradients; the regularised network's MNIST accuracy.

The L2 item also looks at the notebook's ungraded ``weight_penalty(params, alpha, reg) ->
(total penalty, {weight key: grad})`` when it is defined: called on a trusted ``params`` dict
(W1, b1, W2, b2) with a plain L2 ``reg``, its outputs are compared with the weights-only penalty
and with the "biases included" one. A match with the latter adds the ``bias_regularized`` hint
to the item's message; it costs no points, because the notebook tells students that
``weight_penalty`` is not graded directly.
"""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS, Mistake, find_mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import (
    SAVED_ARGUMENTS,
    compare,
    keep_arguments,
    mnist_accuracy_item,
    modified_argument,
    scalar,
    signed_uniform,
)
from grader.specs._declare import declare, function, mistake
from reference import l1_regularization, l2_regularization


def weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights away from 0 (sign(W) is then unambiguous), alpha in [0.01, 0.5]."""
    return {"W": signed_uniform(rng, (5, 4), 0.05, 2.0), "alpha": scalar(rng.uniform(0.01, 0.5))}


# Keys of the trusted params dict handed to ``weight_penalty`` (inputs are named "wp_<key>").
WP_WEIGHTS = ("W1", "W2")
WP_BIASES = ("b1", "b2")
_WP_SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}


def make_inputs_l2(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """``weights`` (same W, alpha for a seed) plus a params dict for ``weight_penalty``:
    W1 (4, 3), b1 (3,), W2 (3, 2), b2 (2,), every entry of magnitude in [0.5, 1.5], so the
    biases' share of the penalty (about 5/23 of it) is far from the diagnosis tolerance."""
    inputs = weights(rng)
    for key, shape in _WP_SHAPES.items():
        inputs[f"wp_{key}"] = signed_uniform(rng, shape, 0.5, 1.5)
    return inputs


PROBE = (
    "import numpy as _np\n"
    + keep_arguments("W")
    + """_pen, _grad = {fn}(_args["W"], float(inp["alpha"]))
out["penalty"] = _np.array(_pen, dtype=_np.float64)
out["grad"] = _np.array(_grad, dtype=_np.float64)
"""
    + SAVED_ARGUMENTS
)

# Runs after PROBE in the L2 item. ``weight_penalty`` is optional (older notebooks lack it) and
# ungraded: any failure of it leaves its outputs out instead of failing the item. The ``reg``
# passed is a plain L2 defined here, so the check does not depend on the student's own L2.
PROBE_WEIGHT_PENALTY = """
try:
    _wp = weight_penalty
except NameError:
    _wp = None
if callable(_wp):
    def _wp_l2(W, alpha):
        return alpha * _np.sum(W * W), 2 * alpha * W
    try:
        _wp_pen, _wp_grads = _wp(
            {_k[3:]: _v.copy() for _k, _v in inp.items() if _k.startswith("wp_")},
            float(inp["alpha"]),
            _wp_l2,
        )
        out["wp_penalty"] = _np.array(_wp_pen, dtype=_np.float64)
        for _k in ("b1", "b2"):
            if _k in _wp_grads:
                out["wp_grad_" + _k] = _np.array(_wp_grads[_k], dtype=_np.float64)
    except Exception:
        pass
"""


def _expected(fn, i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    penalty, grad = fn(i["W"].copy(), float(i["alpha"]))
    return {"penalty": np.asarray(penalty, dtype=np.float64), "grad": grad}


def bias_penalty_mistakes(inputs: dict[str, np.ndarray]) -> list[Mistake]:
    """What a ``weight_penalty`` that also regularises the biases returns on the trusted
    params with L2: the total ``alpha * sum over W1, b1, W2, b2 of sum(p**2)`` (output
    ``wp_penalty``), or a bias gradient ``2 * alpha * b`` (outputs ``wp_grad_b1``, ...)."""
    a = float(inputs["alpha"])
    params = {k: inputs[f"wp_{k}"] for k in _WP_SHAPES}
    total = a * sum(float(np.sum(p**2)) for p in params.values())
    out = [Mistake("bias_regularized", {"wp_penalty": np.asarray(total)})]
    out += [Mistake("bias_regularized", {f"wp_grad_{b}": 2 * a * params[b]}) for b in WP_BIASES]
    return out


def _weight_penalty_outputs(ctx: ScoreContext) -> dict[str, np.ndarray]:
    """The optional ``wp_*`` outputs that are numeric arrays (anything else is ignored: the
    function is ungraded), the penalty reshaped to ``()`` when it has one element."""
    got = {}
    for name, a in ctx.outputs.items():
        if name.startswith("wp_") and isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
            got[name] = a.astype(np.float64)
    if "wp_penalty" in got and got["wp_penalty"].size == 1:
        got["wp_penalty"] = got["wp_penalty"].reshape(())
    return got


def score_l2(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    W, a = i["W"], float(i["alpha"])
    mistakes = [
        Mistake("l2_half_convention", {"penalty": np.asarray(0.5 * a * np.sum(W**2))}),
        Mistake("l2_missing_factor_2", {"grad": a * W}),
    ]
    changed = modified_argument(ctx, ("W",))
    if changed is not None:
        return changed
    # Same formula up to rounding: measured <= 2e-16.
    verdict = compare(ctx, _expected(l2_regularization, i), tol=1e-10, mistakes=mistakes)
    if not verdict.passed or "wp_b1" not in i:
        return verdict  # an L2 mistake's own hint comes first
    hint = find_mistake(_weight_penalty_outputs(ctx), bias_penalty_mistakes(i))
    if hint is None:
        return verdict
    # Full marks (weight_penalty is ungraded, the notebook says so) but the hint goes into the
    # message: the engine shows a Verdict's hint only on failed items.
    return Verdict(
        1.0,
        verdict.measured_error,
        verdict.tolerance,
        {
            "ja": f"正解です。ただし weight_penalty (採点対象外) について: {hint.ja}",
            "en": f"Correct. About weight_penalty (not graded): {hint.en}",
        },
        hint,
    )


ASSIGNMENT = Assignment(
    id="2-10_regularization",
    order=160,
    title={"ja": "正則化", "en": "Regularisation"},
    items=(
        Item(
            id="l2_regularization",
            title={"ja": "L2 正則化 (ペナルティと勾配)", "en": "L2 penalty and gradient"},
            points=1,
            probe=PROBE.replace("{fn}", "l2_regularization") + PROBE_WEIGHT_PENALTY,
            make_inputs=make_inputs_l2,
            score=score_l2,
            hints=(
                *GENERIC_HINTS,
                "argument_modified",
                "bias_regularized",
                "l2_half_convention",
                "l2_missing_factor_2",
            ),
        ),
        declare(
            "l1_regularization",
            ("L1 正則化 (ペナルティと勾配)", "L1 penalty and gradient"),
            points=1,
            call=function(
                "l1_regularization", "W", "alpha", save=("penalty", "grad"), unchanged=True
            ),
            solution=l1_regularization,
            inputs=weights,
            expect={
                "penalty": lambda W, alpha: l1_regularization(W, alpha)[0],
                "grad": lambda W, alpha: l1_regularization(W, alpha)[1],
            },
            tol=1e-10,  # Same formula up to rounding: measured <= 2e-16.
            mistakes=[mistake("l1_gradient_sign", grad=lambda W, alpha: alpha * W)],
            own_selfcheck=True,  # grader/student/checks/regularization.py
        ),
        mnist_accuracy_item("mnist_accuracy_2_10", floor=0.88, threshold=0.96),
    ),
    notebook_timeout=900.0,
    cell_timeout=600.0,
    uses_mnist=True,
)
