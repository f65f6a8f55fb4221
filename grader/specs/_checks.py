"""Trusted comparison helpers shared by the assignment specs.

Everything here runs on the trusted side and sees only arrays: the job's inputs and the
probe's validated outputs. Conventions (DESIGN.md section 3, "Numeric-check practice"):
float64, central differences with ``h = 1e-5`` of the *reference* forward, random upstream
gradients, relative error ``max|a-b| / max(1e-8, max(|a|+|b|))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from grader.engine.diagnose import Mistake, find_mistake, first_nonfinite, generic_mistakes
from grader.engine.hints import get_hint
from grader.engine.spec import ProbeOutputError, ScoreContext, Verdict, relative_error

H = 1e-5  # central-difference step for float64 numeric gradients


# --------------------------------------------------------------------------------------------
# Input generation
# --------------------------------------------------------------------------------------------


def signed_uniform(
    rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.1, high: float = 1.5
) -> np.ndarray:
    """Random signs times ``U(low, high)`` magnitudes: O(1) values bounded away from zero
    (keeps ReLU kinks and ``1/g`` effects out of numeric checks)."""
    mag = rng.uniform(low, high, size=shape)
    return np.where(rng.random(shape) < 0.5, -mag, mag)


def scalar(value: float) -> np.ndarray:
    """A 0-d float64 array (inputs and outputs are arrays only)."""
    return np.asarray(float(value), dtype=np.float64)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """float64 (N, C) rows of the identity for int labels (N,)."""
    return np.eye(n_classes)[labels]


# --------------------------------------------------------------------------------------------
# Numeric gradients of trusted forwards
# --------------------------------------------------------------------------------------------


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """``(f() - f()) / 2h`` with ``x[i]`` moved by ``+-h`` in place (restored), for every i.

    ``f`` closes over ``x`` (float64); returns a float64 array of ``x``'s shape.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numeric_grad needs a float64 array, got {x.dtype}")
    grad = np.empty_like(x)
    flat_x = x.reshape(-1)  # a view: x is contiguous (all inputs are fresh arrays)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        fp = f()
        flat_x[i] = old - h
        fm = f()
        flat_x[i] = old
        flat_g[i] = (fp - fm) / (2 * h)
    return grad


