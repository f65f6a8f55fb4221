"""The generic caller of declared items (grader/student/calls.py): inputs by name, constants,
lists, in-place fills, kept values (an optimiser's params), dict and stacked saves,
keyword arguments of the constructor and of the steps."""

from __future__ import annotations

import numpy as np
import pytest
from mutations.harness import run_item

from grader.specs._declare import (
    DeclarationError,
    as_list,
    constant,
    construct,
    declare,
    dict_of,
    function,
    mistake,
    trusted,
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


def rows_only(x):  # written for (N, K) only
    return x / x.sum(axis=1, keepdims=True)


def test_an_after_step_records_its_exception_and_is_judged_once_the_others_pass():
    call = function("f", "x", save="y").then("", "x1", save="y1", after="softmax_1d")
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), {"x": np.ones((2, 2)), "x1": np.ones(2)}, out, {"f": rows_only})
    np.testing.assert_array_equal(out["y"], np.full((2, 2), 0.5))
    assert "y1" not in out and b"AxisError" in bytes(out["error_y1"])
    item = declare(
        "f", ("f", "f"), points=1, call=call, own_selfcheck=True, solution=rows_only, tol=1e-9,
        inputs=lambda rng: {"x": rng.uniform(1, 2, (3, 2)), "x1": rng.uniform(1, 2, 2)},
        expect={"y": lambda x: x / x.sum(1, keepdims=True), "y1": lambda x1: x1 / x1.sum()},
    )  # fmt: skip
    v = run_item(item, {"f": rows_only}, 0)
    assert (
        v.fraction == 0.0
        and v.hint.id == "softmax_1d"
        and "`f(x)` (x: (3, 2)) is right, but `f(x1)` (x1: (2,)) raised" in v.message["en"]
    )
    wrong_x = {"f": lambda x: rows_only(np.atleast_2d(x)).reshape(x.shape) * 2}
    assert run_item(item, wrong_x, 0).hint is None  # the (N, K) failure comes first
    assert "softmax_1d" in item.hints
    # the derived self-check knows the stages: no own self-check needed
    derived = declare(
        "f", ("f", "f"), points=1, call=call, solution=rows_only, tol=1e-9,
        inputs=lambda rng: {}, expect={"y": np.tanh, "y1": np.tanh},
    )  # fmt: skip
    assert not derived.declaration.own_selfcheck


def one_hot_only(y, t):
    return -np.sum(t * np.log(y)) / len(y)


def test_either_forms_may_raise_but_not_all_and_a_form_that_differs_is_named():
    call = function(
        "ce", "y", "t_onehot", save="loss_onehot", unchanged=True, either="label_format"
    )
    call = call.then("", "y", "t", save="loss_int", unchanged=True, either="label_format")
    y = np.array([[0.2, 0.8], [0.6, 0.4]])
    inp = {"y": y, "t": np.array([1, 0]), "t_onehot": np.eye(2)[[1, 0]]}
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), inp, out, {"ce": one_hot_only})  # labels broadcast: no exception
    assert set(out) == {"loss_onehot", "loss_int", "arg_y", "arg_t_onehot", "arg_t"}

    def raises(y, t):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        run_call(call.data(), inp, {}, {"ce": raises})
    want = -np.log(0.8) / 2 - np.log(0.6) / 2
    item = declare(
        "ce", ("ce", "ce"), points=1, call=call, own_selfcheck=True, solution=one_hot_only,
        tol=1e-9, inputs=lambda rng: inp, batch_of="y",
        expect={"loss_onehot": lambda: want, "loss_int": lambda: want},
    )  # fmt: skip
    v = run_item(item, {"ce": one_hot_only}, 0)
    assert v.fraction == 0.0 and v.hint.id == "label_format"
    assert "`ce(y, t)` (y: (2, 2), t: (2,)) is not" in v.message["en"]

    def labels_only(y, t):
        return -np.mean(np.log(y[np.arange(len(y)), t]))

    assert run_item(item, {"ce": labels_only}, 0).hint.id == "label_format"  # one-hot raises
    # one form raising, the other wrong: the form that ran is compared as usual (N = 2 here)
    twice = run_item(item, {"ce": lambda y, t: 2 * labels_only(y, t)}, 0)
    assert twice.fraction == 0.0 and twice.hint.id == "batch_size_division"


def test_an_input_passed_to_two_kept_steps_is_saved_as_the_copy_one_changed():
    def clip_once(y, t, seen=[]):  # noqa: B006 - changes y on its first call only
        if not seen:
            seen.append(1)
            y[...] = 0.0
        return 0.0

    call = function("f", "y", "t", save="a", unchanged=True).then(
        "", "y", "t", save="b", unchanged=True
    )
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), {"y": np.ones(2), "t": np.zeros(2)}, out, {"f": clip_once})
    np.testing.assert_array_equal(out["arg_y"], [0.0, 0.0])
    np.testing.assert_array_equal(out["arg_t"], [0.0, 0.0])


class Noisy:
    """A random forward (the global np.random state, as the textbook's Dropout)."""

    def forward(self, x, train_flg=False):
        return x * np.random.rand(*x.shape) if train_flg else x


