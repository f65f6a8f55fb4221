"""reference.functions: activations, softmax, cross-entropy, numeric gradient, rel_error."""

import math
import warnings

import numpy as np
import pytest

from reference.functions import (
    cross_entropy_error,
    numerical_gradient,
    rel_error,
    relu,
    sigmoid,
    softmax,
    tanh,
)


def test_sigmoid_values_and_extremes():
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4
    np.testing.assert_allclose(sigmoid(np.array([0.0, math.log(3.0)])), [0.5, 0.75], rtol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning at large |x|
        out = sigmoid(np.array([-1000.0, 1000.0]))
    assert out.tolist() == [0.0, 1.0]


def test_relu_and_tanh_values():
    x = np.array([-2.0, -0.0, 0.5, 3.0])
    assert relu(x).tolist() == [0.0, 0.0, 0.5, 3.0]
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 3/5
    np.testing.assert_allclose(tanh(np.array([math.log(2.0)])), [0.6], rtol=1e-15)


def test_softmax_hand_example_1d_and_2d():
    # exp(0), exp(ln 2), exp(ln 5) = 1, 2, 5; the sum is 8.
    x = np.log(np.array([1.0, 2.0, 5.0]))
    np.testing.assert_allclose(softmax(x), [1 / 8, 2 / 8, 5 / 8], rtol=1e-14)
    rows = np.stack([x, x + 100.0, np.zeros(3)])  # shifting a row does not change it
    out = softmax(rows)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out[0], [1 / 8, 2 / 8, 5 / 8], rtol=1e-14)
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)
    np.testing.assert_allclose(out[2], [1 / 3] * 3, rtol=1e-14)


def test_softmax_no_overflow_at_1e4():
    x = np.array([[1e4, 1e4, 0.0], [-1e4, 0.0, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax(x)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], atol=1e-300)


def test_softmax_keeps_float32_and_promotes_ints():
    assert softmax(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    assert softmax(np.array([1, 2, 3])).dtype == np.float64
    with pytest.raises(ValueError, match="scalar"):
        softmax(np.float64(1.0))


def test_cross_entropy_hand_example():
    y = np.array([0.1, 0.7, 0.2])
    assert cross_entropy_error(y, np.array([0.0, 1.0, 0.0])) == pytest.approx(
        -math.log(0.7 + 1e-7), rel=1e-14
    )
    assert cross_entropy_error(y, 1) == pytest.approx(-math.log(0.7 + 1e-7), rel=1e-14)


def test_cross_entropy_one_hot_equals_labels_and_is_a_batch_mean():
    rng = np.random.default_rng(0)
    y = softmax(rng.standard_normal((6, 4)))
    labels = rng.integers(0, 4, size=6)
    one_hot = np.eye(4)[labels]
    a = cross_entropy_error(y, one_hot)
    b = cross_entropy_error(y, labels)
    assert a == pytest.approx(b, rel=1e-14)
    per_sample = [cross_entropy_error(y[i], labels[i]) for i in range(6)]
    assert a == pytest.approx(np.mean(per_sample), rel=1e-14)


def test_cross_entropy_bad_labels():
    y = softmax(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        cross_entropy_error(y, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="shape"):
        cross_entropy_error(y, np.array([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        cross_entropy_error(y, np.array([0.0, 1.0, 2.0]))


def test_numerical_gradient_any_ndim_and_restores_x():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    before = x.copy()
    seen = []

    def f(arg):
        seen.append(arg is x)  # called with x itself, modified in place
        return np.sum(arg**3)

    grad = numerical_gradient(f, x)
    assert all(seen) and len(seen) == 2 * x.size
    assert np.array_equal(x, before)
    assert rel_error(grad, 3 * before**2) < 1e-9


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="floating"):
        numerical_gradient(lambda _: 0.0, np.arange(3))


def test_rel_error_definition():
    assert rel_error([1.0, 2.0], [1.0, 2.1]) == pytest.approx(0.1 / 4.1, rel=1e-12)
    assert rel_error(0.0, 1e-10) == pytest.approx(1e-2, rel=1e-12)  # the 1e-8 floor
    assert rel_error(np.zeros(2), np.zeros(3)) == float("inf")
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
