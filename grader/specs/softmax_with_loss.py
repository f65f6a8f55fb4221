"""3-1-2: softmax, cross-entropy and the SoftmaxWithLoss layer, all declared (``_declare.py``).

``softmax``'s 1-D call is judged (hint ``softmax_1d``) only once the (N, K) batch passes
(``after=``); ``cross_entropy_error`` is one call in two forms of ``t`` (``either=``); the
layer's items check the functions it is built from as ``upstream=``.
"""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._checks import one_hot
from grader.specs._declare import (
    construct,
    declare,
    example,
    function,
    gradient,
    mistake,
    upstream,
)
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference import SoftmaxWithLoss, cross_entropy_error, softmax

C = 4  # classes; the batch size N is drawn from {5, 6, 7} so that N != C


def _batch(rng: np.random.Generator) -> int:
    return int(rng.choice([5, 6, 7]))


# --- softmax ----------------------------------------------------------------------------------


def make_softmax_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ordinary logits, then two rows of logits of size 1e3-1e4 (overflow without max-shift);
    ``x1``: one sample (K,), which the notebook says softmax must take too."""
    small = 2.0 * rng.standard_normal((_batch(rng), C))
    large = rng.uniform(1e3, 1e4, size=(2, C))
    return {"x": np.concatenate([small, large]), "x1": 2.0 * rng.standard_normal(C)}


# --- cross_entropy_error ------------------------------------------------------------------------


def make_ce_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Probabilities, labels ``t`` and the same labels one-hot (``t_onehot``)."""
    n = _batch(rng)
    y, t = softmax(rng.standard_normal((n, C))), rng.integers(0, C, size=n)
    return {"y": y, "t": t, "t_onehot": one_hot(t, C)}


# --- SoftmaxWithLoss ------------------------------------------------------------------------------


def make_swl_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Logits and one-hot targets; ``y_ref`` (the trusted softmax of ``x``) is what the
    student's ``cross_entropy_error`` gets in the upstream check."""
    n = _batch(rng)
    x = 1.5 * rng.standard_normal((n, C))
    return {"x": x, "t": one_hot(rng.integers(0, C, size=n), C), "y_ref": softmax(x)}


def make_swl_backward_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``make_swl_inputs`` plus ``x_other``, a second instance's input."""
    small = make_swl_inputs(rng)
    return {**small, "x_other": 1.5 * rng.standard_normal(small["x"].shape)}


def make_swl_large_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A large batch (``_large.py``: no credit for finite differences)."""
    n, c = LARGE_ROWS, LARGE_COLS
    return {"x": 1.5 * rng.standard_normal((n, c)), "t": one_hot(rng.integers(0, c, size=n), c)}


def swl_loss(x: np.ndarray, t: np.ndarray) -> float:
    return SoftmaxWithLoss().forward(x, t)


def other_dx(x_other: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dx from the other instance's forward: state kept on the class or in a global."""
    other = SoftmaxWithLoss()
    other.forward(x_other, t)
    return other.backward()


# The functions the layer is built from, on this item's inputs: a wrong one is named first
# (tolerances of their own items).
SWL_UPSTREAM = [
    upstream("softmax", "softmax", "x", expect=softmax, tol=1e-8),
    upstream(
        "cross_entropy_error",
        "cross_entropy_error",
        "y_ref",
        "t",
        expect=lambda y_ref, t: cross_entropy_error(y_ref, t),
        tol=1e-4,
    ),
]


ASSIGNMENT = Assignment(
    id="3-1-2_softmax_with_loss",
    order=70,
    title={"ja": "Softmax-with-Loss レイヤ", "en": "The Softmax-with-Loss layer"},
    items=(
        declare(
            "softmax",
            ("softmax 関数 (大きな入力でも安定)", "softmax (stable for large inputs)"),
            points=1,
            # the notebook's 1-D case, softmax(x1) of shape (K,), is reported (with its own
            # hint) only once the (N, K) batch passes
            call=function("softmax", "x", save="y", unchanged=True).then(
                "", "x1", save="y1", after="softmax_1d"
            ),
            solution=softmax,
            inputs=make_softmax_inputs,
            expect={"y": softmax, "y1": lambda x1: softmax(x1)},
            # Same formula, different rounding: textbook and reference forms measure 0 (40
            # seeds).
            tol=1e-8,
            # normalised over the batch axis instead of the classes
            mistakes=[mistake("softmax_axis", y=lambda x: softmax(x.T).T)],
            nonfinite_hint="softmax_overflow",
        ),
        declare(
            "cross_entropy_error",
            ("交差エントロピー誤差", "Cross-entropy error"),
            points=1,
            # one call in both forms of t; either may raise (not both), one right and the
            # other not is label_format
            call=function(
                "cross_entropy_error",
                "y",
                "t_onehot",
                save="loss_onehot",
                unchanged=True,
                either="label_format",
            ).then("", "y", "t", save="loss_int", unchanged=True, either="label_format"),
            solution=cross_entropy_error,
            inputs=make_ce_inputs,
            expect={"loss_onehot": cross_entropy_error, "loss_int": cross_entropy_error},
            # Labels and one-hot forms measure <= 1.5e-16 (40 seeds); a loss without the 1e-7
            # in the log would differ by ~1e-7/y_t <= ~1e-5, still well inside the tolerance.
            tol=1e-4,
            batch_of="y",
        ),
        declare(
            "softmax_with_loss_forward",
            ("SoftmaxWithLoss の順伝播", "SoftmaxWithLoss forward pass"),
            points=1,
            call=construct("SoftmaxWithLoss").then("forward", "x", "t", save="loss"),
            solution=SoftmaxWithLoss,
            inputs=make_swl_inputs,
            expect={"loss": swl_loss},
            # The reference has no 1e-7 in the log; the textbook's log(y + 1e-7) measures
            # <= 2.4e-6 (40 seeds), more for rare tiny y_t, hence 1e-4 (the known mistakes are
            # >= 0.3 away).
            tol=1e-4,
            batch_of="x",
            upstream=SWL_UPSTREAM,
        ),
        declare(
            "softmax_with_loss_backward",
            ("SoftmaxWithLoss の逆伝播", "SoftmaxWithLoss backward pass"),
            points=3,
            call=construct("SoftmaxWithLoss")
            .then("forward", "x", "t")
            .then("forward", "x_other", "t", other=True)  # a second layer
            .then("backward", save="dx"),
            solution=SoftmaxWithLoss,
            inputs=make_swl_backward_inputs,
            expect={"dx": gradient(swl_loss, "x")},
            # (y - t)/N vs central differences of the reference loss: measured <= 1.6e-10 (40
            # seeds, textbook and reference layers).
            tol=1e-6,
            mistakes=[mistake("layer_state_shared", dx=other_dx)],
            batch_of="x",
            upstream=SWL_UPSTREAM,
            large=make_swl_large_inputs,
            # analytic vs analytic: rounding only (the textbook's 1e-7 in the log leaves dx alone)
            large_tol=1e-6,
            # equal scores, first class right: dx = (y - t) / N = [[-1/2, 1/2]]
            examples=[
                example(
                    "例題 3.6 の 2",
                    "worked example 3.6 #2",
                    x=[[3.0, 3.0]],
                    x_other=[[3.0, 3.0]],
                    t=[[1.0, 0.0]],
                )
            ],
        ),
    ),
)
