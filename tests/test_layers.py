"""reference.layers: backward against central differences, hand-checked forwards, BN, Dropout."""

import math

import numpy as np
import pytest

from reference.functions import cross_entropy_error, numerical_gradient, rel_error, softmax
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

TOL = 1e-7  # rel_error of analytic vs central-difference gradients in float64


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def away_from_zero(x: np.ndarray, margin: float = 1e-3) -> np.ndarray:
    """Move entries out of (-margin, margin) so that h=1e-5 never crosses a ReLU kink."""
    return np.where(np.abs(x) < margin, np.sign(x) * margin + (x == 0) * margin, x)


def check_layer_gradient(layer, x: np.ndarray, dout: np.ndarray) -> None:
    """dx from backward vs the numeric gradient of sum(forward(x) * dout)."""
    layer.forward(x)
    dx = layer.backward(dout)
    numeric = numerical_gradient(lambda _: np.sum(layer.forward(x) * dout), x)
    assert dx.shape == x.shape
    assert rel_error(dx, numeric) < TOL


# --------------------------------------------------------------------------------------------
# gradient checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [Sigmoid, Relu, Tanh, LeakyRelu, lambda: LeakyRelu(alpha=0.3)],
    ids=["sigmoid", "relu", "tanh", "leaky_relu", "leaky_relu_0.3"],
)
def test_activation_backward_matches_numeric(make, rng):
    x = away_from_zero(2 * rng.standard_normal((5, 7)))
    check_layer_gradient(make(), x, rng.standard_normal((5, 7)))


def test_affine_backward_matches_numeric_for_nd_input(rng):
    x = rng.standard_normal((4, 2, 3))  # flattened to (4, 6)
    W = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    layer = Affine(W, b)
    check_layer_gradient(layer, x, dout)
    layer.forward(x)
    layer.backward(dout)
    f = lambda _: np.sum(layer.forward(x) * dout)
    assert rel_error(layer.dW, numerical_gradient(f, W)) < TOL
    assert rel_error(layer.db, numerical_gradient(f, b)) < TOL


def check_loss_gradient(layer, x, t, dout=0.7) -> None:
    """dx from backward(dout) vs the numeric gradient of dout * loss."""
    layer.forward(x, t)
    dx = layer.backward(dout)
    numeric = numerical_gradient(lambda _: dout * layer.forward(x, t), x)
    assert dx.shape == x.shape
    assert rel_error(dx, numeric) < TOL


def test_squared_error_backward_matches_numeric(rng):
    check_loss_gradient(
        SquaredErrorLoss(), rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    )


def test_sigmoid_with_loss_backward_matches_numeric(rng):
    x = 3 * rng.standard_normal((6, 2))
    check_loss_gradient(SigmoidWithLoss(), x, rng.integers(0, 2, (6, 2)).astype(float))
    check_loss_gradient(SigmoidWithLoss(), x, rng.random((6, 2)), dout=1.3)  # soft targets


@pytest.mark.parametrize("one_hot", [True, False], ids=["one_hot", "labels"])
def test_softmax_with_loss_backward_matches_numeric(one_hot, rng):
    x = 2 * rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    t = np.eye(4)[labels] if one_hot else labels
    check_loss_gradient(SoftmaxWithLoss(), x, t)


@pytest.mark.parametrize("shape", [(6, 5), (4, 2, 2, 2)], ids=["2d", "4d"])
def test_batchnorm_backward_matches_numeric(shape, rng):
    d = int(np.prod(shape[1:]))
    x = 3 * rng.standard_normal(shape) + 1
    gamma = rng.standard_normal(d) + 1
    beta = rng.standard_normal(d)
    dout = rng.standard_normal(shape)  # random upstream gradient: all ones would hide errors
    layer = BatchNormalization(gamma, beta)
    check_layer_gradient(layer, x, dout)
    layer.forward(x)
    layer.backward(dout)
    f = lambda _: np.sum(layer.forward(x) * dout)
    assert rel_error(layer.dgamma, numerical_gradient(f, gamma)) < TOL
    assert rel_error(layer.dbeta, numerical_gradient(f, beta)) < TOL


