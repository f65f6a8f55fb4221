"""L2 / L1 weight penalties (seed 001 section 9).

The penalty is added to the data loss; its gradient to the weight gradients. Only weight
matrices are penalised (keys ``W1, W2, ...`` of a network's ``params``), never biases ``b*``
nor batch-norm ``gamma*`` / ``beta*``.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = [
    "l2_regularization",
    "l1_regularization",
    "weight_keys",
    "regularization_penalty",
    "add_regularization_grads",
]

_WEIGHT_KEY = re.compile(r"W\d*")


def l2_regularization(W: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """``(alpha * sum(W^2), 2 * alpha * W)``: the L2 penalty and its gradient, shape of ``W``."""
    alpha = float(alpha)
    return alpha * float(np.vdot(W, W)), (2.0 * alpha) * W


def l1_regularization(W: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """``(alpha * sum|W|, alpha * sign(W))``: the L1 penalty and its (sub)gradient (0 at 0)."""
    alpha = float(alpha)
    return alpha * float(np.abs(W).sum()), alpha * np.sign(W)


_PENALTIES = {"l2": l2_regularization, "l1": l1_regularization}


def _penalty_fn(kind: str):
    try:
        return _PENALTIES[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {sorted(_PENALTIES)}, got {kind!r}") from None


def weight_keys(params: dict[str, np.ndarray]) -> list[str]:
    """The keys of ``params`` that name weight matrices: ``W`` followed by digits."""
    return [k for k in params if _WEIGHT_KEY.fullmatch(k)]


def regularization_penalty(params: dict[str, np.ndarray], alpha: float, kind: str = "l2") -> float:
    """Sum of the penalty over the weights of ``params`` (``kind`` is ``"l2"`` or ``"l1"``)."""
    fn = _penalty_fn(kind)
    return sum(fn(params[k], alpha)[0] for k in weight_keys(params))


def add_regularization_grads(
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    alpha: float,
    kind: str = "l2",
) -> float:
    """Add the penalty's gradient to ``grads[k]`` in place for every weight key; return the
    total penalty (to add to the data loss)."""
    fn = _penalty_fn(kind)
    total = 0.0
    for k in weight_keys(params):
        if k not in grads:
            raise KeyError(f"grads has no entry for weight {k!r}")
        penalty, grad = fn(params[k], alpha)
        grads[k] += grad
        total += penalty
    return total
