"""Layers with ``forward`` / ``backward`` (trusted reference, textbook interface).

Every layer caches in ``forward`` what its ``backward`` needs, so ``backward(dout)`` must follow
the matching ``forward``. Shapes: ``N`` is the batch size (first axis). ``backward`` returns
the gradient of the final scalar loss with respect to the layer's input, given ``dout``, the
gradient with respect to the layer's output.

Dtypes are kept: float32 data through float32 parameters stays float32 (scalars are applied as
Python floats, which NumPy does not let promote an array). Parameters are held by reference,
so an optimiser that updates ``network.params`` in place updates the layer too.
"""

from __future__ import annotations

import numpy as np

from reference.functions import _check_labels

__all__ = [
    "Affine",
    "Sigmoid",
    "Relu",
    "Tanh",
    "LeakyRelu",
    "SquaredErrorLoss",
    "SigmoidWithLoss",
    "SoftmaxWithLoss",
    "BatchNormalization",
    "Dropout",
]


def _scalar(dout) -> float:
    """An upstream gradient of a scalar loss as a Python float (a NumPy float64 scalar would
    promote float32 arrays)."""
    if np.ndim(dout) != 0:
        raise ValueError(f"a loss layer's dout must be a scalar, got shape {np.shape(dout)}")
    return float(dout)


def _as_batch(x: np.ndarray) -> np.ndarray:
    """A 1-D array is one sample: ``(D,) -> (1, D)``."""
    return x.reshape(1, -1) if x.ndim == 1 else x


def _check_same_shape(y: np.ndarray, t: np.ndarray, layer: str) -> np.ndarray:
    """Targets may come flat (``(N,)`` for ``(N, 1)`` outputs); anything else must match."""
    if t.shape != y.shape:
        if t.size != y.size:
            raise ValueError(f"{layer}: target shape {t.shape} does not match output {y.shape}")
        t = t.reshape(y.shape)
    return t


# --------------------------------------------------------------------------------------------
# Affine and activations
# --------------------------------------------------------------------------------------------


