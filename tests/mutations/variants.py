"""Correct and buggy implementations of every graded item, as namespaces for the probes.

``CORRECT[item_id]``: namespaces that must earn full marks (the reference written
differently: einsum, in-place, textbook forms, integer vs one-hot handling, eps placement).
``BUGGY[item_id]``: ``(name, namespace, expected hint id or None)`` for known mistakes that
must lose the item's points (and show the hint when one is given).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import reference as R
from reference.networks import MultiLayerNet, TwoLayerNet

NS = dict[str, Any]


# --- 2-1 ---


def matmul_backward(X, W, dY):
    return dY @ W.T, X.T @ dY


def matmul_backward_einsum(X, W, dY):
    return np.einsum("nm,dm->nd", dY, W), np.einsum("nd,nm->dm", X, dY)


def square_graph_backward(a, x, y):
    u = a * x - y
    return 2 * u * x, 2 * u * a, -2 * u


def square_graph_backward_chain(a, x, y):  # node by node, as on the graph
    u = a * x - y
    dz_du = 2 * u
    return dz_du * x, dz_du * a, dz_du * -1.0


# --- layers written differently ---


class AffineTextbook:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx.reshape(*self.original_x_shape)


class AffineEinsum(AffineTextbook):
    def backward(self, dout):
        self.dW = np.einsum("nd,nm->dm", self.x, dout)
        self.db = np.einsum("nm->m", dout)
        return np.einsum("nm,dm->nd", dout, self.W).reshape(self.original_x_shape)


def _affine_bug(dx=None, dW=None, db=None):
    class Bug(AffineTextbook):
        def backward(self, dout):
            good = AffineTextbook.backward(self, dout)
            n = dout.shape[0]
            out = {"dx": good, "dW": self.dW, "db": self.db}
            if dx:
                out["dx"] = dx(self, dout, good)
            if dW:
                self.dW = dW(self, dout, n)
            if db:
                self.db = db(self, dout, n)
            return out["dx"]

    return Bug


def softmax_textbook(x):  # the textbook's transposing form
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T
    x = x - np.max(x)
    return np.exp(x) / np.sum(np.exp(x))


def softmax_rows_only(x):  # ported code written for (N, K) only: axis=1
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def softmax_flat_1d(x):  # (K,) handled, but normalised over the whole array
    if x.ndim == 1:
        e = np.exp(x - x.max())
        return e / e.sum() * 2
    return softmax_textbook(x)


def softmax_where_shift(x):  # correct: the shift through np.where, 1-D via a (1, K) view
    x2 = x.reshape(1, -1) if x.ndim == 1 else x
    m = np.max(x2, axis=1, keepdims=True)
    e = np.exp(np.where(np.isfinite(m), x2 - m, 0.0))
    return (e / e.sum(axis=1, keepdims=True)).reshape(x.shape)


def softmax_naive(x):
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is the point of this variant
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)


def softmax_columns(x):
    e = np.exp(x - x.max(axis=0))
    return e / e.sum(axis=0)


def ce_textbook(y, t):  # one-hot converted to labels, 1e-7 inside the log
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


def ce_onehot_form(y, t):  # labels converted to one-hot
    if t.ndim == 1:
        t = np.eye(y.shape[1])[t]
    return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]


def ce_onehot_only(y, t):
    return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]


def ce_no_mean(y, t):
    return ce_onehot_form(y, t) * y.shape[0]


class SWLTextbook:
    def forward(self, x, t):
        self.t = t
        self.y = softmax_textbook(x)
        self.loss = ce_textbook(self.y, t)
        return self.loss

    def backward(self, dout=1):
        n = self.t.shape[0]
        if self.t.size == self.y.size:
            return (self.y - self.t) / n
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx / n


def notebook_swl(softmax_fn, ce_fn) -> NS:
    """The notebook's layer, whose given forward calls the notebook's own ``softmax`` and
    ``cross_entropy_error`` (here ``softmax_fn`` and ``ce_fn``), with those functions."""

    class Layer(SWLTextbook):
        def forward(self, x, t):
            self.t = t
            self.y = softmax_fn(x)
            self.loss = ce_fn(self.y, t)
            return self.loss

    return {"SoftmaxWithLoss": Layer, "softmax": softmax_fn, "cross_entropy_error": ce_fn}


class SWLNoMean(SWLTextbook):
    def forward(self, x, t):
        return SWLTextbook.forward(self, x, t) * x.shape[0]

    def backward(self, dout=1):
        return self.y - self.t


class SWLIndexesWithT(SWLTextbook):  # backward written for labels only: fails on one-hot t
    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        return dx * dout / n


class SWLClassState(SWLTextbook):  # y and t kept on the class
    def forward(self, x, t):
        type(self).t = t
        type(self).y = softmax_textbook(x)
        return ce_textbook(type(self).y, t)


class SWLSignFlip(SWLTextbook):
    def backward(self, dout=1):
        return (self.t - self.y) / self.t.shape[0]


class SWLNaive(SWLTextbook):
    def forward(self, x, t):
        self.t = t
        self.y = softmax_naive(x)
        return -np.sum(t * np.log(self.y)) / x.shape[0]


class SigmoidOut:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class SigmoidFromX:  # recomputes sigmoid from x in backward
    def forward(self, x):
        self.x = x
        return 1 / (1 + np.exp(-x))

    def backward(self, dout):
        s = 1 / (1 + np.exp(-self.x))
        return dout * s * (1 - s)


class SigmoidDerivY(SigmoidOut):
    def backward(self, dout):
        return dout * self.out


class SigmoidDerivX(SigmoidFromX):  # uses x instead of y: x (1 - x)
    def backward(self, dout):
        return dout * self.x * (1 - self.x)


class ReluTextbook:
    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # in place, as the textbook does
        return dout


class ReluWhere:
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0.0)

    def backward(self, dout):
        return np.where(self.x > 0, dout, 0.0)


class ReluInPlaceReuse:
    """Another course's style: forward zeroes its input in place and returns that array;
    backward turns the same array into the 0/1 derivative in place (so the forward output is
    overwritten once backward runs)."""

    def forward(self, x):
        np.maximum(x, 0, out=x)
        self.out = x
        return x

    def backward(self, dout):
        d = self.out
        d[d > 0] = 1.0
        d *= dout
        return d


class ReluMaximum:
    def forward(self, x):
        self.pos = (x > 0).astype(np.float32)  # extra state in another dtype
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self.pos


class SigmoidInPlaceReuse:
    """Forward writes the sigmoid into its input array and keeps it; backward overwrites that
    array with the local derivative y (1 - y) in place."""

    def forward(self, x):
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1.0
        np.reciprocal(x, out=x)
        self.out = x
        return x

    def backward(self, dout):
        y = self.out
        y *= 1.0 - y
        y *= dout
        return y


class ReluClassMask:
    """Keeps the mask on the class: a second Relu's forward overwrites the first one's."""

    mask = None

    def forward(self, x):
        type(self).mask = x <= 0
        return np.where(x > 0, x, 0.0)

    def backward(self, dout):
        return np.where(type(self).mask, 0.0, dout)


_SIGMOID_OUT: dict[str, np.ndarray] = {}


class SigmoidGlobalOut:
    """Keeps its output in a module-level dict shared by every instance."""

    def forward(self, x):
        _SIGMOID_OUT["y"] = 1 / (1 + np.exp(-x))
        return _SIGMOID_OUT["y"]

    def backward(self, dout):
        y = _SIGMOID_OUT["y"]
        return dout * y * (1 - y)


class AffineClassX(AffineTextbook):
    """Stores the flattened input on the class instead of the instance."""

    def forward(self, x):
        type(self).x = x.reshape(x.shape[0], -1)
        self.original_x_shape = x.shape
        return type(self).x @ self.W + self.b


class ReluMaskInverted(ReluWhere):
    def backward(self, dout):
        return np.where(self.x > 0, 0.0, dout)


class ReluBackwardIdentity(ReluWhere):
    def backward(self, dout):
        return dout


class SquaredTextbook:
    def forward(self, y, t):
        self.y, self.t = y, t
        return 0.5 * np.sum((y - t) ** 2) / y.shape[0]

    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.y.shape[0]


class SquaredNoHalf(SquaredTextbook):
    def forward(self, y, t):
        return 2 * SquaredTextbook.forward(self, y, t)

    def backward(self, dout=1):
        return 2 * SquaredTextbook.backward(self, dout)


class SquaredNoMean(SquaredTextbook):
    def forward(self, y, t):
        return SquaredTextbook.forward(self, y, t) * y.shape[0]

    def backward(self, dout=1):
        return self.y - self.t


class SigmoidLossDelta:  # textbook style: sigmoid then log(y + 1e-7)
    def forward(self, x, t):
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        y = self.y
        return -np.sum(t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7)) / x.shape[0]

    def backward(self, dout=1):
        return dout * (self.y - self.t) / self.t.shape[0]


def _ce_labels(y, t):  # the second volume's cross_entropy_error
    if y.ndim == 1:
        t, y = t.reshape(1, t.size), y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n


class SigmoidLossTwoColumns:  # ported: loss through a two-column softmax-style CE, t as labels
    def forward(self, x, t):
        self.t = t
        self.y = 1 / (1 + np.exp(-x))
        return _ce_labels(np.c_[1 - self.y, self.y], self.t)

    def backward(self, dout=1):
        return (self.y - self.t) * dout / self.t.shape[0]


class AffineFlatOnly(AffineTextbook):  # ported code that handles 2-D input only
    def forward(self, x):
        self.x = x
        self.original_x_shape = x.shape
        return np.dot(x, self.W) + self.b


class AffineInPlaceBias(AffineTextbook):  # correct: bias added in place, dx a reshaped view
    def forward(self, x, train_flg=None):
        self.original_x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        out = self.x @ self.W
        out += self.b
        return out

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return np.dot(dout, self.W.T).reshape(self.original_x_shape)


class SquaredInPlace:  # correct: keeps y - t and turns it into the gradient in place
    def forward(self, y, t):
        self.diff = y - t
        return 0.5 * float(np.sum(self.diff**2)) / len(y)

    def backward(self, dout=1):
        self.diff *= dout / len(self.diff)
        return self.diff


class SigmoidLossFlat:  # correct: works on flattened x, t and reshapes dx back
    def forward(self, x, t):
        self.shape = x.shape
        self.t = np.asarray(t, dtype=np.float64).reshape(-1)
        self.y = 1 / (1 + np.exp(-x.reshape(-1)))
        y = self.y
        return float(-np.mean(self.t * np.log(y + 1e-7) + (1 - self.t) * np.log(1 - y + 1e-7)))

    def backward(self, dout=1):
        return (dout * (self.y - self.t) / self.t.size).reshape(self.shape)


_LOSS_CACHE: dict[str, np.ndarray] = {}


class SquaredGlobal:  # keeps y - t in a module-level cache shared by every instance
    def forward(self, y, t):
        _LOSS_CACHE["diff"] = y - t
        return 0.5 * float(np.sum((y - t) ** 2)) / len(y)

    def backward(self, dout=1):
        return dout * _LOSS_CACHE["diff"] / len(_LOSS_CACHE["diff"])


class SigmoidLossClassState(SigmoidLossDelta):  # y and t kept on the class
    def forward(self, x, t):
        type(self).t = t
        type(self).y = 1 / (1 + np.exp(-x))
        y = type(self).y
        return -np.sum(t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7)) / x.shape[0]


class SigmoidLossNoMean(SigmoidLossDelta):
    def forward(self, x, t):
        return SigmoidLossDelta.forward(self, x, t) * x.shape[0]

    def backward(self, dout=1):
        return self.y - self.t


class SigmoidLossSign(SigmoidLossDelta):
    def backward(self, dout=1):
        return (self.t - self.y) / self.t.shape[0]


# --- two-layer nets (2-2-x), written as in the solution notebooks ---


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _soft(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def two_layer(task: str, bug: str | None = None):
    class Net:
        def __init__(self, input_size, hidden_size, output_size, weight_init_std=1.0):
            self.params = {
                "W1": weight_init_std * np.random.randn(input_size, hidden_size),
                "b1": np.zeros(hidden_size),
                "W2": weight_init_std * np.random.randn(hidden_size, output_size),
                "b2": np.zeros(output_size),
            }

        def gradient(self, x, t):
            W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
            n = 1 if bug == "no_mean" else x.shape[0]
            z1 = _sig(x @ W1 + b1)
            a2 = z1 @ W2 + b2
            y = {"regression": a2, "binary": _sig(a2), "multiclass": _soft(a2)}[task]
            dy = (t - y) / n if bug == "sign" else (y - t) / n
            g = {"W2": z1.T @ dy, "b2": dy.sum(axis=0)}
            dz = dy @ W2.T
            da = dz * z1 if bug == "sigmoid_deriv" else dz * z1 * (1 - z1)
            g["W1"] = x.T @ da
            g["b1"] = da.sum(axis=0)
            if bug == "transposed":
                g["W1"] = g["W1"].T.copy()
            return g

    return Net


def two_layer_reference(task: str):
    return lambda i, h, o, **kw: TwoLayerNet(i, h, o, task=task)


# --- MultiLayerNet (2-4) ---


class MultiLayerNoMean(MultiLayerNet):
    def gradient(self, x, t):
        g = MultiLayerNet.gradient(self, x, t)
        return {k: v * x.shape[0] for k, v in g.items()}


class MultiLayerReluMask(MultiLayerNet):  # ReLU backward letting the negative side through
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        for name in list(self.layers):
            if name.startswith("Activation"):
                self.layers[name] = ReluMaskInverted()


class MultiLayerInPlaceRelu(MultiLayerNet):  # correct: another course's in-place ReLU layers
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        for name in list(self.layers):
            if name.startswith("Activation"):
                self.layers[name] = ReluInPlaceReuse()


# --- optimisers ---


class SGDNew:  # rebinding the dict entries instead of in-place updates
    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] = params[k] - self.lr * grads[k]


class SGDSign(SGDNew):
    def update(self, params, grads):
        for k in params:
            params[k] += self.lr * grads[k]


class MomentumPlus:  # v <- m v + lr g, p <- p - v (the same trajectory)
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.v[k] = self.momentum * self.v[k] + self.lr * grads[k]
            params[k] -= self.v[k]


class MomentumFresh(MomentumPlus):
    def update(self, params, grads):
        self.v = None
        MomentumPlus.update(self, params, grads)


class NesterovPlain:  # explicit v, then the look-ahead step
    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, {}

    def update(self, params, grads):
        for k in params:
            v_old = self.v.get(k, np.zeros_like(params[k]))
            v = self.momentum * v_old - self.lr * grads[k]
            params[k] += -self.momentum * v_old + (1 + self.momentum) * v
            self.v[k] = v


class AdaGradInside:  # eps inside the square root
    def __init__(self, lr=0.01):
        self.lr, self.h = lr, {}

    def update(self, params, grads):
        for k in params:
            self.h[k] = self.h.get(k, 0) + grads[k] ** 2
            params[k] -= self.lr * grads[k] / np.sqrt(self.h[k] + 1e-7)


class AdaGradSign(AdaGradInside):
    def update(self, params, grads):
        for k in params:
            self.h[k] = self.h.get(k, 0) + grads[k] ** 2
            params[k] += self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class RMSPropTextbook:
    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] *= self.decay_rate
            self.h[k] += (1 - self.decay_rate) * grads[k] * grads[k]
            params[k] -= self.lr * grads[k] / (np.sqrt(self.h[k]) + 1e-7)


class AdamTextbook:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


class AdamOriginal(AdamTextbook):  # m_hat, v_hat of Kingma & Ba, eps 1e-8
    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        for k in params:
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * grads[k] ** 2
            m_hat = self.m[k] / (1 - self.beta1**self.iter)
            v_hat = self.v[k] / (1 - self.beta2**self.iter)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


class AdamNoBias(AdamTextbook):
    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * grads[k] ** 2
            params[k] -= self.lr * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


class AdamStepFrom2(AdamTextbook):  # ported code whose counter starts at 1
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(lr, beta1, beta2)
        self.iter = 1


class AdamStepFrozen(AdamTextbook):  # the counter is read but never incremented
    def update(self, params, grads):
        self.iter = 0
        super().update(params, grads)


class AdamHatOut(AdamTextbook):  # correct: m_hat / v_hat, params updated through out=
    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros(v.shape) for k, v in params.items()}
            self.v = {k: np.zeros(v.shape) for k, v in params.items()}
        self.iter += 1
        for k in params:
            self.m[k] = self.beta1 * self.m[k] + (1 - self.beta1) * grads[k]
            self.v[k] = self.beta2 * self.v[k] + (1 - self.beta2) * np.square(grads[k])
            m_hat = self.m[k] / (1 - self.beta1**self.iter)
            v_hat = self.v[k] / (1 - self.beta2**self.iter)
            np.subtract(params[k], self.lr * m_hat / (np.sqrt(v_hat) + 1e-7), out=params[k])


# --- initialisers ---


def he_normal_randn(n_in, n_out):
    return np.random.randn(n_in, n_out) * np.sqrt(2.0 / n_in)


def he_normal_scale(n_in, n_out):
    return np.random.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))


def glorot_normal_randn(n_in, n_out):
    return np.random.randn(n_in, n_out) * np.sqrt(2.0 / (n_in + n_out))


def glorot_uniform_np(n_in, n_out):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return np.random.uniform(-limit, limit, size=(n_in, n_out))


def glorot_uniform_rand(n_in, n_out):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return (2.0 * np.random.rand(n_in, n_out) - 1.0) * limit


# --- batch norm ---


class BNTextbook:  # eps 1e-6 (allowed), textbook backward through xc and std
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.eps = 1e-6

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + self.eps)
            xn = xc / std
            self.batch_size, self.xc, self.xn, self.std = x.shape[0], xc, xn, std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        return dxc - dmu / self.batch_size


class BNFirstBatchInit(BNTextbook):
    """Starts the running averages from the first batch's statistics."""

    def forward(self, x, train_flg=True):
        if train_flg and self.running_mean is None:
            self.running_mean, self.running_var = x.mean(axis=0), x.var(axis=0)
        return BNTextbook.forward(self, x, train_flg)


