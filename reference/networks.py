"""Networks built from the reference layers: TwoLayerNet, MultiLayerNet, MultiLayerNetExtend.

All three keep their parameters in ``params`` (``W1, b1, W2, b2, ...`` and, with batch norm,
``gamma1, beta1, ...``), their layers in an ``OrderedDict`` ``layers`` that hold the parameter
arrays by reference (an optimiser updating ``params`` in place updates the layers), and the loss
layer in ``last_layer``. ``gradient(x, t)`` is backpropagation; ``numerical_gradient(x, t)``
is the central-difference check of the same loss.

Shapes: ``x`` (N, input_size) (or (N, C, H, W), flattened by the first Affine); ``t`` as the
loss layer wants it: (N, output_size) targets for regression and binary, integer labels (N,)
or one-hot (N, output_size) for multi-class.

Dtypes: parameters are created in ``dtype`` (float64 by default, as gradient checks want);
with ``dtype=np.float32`` and float32 inputs every array of a training step stays float32.

Weight penalties follow seed 001 section 9: L2 adds ``lambda * sum(W**2)`` (gradient
``2 * lambda * W``), L1 adds ``lambda * sum(|W|)`` (gradient ``lambda * sign(W)``), on weight
matrices only.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from reference.functions import numerical_gradient as _numerical_gradient
from reference.initializers import glorot_normal, glorot_uniform, he_normal, std_normal
from reference.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    LeakyRelu,
    Relu,
    Sigmoid,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    SquaredErrorLoss,
    Tanh,
)
from reference.regularization import l1_regularization, l2_regularization, weight_keys

__all__ = ["TwoLayerNet", "MultiLayerNet", "MultiLayerNetExtend"]

TASKS = ("regression", "binary", "multiclass")
ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyRelu}
# The textbook's spellings are accepted as aliases.
INIT_ALIASES = {"relu": "he", "sigmoid": "glorot", "xavier": "glorot"}
INITS = ("he", "glorot", "glorot_uniform")


def _check_size(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _rng(seed: int | None) -> np.random.Generator | None:
    """A generator for ``seed``; None keeps the global ``np.random`` state (textbook style)."""
    return None if seed is None else np.random.default_rng(seed)


class _LayeredNet:
    """Shared machinery: forward through ``layers``, loss, backprop, numeric gradient."""

    params: dict[str, np.ndarray]
    layers: OrderedDict
    last_layer: object
    weight_decay_lambda: float = 0.0
    l1_lambda: float = 0.0
    last_loss: float | None = None

    # (param key, layer name, gradient attribute) for every parameter
    _grad_map: list[tuple[str, str, str]]

    def _scores(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """The input of the loss layer (before the output activation)."""
        for layer in self.layers.values():
            if isinstance(layer, BatchNormalization | Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def penalty(self) -> float:
        """``lambda2 * sum W^2 + lambda1 * sum |W|`` over the weight matrices."""
        total = 0.0
        for key in weight_keys(self.params):
            if self.weight_decay_lambda:
                total += l2_regularization(self.params[key], self.weight_decay_lambda)[0]
            if self.l1_lambda:
                total += l1_regularization(self.params[key], self.l1_lambda)[0]
        return total

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """Data loss of the output layer plus the weight penalties (a Python float)."""
        data_loss = self.last_layer.forward(self._scores(x, train_flg), t)
        if self.weight_decay_lambda or self.l1_lambda:
            return data_loss + self.penalty()
        return data_loss

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Backpropagation: the gradient of ``loss(x, t, train_flg=True)`` for every key of
        ``params`` (same shapes; penalties included). The loss of this forward pass is kept
        in ``last_loss`` (the Trainer logs it without a second forward pass)."""
        self.last_loss = self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1.0)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        first = layers[0]
        if type(first) is Affine:
            # Nobody uses the gradient w.r.t. the input data: skip its matmul (dout @ W1.T,
            # as large as the first layer's forward; about 15% of a 784-100-100-10 step).
            first.dW = first.x.T @ dout
            first.db = dout.sum(axis=0)
        else:
            first.backward(dout)
        grads = {key: getattr(self.layers[name], attr) for key, name, attr in self._grad_map}
        if not (self.weight_decay_lambda or self.l1_lambda):
            return grads
        for key in weight_keys(self.params):
            W = self.params[key]
            if self.weight_decay_lambda:
                grads[key] = grads[key] + l2_regularization(W, self.weight_decay_lambda)[1]
            if self.l1_lambda:
                grads[key] = grads[key] + l1_regularization(W, self.l1_lambda)[1]
        return grads

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray, h: float = 1e-5) -> dict:
        """Central differences of ``loss(x, t, train_flg=True)`` for every parameter (float64;
        slow: two forward passes per parameter entry, meant for small nets)."""
        f = lambda _: self.loss(x, t, train_flg=True)
        return {key: _numerical_gradient(f, p, h) for key, p in self.params.items()}

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 10000) -> float:
        """Fraction of correct predictions (classification only), in inference mode.

        Multi-class: ``argmax`` of the scores vs. labels (or ``argmax`` of one-hot ``t``);
        binary: score ``> 0`` (probability ``> 0.5``) vs. ``t``. Evaluated in chunks of
        ``batch_size`` rows to bound memory.
        """
        if isinstance(self.last_layer, SquaredErrorLoss):
            raise ValueError("accuracy is defined for classification; use loss() for regression")
        n = x.shape[0]
        if n == 0:
            raise ValueError("accuracy of an empty batch")
        scores = np.concatenate(
            [self._scores(x[i : i + batch_size]) for i in range(0, n, batch_size)]
        )
        if isinstance(self.last_layer, SigmoidWithLoss):
            pred = scores > 0
            return float(np.mean(pred == (np.asarray(t).reshape(pred.shape) > 0.5)))
        t = np.asarray(t)
        labels = t.argmax(axis=1) if t.ndim == 2 else t
        return float(np.mean(scores.argmax(axis=1) == labels))


