"""Gradient-descent optimisers, a learning-rate schedule, Polyak averaging, gradient clipping.

Every optimiser has ``update(params, grads)``: ``params`` and ``grads`` are dicts of arrays with
the same keys and shapes (e.g. ``W1, b1, ...``); the arrays of ``params`` are changed in place,
so layers that hold them by reference see the new values. Per-parameter state (velocities,
accumulators) is created lazily as zeros of the parameter's shape and dtype.

Notation: ``g`` the gradient, ``lr`` the learning rate, ``eps = 1e-7``. In the adaptive methods
``eps`` is added *outside* the square root: ``g / (sqrt(h) + eps)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "LinearDecay",
    "PolyakAveraging",
    "clip_grad_norm",
]

EPS = 1e-7


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value


class Optimizer:
    """Base class: checks the dicts and calls ``_step(key, param, grad)`` for every key."""

    def __init__(self, lr: float):
        lr = float(lr)
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        self.lr = lr

    def update(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        missing = [k for k in params if k not in grads]
        if missing:
            raise KeyError(f"grads has no entry for {missing}")
        self._begin_step()
        for key, param in params.items():
            grad = grads[key]
            if np.shape(grad) != param.shape:
                raise ValueError(
                    f"grads[{key!r}] has shape {np.shape(grad)}, params[{key!r}] has {param.shape}"
                )
            self._step(key, param, grad)

    def _begin_step(self) -> None:
        """Hook for per-update bookkeeping (Adam's step counter)."""

    def _step(self, key: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    @staticmethod
    def _zeros(state: dict[str, np.ndarray], key: str, param: np.ndarray) -> np.ndarray:
        if key not in state:
            state[key] = np.zeros_like(param)
        return state[key]


class SGD(Optimizer):
    """Plain gradient descent: ``param <- param - lr * g``."""

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, key, param, grad):
        param -= self.lr * grad


class Momentum(Optimizer):
    """Momentum (seed 001 6.1, seed 004 Alg. 8.2): ``v <- momentum * v - lr * g``,
    ``param <- param + v``; ``v`` starts at 0."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _check_fraction("momentum", momentum)
        self.v: dict[str, np.ndarray] = {}

    def _step(self, key, param, grad):
        v = self._zeros(self.v, key, param)
        v *= self.momentum
        v -= self.lr * grad
        param += v


class Nesterov(Optimizer):
    """Nesterov momentum in the change-of-variables form (Sutskever et al. 2013).

    Seed 004 Alg. 8.3 keeps ``theta`` and evaluates the gradient at the look-ahead point
    ``theta + alpha v``. Here the stored parameters *are* that look-ahead point,
    ``phi = theta + alpha v``, so the gradient passed in is ``g = grad f(phi)``, exactly the
    one Alg. 8.3 uses. Substituting ``theta = phi - alpha v`` into Alg. 8.3 gives::

        v   <- alpha * v - lr * g
        phi <- phi + alpha * v_new - lr * g      (= phi + alpha^2 v_old - (1 + alpha) lr g)

    With ``v = 0`` at the start, ``phi_0 = theta_0``, and after every step
    ``phi_k = theta_k + alpha * v_k`` for the ``theta_k, v_k`` of Alg. 8.3.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _check_fraction("momentum", momentum)
        self.v: dict[str, np.ndarray] = {}

    def _step(self, key, param, grad):
        v = self._zeros(self.v, key, param)
        step = self.lr * grad
        v *= self.momentum
        v -= step
        param += self.momentum * v
        param -= step


class AdaGrad(Optimizer):
    """AdaGrad (seed 004 Alg. 8.4): ``h <- h + g * g``,
    ``param <- param - lr * g / (sqrt(h) + eps)``.

    ``eps = 1e-7`` outside the square root, as in Alg. 8.4 (``delta + sqrt(r)``).
    """

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)
        self.h: dict[str, np.ndarray] = {}

    def _step(self, key, param, grad):
        h = self._zeros(self.h, key, param)
        h += grad * grad
        param -= self.lr * grad / (np.sqrt(h) + EPS)


