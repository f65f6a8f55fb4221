"""3-1-1: the Affine layer ``y = x.reshape(N, -1) @ W + b``."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS, Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads
from grader.specs._large import LARGE_COLS, LARGE_ROWS, large_verdict, timed
from reference import Affine

# x is (N, channels, height, width) = (N, 2, 2, 2), as the notebook says: the layer must
# flatten it; N, D = 8 and M = 3 all differ so that transposed or unsummed results show up
# as shape errors.
X_TAIL, M = (2, 2, 2), 3


def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    n = int(rng.choice([5, 6, 7]))
    d = int(np.prod(X_TAIL))
    return {
        "x": rng.standard_normal((n, *X_TAIL)),
        "W": rng.standard_normal((d, M)),
        "b": rng.standard_normal(M),
        "dout": rng.standard_normal((n, M)),
    }


def make_backward_inputs_small(rng: np.random.Generator, data: TrustedData):
    """``make_inputs`` plus ``x_other``, which a second instance's forward gets between the
    first one's forward and backward."""
    inputs = make_inputs(rng, data)
    return {**inputs, "x_other": rng.standard_normal(inputs["x"].shape)}


def make_backward_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """The small inputs plus a large batch (``_large.py``: no credit for finite differences)."""
    m = 100
    return {
        **make_backward_inputs_small(rng, data),
        "large_x": rng.standard_normal((LARGE_ROWS, LARGE_COLS)),
        "large_W": rng.standard_normal((LARGE_COLS, m)),
        "large_b": rng.standard_normal(m),
        "large_dout": rng.standard_normal((LARGE_ROWS, m)),
    }


def _forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    return Affine(W, b).forward(x)


PROBE_FORWARD = """
import numpy as _np
_layer = Affine(inp["W"].copy(), inp["b"].copy())
out["y"] = _np.array(_layer.forward(inp["x"].copy()), dtype=_np.float64)
"""


def score_forward(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    # A correct forward differs from the reference only by summation order: measured 0 (40 seeds).
    return compare(ctx, {"y": _forward(i["x"], i["W"], i["b"])}, tol=1e-10)


PROBE_BACKWARD = """
import numpy as _np
_layer = Affine(inp["W"].copy(), inp["b"].copy())
_layer.forward(inp["x"].copy())
Affine(inp["W"].copy(), inp["b"].copy()).forward(inp["x_other"].copy())  # a second layer
out["dx"] = _np.array(_layer.backward(inp["dout"].copy()), dtype=_np.float64)
out["dW"] = _np.array(_layer.dW, dtype=_np.float64)
out["db"] = _np.array(_layer.db, dtype=_np.float64)
""" + timed("""
_layer = Affine(inp["large_W"].copy(), inp["large_b"].copy())
_layer.forward(inp["large_x"].copy())
out["large_dx"] = _np.array(_layer.backward(inp["large_dout"].copy()), dtype=_np.float64)
out["large_dW"] = _np.array(_layer.dW, dtype=_np.float64)
out["large_db"] = _np.array(_layer.db, dtype=_np.float64)
""")


def score_backward(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    expected = layer_numeric_grads(
        _forward, {k: i[k] for k in ("x", "W", "b")}, i["dout"], wrt=("x", "W", "b")
    )
    expected = {"dx": expected["x"], "dW": expected["W"], "db": expected["b"]}
    n = i["x"].shape[0]
    mistakes = [
        Mistake("bias_grad_not_summed", {"db": i["dout"]}),
        # dW from the other instance's x: x kept on the class or in a global, not on self
        Mistake("layer_state_shared", {"dW": i["x_other"].reshape(n, -1).T @ i["dout"]}),
        Mistake("affine_reshape", {"dx": expected["dx"].reshape(n, -1)}),
    ]
    # Numeric (h=1e-5) vs analytic gradients of a linear map: measured <= 8.1e-11 (40 seeds).
    small = compare(ctx, expected, tol=1e-7, mistakes=mistakes, batch_size=n)
    ref = Affine(i["large_W"].copy(), i["large_b"].copy())
    ref.forward(i["large_x"].copy())
    large = {"large_dx": ref.backward(i["large_dout"].copy()), "large_dW": ref.dW}
    large["large_db"] = ref.db
    return large_verdict(ctx, small, large, tol=1e-9)  # analytic vs analytic: rounding only


ASSIGNMENT = Assignment(
    id="3-1-1_affine_layer",
    order=60,
    title={"ja": "Affine レイヤ", "en": "The Affine layer"},
    items=(
        Item(
            id="affine_forward",
            title={"ja": "Affine の順伝播", "en": "Affine forward pass"},
            points=1,
            probe=PROBE_FORWARD,
            make_inputs=make_inputs,
            score=score_forward,
            hints=GENERIC_HINTS,
        ),
        Item(
            id="affine_backward",
            title={"ja": "Affine の逆伝播 (dx, dW, db)", "en": "Affine backward pass (dx, dW, db)"},
            points=2,
            probe=PROBE_BACKWARD,
            make_inputs=make_backward_inputs,
            score=score_backward,
            hints=(*GENERIC_HINTS, "affine_reshape", "bias_grad_not_summed", "layer_state_shared"),
        ),
    ),
)
