"""Plotting helpers for the notebooks (Matplotlib only; every function calls ``plt.show()``).

* ``plot_history(history)``: learning curves, one line per key (e.g. train/test loss).
* ``plot_decision_boundary(predict, x, t)``: class regions of a 2-D classifier and the data.
* ``plot_regression_1d(predict, x, t)``: a 1-D regression fit over its data.
* ``plot_graph(edges, labels, edge_labels)``: a computational graph as a picture.
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


def _graph_layers(edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Each node's column: the length of the longest path reaching it (inputs at 0)."""
    nodes = list(dict.fromkeys(n for edge in edges for n in edge))
    depth = dict.fromkeys(nodes, 0)
    for _ in nodes:  # longest paths in a DAG: relax every edge |nodes| times
        for src, dst in edges:
            depth[dst] = max(depth[dst], depth[src] + 1)
    return depth


def plot_graph(
    edges: Sequence[tuple[str, str]],
    labels: Mapping[str, str] | None = None,
    edge_labels: Mapping[tuple[str, str], str] | None = None,
    title: str | None = None,
    ax=None,  # noqa: ANN001 - a Matplotlib Axes
):
    """Draw a computational graph as a picture: ``edges`` are ``(from, to)`` pairs of node
    names, laid out left (inputs) to right (output); ``labels`` the text in a node (default
    its name), ``edge_labels`` the text on an arrow (a value, a local derivative). Draws into
    ``ax`` when given, else into a new figure that it shows."""
    plt = _plt()
    depth = _graph_layers(edges)
    columns: dict[int, list[str]] = {}
    for node, d in depth.items():
        columns.setdefault(d, []).append(node)
    where = {
        node: (d, (len(col) - 1) / 2 - i)
        for d, col in columns.items()
        for i, node in enumerate(col)
    }
    own_figure = ax is None
    if own_figure:
        width = 2.4 * (max(columns) + 1)
        height = 1.3 * max(len(col) for col in columns.values()) + 0.6
        _, ax = plt.subplots(figsize=(width, height))
    boxes = {
        node: ax.text(
            x,
            y,
            (labels or {}).get(node, node),
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.4", "fc": "#e8f0fb", "ec": "#4a6fa5"},
        )
        for node, (x, y) in where.items()
    }
    for src, dst in edges:  # from the right edge of one box to the left edge of the next
        ax.annotate(
            "",
            xy=(0.0, 0.5),
            xycoords=boxes[dst],
            xytext=(1.0, 0.5),
            textcoords=boxes[src],
            arrowprops={"arrowstyle": "-|>", "color": "#555", "shrinkA": 4, "shrinkB": 4},
        )
        text = (edge_labels or {}).get((src, dst))
        if text:
            (x0, y0), (x1, y1) = where[src], where[dst]
            ax.text(
                (x0 + x1) / 2, (y0 + y1) / 2 + 0.12, text, ha="center", fontsize=9, color="#a33"
            )
    ax.set_xlim(-0.6, max(columns) + 0.6)
    spread = max(len(col) for col in columns.values())
    ax.set_ylim(-spread / 2 - 0.3, spread / 2 + 0.3)
    ax.axis("off")
    if title:
        ax.set_title(title)
    if own_figure:
        plt.show()
