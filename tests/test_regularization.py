"""reference.regularization: L2 / L1 penalties, gradients, weights-only helpers."""

import numpy as np
import pytest

from reference.functions import numerical_gradient, rel_error
from reference.regularization import (
    add_regularization_grads,
    l1_regularization,
    l2_regularization,
    regularization_penalty,
    weight_keys,
)

W = np.array([[1.0, -2.0], [0.0, 3.0]])


def test_l2_hand_values():
    penalty, grad = l2_regularization(W, 0.1)
    assert penalty == pytest.approx(0.1 * (1 + 4 + 0 + 9))
    np.testing.assert_allclose(grad, [[0.2, -0.4], [0.0, 0.6]], rtol=1e-15)


def test_l1_hand_values():
    penalty, grad = l1_regularization(W, 0.1)
    assert penalty == pytest.approx(0.1 * (1 + 2 + 0 + 3))
    np.testing.assert_allclose(grad, [[0.1, -0.1], [0.0, 0.1]], rtol=1e-15)


@pytest.mark.parametrize("fn", [l2_regularization, l1_regularization], ids=["l2", "l1"])
def test_penalty_gradient_matches_numeric(fn):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 5))
    w[np.abs(w) < 1e-3] = 1e-3  # keep L1 away from its kink at 0
    numeric = numerical_gradient(lambda _: fn(w, 0.3)[0], w)
    assert rel_error(fn(w, 0.3)[1], numeric) < 1e-7


def network_params(rng):
    return {
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4),
        "gamma1": rng.standard_normal(4) + 1,
        "beta1": rng.standard_normal(4),
        "W2": rng.standard_normal((4, 2)),
        "b2": rng.standard_normal(2),
    }


def test_weight_keys_exclude_biases_and_batchnorm():
    assert weight_keys(network_params(np.random.default_rng(0))) == ["W1", "W2"]


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_helpers_penalise_weights_only(kind):
    rng = np.random.default_rng(1)
    params = network_params(rng)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    alpha = 0.05
    total = add_regularization_grads(params, grads, alpha, kind)
    assert total == pytest.approx(regularization_penalty(params, alpha, kind))
    f = lambda _: regularization_penalty(params, alpha, kind)
    for key, value in params.items():
        numeric = numerical_gradient(f, value)
        if key.startswith("W"):
            assert rel_error(grads[key], numeric) < 1e-7
        else:
            assert np.all(grads[key] == 0) and np.all(numeric == 0), key


def test_helpers_add_to_existing_gradients_and_check_inputs():
    params = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([5.0])}
    grads = {"W1": np.array([[0.5, 0.5]]), "b1": np.array([0.25])}
    add_regularization_grads(params, grads, 0.1, "l2")
    np.testing.assert_allclose(grads["W1"], [[0.7, 0.3]], rtol=1e-15)  # 0.5 + 0.2 * W
    assert grads["b1"].tolist() == [0.25]
    with pytest.raises(ValueError, match="kind"):
        regularization_penalty(params, 0.1, "l3")
    with pytest.raises(KeyError, match="W1"):
        add_regularization_grads(params, {"b1": np.zeros(1)}, 0.1)