class BNRowStats(BNTextbook):
    """Running statistics kept as (1, D) rows (keepdims=True)."""

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros((1, x.shape[1]))
            self.running_var = np.zeros((1, x.shape[1]))
        return BNTextbook.forward(self, x, train_flg)


class BNGlobalCache(BNTextbook):
    """Keeps what backward needs in a module-level cache shared by every instance."""

    def forward(self, x, train_flg=True):
        y = BNTextbook.forward(self, x, train_flg)
        if train_flg:
            _BN_CACHE.update(batch_size=self.batch_size, xc=self.xc, xn=self.xn, std=self.std)
        return y

    def backward(self, dout):
        self.batch_size, self.xc = _BN_CACHE["batch_size"], _BN_CACHE["xc"]
        self.xn, self.std = _BN_CACHE["xn"], _BN_CACHE["std"]
        return BNTextbook.backward(self, dout)


_BN_CACHE: dict[str, Any] = {}


class BNKeepdims(BNTextbook):  # correct: (1, D) work arrays, running statistics kept (D,)
    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if not train_flg:
            return BNTextbook.forward(self, x, False)
        mu = x.mean(axis=0, keepdims=True)
        self.xc = x - mu
        var = np.mean(self.xc**2, axis=0, keepdims=True)
        self.std = np.sqrt(var + self.eps)
        self.xn = self.xc / self.std
        self.batch_size = len(x)
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mu.ravel()
        self.running_var = m * self.running_var + (1 - m) * var.ravel()
        return self.gamma * self.xn + self.beta