# --------------------------------------------------------------------------------------------
# hand-checked forwards (seed 001 section 3.6)
# --------------------------------------------------------------------------------------------

X36 = np.array([[2.0, -1.0, 1.0]])
W36 = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 4.0]])


def test_seed_example_3_6_squared_error():
    # Y = XW = [3, 3]; E = ((3-1)^2 + (3-2)^2) / 2 = 2.5; dE/dY = [2, 1];
    # dE/dX = dE/dY W^T = [4, 3, 4]; dE/dW = X^T dE/dY = [[4, 2], [-2, -1], [2, 1]].
    affine, loss = Affine(W36, np.zeros(2)), SquaredErrorLoss()
    y = affine.forward(X36)
    assert y.tolist() == [[3.0, 3.0]]
    assert loss.forward(y, np.array([[1.0, 2.0]])) == 2.5
    dx = affine.backward(loss.backward())
    assert dx.tolist() == [[4.0, 3.0, 4.0]]
    assert affine.dW.tolist() == [[4.0, 2.0], [-2.0, -1.0], [2.0, 1.0]]
    assert affine.db.tolist() == [2.0, 1.0]


def test_seed_example_3_6_softmax_cross_entropy():
    # Y = [3, 3] so softmax(Y) = [1/2, 1/2]; with t = (1, 0): E = log 2, dE/dY = [-1/2, 1/2];
    # dE/dX = [-1, 0, 2]; dE/dW = [[-1, 1], [1/2, -1/2], [-1/2, 1/2]].
    affine, loss = Affine(W36, np.zeros(2)), SoftmaxWithLoss()
    assert loss.forward(affine.forward(X36), np.array([[1.0, 0.0]])) == pytest.approx(math.log(2))
    dx = affine.backward(loss.backward())
    np.testing.assert_allclose(dx, [[-1.0, 0.0, 2.0]], atol=1e-15)
    np.testing.assert_allclose(affine.dW, [[-1, 1], [0.5, -0.5], [-0.5, 0.5]], atol=1e-15)


