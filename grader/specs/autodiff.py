"""2-1: hand-derived gradients on computational graphs (declared items)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._declare import declare, example, function, gradient
from grader.specs._large import LARGE_COLS, LARGE_ROWS

LARGE_M = 100  # output width of the large matmul: dY is (LARGE_ROWS, LARGE_M)


# --- matmul_backward: Y = X @ W, upstream dY ------------------------------------------------


def matmul_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """N, D, M all different (N in {5, 6, 7}, D = 4, M = 3) so transposes change the shape."""
    n = int(rng.choice([5, 6, 7]))
    return {
        "X": rng.standard_normal((n, 4)),
        "W": rng.standard_normal((4, 3)),
        "dY": rng.standard_normal((n, 3)),
    }


def matmul_large(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The large check (``_large.py``: no credit for finite differences)."""
    return {
        "X": rng.standard_normal((LARGE_ROWS, LARGE_COLS)),
        "W": rng.standard_normal((LARGE_COLS, LARGE_M)),
        "dY": rng.standard_normal((LARGE_ROWS, LARGE_M)),
    }


def matmul(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    return X @ W


def matmul_backward(X: np.ndarray, W: np.ndarray, dY: np.ndarray):
    return dY @ W.T, X.T @ dY


# --- square_graph_backward: z = (a*x - y)**2, element-wise -----------------------------------


def square(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Element-wise: d(sum z)/d(entry) is the local derivative (``gradient`` sums)."""
    return (a * x - y) ** 2


def square_graph_backward(a: np.ndarray, x: np.ndarray, y: np.ndarray):
    r = 2 * (a * x - y)
    return r * x, r * a, -r


ASSIGNMENT = Assignment(
    id="2-1_autodiff",
    order=10,
    title={
        "ja": "計算グラフと自動微分",
        "en": "Computational graphs and automatic differentiation",
    },
    items=(
        declare(
            "matmul_backward",
            ("行列積 Y = X W の逆伝播", "Backward pass of Y = X W"),
            points=2,
            call=function("matmul_backward", "X", "W", "dY", save=("dX", "dW"), unchanged=True),
            solution=matmul_backward,
            inputs=matmul_inputs,
            expect={
                "dX": gradient(matmul, "X", dout="dY"),
                "dW": gradient(matmul, "W", dout="dY"),
            },
            tol=1e-7,  # bilinear map, central differences exact up to rounding: <= 4e-11
            batch_of="X",
            large=matmul_large,
            examples=[  # dX = [[4, 3, 4]], dW = [[4, 2], [-2, -1], [2, 1]]
                example(
                    "例題 3.6 の 1",
                    "worked example 3.6 #1",
                    X=[[2.0, -1.0, 1.0]],
                    W=[[2.0, 0.0], [1.0, 1.0], [0.0, 4.0]],
                    dY=[[2.0, 1.0]],
                )
            ],
        ),
        declare(
            "square_graph_backward",
            ("z = (a x - y)^2 の偏微分", "Partial derivatives of z = (a x - y)^2"),
            points=1,
            call=function(
                "square_graph_backward",
                "a",
                "x",
                "y",
                save=("dz_da", "dz_dx", "dz_dy"),
                unchanged=True,
            ),
            solution=square_graph_backward,
            inputs=lambda rng: {k: rng.standard_normal(6) for k in ("a", "x", "y")},
            expect={
                "dz_da": gradient(square, "a"),
                "dz_dx": gradient(square, "x"),
                "dz_dy": gradient(square, "y"),
            },
            tol=1e-7,  # quadratic: central differences exact up to rounding, <= 3e-11
            factor_two=True,
            large=lambda rng: {k: rng.standard_normal(LARGE_ROWS * LARGE_COLS) for k in "axy"},
        ),
    ),
)