class BNNoMeanTerms(BNTextbook):
    def backward(self, dout):
        BNTextbook.backward(self, dout)
        return self.gamma * dout / self.std


class BNNoVarTerm(BNTextbook):
    def backward(self, dout):
        BNTextbook.backward(self, dout)
        dxn = self.gamma * dout
        return (dxn - dxn.mean(axis=0)) / self.std


class BNSwapped(BNTextbook):
    def forward(self, x, train_flg=True):
        m = self.momentum
        self.momentum = 1 - m
        try:
            return BNTextbook.forward(self, x, train_flg)
        finally:
            self.momentum = m


class BNUnbiased(BNTextbook):
    def forward(self, x, train_flg=True):
        if not train_flg:
            return BNTextbook.forward(self, x, train_flg)
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        mu, var = x.mean(axis=0), x.var(axis=0, ddof=1)
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        return self.gamma * (x - mu) / np.sqrt(var + self.eps) + self.beta


class BNNoRunning(BNTextbook):
    def forward(self, x, train_flg=True):
        rm, rv = self.running_mean, self.running_var
        y = BNTextbook.forward(self, x, train_flg)
        if rm is None:
            rm = rv = np.zeros(x.shape[1])
        self.running_mean, self.running_var = rm, rv
        return y


# --- dropout ---


