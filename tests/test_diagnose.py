"""Mistake diagnosis and the hint registry."""

from __future__ import annotations

import re

import numpy as np
import pytest

from grader.engine.diagnose import (
    Mistake,
    explain_exception,
    find_mistake,
    first_nonfinite,
    generic_mistakes,
    matches,
)
from grader.engine.hints import HINTS, get_hint
from grader.engine.spec import ScoreContext, TrustedData
from grader.specs._checks import accuracy_verdict, compare, numeric_grad, partial_credit


def test_every_hint_has_japanese_and_english_text():
    for hint_id, text in HINTS.items():
        assert set(text) == {"ja", "en"}, hint_id
        assert text["ja"].strip() and text["en"].strip(), hint_id
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text["ja"]), f"{hint_id}: ja not Japanese"
        h = get_hint(hint_id)
        assert (h.id, h.ja, h.en) == (hint_id, text["ja"], text["en"])


def test_unknown_hint_id_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown hint id 'nope'"):
        get_hint("nope")


def test_mistakes_with_unknown_hint_ids_are_rejected_when_built():
    """Every score function builds its Mistakes on each call, so the mutation and spec tests
    catch a misspelt hint id in any spec through this check."""
    with pytest.raises(KeyError, match="unknown hint id"):
        Mistake("no_such_hint", {"a": np.ones(2)})


def test_matches_requires_shape_finiteness_and_closeness():
    e = np.arange(6.0).reshape(2, 3)
    assert matches({"a": e + 1e-9}, {"a": e})
    assert not matches({"a": e * 1.01}, {"a": e})
    assert not matches({"a": e.T}, {"a": e})
    assert not matches({}, {"a": e})
    bad = e.copy()
    bad[0, 0] = np.nan
    assert not matches({"a": bad}, {"a": e})


def test_generic_mistakes_find_factor_n_sign_and_transpose():
    rng = np.random.default_rng(0)
    e = {"dW": rng.standard_normal((4, 3)), "db": rng.standard_normal(3)}
    cands = generic_mistakes(e, batch_size=5, factor_two=True)

    def hint_for(student):
        h = find_mistake(student, cands)
        return None if h is None else h.id

    assert hint_for({"dW": e["dW"] * 5, "db": e["db"]}) == "batch_size_division"
    assert hint_for({"dW": e["dW"], "db": e["db"] / 5}) == "extra_batch_division"
    assert hint_for({"dW": -e["dW"], "db": e["db"]}) == "sign_flip"
    assert hint_for({"dW": e["dW"].T, "db": e["db"]}) == "transposed"
    assert hint_for({"dW": e["dW"] / 2, "db": e["db"]}) == "missing_factor_2"
    assert hint_for({"dW": e["dW"] * 2, "db": e["db"]}) == "missing_half_factor"
    assert hint_for({"dW": e["dW"] * 3, "db": e["db"]}) is None  # no known pattern, no hint


def test_generic_mistakes_skip_zero_outputs_and_symmetric_transposes():
    assert generic_mistakes({"z": np.zeros(3)}, batch_size=4) == []
    sym = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert all(m.hint_id != "transposed" for m in generic_mistakes({"s": sym}))


def test_specific_mistakes_come_before_generic_ones():
    e = np.ones(3)
    mistakes = [Mistake("bn_backward_missing_mean_terms", {"dx": -e})]
    got = find_mistake({"dx": -e}, mistakes + generic_mistakes({"dx": e}))
    assert got.id == "bn_backward_missing_mean_terms"


def test_first_nonfinite():
    assert first_nonfinite({"a": np.ones(2), "b": np.array([1.0, np.inf])}) == "b"
    assert first_nonfinite({"a": np.ones(2), "i": np.arange(3)}) is None


def _ctx(outputs):
    return ScoreContext({}, outputs, TrustedData(), "x")


def test_compare_passes_fails_and_explains():
    e = np.linspace(-1, 1, 12).reshape(4, 3)
    ok = compare(_ctx({"dx": e + 1e-12}), {"dx": e}, tol=1e-7, batch_size=4)
    assert ok.passed and ok.measured_error <= 1e-7 and ok.tolerance == 1e-7
    bad = compare(_ctx({"dx": 4 * e}), {"dx": e}, tol=1e-7, batch_size=4)
    assert bad.fraction == 0.0 and bad.hint.id == "batch_size_division"
    assert "dx" in bad.message["en"] and bad.message["ja"]
    shape = compare(_ctx({"dx": e.T.copy()}), {"dx": e}, tol=1e-7)
    assert shape.hint.id == "transposed" and "shape" in shape.message["en"]
    nan = compare(
        _ctx({"y": np.full(3, np.nan)}), {"y": np.ones(3)}, 1e-7, nonfinite_hint="softmax_overflow"
    )
    assert nan.fraction == 0.0 and nan.hint.id == "softmax_overflow"


