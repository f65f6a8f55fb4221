"""The generic caller of declared items (grader/student/calls.py): inputs by name, constants,
lists, in-place fills, kept values (an optimiser's params), dict and stacked saves,
keyword arguments of the constructor and of the steps."""

from __future__ import annotations

import numpy as np
import pytest

from grader.specs._declare import (
    DeclarationError,
    as_list,
    constant,
    construct,
    declare,
    dict_of,
    function,
    mistake,
    var,
)
from grader.student.calls import run_call


class Scaled:
    def __init__(self, w, scale=1.0):
        self.w, self.scale = w, scale

    def forward(self, x, train_flg=False):
        return x * self.w * (self.scale if train_flg else 1.0)


def test_constants_and_keyword_inputs_reach_the_called_code():
    call = construct("Scaled", "w", scale="s").then("forward", "x", save="y", train_flg=True)
    out: dict[str, np.ndarray] = {}
    inp = {"w": np.asarray(2.0), "s": np.asarray(3.0), "x": np.arange(3.0)}
    run_call(call.data(), inp, out, {"Scaled": Scaled})
    np.testing.assert_array_equal(out["y"], np.arange(3.0) * 6.0)
    # the constant is data (the probe and the self-check carry it as JSON), not an input
    assert call.data()["steps"][0]["kwargs"] == {"train_flg": {"value": True}}


def test_a_constant_positional_argument_is_passed_as_is_and_never_kept():
    call = function("power", "x", 2, save="y", unchanged=True)
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), {"x": np.arange(3.0)}, out, {"power": np.power})
    np.testing.assert_array_equal(out["y"], np.arange(3.0) ** 2)
    assert call.kept() == ["x"] and set(out) == {"y", "arg_x"}


def test_a_missing_input_name_is_a_key_error_naming_it():
    call = construct("Scaled", "w").then("forward", "nowhere", save="y")
    with pytest.raises(KeyError, match="nowhere"):
        run_call(call.data(), {"w": np.asarray(1.0)}, {}, {"Scaled": Scaled})


class Net:
    """Its layer holds the parameter array by reference, as the course's networks do."""

    def __init__(self, size):
        self.params = {"W": np.zeros(size)}  # size must arrive as an int
        self.layer_w = self.params["W"]

    def gradient(self, x):
        return {"W": x * self.layer_w, "n": np.asarray(float(len(x)))}


def test_fill_writes_params_in_place_and_a_dict_result_saves_by_key():
    call = construct("Net", "size").fill("params", W="W").then("gradient", "x", save={"W": "dW"})
    out: dict[str, np.ndarray] = {}
    inp = {"size": np.asarray(3), "W": np.array([1.0, 2.0, 3.0]), "x": np.full(3, 2.0)}
    run_call(call.data(), inp, out, {"Net": Net})
    # a rebinding (params["W"] = ...) would leave layer_w at zeros and dW at zeros
    np.testing.assert_array_equal(out["dW"], [2.0, 4.0, 6.0])
    assert set(out) == {"dW"} and call.saves() == ["dW"]


def test_a_string_constant_and_a_list_input_reach_the_constructor_as_written():
    seen = {}

    def make(widths, activation):
        seen.update(widths=widths, activation=activation)
        return Scaled(1.0)

    call = construct("make", widths=as_list("hidden"), activation=constant("relu"))
    call = call.then("forward", "x", save="y")
    run_call(call.data(), {"hidden": np.array([4, 3]), "x": np.ones(2)}, {}, {"make": make})
    # a list, not an array: [5] + widths must concatenate, not broadcast
    assert seen == {"widths": [4, 3], "activation": "relu"}
    assert type(seen["widths"]) is list and type(seen["widths"][0]) is int


class Step:
    """An optimiser of the course's shape: updates the params dict in place."""

    def __init__(self, lr):
        self.lr = lr

    def update(self, params, grads):
        for k in params:
            params[k] -= self.lr * grads[k]


def test_a_kept_dict_is_updated_in_place_and_read_as_a_stacked_displacement():
    call = construct("Step", lr="lr").let("params", dict_of(W="W0"))
    for k in range(3):
        call = call.then("update", var("params"), dict_of(W=f"g{k}"))
        call = call.read("params", {"W": "W"}, stack=True, since={"W": "W0"})
    inp = {"lr": np.asarray(0.5), "W0": np.full(2, 10.0)}
    inp.update({f"g{k}": np.full(2, float(k + 1)) for k in range(3)})
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), inp, out, {"Step": Step})
    # one row per step, each p_k - p_0: -0.5, -0.5-1, -0.5-1-1.5
    np.testing.assert_array_equal(out["W"], [[-0.5, -0.5], [-1.5, -1.5], [-3.0, -3.0]])
    np.testing.assert_array_equal(inp["W0"], [10.0, 10.0])  # the input itself is untouched
    assert call.saves() == ["W"]


def test_a_mistake_gives_either_code_or_outputs_and_expect_solution_needs_code():
    with pytest.raises(DeclarationError, match="either code= or its outputs"):
        mistake("sign_flip")
    with pytest.raises(DeclarationError, match="either code= or its outputs"):
        mistake("sign_flip", code=Step, W=lambda W0: W0)
    call = construct("Step", lr="lr").let("params", dict_of(W="W0"))
    call = call.then("update", var("params"), dict_of(W="g0")).read("params", {"W": "W"})
    with pytest.raises(DeclarationError, match="expect='solution', give code="):
        declare(
            "step", ("t", "t"), points=1, call=call, solution=Step, inputs=lambda rng: {},
            expect="solution", tol=1e-8, mistakes=[mistake("sign_flip", W=lambda W0: -W0)],
        )  # fmt: skip