def test_seed_example_3_6_bias_broadcast():
    # Y = X + b; dE/dY = [[1, 0], [0, -1], [1, 1]] gives dE/dX = dE/dY, dE/db = [2, 0].
    x = np.array([[1.0, 3.0], [2.0, -1.0], [0.0, 1.0]])
    affine = Affine(np.eye(2), np.array([2.0, 1.0]))
    assert affine.forward(x).tolist() == [[3.0, 4.0], [4.0, 0.0], [2.0, 2.0]]
    dy = np.array([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    assert affine.backward(dy).tolist() == dy.tolist()
    assert affine.db.tolist() == [2.0, 0.0]


def test_loss_layers_divide_by_batch_and_scale_by_dout():
    y = np.array([[1.0, 2.0], [0.0, -1.0]])
    t = np.array([[0.0, 0.0], [0.0, 1.0]])
    loss = SquaredErrorLoss()
    # sum of squares 1 + 4 + 0 + 4 = 9, over 2N = 4
    assert loss.forward(y, t) == 2.25
    assert loss.backward(2.0).tolist() == [[1.0, 2.0], [0.0, -2.0]]  # (y - t) / N * 2


def test_sigmoid_with_loss_values_and_stability():
    x = np.array([[0.0], [math.log(3.0)]])
    t = np.array([[1.0], [0.0]])
    # -log(1/2) and -log(1 - 3/4) = log 4; mean = (log 2 + log 4) / 2
    layer = SigmoidWithLoss()
    assert layer.forward(x, t) == pytest.approx((math.log(2) + math.log(4)) / 2, rel=1e-14)
    np.testing.assert_allclose(layer.backward(), [[-0.25], [0.375]], rtol=1e-14)
    # a confidently wrong logit of 1000 costs 1000 (no inf, no nan)
    assert layer.forward(np.array([[1000.0], [-1000.0]]), np.array([[0.0], [1.0]])) == 1000.0
    assert layer.forward(np.array([1000.0, -1000.0]), np.array([1.0, 0.0])) == 0.0  # flat t


def test_softmax_with_loss_agrees_with_functions_and_label_forms(rng):
    x = rng.standard_normal((5, 3))
    labels = rng.integers(0, 3, 5)
    a, b = SoftmaxWithLoss(), SoftmaxWithLoss()
    la, lb = a.forward(x, labels), b.forward(x, np.eye(3)[labels])
    assert la == pytest.approx(lb, rel=1e-14)
    # cross_entropy_error shifts the log by 1e-7: the two agree to about 1e-7 / y
    assert la == pytest.approx(cross_entropy_error(softmax(x), labels), rel=1e-5)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-14)
    one = SoftmaxWithLoss()  # a single 1-D sample with an integer label
    assert one.forward(x[0], labels[0]) == pytest.approx(
        -math.log(softmax(x[0])[labels[0]]), rel=1e-12
    )
    assert one.backward().shape == (3,)


def test_loss_layers_reject_bad_targets():
    with pytest.raises(ValueError, match="does not match"):
        SquaredErrorLoss().forward(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        SoftmaxWithLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="scalar"):
        loss = SoftmaxWithLoss()
        loss.forward(np.zeros((2, 3)), np.array([0, 1]))
        loss.backward(np.ones(2))


def test_affine_rejects_wrong_input_size():
    with pytest.raises(ValueError, match="features"):
        Affine(np.zeros((4, 2)), np.zeros(2)).forward(np.zeros((3, 5)))


# --------------------------------------------------------------------------------------------
# dtypes: float32 in, float32 out (no silent float64 promotion)
# --------------------------------------------------------------------------------------------


def test_float32_is_kept_through_every_layer(rng):
    f32 = np.float32
    x = rng.standard_normal((8, 6)).astype(f32)
    dout = rng.standard_normal((8, 6)).astype(f32)
    layers = [
        Sigmoid(),
        Relu(),
        Tanh(),
        LeakyRelu(),
        BatchNormalization(np.ones(6), np.zeros(6)),  # float64 params, float32 data
        Dropout(0.5),
        Dropout(0.5, inverted=True),
    ]
    for layer in layers:
        assert layer.forward(x).dtype == f32, type(layer).__name__
        assert layer.backward(dout).dtype == f32, type(layer).__name__
    affine = Affine(rng.standard_normal((6, 3)).astype(f32), np.zeros(3, f32))
    assert affine.forward(x).dtype == f32
    assert affine.backward(dout[:, :3]).dtype == f32 and affine.dW.dtype == f32
    labels = rng.integers(0, 6, 8)
    for t in (labels, np.eye(6, dtype=f32)[labels], np.eye(6)[labels]):
        loss = SoftmaxWithLoss()
        loss.forward(x, t)
        assert loss.backward(np.float64(1.0)).dtype == f32
    for loss in (SquaredErrorLoss(), SigmoidWithLoss()):
        loss.forward(x, (dout > 0).astype(f32))
        assert loss.backward().dtype == f32


# --------------------------------------------------------------------------------------------
# batch normalisation
# --------------------------------------------------------------------------------------------


def test_batchnorm_training_output_has_mean_beta_and_std_gamma(rng):
    x = 5 * rng.standard_normal((64, 4)) - 3
    gamma = np.array([0.5, 1.0, 2.0, 3.0])
    beta = np.array([-1.0, 0.0, 1.0, 2.0])
    out = BatchNormalization(gamma, beta).forward(x, train_flg=True)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)  # sqrt(var / (var + eps))


def test_batchnorm_running_statistics_update(rng):
    x1 = rng.standard_normal((10, 3)) + 2
    x2 = 2 * rng.standard_normal((10, 3)) - 1
    layer = BatchNormalization(np.ones(3), np.zeros(3), momentum=0.8)
    layer.forward(x1)
    layer.forward(x2)
    # starting from zeros: run = 0.8 * (0.2 * stat1) + 0.2 * stat2, stat = biased batch stats
    np.testing.assert_allclose(
        layer.running_mean, 0.8 * 0.2 * x1.mean(0) + 0.2 * x2.mean(0), rtol=1e-14
    )
    np.testing.assert_allclose(
        layer.running_var, 0.8 * 0.2 * x1.var(0) + 0.2 * x2.var(0), rtol=1e-14
    )