class RMSProp(Optimizer):
    """RMSProp (seed 004 Alg. 8.5): ``h <- decay_rate * h + (1 - decay_rate) * g * g``,
    ``param <- param - lr * g / (sqrt(h) + eps)``.

    ``eps = 1e-7`` is added *outside* the square root (the course convention, as in AdaGrad
    and Adam); Alg. 8.5 writes ``sqrt(delta + r)`` with ``delta = 1e-6``. The two differ only
    while ``h`` is of the order of ``eps``.
    """

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99):
        super().__init__(lr)
        self.decay_rate = _check_fraction("decay_rate", decay_rate)
        self.h: dict[str, np.ndarray] = {}

    def _step(self, key, param, grad):
        h = self._zeros(self.h, key, param)
        h *= self.decay_rate
        h += (1.0 - self.decay_rate) * grad * grad
        param -= self.lr * grad / (np.sqrt(h) + EPS)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2014) in the implementation-friendly form of seed 001 section 6.2.

    With ``t`` the number of updates so far (1 at the first update)::

        m    <- beta1 * m + (1 - beta1) * g
        v    <- beta2 * v + (1 - beta2) * g * g
        lr_t  = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        param <- param - lr_t * m / (sqrt(v) + eps)

    ``eps = 1e-7`` outside the square root. ``lr_t`` folds both bias corrections into the step.
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        super().__init__(lr)
        self.beta1 = _check_fraction("beta1", beta1)
        self.beta2 = _check_fraction("beta2", beta2)
        self.iter = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def _begin_step(self):
        self.iter += 1
        t = self.iter
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)

    def _step(self, key, param, grad):
        m = self._zeros(self.m, key, param)
        v = self._zeros(self.v, key, param)
        m *= self.beta1
        m += (1.0 - self.beta1) * grad
        v *= self.beta2
        v += (1.0 - self.beta2) * grad * grad
        param -= self._lr_t * m / (np.sqrt(v) + EPS)


class LinearDecay:
    """Linear learning-rate decay (seed 004 8.3.1), for any optimiser with an ``lr`` attribute.

    ``lr_k = (1 - k/tau) * lr_0 + (k/tau) * lr_tau`` for ``k <= tau``, and ``lr_tau`` after.
    Use ``schedule.apply(optimizer, k)`` before the k-th update (k = 0, 1, 2, ...).
    """

    def __init__(self, lr_0: float, lr_tau: float, tau: int):
        if isinstance(tau, bool) or not isinstance(tau, int | np.integer) or tau < 1:
            raise ValueError(f"tau must be a positive integer, got {tau!r}")
        if not (lr_0 > 0 and lr_tau >= 0):
            raise ValueError(f"need lr_0 > 0 and lr_tau >= 0, got {lr_0}, {lr_tau}")
        self.lr_0 = float(lr_0)
        self.lr_tau = float(lr_tau)
        self.tau = int(tau)

    def __call__(self, k: int) -> float:
        if k < 0:
            raise ValueError(f"the iteration k must be >= 0, got {k}")
        a = min(k, self.tau) / self.tau
        return (1.0 - a) * self.lr_0 + a * self.lr_tau

    def apply(self, optimizer: Optimizer, k: int) -> float:
        """Set ``optimizer.lr`` to ``lr_k`` and return it."""
        optimizer.lr = self(k)
        return optimizer.lr


class PolyakAveraging:
    """Average of the parameter iterates (seed 004 8.7.3), kept next to the training.

    ``decay=None``: the running arithmetic mean ``avg_t = avg_{t-1} - (avg_{t-1} - theta_t)/t``.
    ``decay=a``: the exponential moving average ``avg_t = a * avg_{t-1} + (1 - a) * theta_t``
    (for non-convex problems, where recent iterates matter more). The first ``update`` sets
    ``avg_1 = theta_1`` in both cases. Call ``update(params)`` after each optimiser step;
    ``averaged()`` returns a copy of the averages (e.g. to evaluate the network with).
    """

    def __init__(self, decay: float | None = None):
        self.decay = None if decay is None else _check_fraction("decay", decay)
        self.count = 0
        self.avg: dict[str, np.ndarray] = {}

    def update(self, params: dict[str, np.ndarray]) -> None:
        self.count += 1
        for key, param in params.items():
            if key not in self.avg:
                if self.count != 1:
                    raise KeyError(f"parameter {key!r} was not present in the first update")
                self.avg[key] = np.array(param, copy=True)
                continue
            rate = 1.0 / self.count if self.decay is None else 1.0 - self.decay
            self.avg[key] += rate * (param - self.avg[key])

    def averaged(self) -> dict[str, np.ndarray]:
        if not self.avg:
            raise RuntimeError("PolyakAveraging.averaged() called before any update")
        return {key: value.copy() for key, value in self.avg.items()}


def clip_grad_norm(grads: dict[str, np.ndarray], max_norm: float) -> float:
    """Clip by the global L2 norm over all gradients.

    ``total = sqrt(sum_k sum(grads[k]^2))``; when ``total > max_norm`` every gradient is
    multiplied in place by ``max_norm / total`` (directions kept, new norm ``max_norm``).
    Returns ``total``, the norm before clipping.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    if total > max_norm:
        scale = float(max_norm) / total
        for g in grads.values():
            g *= scale
    return total