class DropoutTextbook:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio, self.mask = dropout_ratio, None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class DropoutWhere(DropoutTextbook):  # float mask, np.where
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = (np.random.rand(*x.shape) >= self.dropout_ratio).astype(np.float64)
            return np.where(self.mask > 0, x, 0.0)
        return (1.0 - self.dropout_ratio) * x

    def backward(self, dout):
        return np.where(self.mask > 0, dout, 0.0)


class DropoutInverted(DropoutTextbook):
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask / (1.0 - self.dropout_ratio)
        return x

    def backward(self, dout):
        return dout * self.mask / (1.0 - self.dropout_ratio)


class DropoutResample(DropoutTextbook):
    def backward(self, dout):
        return dout * (np.random.rand(*dout.shape) > self.dropout_ratio)


class DropoutSwapped(DropoutTextbook):
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) < self.dropout_ratio
            return x * self.mask
        return x * self.dropout_ratio


class DropoutNoScale(DropoutTextbook):
    def forward(self, x, train_flg=True):
        return DropoutTextbook.forward(self, x, True) if train_flg else x


class DropoutRowMask(DropoutTextbook):  # one mask row shared by the whole batch
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(1, x.shape[1]) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)


class DropoutInferenceByRatio(DropoutTextbook):  # right mask, inference scaled by p
    def forward(self, x, train_flg=True):
        return DropoutTextbook.forward(self, x, True) if train_flg else x * self.dropout_ratio


class DropoutInPlace(DropoutTextbook):  # correct: forward and backward work in place
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            x[~self.mask] = 0.0
            return x
        x *= 1.0 - self.dropout_ratio
        return x

    def backward(self, dout):
        dout[~self.mask] = 0.0
        return dout


class DropoutClassMask(DropoutTextbook):  # the mask kept on the class
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio

    def forward(self, x, train_flg=True):
        if train_flg:
            type(self).mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * type(self).mask
        return x * (1.0 - self.dropout_ratio)


class DropoutNoMaskBackward(DropoutTextbook):
    def backward(self, dout):
        return dout


# --- regularisation ---


def l2_loop(W, alpha):
    pen = 0.0
    for w in W.ravel():
        pen += w * w
    return alpha * pen, 2 * alpha * W


def l2_half(W, alpha):
    return 0.5 * alpha * np.sum(W**2), alpha * W


def l2_no2(W, alpha):
    return alpha * np.sum(W**2), alpha * W


def l1_where(W, alpha):
    return alpha * np.abs(W).sum(), alpha * np.where(W > 0, 1.0, -1.0)


def l1_w(W, alpha):
    return alpha * np.sum(np.abs(W)), alpha * W


def l1_no_abs(W, alpha):
    return alpha * np.sum(W), alpha * np.sign(W)


# Side effects: right values, but the argument is overwritten (the network's weights would be
# destroyed in training).
def l1_sign_in_place(W, alpha):
    pen = alpha * np.sum(np.abs(W))
    np.sign(W, out=W)  # W replaced by sign(W)
    W *= alpha
    return pen, W


def l2_grad_in_place(W, alpha):
    pen = alpha * np.sum(W**2)
    W *= 2 * alpha
    return pen, W


def l1_view_grad(W, alpha):  # correct: a new array built from a view, W itself untouched
    flat = W.reshape(-1)
    return alpha * np.abs(flat).sum(), (alpha * np.sign(flat)).reshape(W.shape)


def softmax_in_place(x):
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def matmul_backward_scales_dy(X, W, dY):
    dX = dY @ W.T
    dW = X.T @ dY
    dY *= 0.0  # "free" the buffer
    return dX, dW


