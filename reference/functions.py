"""Activation functions, losses and numeric-gradient helpers (trusted reference).

Conventions shared by every module of ``reference``:

* a batch is the first axis, ``N = x.shape[0]``; a 1-D input to a loss is a batch of one;
* floating inputs keep their dtype (float32 in, float32 out); integer inputs are promoted to
  float64;
* losses return a Python ``float`` averaged over the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "sigmoid",
    "relu",
    "tanh",
    "softmax",
    "cross_entropy_error",
    "numerical_gradient",
    "rel_error",
]

CROSS_ENTROPY_DELTA = 1e-7  # added inside the log so that log(0) never happens


def _as_float_array(x) -> np.ndarray:
    """``x`` as an ndarray, floating dtypes kept, everything else promoted to float64."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return x


def sigmoid(x) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, element-wise, any shape.

    ``exp(-x)`` overflows to ``inf`` for ``x < -710`` (float64); ``1 / inf = 0`` is the right
    limit, so the overflow warning is silenced rather than the value clipped.
    """
    x = _as_float_array(x)
    with np.errstate(over="ignore"):
        out = np.exp(-x)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def relu(x) -> np.ndarray:
    """Rectified linear unit ``max(0, x)``, element-wise, any shape."""
    x = _as_float_array(x)
    return np.maximum(x, 0)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent, element-wise, any shape."""
    return np.tanh(_as_float_array(x))


def softmax(x) -> np.ndarray:
    """Softmax along the last axis: ``y_k = exp(x_k - max x) / sum_j exp(x_j - max x)``.

    Shapes: ``(C,) -> (C,)`` or ``(N, C) -> (N, C)`` (row-wise; any leading axes work the same
    way). Subtracting the row maximum leaves the result unchanged and keeps ``exp`` finite, so
    logits of size 1e4 do not overflow.
    """
    x = _as_float_array(x)
    if x.ndim == 0:
        raise ValueError("softmax expects at least a 1-D array of scores, got a scalar")
    out = x - x.max(axis=-1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def cross_entropy_error(y, t) -> float:
    """Mean cross-entropy ``-(1/N) sum_n sum_k t_nk log(y_nk + 1e-7)``.

    Shapes: ``y`` is ``(N, C)`` (probabilities, e.g. softmax output) or ``(C,)`` (a batch of
    one). ``t`` is either the same shape as ``y`` (one-hot or any target distribution) or
    integer class labels of shape ``(N,)`` (or a scalar / ``(1,)`` for a 1-D ``y``), in which
    case the loss is ``-(1/N) sum_n log(y[n, t_n] + 1e-7)``. Both forms give the same value for
    the same data.
    """
    y = _as_float_array(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.size == y.size else t.reshape(1)
    if y.ndim != 2:
        raise ValueError(f"cross_entropy_error expects y of shape (N, C) or (C,), got {y.shape}")
    n = y.shape[0]
    if t.shape == y.shape:
        return float(-np.vdot(t, np.log(y + CROSS_ENTROPY_DELTA)) / n)
    labels = _check_labels(t, y.shape)
    return float(-np.sum(np.log(y[np.arange(n), labels] + CROSS_ENTROPY_DELTA)) / n)


def _check_labels(t: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Validate integer labels ``t`` of shape ``(N,)`` for scores of shape ``(N, C)``."""
    n, c = shape
    if t.shape != (n,):
        raise ValueError(
            f"t must be one-hot with shape {shape} or integer labels with shape ({n},), "
            f"got shape {t.shape}"
        )
    if not np.issubdtype(t.dtype, np.integer):
        raise TypeError(f"integer class labels expected, got dtype {t.dtype}")
    if n and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"class labels must lie in [0, {c - 1}], got [{t.min()}, {t.max()}]")
    return t


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5):
    """Central-difference gradient ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` for every entry i.

    As in the textbook, ``f`` is called with ``x`` itself (often ignored, e.g.
    ``lambda _: net.loss(x_batch, t)`` where ``x`` is a parameter array the network holds by
    reference); ``x`` is modified in place, one entry at a time, and restored afterwards.
    Works for any ``ndim``. Returns a float64 array of the shape of ``x``.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            "numerical_gradient needs a floating ndarray it can modify in place, got "
            f"{type(x).__name__} with dtype {getattr(x, 'dtype', None)}"
        )
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        old = x[idx].copy()
        x[idx] = old + h
        f_plus = float(f(x))
        x[idx] = old - h
        f_minus = float(f(x))
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
        it.iternext()
    return grad


def rel_error(a, b) -> float:
    """Relative error ``max|a - b| / max(1e-8, max(|a| + |b|))`` of two same-shape arrays.

    Shapes that differ give ``inf``; empty arrays give 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))
