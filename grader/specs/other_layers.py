"""3-1-3: Sigmoid, Relu, SquaredErrorLoss and SigmoidWithLoss layers."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS, Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads, signed_uniform
from grader.specs._large import LARGE_COLS, LARGE_ROWS, large_verdict, timed
from reference import Relu, Sigmoid, SigmoidWithLoss, SquaredErrorLoss

D = 3  # features; the batch size is drawn from {5, 6, 7}


def _batch(rng: np.random.Generator) -> int:
    return int(rng.choice([5, 6, 7]))


# --- activations: forward y and backward dx for a random upstream gradient -------------------


def make_activation_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Inputs bounded away from 0 (no ReLU kink within the numeric step) and random dout;
    ``x_other`` goes through a second instance between forward and backward."""
    n = _batch(rng)
    return {
        "x": 2.0 * signed_uniform(rng, (n, D), 0.05, 1.5),
        "dout": rng.standard_normal((n, D)),
        "x_other": 2.0 * signed_uniform(rng, (n, D), 0.05, 1.5),
    }


# A second instance runs forward between the first one's forward and backward, as in a
# network with two such layers: backward must use what its own forward stored.
PROBE_ACTIVATION = """
import numpy as _np
_layer = {cls}()
out["y"] = _np.array(_layer.forward(inp["x"].copy()), dtype=_np.float64)
{cls}().forward(inp["x_other"].copy())
out["dx"] = _np.array(_layer.backward(inp["dout"].copy()), dtype=_np.float64)
"""