def student_outputs(
    ctx: ScoreContext, names: Iterable[str], scalars: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """The probe's outputs ``names`` as float64 arrays of any shape, non-finite values kept
    (the comparison reports them); a missing or non-numeric output raises ProbeOutputError.

    Outputs named in ``scalars`` (losses) may come back as any size-1 array (a float, a
    (1,) array); they are reshaped to ``()``.
    """
    got = {n: ctx.require(n, shape=None, kind="f", finite=False) for n in names}
    for n in scalars:
        if n in got and got[n].size == 1:
            got[n] = got[n].reshape(())
    return got


def _fmt(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.2e}"


def compare(
    ctx: ScoreContext,
    expected: Mapping[str, np.ndarray],
    tol: float,
    *,
    mistakes: Iterable[Mistake] = (),
    batch_size: int | None = None,
    factor_two: bool = False,
    nonfinite_hint: str | None = None,
    student: Mapping[str, np.ndarray] | None = None,
) -> Verdict:
    """Full marks when every output in ``expected`` matches within relative error ``tol``.

    On failure, the hint comes from the first matching mistake: the item-specific
    ``mistakes`` first, then the generic ones (sign flip, factor N, 1/N, transpose, and with
    ``factor_two`` the factors 2 and 1/2). Non-finite outputs give ``nonfinite_hint``.
    """
    if student is None:
        scalars = [k for k, v in expected.items() if np.ndim(v) == 0]
        student = student_outputs(ctx, expected, scalars=scalars)
    got = dict(student)
    bad = first_nonfinite({k: got[k] for k in expected})
    if bad is not None:
        hint = get_hint(nonfinite_hint) if nonfinite_hint else None
        return Verdict.fail(
            f"`{bad}` に NaN または inf が含まれています。",
            f"`{bad}` contains NaN or inf.",
            measured_error=float("inf"),
            tolerance=tol,
            hint=hint,
        )
    errors = {k: relative_error(got[k], v) for k, v in expected.items()}
    worst = max(errors, key=lambda k: errors[k])
    err = errors[worst]
    if err <= tol:
        return Verdict.ok(measured_error=err, tolerance=tol)
    candidates = list(mistakes) + generic_mistakes(
        expected, batch_size=batch_size, factor_two=factor_two
    )
    hint = find_mistake(got, candidates)
    want = np.shape(expected[worst])
    have = np.shape(got[worst])
    if have != want:
        return Verdict.fail(
            f"`{worst}` の形が違います: {have} (期待: {want})。",
            f"`{worst}` has shape {have}, expected {want}.",
            measured_error=err,
            tolerance=tol,
            hint=hint,
        )
    return Verdict.fail(
        f"`{worst}` の相対誤差 {_fmt(err)} が許容値 {_fmt(tol)} を超えています。",
        f"The relative error of `{worst}` is {_fmt(err)}, above the tolerance {_fmt(tol)}.",
        measured_error=err,
        tolerance=tol,
        hint=hint,
    )


# --------------------------------------------------------------------------------------------
# Side effects: arguments a function must leave unchanged
# --------------------------------------------------------------------------------------------


def modified_argument(ctx: ScoreContext, names: Iterable[str]) -> Verdict | None:
    """A failing verdict (hint ``argument_modified``) when the array the probe passed as
    argument ``name`` (output ``arg_<name>``, saved after the calls) no longer equals the
    input: a function the interface says returns new arrays must not write into its
    arguments (the caller still holds them: the network's weights, the data)."""
    for name in names:
        got = ctx.outputs.get("arg_" + name)
        want = ctx.inputs[name]
        if got is None:
            continue  # the probe stopped before saving (its exception is reported)
        same = got.shape == want.shape and np.array_equal(got, want, equal_nan=True)
        if not same:
            return Verdict.fail(
                f"関数が引数 `{name}` の配列を書き換えています "
                "(採点側で渡した配列の値が呼び出し後に変わりました)。",
                f"The function changed the array passed as `{name}` in place (its values differ "
                "after the call).",
                hint=get_hint("argument_modified"),
            )
    return None


# --------------------------------------------------------------------------------------------
# Downstream items: say which earlier item to fix first
# --------------------------------------------------------------------------------------------


def upstream_first(
    ctx: ScoreContext,
    verdict: Verdict,
    upstream: Iterable[tuple[str, np.ndarray, float]],
) -> Verdict:
    """``verdict`` as it is when it passed or when every upstream function is right;
    otherwise a failure (hint ``fix_upstream_first``) that names the first earlier item whose
    function gave a wrong result inside this item's probe.

    ``upstream``: ``(item id, expected, tol)``; the probe saved the student's function's
    result on trusted arguments as output ``up_<item id>``, or ``up_<item id>_raised`` when it
    raised (neither: the function is not defined, and not checked).
    """
    if verdict.passed:
        return verdict
    for item_id, expected, tol in upstream:
        got = ctx.outputs.get("up_" + item_id)
        if got is None and "up_" + item_id + "_raised" not in ctx.outputs:
            continue
        right = (
            isinstance(got, np.ndarray)
            and got.dtype.kind in "fiub"
            and got.size == np.size(expected)
            and relative_error(got.reshape(np.shape(expected)), expected) <= tol
        )
        if not right:
            return Verdict.fail(
                f"先に項目 `{item_id}` を直してください: この項目はその関数を使っており、"
                f"その結果が違うか例外になっています。(この項目の結果: {verdict.message['ja']})",
                f"Fix item `{item_id}` first: this item uses its function, which gives a wrong "
                f"result or raises. (This item: {verdict.message['en']})",
                measured_error=verdict.measured_error,
                tolerance=verdict.tolerance,
                hint=get_hint("fix_upstream_first"),
            )
    return verdict


def partial_credit(value: float, floor: float, threshold: float) -> float:
    """0 at or below ``floor``, 1 at or above ``threshold``, linear in between."""
    if not floor < threshold:
        raise ValueError(f"need floor < threshold, got {floor} and {threshold}")
    return float(np.clip((value - floor) / (threshold - floor), 0.0, 1.0))


def accuracy_verdict(
    ctx: ScoreContext, labels: np.ndarray, floor: float, threshold: float, name: str = "pred"
) -> Verdict:
    """Accuracy of the int predictions ``name`` (shape of ``labels``) with linear partial
    credit between ``floor`` and ``threshold``. ``error`` reports the error rate ``1 - acc``
    against the tolerance ``1 - threshold``."""
    pred = ctx.require(name, shape=labels.shape, kind="i")
    return verdict_for_accuracy(float(np.mean(pred == labels)), pred, floor, threshold)


def verdict_for_accuracy(
    acc: float, pred: np.ndarray, floor: float, threshold: float, note: tuple[str, str] = ("", "")
) -> Verdict:
    """The verdict for accuracy ``acc`` of the int predictions ``pred``; ``note`` (ja, en) is
    appended to the message (e.g. how the predictions were checked)."""
    frac = partial_credit(acc, floor, threshold)
    err, tol = 1.0 - acc, 1.0 - threshold
    note_ja, note_en = note
    if frac >= 1.0:
        return Verdict.ok(
            f"正解率 {acc:.4f} (基準 {threshold:.2f} 以上)。" + note_ja,
            f"Accuracy {acc:.4f} (threshold {threshold:.2f})." + (" " + note_en if note_en else ""),
            measured_error=err,
            tolerance=tol,
        )
    counts = np.bincount(pred[(pred >= 0) & (pred < 1_000_000)]) if pred.size else np.zeros(1)
    constant = pred.size and counts.max(initial=0) > 0.5 * pred.size
    hint = get_hint("predictions_constant" if constant else "accuracy_low")
    return Verdict.fail(
        f"正解率 {acc:.4f}: 基準 {threshold:.2f} に届いていません ({floor:.2f} 以下は 0 点、"
        "その間は部分点)。" + note_ja,
        f"Accuracy {acc:.4f} is below the threshold {threshold:.2f} (no credit at or below "
        f"{floor:.2f}, partial credit in between)." + (" " + note_en if note_en else ""),
        measured_error=err,
        tolerance=tol,
        hint=hint,
        fraction=frac,
    )


def missing(ja_what: str, en_what: str) -> ProbeOutputError:
    """A ProbeOutputError for a result the probe could not produce."""
    return ProbeOutputError(
        f"{ja_what} が得られませんでした。", f"{en_what} could not be obtained."
    )


__all__ = [
    "H",
    "Mistake",
    "accuracy_verdict",
    "compare",
    "missing",
    "modified_argument",
    "numeric_grad",
    "one_hot",
    "partial_credit",
    "scalar",
    "signed_uniform",
    "student_outputs",
    "upstream_first",
]


# --------------------------------------------------------------------------------------------
# MNIST accuracy items
# --------------------------------------------------------------------------------------------

# Predictions of the trained ``network`` on the job's validation images (``MNIST_PROBE_X``), in
# chunks (bounded memory), in inference mode when ``predict`` takes ``train_flg``.
PROBE_MNIST = """
import inspect as _inspect
import numpy as _np
_kw = {}
try:
    if "train_flg" in _inspect.signature(network.predict).parameters:
        _kw = {"train_flg": False}
except (TypeError, ValueError):
    pass
_n = len(MNIST_PROBE_X)
_scores = [
    _np.asarray(network.predict(MNIST_PROBE_X[_i : _i + 1000], **_kw)).reshape(-1, 10)
    for _i in range(0, _n, 1000)
]
out["pred"] = _np.argmax(_np.concatenate(_scores), axis=1).astype(_np.int64)
"""


def mnist_accuracy_verdict(ctx: ScoreContext, floor: float, threshold: float) -> Verdict:
    """Accuracy of the network rebuilt from ``network.layers`` on the trusted side, once its
    provenance holds, with linear partial credit between ``floor`` and ``threshold``.

    The sandbox's ``pred`` (on its validation images, ``MNIST_PROBE_X``) must agree with the
    rebuilt network (``grader/specs/_provenance.py``); the accuracy itself is measured by the
    trusted side on the test images in this job's secret code (``mnist_sandbox.py``), which
    the sandbox never held: only a network trained in this run on this job's file scores.
    """
    from grader.specs._provenance import Provenance, check_provenance

    n_probe = len(ctx.data.mnist_probe_images())
    pred = ctx.require("pred", shape=(n_probe,), kind="i")
    prov = check_provenance(ctx, pred)
    if not isinstance(prov, Provenance):
        return prov
    note = (
        f"採点側で network の層から計算し直した予測との一致率 {prov.agreement:.2%}。"
        "正解率は採点側がテスト画像で計算しました。",
        f"The predictions recomputed from the network's layers agree on {prov.agreement:.2%}; "
        "the grader measured the accuracy on the test images itself.",
    )
    return verdict_for_accuracy(prov.trusted_accuracy, prov.trusted_pred, floor, threshold, note)


def mnist_accuracy_item(item_id: str, floor: float, threshold: float, points: float = 3):
    """The accuracy item of a notebook that trains ``network`` on MNIST: the probe returns the
    predictions and what they are computed from (``PROBE_PROVENANCE``)."""
    from grader.engine.spec import Item  # local: keeps this module's import list short
    from grader.specs._provenance import PROBE_PROVENANCE

    def make_inputs(rng: np.random.Generator, data) -> dict[str, np.ndarray]:
        return {}  # the images come as MNIST_PROBE_X; the graded test set stays in TrustedData

    def score(ctx: ScoreContext) -> Verdict:
        return mnist_accuracy_verdict(ctx, floor, threshold)

    return Item(
        id=item_id,
        title={
            "ja": f"MNIST テスト正解率 ({threshold:.2f} 以上で満点)",
            "en": f"MNIST test accuracy (full credit at {threshold:.2f})",
        },
        points=points,
        probe=PROBE_MNIST + PROBE_PROVENANCE,
        make_inputs=make_inputs,
        score=score,
        hints=("accuracy_low", "predictions_constant", "mnist_provenance", "bn_predict_train_mode"),
    )