def test_compare_accepts_size_one_losses():
    assert compare(_ctx({"loss": np.array([2.5])}), {"loss": np.asarray(2.5)}, 1e-9).passed


def test_numeric_grad_of_a_known_function():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    before = x.copy()
    g = numeric_grad(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(g, np.cos(before) * before + np.sin(before), rtol=1e-8)
    np.testing.assert_array_equal(x, before)  # restored
    with pytest.raises(TypeError, match="float64"):
        numeric_grad(lambda: 0.0, np.zeros(2, dtype=np.float32))


def test_partial_credit_and_accuracy_verdict():
    assert partial_credit(0.80, 0.80, 0.95) == 0.0
    assert partial_credit(0.875, 0.80, 0.95) == pytest.approx(0.5)
    assert partial_credit(0.99, 0.80, 0.95) == 1.0
    with pytest.raises(ValueError):
        partial_credit(0.5, 0.9, 0.8)
    labels = np.arange(100) % 10
    pred = labels.copy()
    pred[:10] = (pred[:10] + 1) % 10  # 90 % accuracy
    v = accuracy_verdict(_ctx({"pred": pred}), labels, 0.80, 0.95)
    assert v.fraction == pytest.approx((0.90 - 0.80) / 0.15)
    assert v.measured_error == pytest.approx(0.10) and v.tolerance == pytest.approx(0.05)
    assert v.hint.id == "accuracy_low"


# --- exceptions explained from the inputs the grader passed ---------------------------------


def _raised(fn, *args) -> str:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - the text is what the probe records
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("expected an exception")


def test_one_hot_target_indexed_is_explained_with_its_shape():
    y, t = np.full((5, 4), 0.25), np.eye(4)[[0, 1, 2, 3, 0]]
    err = _raised(lambda: y[np.arange(5), t])
    got = explain_exception(err, {"x": y, "t": t})
    assert got is not None and got.hint.id == "target_one_hot"
    assert "(5, 4) float64" in got.message["en"] and "(5, 4) float64" in got.message["ja"]


def test_column_target_and_label_target_are_told_apart():
    y = np.full((6, 2), 0.5)
    col = np.array([[0.0], [1.0], [1.0], [0.0], [1.0], [0.0]])
    err = _raised(lambda: y[np.arange(6), col])
    assert explain_exception(err, {"x": y, "t": col}).hint.id == "target_column"
    labels = np.array([0, 1, 1, 0, 1, 0])
    err = _raised(lambda: (np.zeros((6, 2)) - labels.reshape(6, 1, 1)).reshape(7, -1))
    assert explain_exception(err, {"x": y, "t": labels}).hint.id == "target_labels"


def test_rank_error_names_the_input_whose_shape_numpy_spells():
    x, W, b = np.zeros((5, 2, 2, 2)), np.zeros((8, 3)), np.zeros(3)
    got = explain_exception(_raised(np.dot, x, W), {"x": x, "W": W, "b": b})
    assert got is not None and got.hint.id == "input_rank"
    assert "`x` (5, 2, 2, 2)" in got.message["en"] and "`b`" not in got.message["en"]
    got = explain_exception(_raised(np.matmul, x, W), {"x": x, "W": W, "b": b})
    assert got.hint.id == "input_rank" and "`x` (5, 2, 2, 2)" in got.message["en"]
    v = np.zeros(4)
    got = explain_exception(_raised(lambda: v.max(axis=1)), {"x1": v, "x": np.zeros((3, 4))})
    assert got.hint.id == "input_rank" and "`x1` (4,)" in got.message["en"]


def test_dtype_error_names_the_integer_inputs():
    n = np.arange(6)

    def scale(a):
        a /= 2.0

    got = explain_exception(_raised(scale, n), {"n": n, "w": np.zeros(3)})
    assert got is not None and got.hint.id == "input_dtype"
    assert "`n` (6,) int64" in got.message["en"] and "`w`" not in got.message["en"]


def test_unrelated_exceptions_and_large_inputs_are_not_explained():
    assert explain_exception("NameError: name 'np' is not defined", {"x": np.zeros(3)}) is None
    assert explain_exception("ZeroDivisionError: division by zero", {"t": np.eye(3)}) is None
    x = np.zeros((5, 2, 2, 2))
    err = _raised(np.dot, x, np.zeros((8, 3)))
    assert explain_exception(err, {"large_x": x}) is None
