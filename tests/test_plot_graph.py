"""``plot_graph`` draws a computational graph as a picture: one box per node, one arrow per
edge, inputs in the first column and the output in the last."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402

from grader.student.plotting import plot_graph  # noqa: E402


def test_boxes_arrows_and_columns():
    edges = [("a", "mul"), ("x", "mul"), ("mul", "sub"), ("y", "sub"), ("sub", "square")]
    fig, ax = plt.subplots()
    plot_graph(edges, labels={"square": "z = t²"}, edge_labels={("a", "mul"): "x"}, ax=ax)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    texts = [t for t in ax.texts if not isinstance(t, Annotation)]
    boxes = {t.get_text(): t for t in texts if t.get_bbox_patch() is not None}
    assert set(boxes) == {"a", "x", "y", "mul", "sub", "z = t²"}
    assert len(arrows) == len(edges)
    assert [t.get_text() for t in texts if t.get_bbox_patch() is None] == ["x"]  # edge label
    column = {name: box.get_position()[0] for name, box in boxes.items()}
    assert column["a"] == column["x"] == column["y"] == 0  # inputs first
    assert column["mul"] == 1 and column["sub"] == 2 and column["z = t²"] == 3
    plt.close(fig)
