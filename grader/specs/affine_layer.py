"""3-1-1: the Affine layer ``y = x.reshape(N, -1) @ W + b`` (declared items, ``_declare.py``)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._declare import construct, declare, example, gradient, mistake
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference import Affine

# x is (N, channels, height, width) = (N, 2, 2, 2), as the notebook says: the layer must
# flatten it; N, D = 8 and M = 3 all differ so that transposed or unsummed results show up
# as shape errors.
X_TAIL, M = (2, 2, 2), 3


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = int(rng.choice([5, 6, 7]))
    d = int(np.prod(X_TAIL))
    return {
        "x": rng.standard_normal((n, *X_TAIL)),
        "W": rng.standard_normal((d, M)),
        "b": rng.standard_normal(M),
        "dout": rng.standard_normal((n, M)),
    }


def make_backward_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``make_inputs`` plus ``x_other``, which a second instance's forward gets between the
    first one's forward and backward."""
    inputs = make_inputs(rng)
    return {**inputs, "x_other": rng.standard_normal(inputs["x"].shape)}


def make_large_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A large batch (``_large.py``: no credit for finite differences)."""
    m = 100
    return {
        "x": rng.standard_normal((LARGE_ROWS, LARGE_COLS)),
        "W": rng.standard_normal((LARGE_COLS, m)),
        "b": rng.standard_normal(m),
        "dout": rng.standard_normal((LARGE_ROWS, m)),
    }


def forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return Affine(W, b).forward(x)


# The syllabus's example 3.6 #2: W = I, so Y = X + b and dx = dout, db = [2, 0].
EXAMPLE_X = [[1.0, 3.0], [2.0, -1.0], [0.0, 1.0]]
EXAMPLE = {"x": EXAMPLE_X, "W": np.eye(2), "b": [2.0, 1.0]}
EXAMPLE_LABEL = ("例題 3.6 の 2 (W = I)", "worked example 3.6 #2 (W = I)")


ASSIGNMENT = Assignment(
    id="3-1-1_affine_layer",
    order=60,
    title={"ja": "Affine レイヤ", "en": "The Affine layer"},
    items=(
        declare(
            "affine_forward",
            ("Affine の順伝播", "Affine forward pass"),
            points=1,
            call=construct("Affine", "W", "b").then("forward", "x", save="y"),
            solution=Affine,
            inputs=make_inputs,
            expect={"y": forward},
            # A correct forward differs from the reference only by summation order: measured
            # 0 (40 seeds).
            tol=1e-10,
            examples=[example(*EXAMPLE_LABEL, **EXAMPLE)],
        ),
        declare(
            "affine_backward",
            ("Affine の逆伝播 (dx, dW, db)", "Affine backward pass (dx, dW, db)"),
            points=2,
            call=construct("Affine", "W", "b")
            .then("forward", "x")
            .then("forward", "x_other", other=True)  # a second layer
            .then("backward", "dout", save="dx")
            .attr("dW", save="dW")
            .attr("db", save="db"),
            solution=Affine,
            inputs=make_backward_inputs,
            expect={
                "dx": gradient(forward, "x", dout="dout"),
                "dW": gradient(forward, "W", dout="dout"),
                "db": gradient(forward, "b", dout="dout"),
            },
            # Numeric (h=1e-5) vs analytic gradients of a linear map: measured <= 8.1e-11
            # (40 seeds).
            tol=1e-7,
            mistakes=[
                mistake("bias_grad_not_summed", db=lambda dout: dout),
                # dW from the other instance's x: x kept on the class or in a global, not on self
                mistake(
                    "layer_state_shared",
                    dW=lambda x_other, dout: x_other.reshape(len(dout), -1).T @ dout,
                ),
                mistake("affine_reshape", dx=lambda W, dout: dout @ W.T),
            ],
            batch_of="x",
            large=make_large_inputs,
            large_tol=1e-9,  # analytic vs analytic: rounding only
            examples=[
                example(
                    *EXAMPLE_LABEL,
                    **EXAMPLE,
                    x_other=EXAMPLE_X,
                    dout=[[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]],
                )
            ],
        ),
    ),
)
