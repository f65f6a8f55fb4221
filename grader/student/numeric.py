"""Numeric helpers shared by the self-checks (students may use them too)."""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences ``(f(x+h) - f(x-h)) / 2h`` per entry of ``x``.

    As in the textbook, ``f`` is called with ``x`` (often ignored: ``lambda _: net.loss(x, t)``);
    ``x`` is changed in place and restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        fp = f(x)
        x[idx] = old - h
        fm = f(x)
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def rel_error(a, b) -> float:
    """``max|a-b| / max(1e-8, max(|a|+|b|))``: the relative error used by every check."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))