class Affine:
    """Fully connected layer ``out = x W + b``.

    Shapes: ``W`` (D, M), ``b`` (M,); ``x`` (N, ...) with ``prod(...) == D`` is flattened to
    (N, D); ``out`` (N, M). Backward: ``dx = dout W^T`` (reshaped to the shape of ``x``),
    ``dW = x^T dout``, ``db = sum_n dout``.

    ``input_grad=False`` skips ``dx`` (``backward`` then returns ``None``): the first layer of
    a network never needs the gradient with respect to the data, and ``dout W^T`` costs as
    much as the forward product.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, input_grad: bool = True):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine needs W of shape (D, M) and b of shape (M,), got {W.shape}, {b.shape}"
            )
        self.W = W
        self.b = b
        self.input_grad = bool(input_grad)
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"Affine: input has {x.shape[1]} features per sample, W expects {self.W.shape[0]}"
            )
        self.x = x
        out = x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        if not self.input_grad:
            return None
        return (dout @ self.W.T).reshape(self.original_x_shape)


class Sigmoid:
    """``out = 1 / (1 + exp(-x))``; backward ``dx = dout * out * (1 - out)``. Any shape."""

    def __init__(self):
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # exp(-x) = inf gives the correct limit 0
            out = np.exp(-x)
        out += 1.0
        np.reciprocal(out, out=out)
        self.out = out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out) * self.out


class Relu:
    """``out = max(0, x)``; backward ``dx = dout`` where ``x > 0``, else 0. Any shape.

    ``mask`` is True where ``x <= 0`` (the textbook's convention); the layer itself keeps the
    complement, since multiplying by it is the fastest backward that leaves ``dout`` intact.
    """

    def __init__(self):
        self.positive: np.ndarray | None = None  # True where x > 0

    @property
    def mask(self) -> np.ndarray | None:
        return None if self.positive is None else ~self.positive

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.positive = x > 0
        return np.maximum(x, 0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.positive


class Tanh:
    """``out = tanh(x)``; backward ``dx = dout * (1 - out^2)``. Any shape."""

    def __init__(self):
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * (1.0 - self.out * self.out)


class LeakyRelu:
    """``out = x`` where ``x > 0``, else ``alpha * x``; backward scales ``dout`` the same way."""

    def __init__(self, alpha: float = 0.1):
        self.alpha = float(alpha)
        self.mask: np.ndarray | None = None  # True where x > 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return np.where(self.mask, x, self.alpha * x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self.mask, dout, self.alpha * dout)


# --------------------------------------------------------------------------------------------
# Loss layers (forward returns a Python float, backward(dout=1) the gradient w.r.t. the input)
# --------------------------------------------------------------------------------------------


class SquaredErrorLoss:
    """Regression loss ``E = sum((y - t)^2) / (2N)``; backward ``dy = (y - t) / N * dout``.

    Shapes: ``y`` (N, M) or (M,) (one sample); ``t`` the same shape (or the same size).
    """

    def __init__(self):
        self.diff: np.ndarray | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.loss: float | None = None

    def forward(self, y: np.ndarray, t: np.ndarray) -> float:
        y = np.asarray(y)
        self.input_shape = y.shape
        y = _as_batch(y)
        t = _check_same_shape(y, np.asarray(t), "SquaredErrorLoss")
        self.diff = np.subtract(y, t, dtype=y.dtype if y.dtype.kind == "f" else np.float64)
        self.loss = float(0.5 * np.vdot(self.diff, self.diff) / y.shape[0])
        return self.loss

    def backward(self, dout=1) -> np.ndarray:
        dy = self.diff * (_scalar(dout) / self.diff.shape[0])
        return dy.reshape(self.input_shape)


class SigmoidWithLoss:
    """Sigmoid output + mean binary cross-entropy, taking the logit ``x``.

    ``y = sigmoid(x)``, ``E = -(1/N) sum [t log y + (1 - t) log(1 - y)]``, computed in the
    stable form ``max(x, 0) - x t + log(1 + exp(-|x|))`` (no log of 0, no overflow).
    Backward: ``dx = (y - t) / N * dout``. Shapes: ``x`` (N, M) or (M,), ``t`` the same.
    """

    def __init__(self):
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.loss: float | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        x = np.asarray(x)
        self.input_shape = x.shape
        x = _as_batch(x)
        t = _check_same_shape(x, np.asarray(t), "SigmoidWithLoss")
        with np.errstate(over="ignore"):
            self.y = 1.0 / (1.0 + np.exp(-x))
        per_entry = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        self.t = t
        self.loss = float(per_entry.sum() / x.shape[0])
        return self.loss

    def backward(self, dout=1) -> np.ndarray:
        dx = np.subtract(self.y, self.t, dtype=self.y.dtype)
        dx *= _scalar(dout) / self.y.shape[0]
        return dx.reshape(self.input_shape)


class SoftmaxWithLoss:
    """Softmax output + mean cross-entropy, taking the scores (logits) ``x``.

    ``y = softmax(x)`` row-wise; ``E = -(1/N) sum_n sum_k t_nk log y_nk`` with ``log y``
    computed as ``x - max - log(sum exp(x - max))`` (exact, no 1e-7 shift: it differs from
    ``cross_entropy_error(softmax(x), t)`` by O(1e-7 / y), and makes the backward below the
    exact gradient). Backward: ``dx = (y - t) / N * dout``.

    Shapes: ``x`` (N, C) or (C,); ``t`` one-hot (N, C) or integer labels (N,).
    """

    def __init__(self):
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.loss: float | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        x = np.asarray(x)
        self.input_shape = x.shape
        x = _as_batch(x)
        t = np.asarray(t)
        if x.shape[0] == 1 and t.ndim <= 1 and t.size == x.size and t.size > 1:
            t = t.reshape(x.shape)  # one sample given as a 1-D one-hot vector
        elif t.ndim == 0:
            t = t.reshape(1)
        n = x.shape[0]
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        exp /= sums
        self.y = exp
        log_sums = np.log(sums)
        if t.shape == x.shape:
            # sum_k t_k log y_k = sum_k t_k shifted_k - (sum_k t_k) log(sum exp)
            loss = -(np.vdot(t, shifted) - np.vdot(t.sum(axis=1), log_sums)) / n
        else:
            labels = _check_labels(t, x.shape)
            loss = -(shifted[np.arange(n), labels].sum() - log_sums.sum()) / n
        self.t = t
        self.loss = float(loss)
        return self.loss

    def backward(self, dout=1) -> np.ndarray:
        n = self.y.shape[0]
        if self.t.shape == self.y.shape:
            dx = np.subtract(self.y, self.t, dtype=self.y.dtype)
        else:
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
        dx *= _scalar(dout) / n
        return dx.reshape(self.input_shape)


# --------------------------------------------------------------------------------------------
# Batch normalisation and dropout
# --------------------------------------------------------------------------------------------


class BatchNormalization:
    """Batch normalisation over the batch axis (Ioffe & Szegedy 2015).

    ``x`` is (N, D) or (N, C, H, W); the latter is flattened per sample to (N, C*H*W), so
    ``gamma`` and ``beta`` have shape (D,) with D the number of features per sample.

    Training (``train_flg=True``): ``mu = mean_n x``, ``var = mean_n (x - mu)^2``,
    ``xn = (x - mu) / sqrt(var + eps)``, ``out = gamma * xn + beta``, and the running statistics
    become ``running = momentum * running + (1 - momentum) * batch`` (``var`` is the biased
    batch variance). Inference: ``xn = (x - running_mean) / sqrt(running_var + eps)``.

    Backward (training mode), with ``dxn = gamma * dout``, ``std = sqrt(var + eps)``:
    ``dbeta = sum_n dout``, ``dgamma = sum_n dout * xn``, and, collecting the paths through
    ``xn`` directly, through ``var`` and through ``mu``,
    ``dx = (dxn - mean_n dxn - xn * mean_n(dxn * xn)) / std``.
    """

    def __init__(
        self,
        gamma: np.ndarray,
        beta: np.ndarray,
        momentum: float = 0.9,
        running_mean: np.ndarray | None = None,
        running_var: np.ndarray | None = None,
        eps: float = 1e-7,
    ):
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(
                f"gamma and beta must be 1-D of equal shape, got {gamma.shape}, {beta.shape}"
            )
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = float(momentum)
        self.running_mean = running_mean
        self.running_var = running_var
        self.eps = float(eps)
        self.input_shape: tuple[int, ...] | None = None
        self.xn: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        self.input_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        d = self.gamma.shape[0]
        if x.shape[1] != d:
            raise ValueError(f"BatchNormalization: input has {x.shape[1]} features, gamma has {d}")
        if self.running_mean is None:
            self.running_mean = np.zeros(d, dtype=x.dtype)
            self.running_var = np.zeros(d, dtype=x.dtype)
        # Parameters in the data's dtype so that float32 data stays float32 (a copy of (D,) only).
        gamma = self.gamma.astype(x.dtype, copy=False)
        beta = self.beta.astype(x.dtype, copy=False)

        if train_flg:
            if x.shape[0] < 2:
                raise ValueError("BatchNormalization needs a batch of at least 2 in training mode")
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc * xc, axis=0)
            std = np.sqrt(var + self.eps)
            xc /= std
            self.xn = xc
            self.std = std
            m = self.momentum
            self.running_mean = m * self.running_mean + (1.0 - m) * mu
            self.running_var = m * self.running_var + (1.0 - m) * var
            xn = xc
        else:
            xn = (x - self.running_mean.astype(x.dtype, copy=False)) / np.sqrt(
                self.running_var.astype(x.dtype, copy=False) + self.eps
            )
        out = xn * gamma
        out += beta
        return out.reshape(self.input_shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.xn is None:
            raise RuntimeError(
                "BatchNormalization.backward needs a forward pass with train_flg=True"
            )
        dout = dout.reshape(dout.shape[0], -1)
        xn = self.xn
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(dout * xn, axis=0)
        dxn = dout * self.gamma.astype(dout.dtype, copy=False)
        dx = dxn - dxn.mean(axis=0)
        dx -= xn * (np.mean(dxn * xn, axis=0))
        dx /= self.std
        return dx.reshape(self.input_shape)


class Dropout:
    """Dropout (Srivastava et al. 2014), the course's convention by default.

    Training: ``mask = rng.random(x.shape) > dropout_ratio`` (boolean; each unit is dropped
    with probability ``dropout_ratio``), ``out = x * mask``. Inference: ``out = x * (1 -
    dropout_ratio)``, so that expectations match. Backward: ``dx = dout * mask``.

    ``inverted=True`` gives the variant used by most libraries: training
    ``out = x * mask / (1 - p)``, inference the identity, backward ``dout * mask / (1 - p)``.

    ``rng``: an ``np.random.Generator`` for reproducible masks; ``None`` uses the global
    ``np.random`` state (``np.random.rand``, as the textbook does).
    """

    def __init__(
        self,
        dropout_ratio: float = 0.5,
        inverted: bool = False,
        rng: np.random.Generator | None = None,
    ):
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must lie in [0, 1), got {dropout_ratio}")
        self.dropout_ratio = float(dropout_ratio)
        self.inverted = bool(inverted)
        self.rng = rng
        self.mask: np.ndarray | None = None

    def _uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        if self.rng is None:
            return np.random.rand(*shape)
        return self.rng.random(shape)

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        keep = 1.0 - self.dropout_ratio
        if train_flg:
            self.mask = self._uniform(x.shape) > self.dropout_ratio
            out = x * self.mask
            if self.inverted:
                out *= 1.0 / keep
            return out
        if self.inverted:
            return x.copy()
        return x * keep

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.mask is None:
            raise RuntimeError("Dropout.backward needs a forward pass with train_flg=True")
        dx = dout * self.mask
        if self.inverted:
            dx *= 1.0 / (1.0 - self.dropout_ratio)
        return dx