def test_a_seeded_optional_step_and_a_mistake_looked_for_only_when_it_holds():
    call = construct("Noisy").then("forward", "x", save="y").seed("seed")
    call = call.then("forward", "x", True, save="y_train", other=True, optional=True)
    inp = {"x": np.ones(3), "seed": np.asarray(4)}
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), inp, out, {"Noisy": Noisy})
    np.random.seed(4)
    np.testing.assert_array_equal(out["y_train"], np.random.rand(3))  # the seeded draws
    assert call.saves() == ["y"] and call.saves(optional=True) == ["y_train"]

    class Fails(Noisy):
        def forward(self, x, train_flg=False):
            if train_flg:
                raise RuntimeError("not written yet")
            return 2 * x

    out = {}
    run_call(call.data(), inp, out, {"Noisy": Fails})  # the optional step's exception is dropped
    assert set(out) == {"y"}
    item = declare(
        "noisy", ("n", "n"), points=1, call=call, own_selfcheck=True, solution=Noisy, tol=1e-9,
        inputs=lambda rng: inp, expect={"y": lambda x: x},
        mistakes=[
            mistake("missing_factor_2", y=lambda x: 2 * x, when=lambda y_train: y_train.max() < 1),
            mistake("sign_flip", y=lambda x: 2 * x),
        ],
    )  # fmt: skip

    # the training forward ran (and is in [0, 1)): the first mistake; it raised: the second
    class Twice(Noisy):
        def forward(self, x, train_flg=False):
            return 0.5 * x if train_flg else 2 * x

    assert run_item(item, {"Noisy": Twice}, 0).hint.id == "missing_factor_2"
    assert run_item(item, {"Noisy": Fails}, 0).hint.id == "sign_flip"
    # the derived self-check runs when= from its source: a lambda has none
    with pytest.raises(DeclarationError, match="must be a def using only np"):
        declare(
            "noisy", ("n", "n"), points=1, call=call, solution=Noisy, tol=1e-9,
            inputs=lambda rng: inp, expect={"y": lambda x: x},
            mistakes=[mistake("sign_flip", y=lambda x: 2 * x, when=lambda y_train: True)],
        )  # fmt: skip


def square(W, alpha):  # a trusted function: self-contained, np only
    return alpha * np.sum(W * W), 2 * alpha * W


def penalty(W, alpha):
    return alpha * np.sum(W * W)


def test_another_function_gets_a_trusted_function_and_a_warning_keeps_full_marks():
    def total(params, alpha, reg):  # the notebook's helper, regularising every entry
        found = {k: reg(v, alpha) for k, v in params.items()}
        return sum(p for p, _ in found.values()), {k: g for k, (_, g) in found.items()}

    call = function("f", "W", "alpha", save="y").also(
        "total", dict_of(W="W", b="b"), "alpha", trusted(square),
        save=("penalty", {"b": "grad_b", "c": "grad_c"}), optional=True,
    )  # fmt: skip
    inp = {"W": np.ones(2), "b": np.full(2, 3.0), "alpha": np.asarray(0.5)}
    out: dict[str, np.ndarray] = {}
    run_call(call.data(), inp, out, {"f": penalty, "total": total})
    # the function reached total as code; the dict save takes the keys it has (no "c")
    assert set(out) == {"y", "penalty", "grad_b"} and out["penalty"] == 0.5 * 2 + 0.5 * 18
    run_call(call.data(), inp, {}, {"f": penalty})  # total not defined: the step is dropped
    item = declare(
        "f", ("f", "f"), points=1, call=call, own_selfcheck=True, solution=penalty, tol=1e-9,
        inputs=lambda rng: inp, expect={"y": lambda W, alpha: alpha * np.sum(W * W)},
        warnings=[mistake("bias_regularized", grad_b=lambda alpha, b: 2 * alpha * b)],
    )  # fmt: skip
    assert "bias_regularized" in item.hints and "total" in item.probe
    f = {"f": penalty}
    v = run_item(item, {**f, "total": total}, 0)
    assert v.fraction == 1.0 and v.hint.id == "bias_regularized"
    assert v.message["en"].startswith("Correct. About total (not graded):")
    assert run_item(item, f, 0).hint is None
    with pytest.raises(DeclarationError, match="optional calls"):
        declare(
            "f", ("f", "f"), points=1, call=call, own_selfcheck=True, solution=penalty, tol=1e-9,
            inputs=lambda rng: inp, expect={"y": lambda W, alpha: 0.0},
            warnings=[mistake("bias_regularized", y=lambda W: W)],
        )  # fmt: skip


def test_a_seeded_mistaken_code_leaves_the_trusted_random_state_alone():
    call = construct("Noisy").then("forward", "x", save="y", train_flg=True).seed("seed")
    call = call.then("forward", "x", True, save="y_train", optional=True)
    item = declare(
        "noisy", ("n", "n"), points=1, call=call, solution=Noisy, tol=1e-9,
        inputs=lambda rng: {"x": np.ones(3), "seed": np.asarray(4)}, expect="solution",
        own_selfcheck=True,
    )  # fmt: skip
    np.random.seed(123)
    want = np.random.rand()
    np.random.seed(123)
    item.declaration.solution_outputs({"x": np.ones(3), "seed": np.asarray(4)}, call)
    assert np.random.rand() == want
