"""Mini-batch training loop with per-epoch history (the textbook's ``Trainer``, seeded).

Each epoch visits the training set once in a fresh random order (batches of ``batch_size``;
a last batch of fewer than 2 samples is dropped, batch norm needs 2), updating the network's
``params`` with ``optimizer.update(params, network.gradient(x, t))``. After every epoch the
accuracies (classification) and the test loss are recorded.
"""

from __future__ import annotations

import math
import time

import numpy as np

from grader.student.progress import progress
from reference.layers import SquaredErrorLoss
from reference.optimizers import SGD, AdaGrad, Adam, LinearDecay, Momentum, Nesterov, RMSProp

__all__ = ["Trainer"]

OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adam": Adam,
}


def make_optimizer(optimizer, optimizer_param: dict | None = None):
    """An optimiser object, or one built from a name (``'sgd'``, ``'adam'``, …) and params."""
    if isinstance(optimizer, str):
        try:
            cls = OPTIMIZERS[optimizer.lower()]
        except KeyError:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; choose one of {list(OPTIMIZERS)}"
            ) from None
        return cls(**(optimizer_param or {}))
    if not callable(getattr(optimizer, "update", None)):
        raise TypeError("optimizer must be a name or an object with update(params, grads)")
    return optimizer


class Trainer:
    """Train ``network`` for ``epochs`` epochs of mini-batch gradient descent.

    ``network`` needs ``params``, ``gradient(x, t)`` and ``loss(x, t)``; ``accuracy(x, t)``
    is used when the network has one and it applies. ``lr_schedule`` (a ``LinearDecay``) sets
    ``optimizer.lr`` before every update k = 0, 1, …. ``evaluate_sample_num_per_epoch``
    limits the per-epoch evaluation to the first n samples of each set (faster).

    History after ``train()``: ``train_loss_list`` (one loss per update),
    ``epoch_loss_list``, ``train_acc_list``, ``test_acc_list``, ``test_loss_list`` (one per
    epoch), ``epoch_seconds`` (wall time of the updates of each epoch).
    """

    def __init__(
        self,
        network,
        x_train: np.ndarray,
        t_train: np.ndarray,
        x_test: np.ndarray,
        t_test: np.ndarray,
        epochs: int = 20,
        batch_size: int = 100,
        optimizer="sgd",
        optimizer_param: dict | None = None,
        evaluate_sample_num_per_epoch: int | None = None,
        verbose: bool = True,
        seed: int | None = 0,
        lr_schedule: LinearDecay | None = None,
    ):
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError(
                f"x and t lengths differ: train {len(x_train)} vs {len(t_train)}, "
                f"test {len(x_test)} vs {len(t_test)}"
            )
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.network = network
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = epochs
        self.batch_size = min(batch_size, len(x_train))
        self.optimizer = make_optimizer(optimizer, optimizer_param)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.verbose = verbose
        self.rng = np.random.default_rng(seed)
        self.lr_schedule = lr_schedule
        self.iter_per_epoch = math.ceil(len(x_train) / self.batch_size)
        self.current_iter = 0
        self.current_epoch = 0
        self.train_loss_list: list[float] = []
        self.epoch_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self.test_loss_list: list[float] = []
        self.epoch_seconds: list[float] = []

    # ------------------------------------------------------------------ one update

    def train_step(self, x_batch: np.ndarray, t_batch: np.ndarray) -> float:
        """One update on one batch; returns the batch loss (before the update)."""
        if self.lr_schedule is not None:
            self.lr_schedule.apply(self.optimizer, self.current_iter)
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        # Our networks keep the loss of the forward pass inside gradient(); others pay a
        # second forward pass.
        loss = getattr(self.network, "last_loss", None)
        if loss is None:
            loss = self.network.loss(x_batch, t_batch)
        self.current_iter += 1
        loss = float(loss)
        self.train_loss_list.append(loss)
        return loss

    def _batches(self) -> list[np.ndarray]:
        order = self.rng.permutation(len(self.x_train))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < 2:
            batches.pop()
        return batches

    # ------------------------------------------------------------------ evaluation

    def _subset(self, x: np.ndarray, t: np.ndarray):
        n = self.evaluate_sample_num_per_epoch
        return (x, t) if n is None else (x[:n], t[:n])

    def _accuracy(self, x: np.ndarray, t: np.ndarray) -> float | None:
        """None for networks without accuracy (regression); errors of the others propagate."""
        accuracy = getattr(self.network, "accuracy", None)
        if accuracy is None or isinstance(
            getattr(self.network, "last_layer", None), SquaredErrorLoss
        ):
            return None
        return float(accuracy(x, t))

    def evaluate(self) -> dict[str, float | None]:
        """Train/test accuracy and test loss on the evaluation subsets (inference mode)."""
        xtr, ttr = self._subset(self.x_train, self.t_train)
        xte, tte = self._subset(self.x_test, self.t_test)
        return {
            "train_acc": self._accuracy(xtr, ttr),
            "test_acc": self._accuracy(xte, tte),
            "test_loss": float(self.network.loss(xte, tte)),
        }

    # ------------------------------------------------------------------ the loop

    def train_epoch(self) -> dict[str, float | None]:
        """One pass over the training set, then evaluation; returns that epoch's figures."""
        self.current_epoch += 1
        desc = f"epoch {self.current_epoch}/{self.epochs}"
        losses = []
        start = time.perf_counter()
        for idx in progress(self._batches(), desc=desc, disable=not self.verbose, leave=False):
            losses.append(self.train_step(self.x_train[idx], self.t_train[idx]))
        self.epoch_seconds.append(time.perf_counter() - start)
        self.epoch_loss_list.append(float(np.mean(losses)))
        figures = self.evaluate()
        if figures["train_acc"] is not None:
            self.train_acc_list.append(figures["train_acc"])
            self.test_acc_list.append(figures["test_acc"])
        self.test_loss_list.append(figures["test_loss"])
        if self.verbose:
            acc = (
                f", train acc {figures['train_acc']:.4f}, test acc {figures['test_acc']:.4f}"
                if figures["train_acc"] is not None
                else ""
            )
            print(
                f"{desc}: loss {self.epoch_loss_list[-1]:.4f}, "
                f"test loss {figures['test_loss']:.4f}{acc} ({self.epoch_seconds[-1]:.1f} s)"
            )
        return figures

    def train(self) -> Trainer:
        """Run all epochs; returns ``self`` (the history lives on the attributes)."""
        for _ in range(self.epochs):
            self.train_epoch()
        return self
