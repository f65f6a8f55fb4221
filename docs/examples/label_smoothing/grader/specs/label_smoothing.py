"""3-1-4: SoftmaxWithLoss with label smoothing (the worked example of docs/AUTHORING.md)."""

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._declare import construct, declare, gradient, mistake

C = 4  # classes


class Smoothed:
    """The trusted solution: targets (1 - eps) * one_hot(t) + eps / C, mean cross-entropy."""

    def __init__(self, eps):
        self.eps = eps

    def forward(self, x, t):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        self.q = (1 - self.eps) * np.eye(x.shape[1])[t] + self.eps / x.shape[1]
        return -np.sum(self.q * np.log(self.y)) / len(x)

    def backward(self, dout=1):
        return dout * (self.y - self.q) / len(self.y)


def inputs(rng):
    n = int(rng.choice([5, 6, 7]))  # N != C
    x = 1.5 * rng.standard_normal((n, C))
    return {"x": x, "t": rng.integers(0, C, n), "eps": np.asarray(rng.uniform(0.1, 0.3))}


def loss(x, t, eps):
    return Smoothed(eps).forward(x, t)


def unsmoothed(x, t, eps):
    return Smoothed(0.0).forward(x, t)


FORGOT = mistake(
    "label_smoothing_forgotten",
    ja="ラベル平滑化されていない損失です。目標を (1 - eps) * one_hot + eps / C にしてください。",
    en="This is the loss without smoothing: use the target (1 - eps) * one_hot + eps / C.",
    loss=unsmoothed,
)

ASSIGNMENT = Assignment(
    id="3-1-4_label_smoothing",
    order=85,
    title={"ja": "ラベル平滑化付き Softmax-with-Loss", "en": "Softmax-with-Loss, label smoothing"},
    items=(
        declare(
            "label_smoothing_forward",
            ("ラベル平滑化の順伝播", "Label smoothing: forward"),
            points=1,
            call=construct("SmoothedSoftmaxWithLoss", "eps").then("forward", "x", "t", save="loss"),
            solution=Smoothed,
            inputs=inputs,
            expect={"loss": loss},
            tol=1e-8,
            mistakes=[FORGOT],
            batch_of="x",
        ),
        declare(
            "label_smoothing_backward",
            ("ラベル平滑化の逆伝播", "Label smoothing: backward"),
            points=2,
            call=construct("SmoothedSoftmaxWithLoss", "eps")
            .then("forward", "x", "t")
            .then("backward", save="dx"),
            solution=Smoothed,
            inputs=inputs,
            expect={"dx": gradient(loss, "x")},
            tol=1e-6,
            mistakes=[
                mistake(
                    "label_smoothing_backward_unsmoothed",
                    ja="dx が平滑化前の (y - one_hot(t)) / N です。"
                    "平滑化した目標 q で (y - q) / N です。",
                    en="dx is the unsmoothed (y - one_hot(t)) / N; "
                    "use the smoothed target q: (y - q) / N.",
                    dx=gradient(unsmoothed, "x"),
                ),
            ],
            batch_of="x",
        ),
    ),
)
