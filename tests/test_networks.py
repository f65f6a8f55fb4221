"""Reference networks: backprop against central differences of the same loss (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from reference.functions import rel_error
from reference.networks import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet

# A correct backprop measures 1e-9 .. 1e-11 here; a wrong term anywhere is O(1).
TOL = 1e-7


def grad_errors(net, x, t) -> dict[str, float]:
    analytic = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    assert analytic.keys() == numeric.keys() == net.params.keys()
    for k in analytic:
        assert analytic[k].shape == net.params[k].shape, k
    return {k: rel_error(analytic[k], numeric[k]) for k in analytic}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_two_layer_net_gradient(task, rng):
    x = rng.standard_normal((7, 4))
    t = {
        "regression": rng.standard_normal((7, 3)),
        "binary": (rng.random((7, 3)) > 0.5).astype(np.float64),
        "multiclass": rng.integers(0, 3, 7),
    }[task]
    net = TwoLayerNet(4, 5, 3, task=task, weight_init_std=0.8, seed=0)
    errors = grad_errors(net, x, t)
    assert max(errors.values()) < TOL, errors


def test_two_layer_net_heads_and_accuracy(rng):
    x = rng.standard_normal((6, 2))
    reg = TwoLayerNet(2, 4, 1, task="regression", seed=0)
    a = reg._scores(x)
    np.testing.assert_allclose(reg.predict(x), a)
    np.testing.assert_allclose(reg.loss(x, np.zeros((6, 1))), np.sum(a**2) / 12)
    with pytest.raises(ValueError, match="classification"):
        reg.accuracy(x, np.zeros((6, 1)))

    binary = TwoLayerNet(2, 4, 1, task="binary", weight_init_std=1.0, seed=1)
    p = binary.predict(x)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-binary._scores(x))))
    t = (p > 0.5).astype(float)
    assert binary.accuracy(x, t) == 1.0 and binary.accuracy(x, 1 - t) == 0.0

    multi = TwoLayerNet(2, 4, 3, task="multiclass", weight_init_std=1.0, seed=2)
    y = multi.predict(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    labels = y.argmax(axis=1)
    assert multi.accuracy(x, labels) == 1.0
    assert multi.accuracy(x, np.eye(3)[labels]) == 1.0
    assert multi.accuracy(x, (labels + 1) % 3) == 0.0

    with pytest.raises(ValueError, match="task must be one of"):
        TwoLayerNet(2, 4, 3, task="ranking")


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_multilayer_net_gradient_with_l1_and_l2(activation, rng):
    x = rng.standard_normal((6, 5))
    t = rng.integers(0, 4, 6)
    net = MultiLayerNet(
        5, [6, 5], 4, activation=activation, weight_init_std="glorot",
        weight_decay_lambda=0.05, l1_lambda=0.03, seed=3,
    )  # fmt: skip
    errors = grad_errors(net, x, t)
    assert max(errors.values()) < TOL, errors


def test_penalties_follow_the_seed_convention(rng):
    """L2 = lambda*sum(W^2), L1 = lambda*sum|W|, weights only;
    gradients 2*lambda*W and lambda*sign(W)."""
    x = rng.standard_normal((4, 3))
    t = rng.integers(0, 2, 4)
    plain = MultiLayerNet(3, [4], 2, seed=5)
    for b in ("b1", "b2"):
        plain.params[b][...] = 1.0  # biases must not be penalised
    reg = MultiLayerNet(3, [4], 2, weight_decay_lambda=0.1, l1_lambda=0.2, seed=5)
    for k in plain.params:
        reg.params[k][...] = plain.params[k]
    W = [plain.params["W1"], plain.params["W2"]]
    expected = sum(0.1 * np.sum(w**2) + 0.2 * np.sum(np.abs(w)) for w in W)
    np.testing.assert_allclose(reg.loss(x, t) - plain.loss(x, t), expected, rtol=1e-12)
    g_plain, g_reg = plain.gradient(x, t), reg.gradient(x, t)
    np.testing.assert_allclose(g_reg["W1"] - g_plain["W1"], 0.2 * W[0] + 0.2 * np.sign(W[0]))
    np.testing.assert_array_equal(g_reg["b1"], g_plain["b1"])


class FixedUniforms:
    """Stands in for a Dropout layer's generator: the same uniforms on every call, so the mask
    is fixed while the numeric gradient re-runs the forward pass."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.cache: dict[tuple, np.ndarray] = {}

    def random(self, shape):
        if shape not in self.cache:
            self.cache[shape] = self.rng.random(shape)
        return self.cache[shape]


