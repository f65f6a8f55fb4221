"""Plotting helpers for the notebooks (Matplotlib only; every function calls ``plt.show()``).

* ``plot_history(history)``: learning curves, one line per key (e.g. train/test loss).
* ``plot_decision_boundary(predict, x, t)``: class regions of a 2-D classifier and the data.
* ``plot_regression_1d(predict, x, t)``: a 1-D regression fit over its data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np


def _plt():
    import matplotlib.pyplot as plt  # imported lazily: the checks never need Matplotlib

    return plt


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str | None = None,
    logy: bool = False,
    show: bool = True,
):
    """One line per entry of ``history`` (``{"train loss": [...], "test loss": [...]}``).

    Returns the Matplotlib axes (shown and closed when ``show``).
    """
    if not history:
        raise ValueError("history is empty: nothing to plot")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), np.asarray(values, dtype=float), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if show:
        plt.show()
    return ax


def _labels(t: np.ndarray) -> np.ndarray:
    """Integer labels from (N,), (N, 1) 0/1 targets or (N, K) one-hot rows."""
    t = np.asarray(t)
    if t.ndim == 2 and t.shape[1] > 1:
        return t.argmax(axis=1)
    return t.reshape(-1).round().astype(int)


def _classes(scores: np.ndarray) -> np.ndarray:
    """Predicted classes from (N, 1) probabilities or (N, K) scores."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    return (scores.reshape(-1) > 0.5).astype(int)


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    resolution: int = 200,
    title: str | None = None,
    show: bool = True,
):
    """Colour the plane by ``predict``'s class and scatter the points ``x`` (N, 2) by ``t``.

    ``predict`` maps (M, 2) points to (M, 1) probabilities or (M, K) class scores.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2), got {x.shape}")
    plt = _plt()
    pad = 0.5
    (x0, y0), (x1, y1) = x.min(axis=0) - pad, x.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    zone = _classes(predict(grid)).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(gx, gy, zone, alpha=0.25, cmap="viridis")
    ax.scatter(x[:, 0], x[:, 1], c=_labels(t), s=12, cmap="viridis", edgecolors="k", linewidths=0.3)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    if show:
        plt.show()
    return ax


def plot_regression_1d(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    t: np.ndarray,
    *,
    truth: Callable[[np.ndarray], np.ndarray] | None = None,
    title: str | None = None,
    show: bool = True,
):
    """Scatter the data ``x`` (N, 1), ``t`` (N, 1) and draw ``predict`` (and ``truth``) over it."""
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    plt = _plt()
    grid = np.linspace(x.min(), x.max(), 300).reshape(-1, 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x[:, 0], np.asarray(t).reshape(-1), s=8, alpha=0.5, label="data")
    ax.plot(grid[:, 0], np.asarray(predict(grid)).reshape(-1), color="C3", label="network")
    if truth is not None:
        ax.plot(grid[:, 0], truth(grid).reshape(-1), "--", color="k", label="truth")
    ax.legend()
    if title:
        ax.set_title(title)
    if show:
        plt.show()
    return ax
