"""2-1: hand-derived gradients on computational graphs."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import (
    SAVED_ARGUMENTS,
    compare,
    keep_arguments,
    layer_numeric_grads,
    modified_argument,
)
from grader.specs._large import LARGE_COLS, LARGE_ROWS, large_verdict, timed

LARGE_M = 100  # output width of the large matmul: dY is (LARGE_ROWS, LARGE_M)

# --- matmul_backward: Y = X @ W, upstream dY ------------------------------------------------


def make_matmul_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """N, D, M all different (N in {5, 6, 7}, D = 4, M = 3) so transposes change the shape."""
    n = int(rng.choice([5, 6, 7]))
    return {
        "X": rng.standard_normal((n, 4)),
        "W": rng.standard_normal((4, 3)),
        "dY": rng.standard_normal((n, 3)),
        # large (``_large.py``: no credit for finite differences)
        "large_X": rng.standard_normal((LARGE_ROWS, LARGE_COLS)),
        "large_W": rng.standard_normal((LARGE_COLS, LARGE_M)),
        "large_dY": rng.standard_normal((LARGE_ROWS, LARGE_M)),
    }


PROBE_MATMUL = (
    "import numpy as _np\n"
    + keep_arguments("X", "W", "dY")
    + """_dX, _dW = matmul_backward(_args["X"], _args["W"], _args["dY"])
out["dX"] = _np.array(_dX, dtype=_np.float64)
out["dW"] = _np.array(_dW, dtype=_np.float64)
"""
    + SAVED_ARGUMENTS
) + timed("""
_dX, _dW = matmul_backward(inp["large_X"].copy(), inp["large_W"].copy(), inp["large_dY"].copy())
out["large_dX"] = _np.array(_dX, dtype=_np.float64)
out["large_dW"] = _np.array(_dW, dtype=_np.float64)
""")


def score_matmul(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    g = layer_numeric_grads(lambda X, W: X @ W, {"X": i["X"], "W": i["W"]}, i["dY"], ("X", "W"))
    # Bilinear map, central differences exact up to rounding: measured <= 4e-11.
    small = modified_argument(ctx, ("X", "W", "dY")) or compare(
        ctx, {"dX": g["X"], "dW": g["W"]}, tol=1e-7, batch_size=len(i["X"])
    )
    X, W, dY = i["large_X"], i["large_W"], i["large_dY"]
    # analytic vs analytic: summation order only
    return large_verdict(ctx, small, {"large_dX": dY @ W.T, "large_dW": X.T @ dY}, tol=1e-9)


# --- square_graph_backward: z = (a*x - y)**2, element-wise -----------------------------------


def make_square_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    small = {k: rng.standard_normal(6) for k in ("a", "x", "y")}
    large = {f"large_{k}": rng.standard_normal(LARGE_ROWS * LARGE_COLS) for k in ("a", "x", "y")}
    return {**small, **large}


PROBE_SQUARE = (
    "import numpy as _np\n"
    + keep_arguments("a", "x", "y")
    + """_g = square_graph_backward(_args["a"], _args["x"], _args["y"])
out["dz_da"] = _np.array(_g[0], dtype=_np.float64)
out["dz_dx"] = _np.array(_g[1], dtype=_np.float64)
out["dz_dy"] = _np.array(_g[2], dtype=_np.float64)
"""
    + SAVED_ARGUMENTS
) + timed("""
_g = square_graph_backward(inp["large_a"].copy(), inp["large_x"].copy(), inp["large_y"].copy())
for _k, _v in zip(("large_dz_da", "large_dz_dx", "large_dz_dy"), _g):
    out[_k] = _np.array(_v, dtype=_np.float64)
""")


def score_square(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    z = lambda a, x, y: (a * x - y) ** 2
    ones = np.ones_like(i["a"])  # element-wise graph: d(sum z)/d(entry) is the local derivative
    g = layer_numeric_grads(z, {k: i[k] for k in ("a", "x", "y")}, ones, ("a", "x", "y"))
    expected = {"dz_da": g["a"], "dz_dx": g["x"], "dz_dy": g["y"]}
    # Quadratic: central differences exact up to rounding, measured <= 3e-11.
    small = modified_argument(ctx, ("a", "x", "y")) or compare(
        ctx, expected, tol=1e-7, factor_two=True
    )
    a, x, y = i["large_a"], i["large_x"], i["large_y"]
    r = 2 * (a * x - y)
    return large_verdict(
        ctx, small, {"large_dz_da": r * x, "large_dz_dx": r * a, "large_dz_dy": -r}, tol=1e-9
    )


ASSIGNMENT = Assignment(
    id="2-1_autodiff",
    order=10,
    title={
        "ja": "計算グラフと自動微分",
        "en": "Computational graphs and automatic differentiation",
    },
    items=(
        Item(
            id="matmul_backward",
            title={"ja": "行列積 Y = X W の逆伝播", "en": "Backward pass of Y = X W"},
            points=2,
            probe=PROBE_MATMUL,
            make_inputs=make_matmul_inputs,
            score=score_matmul,
            hints=(*GENERIC_HINTS, "argument_modified"),
        ),
        Item(
            id="square_graph_backward",
            title={
                "ja": "z = (a x - y)^2 の偏微分",
                "en": "Partial derivatives of z = (a x - y)^2",
            },
            points=1,
            probe=PROBE_SQUARE,
            make_inputs=make_square_inputs,
            score=score_square,
            hints=(*GENERIC_HINTS, "argument_modified"),
        ),
    ),
)