def ce_clips_in_place(y, t):
    np.clip(y, 1e-7, 1.0, out=y)
    y[...] = np.log(y)
    if t.ndim == 1:
        return -np.mean(y[np.arange(len(t)), t])
    return -np.sum(t * y) / y.shape[0]


def square_graph_backward_in_place(a, x, y):
    y -= a * x  # y becomes -(a x - y)
    y *= -2.0
    return y * x, y * a, -y


def ce_float32(y, t):  # correct: float32 arithmetic, labels converted
    y32 = y.astype(np.float32)
    if t.ndim == 2:
        t = t.argmax(axis=1)
    return float(-np.mean(np.log(y32[np.arange(len(t)), t] + np.float32(1e-7))))


# 2-10's ungraded weight_penalty(params, alpha, reg) -> (total, {weight key: grad}), probed by
# the L2 item: weights only is right, biases included earns the bias_regularized hint.


def weight_penalty_loop(params, alpha, reg):  # the notebook's solution
    total, grads = 0.0, {}
    for key, value in params.items():
        if key.startswith("W"):
            penalty, grad = reg(value, alpha)
            total += penalty
            grads[key] = grad
    return total, grads


def weight_penalty_comprehension(params, alpha, reg):
    results = {k: reg(v, alpha) for k, v in params.items() if k[0] == "W"}
    return sum(p for p, _ in results.values()), {k: g for k, (_, g) in results.items()}


def weight_penalty_raises(params, alpha, reg):  # broken but ungraded: costs nothing
    raise RuntimeError("not written yet")


def weight_penalty_all(params, alpha, reg):  # biases regularised too
    results = {k: reg(v, alpha) for k, v in params.items()}
    return sum(p for p, _ in results.values()), {k: g for k, (_, g) in results.items()}


def weight_penalty_bias_grads(params, alpha, reg):  # weights-only total, but bias gradients
    total = sum(reg(v, alpha)[0] for k, v in params.items() if k.startswith("W"))
    return total, {k: reg(v, alpha)[1] for k, v in params.items()}


def standardize(x, mean, std):
    return (x - mean) / std


def standardize_inplace(x, mean, std):
    x -= mean
    x /= std
    return x


# --- the tables ---


def _affine_buggy() -> list[tuple[str, NS, str | None]]:
    return [
        (
            "db not summed",
            {"Affine": _affine_bug(db=lambda s, d, n: d.copy())},
            "bias_grad_not_summed",
        ),
        (
            "dx not reshaped",
            {"Affine": _affine_bug(dx=lambda s, d, g: d @ s.W.T)},
            "affine_reshape",
        ),
        (
            "dW divided by N",
            {"Affine": _affine_bug(dW=lambda s, d, n: s.x.T @ d / n)},
            "extra_batch_division",
        ),
        (
            "dW transposed",
            {"Affine": _affine_bug(dW=lambda s, d, n: d.T @ s.x)},
            "transposed",
        ),
        ("x kept on the class", {"Affine": AffineClassX}, "layer_state_shared"),
    ]


class AffineForwardNoBias(AffineTextbook):
    def forward(self, x):
        return AffineTextbook.forward(self, x) - self.b


class AffineForwardTransposed(AffineTextbook):
    def forward(self, x):
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return (self.W.T @ self.x.T).T


def _fn(f: Callable) -> Callable:
    return f


def _ref(*names: str) -> NS:
    return {n: getattr(R, n) for n in names}