def test_batchnorm_inference_uses_running_statistics(rng):
    rm, rv = np.array([1.0, -2.0]), np.array([4.0, 0.25])
    gamma, beta = np.array([2.0, 3.0]), np.array([0.5, -0.5])
    layer = BatchNormalization(gamma, beta, running_mean=rm.copy(), running_var=rv.copy(), eps=0.0)
    x = rng.standard_normal((5, 2))
    out = layer.forward(x, train_flg=False)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv) + beta, rtol=1e-14)
    assert np.array_equal(layer.running_mean, rm) and np.array_equal(layer.running_var, rv)
    single = layer.forward(x[:1], train_flg=False)  # a batch of one is fine at inference
    np.testing.assert_allclose(single, out[:1], rtol=1e-14)


def test_batchnorm_errors():
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="features"):
        layer.forward(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="train_flg=True"):
        layer.backward(np.zeros((4, 3)))


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------


def test_dropout_drop_fraction_within_binomial_bounds(rng):
    p, n = 0.3, 200_000
    layer = Dropout(p, rng=rng)
    out = layer.forward(np.ones(n))
    dropped = n - int(layer.mask.sum())
    assert layer.mask.dtype == bool
    # Binomial(n, p): 5 standard deviations
    assert abs(dropped - n * p) < 5 * math.sqrt(n * p * (1 - p))
    assert np.array_equal(out, layer.mask.astype(float))


def test_dropout_backward_reuses_the_mask_and_inference_scales(rng):
    layer = Dropout(0.4, rng=rng)
    x = rng.standard_normal((6, 50))
    out = layer.forward(x)
    mask = layer.mask.copy()
    assert np.array_equal(out, x * mask)
    dout = rng.standard_normal((6, 50))
    assert np.array_equal(layer.backward(dout), dout * mask)
    assert np.array_equal(layer.backward(dout), dout * mask)  # not resampled
    np.testing.assert_allclose(layer.forward(x, train_flg=False), 0.6 * x, rtol=1e-15)
    assert np.array_equal(layer.mask, mask)  # inference leaves the mask alone


def test_inverted_dropout(rng):
    layer = Dropout(0.25, inverted=True, rng=rng)
    x = rng.standard_normal((4, 30))
    out = layer.forward(x)
    np.testing.assert_allclose(out, x * layer.mask / 0.75, rtol=1e-15)
    dout = rng.standard_normal((4, 30))
    np.testing.assert_allclose(layer.backward(dout), dout * layer.mask / 0.75, rtol=1e-15)
    assert np.array_equal(layer.forward(x, train_flg=False), x)


def test_dropout_rng_conventions():
    a = Dropout(0.5, rng=np.random.default_rng(7))
    b = Dropout(0.5, rng=np.random.default_rng(7))
    a.forward(np.ones((3, 4)))
    b.forward(np.ones((3, 4)))
    assert np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.mask, np.random.default_rng(7).random((3, 4)) > 0.5)
    np.random.seed(3)  # default: the global np.random state, as the textbook
    c = Dropout(0.5)
    c.forward(np.ones((3, 4)))
    np.random.seed(3)
    assert np.array_equal(c.mask, np.random.rand(3, 4) > 0.5)
    with pytest.raises(ValueError, match="dropout_ratio"):
        Dropout(1.0)


def test_relu_mask_follows_the_textbook_convention():
    layer = Relu()
    layer.forward(np.array([[-1.0, 0.0, 2.0]]))
    assert layer.mask.tolist() == [[True, True, False]]  # True where x <= 0
    assert layer.backward(np.array([[5.0, 6.0, 7.0]])).tolist() == [[0.0, 0.0, 7.0]]


def test_affine_without_input_gradient(rng):
    W, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    x, dout = rng.standard_normal((4, 6)), rng.standard_normal((4, 3))
    full, first = Affine(W, b), Affine(W, b, input_grad=False)
    full.forward(x)
    first.forward(x)
    full.backward(dout)
    assert first.backward(dout) is None
    assert np.array_equal(first.dW, full.dW) and np.array_equal(first.db, full.db)
