"""reference.initializers: variances within statistical bounds, limits, signal propagation."""

import math

import numpy as np
import pytest

from reference.initializers import glorot_normal, glorot_uniform, he_normal, std_normal

Z = 5.0  # bounds are 5 standard deviations of the estimator (false alarm ~ 6e-7)


def assert_second_moment(w: np.ndarray, var: float, fourth_over_var2: float) -> None:
    """mean(w^2) estimates var; its standard deviation is var * sqrt((E w^4 / var^2 - 1) / n).

    For a normal E w^4 = 3 var^2 (so the bound is var * sqrt(2/n), the chi-square one); for
    a uniform E w^4 = 9/5 var^2.
    """
    n = w.size
    sd = var * math.sqrt((fourth_over_var2 - 1.0) / n)
    assert abs(np.mean(w**2) - var) < Z * sd, (np.mean(w**2), var, sd)
    assert abs(np.mean(w)) < Z * math.sqrt(var / n)


@pytest.mark.parametrize(
    "init, var",
    [
        (lambda r: std_normal(300, 400, std=0.05, rng=r), 0.05**2),
        (lambda r: he_normal(300, 400, rng=r), 2 / 300),
        (lambda r: glorot_normal(300, 400, rng=r), 2 / 700),
    ],
    ids=["std_normal", "he_normal", "glorot_normal"],
)
def test_normal_initializers_variance(init, var):
    w = init(np.random.default_rng(0))
    assert w.shape == (300, 400) and w.dtype == np.float64
    assert_second_moment(w, var, fourth_over_var2=3.0)


def test_glorot_uniform_variance_and_limit():
    w = glorot_uniform(300, 400, rng=np.random.default_rng(1))
    limit = math.sqrt(6 / 700)
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.999 * limit  # fills the interval, not a narrower one
    assert_second_moment(w, limit**2 / 3, fourth_over_var2=9 / 5)


def test_he_std_is_not_the_xavier_one():
    # the bound above separates 2/n_in from 1/n_in by far: check it does
    w = he_normal(300, 400, rng=np.random.default_rng(2))
    with pytest.raises(AssertionError):
        assert_second_moment(w, 1 / 300, fourth_over_var2=3.0)


def test_global_random_state_and_dtype():
    np.random.seed(5)
    w = he_normal(3, 4)
    np.random.seed(5)
    np.testing.assert_array_equal(w, math.sqrt(2 / 3) * np.random.randn(3, 4))
    np.random.seed(5)
    u = glorot_uniform(3, 4, dtype=np.float32)
    np.random.seed(5)
    a = math.sqrt(6 / 7)
    np.testing.assert_array_equal(u, np.random.uniform(-a, a, (3, 4)).astype(np.float32))
    assert u.dtype == np.float32
    a1 = glorot_normal(5, 6, rng=np.random.default_rng(9))
    a2 = glorot_normal(5, 6, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a1, a2)


def test_bad_sizes_are_rejected():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            he_normal(bad, 4)
    with pytest.raises(ValueError, match="std"):
        std_normal(3, 4, std=0.0)


def forward_relu_stack(init, rng, width=500, depth=5, n=1000):
    """Activation std after each of ``depth`` ReLU layers, for N(0, 1) inputs."""
    h = rng.standard_normal((n, width))
    stds = []
    for _ in range(depth):
        h = np.maximum(h @ init(width, width, rng=rng), 0)
        stds.append(h.std())
    return np.array(stds)


def test_activation_scale_through_relu_layers():
    rng = np.random.default_rng(3)
    he = forward_relu_stack(he_normal, rng)
    # He keeps E[z^2] per layer: the activation std stays where the first layer put it
    assert np.all(he / he[0] < 2) and np.all(he / he[0] > 0.5)
    assert 0.5 < he[-1] < 2  # the input std is 1
    small = forward_relu_stack(lambda a, b, rng: std_normal(a, b, std=0.01, rng=rng), rng)
    # each layer multiplies the scale by about 0.01 * sqrt(500 / 2) = 0.16: 1e-4 after five
    assert small[-1] < 1e-3