def _activation_expected(cls, i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    fwd = lambda x: cls().forward(x)
    dx = layer_numeric_grads(fwd, {"x": i["x"]}, i["dout"], wrt=("x",))["x"]
    return {"y": fwd(i["x"].copy()), "dx": dx}


def shared_state_mistake(cls, i: dict[str, np.ndarray]) -> Mistake:
    """backward using the state of the *other* instance's forward (class attributes or
    globals instead of ``self``)."""
    other = cls()
    other.forward(i["x_other"].copy())
    return Mistake("layer_state_shared", {"dx": other.backward(i["dout"].copy())})


def score_sigmoid(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    y = Sigmoid().forward(i["x"].copy())
    mistakes = [
        shared_state_mistake(Sigmoid, i),
        Mistake("sigmoid_derivative", {"dx": i["dout"] * y}),
        Mistake("sigmoid_derivative", {"dx": i["dout"] * (1 - y)}),
    ]
    # Smooth function, numeric step 1e-5: measured <= 1.6e-10 (40 seeds).
    return compare(ctx, _activation_expected(Sigmoid, i), tol=1e-7, mistakes=mistakes)


def score_relu(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    mistakes = [
        shared_state_mistake(Relu, i),
        Mistake("relu_mask", {"dx": i["dout"] * (i["x"] <= 0)}),
    ]
    # Piecewise linear away from the kink: measured <= 3.7e-11 (40 seeds).
    return compare(ctx, _activation_expected(Relu, i), tol=1e-7, mistakes=mistakes)


# --- losses: value and backward() (dout defaults to 1) -------------------------------------


def make_squared_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Predictions and targets; ``y_other``, ``t_other`` go through a second instance."""
    n = _batch(rng)
    y, t = rng.standard_normal((n, D)), rng.standard_normal((n, D))
    return {"y": y, "t": t, "y_other": rng.standard_normal((n, D)), "t_other": t.copy()}


PROBE_SQUARED = """
import numpy as _np
_layer = SquaredErrorLoss()
out["loss"] = _np.array(_layer.forward(inp["y"].copy(), inp["t"].copy()), dtype=_np.float64)
SquaredErrorLoss().forward(inp["y_other"].copy(), inp["t_other"].copy())
out["dy"] = _np.array(_layer.backward(), dtype=_np.float64)
"""


def score_squared(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    loss = lambda y, t: SquaredErrorLoss().forward(y, t)
    dy = layer_numeric_grads(loss, {"y": i["y"], "t": i["t"]}, None, wrt=("y",))["y"]
    expected = {"loss": np.asarray(loss(i["y"], i["t"])), "dy": dy}
    other = SquaredErrorLoss()
    other.forward(i["y_other"].copy(), i["t_other"].copy())
    mistakes = [  # the 1/2 forgotten in the loss changes both outputs by 2
        Mistake("missing_half_factor", {"loss": 2 * expected["loss"], "dy": 2 * dy}),
        Mistake("layer_state_shared", {"dy": other.backward()}),
    ]
    # Quadratic loss: central differences are exact up to rounding, measured <= 5e-11 (40 seeds).
    return compare(
        ctx, expected, tol=1e-7, mistakes=mistakes, batch_size=len(i["y"]), factor_two=True
    )


def make_sigmoid_loss_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """Logits and 0/1 targets, both (N, 1); ``x_other`` goes through a second instance."""
    n = _batch(rng)
    t = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    return {
        "x": 2.0 * rng.standard_normal((n, 1)),
        "t": t,
        "x_other": 2.0 * rng.standard_normal((n, 1)),
    }


PROBE_SIGMOID_LOSS = """
import numpy as _np
_layer = SigmoidWithLoss()
out["loss"] = _np.array(_layer.forward(inp["x"].copy(), inp["t"].copy()), dtype=_np.float64)
SigmoidWithLoss().forward(inp["x_other"].copy(), inp["t"].copy())
out["dx"] = _np.array(_layer.backward(), dtype=_np.float64)
"""


def score_sigmoid_loss(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    loss = lambda x, t: SigmoidWithLoss().forward(x, t)
    dx = layer_numeric_grads(loss, {"x": i["x"], "t": i["t"]}, None, wrt=("x",))["x"]
    expected = {"loss": np.asarray(loss(i["x"], i["t"])), "dx": dx}
    other = SigmoidWithLoss()
    other.forward(i["x_other"].copy(), i["t"].copy())
    mistakes = [Mistake("layer_state_shared", {"dx": other.backward()})]
    # The reference uses the stable log form; the textbook's log(y + 1e-7) measures <= 2.3e-6
    # for the loss (40 seeds; ~1e-7/y, more for rare tiny y), the gradient <= 6e-11.
    return compare(ctx, expected, tol=1e-4, mistakes=mistakes, batch_size=len(i["x"]))


# --- the large check (``_large.py``: no credit for finite differences) ----------------------

LARGE_SHAPE = {  # per item: the large input's shape (SigmoidWithLoss keeps its single column)
    "sigmoid_layer": (LARGE_ROWS, LARGE_COLS),
    "relu_layer": (LARGE_ROWS, LARGE_COLS),
    "squared_error_loss": (LARGE_ROWS, LARGE_COLS),
    "sigmoid_with_loss": (LARGE_ROWS * LARGE_COLS, 1),
}


def _large_inputs(item_id: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    shape = LARGE_SHAPE[item_id]
    if item_id in ("sigmoid_layer", "relu_layer"):
        x = 2.0 * signed_uniform(rng, shape, 0.05, 1.5)
        arrays = {"x": x, "dout": rng.standard_normal(shape)}
    elif item_id == "squared_error_loss":
        arrays = {"y": rng.standard_normal(shape), "t": rng.standard_normal(shape)}
    else:
        arrays = {"x": 2.0 * rng.standard_normal(shape), "t": rng.integers(0, 2, shape) * 1.0}
    return {"large_" + k: v for k, v in arrays.items()}


def _large_expected(item_id: str, i: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The reference layer's analytic backward on the large input."""
    if item_id in ("sigmoid_layer", "relu_layer"):
        layer = (Sigmoid if item_id == "sigmoid_layer" else Relu)()
        layer.forward(i["large_x"].copy())
        return {"large_dx": layer.backward(i["large_dout"].copy())}
    if item_id == "squared_error_loss":
        layer = SquaredErrorLoss()
        layer.forward(i["large_y"].copy(), i["large_t"].copy())
        return {"large_dy": layer.backward(1)}
    layer = SigmoidWithLoss()
    layer.forward(i["large_x"].copy(), i["large_t"].copy())
    return {"large_dx": layer.backward(1)}


def _large_probe(probe: str) -> str:
    """The same calls on the large input, under the alarm."""
    body = probe.replace("import numpy as _np\n", "")
    body = "".join(line for line in body.splitlines(True) if "_other" not in line)
    return timed(body.replace('inp["', 'inp["large_').replace('out["', 'out["large_'))


def _item(item_id: str, ja: str, en: str, probe: str, make, score, hints: tuple[str, ...]) -> Item:
    def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
        return {**make(rng, data), **_large_inputs(item_id, rng)}

    def score_both(ctx: ScoreContext) -> Verdict:
        small = score(ctx)
        # analytic vs analytic: rounding only
        return large_verdict(ctx, small, _large_expected(item_id, ctx.inputs), tol=1e-9)

    return Item(
        id=item_id,
        title={"ja": ja, "en": en},
        points=2,
        probe=probe + _large_probe(probe),
        make_inputs=make_inputs,
        score=score_both,
        hints=hints,
    )


ASSIGNMENT = Assignment(
    id="3-1-3_other_layers",
    order=80,
    title={"ja": "その他のレイヤ", "en": "Other layers"},
    items=(
        _item(
            "sigmoid_layer",
            "Sigmoid レイヤ (順伝播・逆伝播)",
            "Sigmoid layer (forward and backward)",
            PROBE_ACTIVATION.format(cls="Sigmoid"),
            make_activation_inputs,
            score_sigmoid,
            hints=(*GENERIC_HINTS, "layer_state_shared", "sigmoid_derivative"),
        ),
        _item(
            "relu_layer",
            "ReLU レイヤ (順伝播・逆伝播)",
            "ReLU layer (forward and backward)",
            PROBE_ACTIVATION.format(cls="Relu"),
            make_activation_inputs,
            score_relu,
            hints=(*GENERIC_HINTS, "layer_state_shared", "relu_mask"),
        ),
        _item(
            "squared_error_loss",
            "二乗誤差レイヤ",
            "Squared-error loss layer",
            PROBE_SQUARED,
            make_squared_inputs,
            score_squared,
            hints=(*GENERIC_HINTS, "layer_state_shared"),
        ),
        _item(
            "sigmoid_with_loss",
            "Sigmoid-with-Loss レイヤ",
            "Sigmoid-with-Loss layer",
            PROBE_SIGMOID_LOSS,
            make_sigmoid_loss_inputs,
            score_sigmoid_loss,
            hints=(*GENERIC_HINTS, "layer_state_shared"),
        ),
    ),
)
