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

from grader.engine.spec import Assignment
from grader.specs._checks import (
    mnist_accuracy_item,
    scalar,
    signed_uniform,
)
from grader.specs._declare import declare, dict_of, function, mistake, trusted
from reference import l1_regularization, l2_regularization


def weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Weights away from 0 (sign(W) is then unambiguous), alpha in [0.01, 0.5]."""
    return {"W": signed_uniform(rng, (5, 4), 0.05, 2.0), "alpha": scalar(rng.uniform(0.01, 0.5))}


# The trusted params dict handed to ``weight_penalty`` (inputs are named "wp_<key>").
_WP_SHAPES = {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}


def make_inputs_l2(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``weights`` (same W, alpha for a seed) plus a params dict for ``weight_penalty``:
    W1 (4, 3), b1 (3,), W2 (3, 2), b2 (2,), every entry of magnitude in [0.5, 1.5], so the
    biases' share of the penalty (about 5/23 of it) is far from the diagnosis tolerance."""
    inputs = weights(rng)
    for key, shape in _WP_SHAPES.items():
        inputs[f"wp_{key}"] = signed_uniform(rng, shape, 0.5, 1.5)
    return inputs


def plain_l2(W, alpha):  # the reg weight_penalty gets: the grader's, not the student's L2
    return alpha * np.sum(W * W), 2 * alpha * W


def penalty_with_biases(alpha, wp_W1, wp_b1, wp_W2, wp_b2) -> float:
    """What a ``weight_penalty`` that also regularises the biases returns with L2."""
    return alpha * sum(float(np.sum(p**2)) for p in (wp_W1, wp_b1, wp_W2, wp_b2))


ASSIGNMENT = Assignment(
    id="2-10_regularization",
    order=160,
    title={"ja": "正則化", "en": "Regularisation"},
    items=(
        declare(
            "l2_regularization",
            ("L2 正則化 (ペナルティと勾配)", "L2 penalty and gradient"),
            points=1,
            call=function(
                "l2_regularization", "W", "alpha", save=("penalty", "grad"), unchanged=True
            ).also(  # optional (older notebooks lack it) and ungraded: a failure is dropped
                "weight_penalty",
                dict_of(W1="wp_W1", b1="wp_b1", W2="wp_W2", b2="wp_b2"),
                "alpha",
                trusted(plain_l2),
                save=("wp_penalty", {"b1": "wp_grad_b1", "b2": "wp_grad_b2"}),
                optional=True,
            ),
            solution=l2_regularization,
            inputs=make_inputs_l2,
            expect={
                "penalty": lambda W, alpha: l2_regularization(W, alpha)[0],
                "grad": lambda W, alpha: l2_regularization(W, alpha)[1],
            },
            tol=1e-10,  # Same formula up to rounding: measured <= 2e-16.
            mistakes=[
                mistake("l2_half_convention", penalty=lambda W, alpha: 0.5 * alpha * np.sum(W**2)),
                mistake("l2_missing_factor_2", grad=lambda W, alpha: alpha * W),
            ],
            # "biases included": full marks (weight_penalty is ungraded, the notebook says so)
            # but the hint goes into the message
            warnings=[
                mistake("bias_regularized", wp_penalty=penalty_with_biases),
                mistake("bias_regularized", wp_grad_b1=lambda alpha, wp_b1: 2 * alpha * wp_b1),
                mistake("bias_regularized", wp_grad_b2=lambda alpha, wp_b2: 2 * alpha * wp_b2),
            ],
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
        ),
        mnist_accuracy_item("mnist_accuracy_2_10", floor=0.88, threshold=0.96),
    ),
    notebook_timeout=900.0,
    cell_timeout=600.0,
    uses_mnist=True,
)