class TwoLayerNet(_LayeredNet):
    """``Affine -> Sigmoid -> Affine -> head`` for the three tasks of notebooks 2-2-x.

    Heads: ``"regression"`` identity + SquaredErrorLoss (``sum((y-t)^2) / 2N``), ``"binary"``
    sigmoid + SigmoidWithLoss (mean binary cross-entropy), ``"multiclass"`` softmax +
    SoftmaxWithLoss (mean cross-entropy). Weights ``W ~ weight_init_std * N(0, 1)``, biases 0.
    ``predict(x)`` returns the head's output ``y``: values, probabilities of class 1
    (N, output_size), or softmax probabilities (N, output_size).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        task: str = "regression",
        weight_init_std: float = 0.01,
        dtype=np.float64,
        seed: int | None = None,
    ):
        sizes = [
            _check_size(n, v)
            for n, v in (
                ("input_size", input_size),
                ("hidden_size", hidden_size),
                ("output_size", output_size),
            )
        ]
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if task == "multiclass" and output_size < 2:
            raise ValueError("a multi-class head needs output_size >= 2")
        self.task = task
        rng = _rng(seed)
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = std_normal(n_in, n_out, weight_init_std, rng=rng, dtype=dtype)
            self.params[f"b{i}"] = np.zeros(n_out, dtype=dtype)
        self.layers = OrderedDict(
            Affine1=Affine(self.params["W1"], self.params["b1"]),
            Sigmoid1=Sigmoid(),
            Affine2=Affine(self.params["W2"], self.params["b2"]),
        )
        self.last_layer = {
            "regression": SquaredErrorLoss,
            "binary": SigmoidWithLoss,
            "multiclass": SoftmaxWithLoss,
        }[task]()
        self._grad_map = [(f"{p}{i}", f"Affine{i}", f"d{p}") for i in (1, 2) for p in ("W", "b")]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output ``y`` after the head's activation (see the class doc)."""
        a = self._scores(x)
        if self.task == "binary":
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-a))
        if self.task == "multiclass":
            e = np.exp(a - a.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return a


def _init_weight(spec, n_in: int, n_out: int, rng, dtype) -> np.ndarray:
    """He / Glorot / Glorot-uniform by name, or a plain ``std`` when ``spec`` is a number."""
    if isinstance(spec, str):
        name = INIT_ALIASES.get(spec.lower(), spec.lower())
        if name == "he":
            return he_normal(n_in, n_out, rng=rng, dtype=dtype)
        if name == "glorot":
            return glorot_normal(n_in, n_out, rng=rng, dtype=dtype)
        if name == "glorot_uniform":
            return glorot_uniform(n_in, n_out, rng=rng, dtype=dtype)
        raise ValueError(f"weight_init_std must be one of {INITS} or a number, got {spec!r}")
    return std_normal(n_in, n_out, float(spec), rng=rng, dtype=dtype)


class MultiLayerNet(_LayeredNet):
    """Fully connected net ``(Affine -> activation) x L-1 -> Affine -> SoftmaxWithLoss``.

    ``hidden_size_list`` gives the widths of the hidden layers; ``activation`` is ``'relu'``,
    ``'sigmoid'``, ``'tanh'`` or ``'leaky_relu'``; ``weight_init_std`` is ``'he'``,
    ``'glorot'``, ``'glorot_uniform'`` (``'relu'``, ``'sigmoid'``, ``'xavier'`` as aliases) or
    a number used as the std of every weight. ``predict(x)`` returns the scores (N, output_size)
    before softmax (``argmax`` gives the class).
    """

    use_batchnorm = False
    use_dropout = False

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "he",
        weight_decay_lambda: float = 0.0,
        l1_lambda: float = 0.0,
        dtype=np.float64,
        seed: int | None = None,
    ):
        _check_size("input_size", input_size)
        _check_size("output_size", output_size)
        hidden = [_check_size("hidden_size_list entry", h) for h in hidden_size_list]
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        for name, lam in (("weight_decay_lambda", weight_decay_lambda), ("l1_lambda", l1_lambda)):
            if not lam >= 0:
                raise ValueError(f"{name} must be >= 0, got {lam!r}")
        self.input_size = input_size
        self.hidden_size_list = hidden
        self.output_size = output_size
        self.activation = activation
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.l1_lambda = float(l1_lambda)
        self.hidden_layer_num = len(hidden)
        rng = _rng(seed)
        sizes = [input_size, *hidden, output_size]
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = _init_weight(weight_init_std, n_in, n_out, rng, dtype)
            self.params[f"b{i}"] = np.zeros(n_out, dtype=dtype)
        self.layers = OrderedDict()
        self._grad_map = []
        n_affine = len(sizes) - 1
        for i in range(1, n_affine + 1):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            self._grad_map += [(f"W{i}", f"Affine{i}", "dW"), (f"b{i}", f"Affine{i}", "db")]
            if i == n_affine:
                break
            self._add_hidden_extras(i, sizes[i], dtype, rng)
            self.layers[f"Activation_function{i}"] = ACTIVATIONS[activation]()
            self._add_after_activation(i, rng)
        self.last_layer = SoftmaxWithLoss()

    # Hooks for MultiLayerNetExtend (nothing extra in the plain net).
    def _add_hidden_extras(self, i: int, width: int, dtype, rng) -> None:
        pass

    def _add_after_activation(self, i: int, rng) -> None:
        pass

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Scores (N, output_size) before softmax."""
        return self._scores(x, train_flg)


class MultiLayerNetExtend(MultiLayerNet):
    """MultiLayerNet with optional batch norm (after each hidden Affine, before the
    activation) and dropout (after each hidden activation).

    Extra parameters ``gamma{i}`` (ones) and ``beta{i}`` (zeros) of each BatchNormalization.
    ``predict(x, train_flg=False)`` and ``loss(x, t, train_flg=False)`` run BN on running
    statistics and dropout scaled by ``1 - dropout_ratio`` unless ``train_flg``;
    ``gradient`` uses training mode. ``seed`` also seeds the dropout masks.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: list[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: str | float = "he",
        weight_decay_lambda: float = 0.0,
        l1_lambda: float = 0.0,
        use_batchnorm: bool = False,
        use_dropout: bool = False,
        dropout_ratio: float = 0.5,
        dtype=np.float64,
        seed: int | None = None,
    ):
        self.use_batchnorm = bool(use_batchnorm)
        self.use_dropout = bool(use_dropout)
        self.dropout_ratio = float(dropout_ratio)
        super().__init__(
            input_size,
            hidden_size_list,
            output_size,
            activation=activation,
            weight_init_std=weight_init_std,
            weight_decay_lambda=weight_decay_lambda,
            l1_lambda=l1_lambda,
            dtype=dtype,
            seed=seed,
        )

    def _add_hidden_extras(self, i: int, width: int, dtype, rng) -> None:
        if not self.use_batchnorm:
            return
        self.params[f"gamma{i}"] = np.ones(width, dtype=dtype)
        self.params[f"beta{i}"] = np.zeros(width, dtype=dtype)
        self.layers[f"BatchNorm{i}"] = BatchNormalization(
            self.params[f"gamma{i}"], self.params[f"beta{i}"]
        )
        self._grad_map += [
            (f"gamma{i}", f"BatchNorm{i}", "dgamma"),
            (f"beta{i}", f"BatchNorm{i}", "dbeta"),
        ]

    def _add_after_activation(self, i: int, rng) -> None:
        if self.use_dropout:
            # Each layer gets its own stream so that masks do not depend on layer order.
            layer_rng = None if rng is None else np.random.default_rng(rng.integers(2**63))
            self.layers[f"Dropout{i}"] = Dropout(self.dropout_ratio, rng=layer_rng)
