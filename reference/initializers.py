"""Weight initialisers: each returns an array of shape ``(n_in, n_out)``.

``rng``: an ``np.random.Generator`` for reproducible draws; ``None`` draws from the global
``np.random`` state (``np.random.randn`` / ``np.random.uniform``, as the notebooks do).
``dtype``: float64 by default; pass ``np.float32`` to build float32 networks.
Biases are not drawn here: they start at zero (``np.zeros(n_out)``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["std_normal", "he_normal", "glorot_normal", "glorot_uniform"]


def _check_sizes(n_in: int, n_out: int) -> None:
    for name, n in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")


def _normal(n_in: int, n_out: int, std: float, rng: np.random.Generator | None, dtype):
    _check_sizes(n_in, n_out)
    if rng is None:
        w = std * np.random.randn(n_in, n_out)
    else:
        w = std * rng.standard_normal((n_in, n_out))
    return w.astype(dtype, copy=False)


def std_normal(
    n_in: int,
    n_out: int,
    std: float = 0.01,
    rng: np.random.Generator | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """``W ~ N(0, std^2)`` with a fixed ``std`` (the plain initialisation of notebook 2-6)."""
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    return _normal(n_in, n_out, float(std), rng, dtype)


def he_normal(
    n_in: int, n_out: int, rng: np.random.Generator | None = None, dtype=np.float64
) -> np.ndarray:
    """He initialisation for ReLU layers: ``W ~ N(0, 2 / n_in)``, i.e. ``std = sqrt(2 / n_in)``."""
    _check_sizes(n_in, n_out)
    return _normal(n_in, n_out, math.sqrt(2.0 / n_in), rng, dtype)


def glorot_normal(
    n_in: int, n_out: int, rng: np.random.Generator | None = None, dtype=np.float64
) -> np.ndarray:
    """Glorot (Xavier) normal: ``W ~ N(0, 2 / (n_in + n_out))``."""
    _check_sizes(n_in, n_out)
    return _normal(n_in, n_out, math.sqrt(2.0 / (n_in + n_out)), rng, dtype)


def glorot_uniform(
    n_in: int, n_out: int, rng: np.random.Generator | None = None, dtype=np.float64
) -> np.ndarray:
    """Glorot (Xavier) uniform: ``W ~ U(-a, a)`` with ``a = sqrt(6 / (n_in + n_out))``.

    Its variance ``a^2 / 3 = 2 / (n_in + n_out)`` equals that of :func:`glorot_normal`.
    """
    _check_sizes(n_in, n_out)
    limit = math.sqrt(6.0 / (n_in + n_out))
    if rng is None:
        w = np.random.uniform(-limit, limit, size=(n_in, n_out))
    else:
        w = rng.uniform(-limit, limit, size=(n_in, n_out))
    return w.astype(dtype, copy=False)
