"""Small seeded data sets for the two-layer-network notebooks (2-2-1 … 2-2-3).

Every function draws from its own ``np.random.default_rng(seed)``, so the same seed always gives
the same arrays, and returns ``(x_train, t_train), (x_test, t_test)`` as float64 arrays
(integer class labels for the spiral unless ``one_hot=True``). Train and test come from the same
distribution and are drawn independently.
"""

from __future__ import annotations

import numpy as np

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _check_sizes(n_train: int, n_test: int, noise: float) -> None:
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")


def make_sine(n_train: int = 200, n_test: int = 100, noise: float = 0.1, seed: int = 0) -> Split:
    """Noisy sine regression: ``x ~ U(0, 2*pi)``, ``t = sin(x) + noise * N(0, 1)``.

    Shapes: ``x`` (N, 1), ``t`` (N, 1). The test targets carry the same noise, so the best
    achievable mean squared error is about ``noise**2``.
    """
    _check_sizes(n_train, n_test, noise)
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1))
        return x, np.sin(x) + noise * rng.standard_normal((n, 1))

    return draw(n_train), draw(n_test)


def make_moons(n_train: int = 400, n_test: int = 200, noise: float = 0.15, seed: int = 0) -> Split:
    """Two interleaving half circles, binary classification.

    Class 0: ``(cos s, sin s)``, class 1: ``(1 - cos s, 0.5 - sin s)`` with ``s ~ U(0, pi)``,
    plus Gaussian noise of std ``noise``; classes are balanced (up to one sample).
    Shapes: ``x`` (N, 2), ``t`` (N, 1) with values 0.0 / 1.0 (the targets of SigmoidWithLoss).
    """
    _check_sizes(n_train, n_test, noise)
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = (np.arange(n) % 2).astype(np.float64)
        rng.shuffle(t)
        s = rng.uniform(0.0, np.pi, size=n)
        x = np.where(
            t[:, None] == 0,
            np.stack([np.cos(s), np.sin(s)], axis=1),
            np.stack([1.0 - np.cos(s), 0.5 - np.sin(s)], axis=1),
        )
        x += noise * rng.standard_normal((n, 2))
        return x, t.reshape(n, 1)

    return draw(n_train), draw(n_test)


def make_spiral(
    n_train: int = 300,
    n_test: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
    one_hot: bool = False,
) -> Split:
    """``n_classes`` interleaved spiral arms in the plane, multi-class classification.

    A point of class ``k`` at radius ``r ~ U(0, 1)`` has angle
    ``theta = 4 r + 2 pi k / K + noise * N(0, 1)`` and position ``r (sin theta, cos theta)``.
    Shapes: ``x`` (N, 2); ``t`` int64 labels (N,) in ``0..K-1``, or float (N, K) one-hot rows
    when ``one_hot``. Classes are balanced (up to one sample).
    """
    _check_sizes(n_train, n_test, noise)
    if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(n) % n_classes
        rng.shuffle(t)
        r = rng.uniform(0.0, 1.0, size=n)
        theta = 4.0 * r + 2.0 * np.pi * t / n_classes + noise * rng.standard_normal(n)
        x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
        labels = np.eye(n_classes)[t] if one_hot else t.astype(np.int64)
        return x, labels

    return draw(n_train), draw(n_test)