CORRECT: dict[str, list[tuple[str, NS]]] = {
    "matmul_backward": [
        ("transposes", {"matmul_backward": matmul_backward}),
        ("einsum", {"matmul_backward": matmul_backward_einsum}),
    ],
    "square_graph_backward": [
        ("closed form", {"square_graph_backward": square_graph_backward}),
        ("chain rule", {"square_graph_backward": square_graph_backward_chain}),
    ],
    "regression_gradient": [
        ("notebook style", {"TwoLayerNet": two_layer("regression")}),
        ("reference layers", {"TwoLayerNet": two_layer_reference("regression")}),
    ],
    "binary_gradient": [
        ("notebook style", {"TwoLayerNet": two_layer("binary")}),
        ("reference layers", {"TwoLayerNet": two_layer_reference("binary")}),
    ],
    "multiclass_gradient": [
        ("notebook style", {"TwoLayerNet": two_layer("multiclass")}),
        ("reference layers", {"TwoLayerNet": two_layer_reference("multiclass")}),
    ],
    "standardize": [
        ("expression", {"standardize": standardize}),
        ("in place", {"standardize": standardize_inplace}),
    ],
    "affine_forward": [
        ("bias in place", {"Affine": AffineInPlaceBias}),
        ("textbook", {"Affine": AffineTextbook}),
        ("einsum", {"Affine": AffineEinsum}),
    ],
    "affine_backward": [
        ("bias in place, dx a view", {"Affine": AffineInPlaceBias}),
        ("textbook", {"Affine": AffineTextbook}),
        ("einsum", {"Affine": AffineEinsum}),
    ],
    "softmax": [
        ("textbook transposes", {"softmax": softmax_textbook}),
        ("np.where shift, (1, K) view", {"softmax": softmax_where_shift}),
        ("reference", _ref("softmax")),
    ],
    "cross_entropy_error": [
        ("labels form", {"cross_entropy_error": ce_textbook}),
        ("one-hot form", {"cross_entropy_error": ce_onehot_form}),
        ("float32", {"cross_entropy_error": ce_float32}),
    ],
    "softmax_with_loss_forward": [
        ("textbook", {"SoftmaxWithLoss": SWLTextbook}),
        ("reference", _ref("SoftmaxWithLoss")),
    ],
    "softmax_with_loss_backward": [
        ("textbook", {"SoftmaxWithLoss": SWLTextbook}),
        ("reference", _ref("SoftmaxWithLoss")),
    ],
    "sigmoid_layer": [
        ("from y", {"Sigmoid": SigmoidOut}),
        ("from x", {"Sigmoid": SigmoidFromX}),
        ("in place, output reused by backward", {"Sigmoid": SigmoidInPlaceReuse}),
    ],
    "relu_layer": [
        ("textbook in place", {"Relu": ReluTextbook}),
        ("np.where", {"Relu": ReluWhere}),
        ("in place, output reused by backward", {"Relu": ReluInPlaceReuse}),
        ("np.maximum, float32 mask", {"Relu": ReluMaximum}),
    ],
    "squared_error_loss": [
        ("difference turned into the gradient in place", {"SquaredErrorLoss": SquaredInPlace}),
        ("textbook", {"SquaredErrorLoss": SquaredTextbook}),
        ("reference", _ref("SquaredErrorLoss")),
    ],
    "sigmoid_with_loss": [
        ("flattened", {"SigmoidWithLoss": SigmoidLossFlat}),
        ("log(y + 1e-7)", {"SigmoidWithLoss": SigmoidLossDelta}),
        ("reference", _ref("SigmoidWithLoss")),
    ],
    "multilayer_gradient": [
        ("in-place ReLU layers", {"MultiLayerNet": MultiLayerInPlaceRelu}),
        ("reference", {"MultiLayerNet": MultiLayerNet}),
    ],
    "sgd_update": [("rebinding", {"SGD": SGDNew}), ("reference", _ref("SGD"))],
    "momentum_update": [
        ("v = m v + lr g", {"Momentum": MomentumPlus}),
        ("reference", _ref("Momentum")),
    ],
    "nesterov_update": [
        ("explicit look-ahead", {"Nesterov": NesterovPlain}),
        ("reference", _ref("Nesterov")),
    ],
    "adagrad_update": [
        ("eps inside sqrt", {"AdaGrad": AdaGradInside}),
        ("reference", _ref("AdaGrad")),
    ],
    "rmsprop_update": [("textbook", {"RMSProp": RMSPropTextbook}), ("reference", _ref("RMSProp"))],
    "adam_update": [
        ("textbook lr_t", {"Adam": AdamTextbook}),
        ("m_hat/v_hat, eps 1e-8", {"Adam": AdamOriginal}),
        ("m_hat/v_hat, np.subtract(out=)", {"Adam": AdamHatOut}),
    ],
    "he_normal": [
        ("randn * std", {"he_normal": he_normal_randn}),
        ("np.random.normal", {"he_normal": he_normal_scale}),
    ],
    "glorot_normal": [
        ("randn * std", {"glorot_normal": glorot_normal_randn}),
        ("reference", _ref("glorot_normal")),
    ],
    "glorot_uniform": [
        ("np.random.uniform", {"glorot_uniform": glorot_uniform_np}),
        ("2 rand - 1", {"glorot_uniform": glorot_uniform_rand}),
    ],
    "batchnorm_forward": [
        ("keepdims work arrays", {"BatchNormalization": BNKeepdims}),
        ("textbook eps 1e-6", {"BatchNormalization": BNTextbook}),
        ("reference", _ref("BatchNormalization")),
    ],
    "batchnorm_backward": [
        ("keepdims work arrays", {"BatchNormalization": BNKeepdims}),
        ("textbook graph", {"BatchNormalization": BNTextbook}),
        ("reference", _ref("BatchNormalization")),
    ],
    "batchnorm_running_stats": [
        ("keepdims work arrays", {"BatchNormalization": BNKeepdims}),
        ("textbook", {"BatchNormalization": BNTextbook}),
        ("reference", _ref("BatchNormalization")),
    ],
    "dropout_forward": [
        ("textbook", {"Dropout": DropoutTextbook}),
        ("float mask, where", {"Dropout": DropoutWhere}),
        ("in place", {"Dropout": DropoutInPlace}),
    ],
    "dropout_backward": [
        ("textbook", {"Dropout": DropoutTextbook}),
        ("float mask, where", {"Dropout": DropoutWhere}),
        ("inverted but consistent", {"Dropout": DropoutInverted}),
        ("in place", {"Dropout": DropoutInPlace}),
    ],
    "dropout_inference": [
        ("textbook", {"Dropout": DropoutTextbook}),
        ("float mask, where", {"Dropout": DropoutWhere}),
        ("in place", {"Dropout": DropoutInPlace}),
    ],
    "l2_regularization": [
        ("loop", {"l2_regularization": l2_loop}),
        ("reference", _ref("l2_regularization")),
        (
            "weight_penalty weights only",
            {**_ref("l2_regularization"), "weight_penalty": weight_penalty_loop},
        ),
        (
            "weight_penalty comprehension",
            {"l2_regularization": l2_loop, "weight_penalty": weight_penalty_comprehension},
        ),
        (
            "weight_penalty raises",
            {**_ref("l2_regularization"), "weight_penalty": weight_penalty_raises},
        ),
        ("weight_penalty not callable", {**_ref("l2_regularization"), "weight_penalty": 3}),
    ],
    "l1_regularization": [
        ("where", {"l1_regularization": l1_where}),
        ("through a view", {"l1_regularization": l1_view_grad}),
        ("reference", _ref("l1_regularization")),
    ],
}


def _two_layer_bugs(task: str) -> list[tuple[str, NS, str | None]]:
    return [
        ("no /N", {"TwoLayerNet": two_layer(task, "no_mean")}, "batch_size_division"),
        ("sign", {"TwoLayerNet": two_layer(task, "sign")}, "sign_flip"),
        ("sigmoid derivative", {"TwoLayerNet": two_layer(task, "sigmoid_deriv")}, None),
        ("dW1 transposed", {"TwoLayerNet": two_layer(task, "transposed")}, "transposed"),
    ]


