"""3-1-3: Sigmoid, Relu, SquaredErrorLoss and SigmoidWithLoss layers (declared items)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._checks import signed_uniform
from grader.specs._declare import construct, declare, gradient, mistake
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference import Relu, Sigmoid, SigmoidWithLoss, SquaredErrorLoss

D = 3  # features; the batch size is drawn from {5, 6, 7}
LARGE = (
    LARGE_ROWS,
    LARGE_COLS,
)  # the large check (``_large.py``: no credit for finite differences)


def _batch(rng: np.random.Generator) -> int:
    return int(rng.choice([5, 6, 7]))


def _other_backward(cls, dout=None, **forward_inputs) -> np.ndarray:
    """backward using the state of the *other* instance's forward (class attributes or
    globals instead of ``self``)."""
    other = cls()
    other.forward(*forward_inputs.values())
    return other.backward() if dout is None else other.backward(dout)


# --- activations: forward y and backward dx for a random upstream gradient -------------------


def activation_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs bounded away from 0 (no ReLU kink within the numeric step) and random dout;
    ``x_other`` goes through a second instance between forward and backward."""
    n = _batch(rng)
    return {
        "x": 2.0 * signed_uniform(rng, (n, D), 0.05, 1.5),
        "dout": rng.standard_normal((n, D)),
        "x_other": 2.0 * signed_uniform(rng, (n, D), 0.05, 1.5),
    }


def large_activation_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"x": 2.0 * signed_uniform(rng, LARGE, 0.05, 1.5), "dout": rng.standard_normal(LARGE)}


def activation(item_id: str, title: tuple[str, str], cls, mistakes) -> object:
    """A second instance runs forward between the first one's forward and backward, as in a
    network with two such layers: backward must use what its own forward stored."""
    forward = lambda x: cls().forward(x)  # noqa: E731
    shared = mistake(
        "layer_state_shared", dx=lambda x_other, dout: _other_backward(cls, dout, x=x_other)
    )
    return declare(
        item_id,
        title,
        points=2,
        call=construct(cls.__name__)
        .then("forward", "x", save="y")
        .then("forward", "x_other", other=True)
        .then("backward", "dout", save="dx"),
        solution=cls,
        inputs=activation_inputs,
        expect={"y": forward, "dx": gradient(forward, "x", dout="dout")},
        tol=1e-7,  # Sigmoid <= 1.6e-10, ReLU (away from the kink) <= 3.7e-11 (40 seeds)
        mistakes=[shared, *mistakes],
        large=large_activation_inputs,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return Sigmoid().forward(x)


# --- losses: value and backward() (dout defaults to 1) -------------------------------------


def squared_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Predictions and targets; ``y_other``, ``t_other`` go through a second instance."""
    n = _batch(rng)
    y, t = rng.standard_normal((n, D)), rng.standard_normal((n, D))
    return {"y": y, "t": t, "y_other": rng.standard_normal((n, D)), "t_other": t.copy()}


def squared_loss(y: np.ndarray, t: np.ndarray) -> float:
    return SquaredErrorLoss().forward(y, t)


def sigmoid_loss_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Logits and 0/1 targets, both (N, 1); ``x_other`` goes through a second instance."""
    n = _batch(rng)
    t = rng.integers(0, 2, size=(n, 1)).astype(np.float64)
    return {
        "x": 2.0 * rng.standard_normal((n, 1)),
        "t": t,
        "x_other": 2.0 * rng.standard_normal((n, 1)),
    }


def sigmoid_loss(x: np.ndarray, t: np.ndarray) -> float:
    return SigmoidWithLoss().forward(x, t)


ASSIGNMENT = Assignment(
    id="3-1-3_other_layers",
    order=80,
    title={"ja": "その他のレイヤ", "en": "Other layers"},
    items=(
        activation(
            "sigmoid_layer",
            ("Sigmoid レイヤ (順伝播・逆伝播)", "Sigmoid layer (forward and backward)"),
            Sigmoid,
            [
                mistake("sigmoid_derivative", dx=lambda x, dout: dout * _sigmoid(x)),
                mistake("sigmoid_derivative", dx=lambda x, dout: dout * (1 - _sigmoid(x))),
            ],
        ),
        activation(
            "relu_layer",
            ("ReLU レイヤ (順伝播・逆伝播)", "ReLU layer (forward and backward)"),
            Relu,
            [mistake("relu_mask", dx=lambda x, dout: dout * (x <= 0))],
        ),
        declare(
            "squared_error_loss",
            ("二乗誤差レイヤ", "Squared-error loss layer"),
            points=2,
            call=construct("SquaredErrorLoss")
            .then("forward", "y", "t", save="loss")
            .then("forward", "y_other", "t_other", other=True)
            .then("backward", save="dy"),
            solution=SquaredErrorLoss,
            inputs=squared_inputs,
            expect={"loss": squared_loss, "dy": gradient(squared_loss, "y")},
            # Quadratic loss: central differences are exact up to rounding, measured <= 5e-11
            # (40 seeds).
            tol=1e-7,
            mistakes=[
                mistake(  # the 1/2 forgotten in the loss changes both outputs by 2
                    "missing_half_factor",
                    loss=lambda y, t: 2 * squared_loss(y, t),
                    dy=lambda y, t: 2 * (y - t) / len(y),
                ),
                mistake(
                    "layer_state_shared",
                    dy=lambda y_other, t_other: _other_backward(
                        SquaredErrorLoss, y=y_other, t=t_other
                    ),
                ),
            ],
            batch_of="y",
            factor_two=True,
            large=lambda rng: {"y": rng.standard_normal(LARGE), "t": rng.standard_normal(LARGE)},
        ),
        declare(
            "sigmoid_with_loss",
            ("Sigmoid-with-Loss レイヤ", "Sigmoid-with-Loss layer"),
            points=2,
            call=construct("SigmoidWithLoss")
            .then("forward", "x", "t", save="loss")
            .then("forward", "x_other", "t", other=True)
            .then("backward", save="dx"),
            solution=SigmoidWithLoss,
            inputs=sigmoid_loss_inputs,
            expect={"loss": sigmoid_loss, "dx": gradient(sigmoid_loss, "x")},
            # The reference uses the stable log form; the textbook's log(y + 1e-7) measures
            # <= 2.3e-6 for the loss (40 seeds; ~1e-7/y, more for rare tiny y), the gradient
            # <= 6e-11.
            tol=1e-4,
            mistakes=[
                mistake(
                    "layer_state_shared",
                    dx=lambda x_other, t: _other_backward(SigmoidWithLoss, x=x_other, t=t),
                )
            ],
            batch_of="x",
            large=lambda rng: {
                "x": 2.0 * rng.standard_normal((LARGE_ROWS * LARGE_COLS, 1)),
                "t": rng.integers(0, 2, (LARGE_ROWS * LARGE_COLS, 1)) * 1.0,
            },
        ),
    ),
)