@pytest.mark.parametrize("use_batchnorm,use_dropout", [(True, False), (False, True), (True, True)])
def test_extended_net_gradient(use_batchnorm, use_dropout, rng):
    x = rng.standard_normal((8, 5))
    t = rng.integers(0, 3, 8)
    net = MultiLayerNetExtend(
        5, [6, 6], 3, activation="relu", weight_init_std="he", weight_decay_lambda=0.01,
        use_batchnorm=use_batchnorm, use_dropout=use_dropout, dropout_ratio=0.3, seed=7,
    )  # fmt: skip
    for name, layer in net.layers.items():
        if name.startswith("Dropout"):
            layer.rng = FixedUniforms(int(name[-1]))
    if use_batchnorm:
        # Non-trivial gamma/beta so that their gradients are tested away from the init.
        for i in (1, 2):
            net.params[f"gamma{i}"][...] = rng.uniform(0.5, 1.5, 6)
            net.params[f"beta{i}"][...] = rng.standard_normal(6) * 0.1
    analytic, numeric = net.gradient(x, t), net.numerical_gradient(x, t)
    assert analytic.keys() == numeric.keys() == net.params.keys()
    # A bias right before batch norm is cancelled by the mean subtraction: its gradient is
    # exactly 0, where a relative error only compares rounding noise. Check it absolutely.
    cancelled = {"b1", "b2"} if use_batchnorm else set()
    for k in cancelled:
        assert np.max(np.abs(analytic[k])) < 1e-12 and np.max(np.abs(numeric[k])) < 1e-8, k
    errors = {k: rel_error(analytic[k], numeric[k]) for k in analytic if k not in cancelled}
    assert max(errors.values()) < TOL, errors
    if use_batchnorm:
        assert {"gamma1", "beta1", "gamma2", "beta2"} <= net.params.keys()
    if use_dropout:
        mask = net.layers["Dropout1"].mask
        assert mask.dtype == bool and 0 < mask.mean() < 1


def test_extended_net_inference_mode_is_deterministic(rng):
    x = rng.standard_normal((10, 4))
    net = MultiLayerNetExtend(4, [8], 3, use_batchnorm=True, use_dropout=True, seed=0)
    net.loss(x, rng.integers(0, 3, 10), train_flg=True)  # moves the running statistics
    a, b = net.predict(x), net.predict(x, train_flg=False)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(net.predict(x, train_flg=True), a)


def test_float32_stays_float32(rng):
    x = rng.standard_normal((5, 6)).astype(np.float32)
    t = rng.integers(0, 3, 5)
    for net in (
        MultiLayerNet(6, [4], 3, dtype=np.float32, seed=0),
        MultiLayerNetExtend(6, [4], 3, use_batchnorm=True, use_dropout=True, dtype=np.float32),
        TwoLayerNet(6, 4, 3, task="multiclass", dtype=np.float32, seed=0),
    ):
        assert net.predict(x).dtype == np.float32
        grads = net.gradient(x, t)
        assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}, type(net).__name__


def test_seed_makes_weights_reproducible():
    a = MultiLayerNet(5, [4], 3, weight_init_std=0.1, seed=9)
    b = MultiLayerNet(5, [4], 3, weight_init_std=0.1, seed=9)
    c = MultiLayerNet(5, [4], 3, weight_init_std=0.1, seed=10)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert abs(np.std(MultiLayerNet(400, [400], 3, seed=1).params["W1"]) - np.sqrt(2 / 400)) < 2e-3


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="activation must be one of"):
        MultiLayerNet(4, [3], 2, activation="swish")
    with pytest.raises(ValueError, match="weight_init_std must be one of"):
        MultiLayerNet(4, [3], 2, weight_init_std="lecun")
    with pytest.raises(ValueError, match="hidden_size_list entry must be a positive integer"):
        MultiLayerNet(4, [3, 0], 2)
    with pytest.raises(ValueError, match="weight_decay_lambda must be >= 0"):
        MultiLayerNet(4, [3], 2, weight_decay_lambda=-1)
