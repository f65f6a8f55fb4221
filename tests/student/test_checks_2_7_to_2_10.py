"""The self-checks of notebooks 2-7 .. 2-10 pass correct code and catch the classic mistakes.

Student-style implementations are written here (not imported from ``reference``) because the
checks run on whatever the student typed; each bug variant must fail with its targeted hint.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.student import CheckFailed, check
from grader.student.checks.training import PredictionError, public_test_accuracy


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.eps = 1e-7

    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = np.zeros(x.shape[1])
            self.running_var = np.zeros(x.shape[1])
        if train_flg:
            mu = x.mean(axis=0)
            var = ((x - mu) ** 2).mean(axis=0)
            self.std = np.sqrt(var + self.eps)
            self.xn = (x - mu) / self.std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
            xn = self.xn
        else:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return self.gamma * xn + self.beta

    def backward(self, dout):
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (self.xn * dout).sum(axis=0)
        c = dout.mean(axis=0)
        d = (self.xn * dout).mean(axis=0)
        return self.gamma / self.std * (dout - c - self.xn * d)


class BNNoStatTerms(BatchNormalization):
    def backward(self, dout):
        super().backward(dout)
        return self.gamma / self.std * dout


class BNSwappedMomentum(BatchNormalization):
    def forward(self, x, train_flg=True):
        if train_flg:
            if self.running_mean is None:
                self.running_mean = self.running_var = np.zeros(x.shape[1])
            run_m, run_v = self.running_mean, self.running_var
            out = super().forward(x, train_flg)
            m = self.momentum
            self.running_mean = (1 - m) * run_m + m * x.mean(axis=0)
            self.running_var = (1 - m) * run_v + m * x.var(axis=0)
            return out
        return super().forward(x, train_flg)


class BNStartsFromFirstBatch(BatchNormalization):
    def forward(self, x, train_flg=True):
        if self.running_mean is None:
            self.running_mean = x.mean(axis=0)
            self.running_var = x.var(axis=0)
        return super().forward(x, train_flg)


class BNBatchStatsAtInference(BatchNormalization):
    def forward(self, x, train_flg=True):
        return super().forward(x, True)


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class DropoutReversed(Dropout):
    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) < self.dropout_ratio
            return x * self.mask
        return super().forward(x, train_flg)


class DropoutResampled(Dropout):
    def backward(self, dout):
        self.mask = np.random.rand(*dout.shape) > self.dropout_ratio
        return dout * self.mask


class DropoutInverted(Dropout):
    def forward(self, x, train_flg=True):
        if train_flg:
            return super().forward(x) / (1 - self.dropout_ratio)
        return x


def l2_regularization(W, alpha):
    return alpha * np.sum(W**2), 2 * alpha * W


def l1_regularization(W, alpha):
    return alpha * np.sum(np.abs(W)), alpha * np.sign(W)


def _run(item, **objects):
    """(passed, printed report) of one self-check, in English."""
    try:
        check(item, lang="en", quiet=True, **objects)
    except CheckFailed:
        return False
    return True


def _report(item, capsys, **objects) -> str:
    with pytest.raises(CheckFailed):
        check(item, lang="en", **objects)
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "item", ["batchnorm_forward", "batchnorm_backward", "batchnorm_running_stats"]
)
def test_correct_batchnorm_passes(item):
    assert _run(item, BatchNormalization=BatchNormalization)


def test_batchnorm_backward_without_mean_and_variance_terms_gets_the_hint(capsys):
    out = _report("batchnorm_backward", capsys, BatchNormalization=BNNoStatTerms)
    assert "depend on x too" in out


def test_batchnorm_swapped_momentum_gets_the_hint(capsys):
    out = _report("batchnorm_running_stats", capsys, BatchNormalization=BNSwappedMomentum)
    assert "swapped" in out


def test_batchnorm_running_stats_must_start_from_zeros(capsys):
    out = _report("batchnorm_running_stats", capsys, BatchNormalization=BNStartsFromFirstBatch)
    assert "np.zeros(D) when running_mean is None" in out


def test_batchnorm_batch_stats_at_inference_fails(capsys):
    out = _report("batchnorm_forward", capsys, BatchNormalization=BNBatchStatsAtInference)
    assert "[FAIL] batchnorm_forward" in out and "y_eval" in out


@pytest.mark.parametrize("item", ["dropout_forward", "dropout_backward", "dropout_inference"])
def test_correct_dropout_passes_and_keeps_the_notebook_random_state(item):
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    assert _run(item, Dropout=Dropout)
    assert np.random.rand() == expected


def test_dropout_reversed_comparison_gets_the_hint(capsys):
    out = _report("dropout_forward", capsys, Dropout=DropoutReversed)
    assert "comparison is reversed" in out


def test_dropout_mask_resampled_in_backward_gets_the_hint(capsys):
    out = _report("dropout_backward", capsys, Dropout=DropoutResampled)
    assert "drawn again in backward" in out


def test_inverted_dropout_gets_the_convention_hint(capsys):
    assert "inverted dropout" in _report("dropout_forward", capsys, Dropout=DropoutInverted)
    # at inference the (derived) self-check says what grading says: no (1 - p) scaling
    out = _report("dropout_inference", capsys, Dropout=DropoutInverted)
    assert "is not multiplied by (1 - dropout_ratio)" in out


def test_correct_penalties_pass():
    assert _run("l2_regularization", l2_regularization=l2_regularization)
    assert _run("l1_regularization", l1_regularization=l1_regularization)


def test_l2_gradient_without_factor_two_gets_the_hint(capsys):
    out = _report(
        "l2_regularization", capsys, l2_regularization=lambda W, a: (a * np.sum(W**2), a * W)
    )
    assert "the factor 2 is missing" in out


def test_penalty_that_overwrites_W_fails_with_the_hint(capsys):
    def l1_sign_in_place(W, a):
        pen = a * np.sum(np.abs(W))
        np.sign(W, out=W)
        W *= a
        return pen, W

    out = _report("l1_regularization", capsys, l1_regularization=l1_sign_in_place)
    assert "leaves argument `W` unchanged" in out
    assert "It must return its results as new arrays" in out


def test_l1_wrong_gradient_fails():
    assert not _run("l1_regularization", l1_regularization=lambda W, a: (a * np.sum(abs(W)), a * W))


class _Linear:
    """A fixed linear classifier: scores = x @ W (enough to exercise the accuracy helper)."""

    def __init__(self, W):
        self.W = W

    def predict(self, x, train_flg=False):
        return x @ self.W


def test_public_test_accuracy_counts_argmax_hits_and_rejects_bad_shapes():
    x = np.eye(10)[[0, 1, 2, 3]]
    t = np.array([0, 1, 2, 0])
    assert public_test_accuracy(_Linear(np.eye(10)), data=(x, t)) == 0.75
    with pytest.raises(PredictionError, match="expected \\(4, 10\\)"):
        public_test_accuracy(_Linear(np.eye(10)[:, :3]), data=(x, t))


def _weight_penalty(params, alpha, reg):
    total, grads = 0.0, {}
    for key, W in params.items():
        if key.startswith("W"):
            p, g = reg(W, alpha)
            total += p
            grads[key] = g
    return total, grads


def _penalty_with_biases(params, alpha, reg):
    total, grads = 0.0, {}
    for key, W in params.items():
        p, g = reg(W, alpha)
        total += p
        grads[key] = g
    return total, grads


@pytest.mark.slow
def test_mnist_accuracy_checks_fail_a_chance_level_network_and_flag_regularised_biases(capsys):
    chance = _Linear(np.zeros((784, 10)))
    out = _report("mnist_accuracy_2_8", capsys, network=chance)
    assert "chance level" in out
    out = _report(
        "mnist_accuracy_2_10",
        capsys,
        network=chance,
        weight_penalty=_penalty_with_biases,
        l2_regularization=l2_regularization,
    )
    assert "biases b are regularised" in out
    out = _report(
        "mnist_accuracy_2_10",
        capsys,
        network=chance,
        weight_penalty=_weight_penalty,
        l2_regularization=l2_regularization,
    )
    assert "✓ weight_penalty covers weights only" in out