BUGGY: dict[str, list[tuple[str, NS, str | None]]] = {
    "matmul_backward": [
        ("dW transposed", {"matmul_backward": lambda X, W, dY: (dY @ W.T, dY.T @ X)}, "transposed"),
        (
            "dW / N",
            {"matmul_backward": lambda X, W, dY: (dY @ W.T, X.T @ dY / len(X))},
            "extra_batch_division",
        ),
        ("sign", {"matmul_backward": lambda X, W, dY: (-(dY @ W.T), X.T @ dY)}, "sign_flip"),
        ("dY zeroed", {"matmul_backward": matmul_backward_scales_dy}, "argument_modified"),
    ],
    "square_graph_backward": [
        (
            "no factor 2",
            {
                "square_graph_backward": lambda a, x, y: tuple(
                    g / 2 for g in square_graph_backward(a, x, y)
                )
            },
            "missing_factor_2",
        ),
        (
            "dz_dy sign",
            {
                "square_graph_backward": lambda a, x, y: (
                    *square_graph_backward(a, x, y)[:2],
                    2 * (a * x - y),
                )
            },
            "sign_flip",
        ),
        (
            "y overwritten",
            {"square_graph_backward": square_graph_backward_in_place},
            "argument_modified",
        ),
    ],
    "regression_gradient": _two_layer_bugs("regression"),
    "binary_gradient": _two_layer_bugs("binary"),
    "multiclass_gradient": _two_layer_bugs("multiclass"),
    "standardize": [
        ("divides by variance", {"standardize": lambda x, m, s: (x - m) / s**2}, "std_vs_variance"),
        ("own statistics", {"standardize": lambda x, m, s: (x - x.mean(0)) / x.std(0)}, None),
    ],
    "affine_forward": [
        ("no bias", {"Affine": AffineForwardNoBias}, None),
        ("2-D input only", {"Affine": AffineFlatOnly}, "input_rank"),
        (
            "missing reshape",
            {
                "Affine": type(
                    "A", (AffineTextbook,), {"forward": lambda self, x: x @ self.W + self.b}
                )
            },
            None,
        ),
    ],
    "affine_backward": _affine_buggy(),
    "softmax": [
        ("no max shift", {"softmax": softmax_naive}, "softmax_overflow"),
        ("columns", {"softmax": softmax_columns}, "softmax_axis"),
        ("x overwritten", {"softmax": softmax_in_place}, "argument_modified"),
        ("fails on (K,)", {"softmax": softmax_rows_only}, "softmax_1d"),
        ("wrong on (K,)", {"softmax": softmax_flat_1d}, "softmax_1d"),
    ],
    "cross_entropy_error": [
        ("one-hot only", {"cross_entropy_error": ce_onehot_only}, "label_format"),
        ("no batch mean", {"cross_entropy_error": ce_no_mean}, "batch_size_division"),
        ("y overwritten by log y", {"cross_entropy_error": ce_clips_in_place}, "argument_modified"),
    ],
    "softmax_with_loss_forward": [
        ("no batch mean", {"SoftmaxWithLoss": SWLNoMean}, "batch_size_division"),
        (
            "cross_entropy_error without the mean",
            notebook_swl(softmax_textbook, ce_no_mean),
            "fix_upstream_first",
        ),
        (
            "sign",
            {
                "SoftmaxWithLoss": type(
                    "S", (SWLTextbook,), {"forward": lambda s, x, t: -SWLTextbook.forward(s, x, t)}
                )
            },
            "sign_flip",
        ),
    ],
    "softmax_with_loss_backward": [
        ("no batch mean", {"SoftmaxWithLoss": SWLNoMean}, "batch_size_division"),
        ("sign", {"SoftmaxWithLoss": SWLSignFlip}, "sign_flip"),
        ("softmax over columns", notebook_swl(softmax_columns, ce_textbook), "fix_upstream_first"),
        ("indexes with t (one-hot t)", {"SoftmaxWithLoss": SWLIndexesWithT}, "target_one_hot"),
        ("state on the class", {"SoftmaxWithLoss": SWLClassState}, "layer_state_shared"),
    ],
    "sigmoid_layer": [
        ("dout * y", {"Sigmoid": SigmoidDerivY}, "sigmoid_derivative"),
        ("x (1 - x)", {"Sigmoid": SigmoidDerivX}, None),
        ("output in a global", {"Sigmoid": SigmoidGlobalOut}, "layer_state_shared"),
    ],
    "relu_layer": [
        ("inverted mask", {"Relu": ReluMaskInverted}, "relu_mask"),
        ("identity backward", {"Relu": ReluBackwardIdentity}, None),
        ("mask on the class", {"Relu": ReluClassMask}, "layer_state_shared"),
    ],
    "squared_error_loss": [
        ("no 1/2", {"SquaredErrorLoss": SquaredNoHalf}, "missing_half_factor"),
        ("no /N", {"SquaredErrorLoss": SquaredNoMean}, "batch_size_division"),
        ("state in a global", {"SquaredErrorLoss": SquaredGlobal}, "layer_state_shared"),
    ],
    "sigmoid_with_loss": [
        ("no /N", {"SigmoidWithLoss": SigmoidLossNoMean}, "batch_size_division"),
        ("sign", {"SigmoidWithLoss": SigmoidLossSign}, "sign_flip"),
        ("t used as labels", {"SigmoidWithLoss": SigmoidLossTwoColumns}, "target_column"),
        ("state on the class", {"SigmoidWithLoss": SigmoidLossClassState}, "layer_state_shared"),
    ],
    "multilayer_gradient": [
        ("no /N", {"MultiLayerNet": MultiLayerNoMean}, "batch_size_division"),
        ("relu mask inverted", {"MultiLayerNet": MultiLayerReluMask}, None),
    ],
    "sgd_update": [
        ("sign", {"SGD": SGDSign}, "sign_flip"),
        ("momentum instead", {"SGD": lambda lr: R.Momentum(lr=lr, momentum=0.9)}, None),
    ],
    "momentum_update": [
        ("v reset", {"Momentum": MomentumFresh}, "state_not_kept"),
        ("plain SGD", {"Momentum": lambda lr, momentum: R.SGD(lr=lr)}, "state_not_kept"),
    ],
    "nesterov_update": [
        ("plain momentum", {"Nesterov": R.Momentum}, "nesterov_as_momentum"),
        (
            "textbook code",
            {
                "Nesterov": lambda lr, momentum: __import__(
                    "grader.specs.optimizers", fromlist=["x"]
                )._NesterovTextbook(lr=lr, momentum=momentum)
            },
            "nesterov_textbook_form",
        ),
    ],
    "adagrad_update": [
        ("sign", {"AdaGrad": AdaGradSign}, "sign_flip"),
        ("h reset", {"AdaGrad": lambda lr: _Reset(lambda: R.AdaGrad(lr=lr))}, "state_not_kept"),
    ],
    "rmsprop_update": [
        (
            "decay swapped",
            {"RMSProp": lambda lr, decay_rate: R.RMSProp(lr=lr, decay_rate=1 - decay_rate)},
            "rmsprop_decay_swapped",
        ),
        ("AdaGrad instead", {"RMSProp": lambda lr, decay_rate: R.AdaGrad(lr=lr)}, None),
    ],
    "adam_update": [
        ("no bias correction", {"Adam": AdamNoBias}, "adam_no_bias_correction"),
        ("step counter starts at 2", {"Adam": AdamStepFrom2}, "adam_step_from_2"),
        ("step counter never incremented", {"Adam": AdamStepFrozen}, "adam_step_not_incremented"),
        (
            "betas swapped",
            {"Adam": lambda lr, beta1, beta2: R.Adam(lr=lr, beta1=beta2, beta2=beta1)},
            None,
        ),
    ],
    "he_normal": [
        (
            "std sqrt(1/n_in)",
            {"he_normal": lambda i, o: np.random.randn(i, o) * np.sqrt(1.0 / i)},
            "he_std_n_in",
        ),
        (
            "variance as std",
            {"he_normal": lambda i, o: np.random.randn(i, o) * (2.0 / i)},
            "std_vs_variance",
        ),
        (
            "uniform",
            {"he_normal": lambda i, o: np.random.uniform(-1, 1, (i, o)) * np.sqrt(6.0 / i)},
            "wrong_distribution",
        ),
        (
            "transposed",
            {"he_normal": lambda i, o: np.random.randn(o, i) * np.sqrt(2.0 / i)},
            "transposed",
        ),
    ],
    "glorot_normal": [
        (
            "n_in only",
            {"glorot_normal": lambda i, o: np.random.randn(i, o) * np.sqrt(1.0 / i)},
            "glorot_n_in_only",
        ),
        ("uniform", {"glorot_normal": glorot_uniform_np}, "wrong_distribution"),
    ],
    "glorot_uniform": [
        ("normal", {"glorot_uniform": glorot_normal_randn}, "wrong_distribution"),
        (
            "bound sqrt(6/n_in)",
            {"glorot_uniform": lambda i, o: np.random.uniform(-1, 1, (i, o)) * np.sqrt(6.0 / i)},
            "glorot_uniform_bound",
        ),
        (
            "[0, L)",
            {"glorot_uniform": lambda i, o: np.random.uniform(0, np.sqrt(6.0 / (i + o)), (i, o))},
            None,
        ),
    ],
    "batchnorm_forward": [
        ("unbiased var", {"BatchNormalization": BNUnbiased}, "bn_running_var_unbiased"),
        (
            "no beta",
            {
                "BatchNormalization": type(
                    "B",
                    (BNTextbook,),
                    {
                        "forward": lambda s, x, train_flg=True: (
                            BNTextbook.forward(s, x, train_flg) - s.beta
                        )
                    },
                )
            },
            None,
        ),
    ],
    "batchnorm_backward": [
        (
            "no mean/var terms",
            {"BatchNormalization": BNNoMeanTerms},
            "bn_backward_missing_mean_terms",
        ),
        ("no var term", {"BatchNormalization": BNNoVarTerm}, "bn_backward_missing_var_term"),
        ("cache in a global", {"BatchNormalization": BNGlobalCache}, "layer_state_shared"),
    ],
    "batchnorm_running_stats": [
        ("momentum swapped", {"BatchNormalization": BNSwapped}, "bn_running_momentum_swapped"),
        ("unbiased var", {"BatchNormalization": BNUnbiased}, "bn_running_var_unbiased"),
        ("never updated", {"BatchNormalization": BNNoRunning}, "bn_running_not_updated"),
        (
            "from the first batch",
            {"BatchNormalization": BNFirstBatchInit},
            "bn_running_init_first_batch",
        ),
        ("(1, D) statistics", {"BatchNormalization": BNRowStats}, "row_vector_shape"),
    ],
    "dropout_forward": [
        ("inverted", {"Dropout": DropoutInverted}, "dropout_inverted_scaling"),
        ("ratio swapped", {"Dropout": DropoutSwapped}, "dropout_ratio_swapped"),
        ("(1, D) mask", {"Dropout": DropoutRowMask}, "dropout_mask_row"),
    ],
    "dropout_backward": [
        ("mask resampled", {"Dropout": DropoutResample}, "dropout_mask_resampled"),
        ("no mask", {"Dropout": DropoutNoMaskBackward}, None),
        ("mask on the class", {"Dropout": DropoutClassMask}, "layer_state_shared"),
    ],
    "dropout_inference": [
        ("no scaling", {"Dropout": DropoutNoScale}, "dropout_no_inference_scaling"),
        ("ratio swapped", {"Dropout": DropoutSwapped}, "dropout_ratio_swapped"),
        ("inverted", {"Dropout": DropoutInverted}, "dropout_no_inference_scaling"),
        ("scaled by p", {"Dropout": DropoutInferenceByRatio}, "dropout_inference_scaled_by_ratio"),
    ],
    "l2_regularization": [
        ("no factor 2", {"l2_regularization": l2_no2}, "l2_missing_factor_2"),
        ("grad written into W", {"l2_regularization": l2_grad_in_place}, "argument_modified"),
        ("0.5 alpha convention", {"l2_regularization": l2_half}, "l2_half_convention"),
    ],
    "l1_regularization": [
        ("W replaced by sign(W)", {"l1_regularization": l1_sign_in_place}, "argument_modified"),
        ("grad alpha W", {"l1_regularization": l1_w}, "l1_gradient_sign"),
        ("no abs", {"l1_regularization": l1_no_abs}, None),
    ],
}


# Mistakes in ungraded code that a graded item reports without taking its points:
# (name, namespace, hint id); the item must keep full marks and carry the hint.
WARNED: dict[str, list[tuple[str, NS, str]]] = {
    "l2_regularization": [
        (
            "biases regularised",
            {**_ref("l2_regularization"), "weight_penalty": weight_penalty_all},
            "bias_regularized",
        ),
        (
            "bias gradients returned",
            {"l2_regularization": l2_loop, "weight_penalty": weight_penalty_bias_grads},
            "bias_regularized",
        ),
    ],
}


class _Reset:
    """An optimiser that forgets its state at every call (built from a factory)."""

    def __init__(self, factory):
        self.factory = factory

    def update(self, params, grads):
        self.factory().update(params, grads)
