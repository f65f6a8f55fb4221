"""Self-checks of the networks trained on MNIST (notebooks 2-4, 2-5-2, 2-8 and 2-10).

``public_test_accuracy(network)`` is the one place that measures "accuracy of a trained network
on the public MNIST test set". Inside the
grading sandbox ``load_mnist`` serves a validation split in place of the test split, so the
same helper then measures validation accuracy; the real verdict is made on the trusted side.
"""

from __future__ import annotations

import numpy as np

from grader.student.selfcheck import CheckContext, register_check

THRESHOLD_2_4 = 0.95
THRESHOLD_2_5_2 = 0.96
THRESHOLD_2_8 = 0.97
THRESHOLD_2_10 = 0.96
_BATCH = 1000  # predict in slices: bounded memory for any network


class PredictionError(ValueError):
    """``network.predict`` returned something that is not an (N, 10) array of finite scores."""


def public_test_accuracy(
    network,
    *,
    train_flg: bool | None = False,
    data: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Fraction of the MNIST test images whose argmax score is the right label.

    ``network.predict(x, train_flg=train_flg)`` must return scores of shape (N, 10) for a batch
    ``x`` of shape (N, 784) (pixels in [0, 1]); pass ``train_flg=None`` for networks whose
    ``predict(x)`` takes no flag. ``data`` = ``(x_test, t_test)`` replaces
    ``load_mnist(normalize=True, flatten=True)``'s test split (labels as integers).
    Raises ``PredictionError`` with a readable message for wrong shapes or non-finite scores.
    """
    if data is None:
        from grader.student import load_mnist

        _, (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=False)
    else:
        x_test, t_test = data
    t_test = np.asarray(t_test)
    if t_test.ndim == 2:  # one-hot labels
        t_test = t_test.argmax(axis=1)
    correct = 0
    for start in range(0, len(x_test), _BATCH):
        x = x_test[start : start + _BATCH]
        scores = (
            network.predict(x) if train_flg is None else network.predict(x, train_flg=train_flg)
        )
        scores = np.asarray(scores)
        if scores.shape != (len(x), 10):
            raise PredictionError(
                f"predict returned shape {scores.shape}, expected ({len(x)}, 10) for a batch "
                f"of {len(x)} images"
            )
        if not np.all(np.isfinite(scores)):
            raise PredictionError("predict returned NaN or inf (did the training diverge?)")
        correct += int(np.sum(scores.argmax(axis=1) == t_test[start : start + _BATCH]))
    return correct / len(x_test)


def check_accuracy(ctx: CheckContext, threshold: float, *, train_flg: bool | None = False) -> float:
    """One report line: the trained ``network``'s public test accuracy against ``threshold``."""
    network = ctx.get("network")
    call = (
        "network.predict(x)" if train_flg is None else f"network.predict(x, train_flg={train_flg})"
    )
    try:
        acc = public_test_accuracy(network, train_flg=train_flg)
    except PredictionError as exc:
        ctx.expect(
            False,
            ctx.t("predict の出力", "output of predict"),
            str(exc),
            ctx.t(f"{call} は (N, 10) のスコアを返します。", f"{call} returns (N, 10) scores."),
        )
        return float("nan")
    hint = ctx.t(
        "エポック数・学習率・層の幅を見直すか、訓練データを増やしてください。",
        "Try more epochs, another learning rate, wider layers, or more training data.",
    )
    if acc < 0.2:
        hint = ctx.t(
            "ほぼ当てずっぽうの精度です。学習したネットワークを network という名前で残しましたか? "
            "学習が発散 (損失が nan) していないかも確認してください。",
            "This is chance level. Is the trained network stored as `network`? Check also that "
            "the loss did not diverge (nan).",
        )
    ctx.expect(
        acc >= threshold,
        ctx.t("公開テストデータでの正解率", "accuracy on the public test set"),
        ctx.t(f"{acc:.4f} (合格ライン {threshold})", f"{acc:.4f} (threshold {threshold})"),
        hint,
    )
    return acc


@register_check("mnist_accuracy_2_4")
def check_mnist_2_4(ctx: CheckContext) -> None:
    check_accuracy(ctx, THRESHOLD_2_4, train_flg=None)


@register_check("mnist_accuracy_2_5_2")
def check_mnist_2_5_2(ctx: CheckContext) -> None:
    check_accuracy(ctx, THRESHOLD_2_5_2, train_flg=None)


@register_check("mnist_accuracy_2_8")
def check_mnist_2_8(ctx: CheckContext) -> None:
    check_accuracy(ctx, THRESHOLD_2_8)


def _check_weights_only(ctx: CheckContext) -> None:
    """2-10's ``weight_penalty(params, alpha, reg)`` must skip the biases (seed 001 9.1)."""
    weight_penalty = ctx.namespace.get("weight_penalty")
    l2 = ctx.namespace.get("l2_regularization")
    if weight_penalty is None or l2 is None:
        return
    rng = np.random.default_rng(0)
    params = {
        "W1": rng.normal(size=(4, 3)),
        "b1": rng.normal(size=3),
        "W2": rng.normal(size=(3, 2)),
        "b2": rng.normal(size=2),
    }
    alpha = 0.1
    penalty, grads = weight_penalty({k: v.copy() for k, v in params.items()}, alpha, l2)
    expected = alpha * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    with_biases = expected + alpha * (np.sum(params["b1"] ** 2) + np.sum(params["b2"] ** 2))
    bias_grads = [np.asarray(grads.get(k, 0.0)) for k in ("b1", "b2")]
    biases_hit = abs(float(penalty) - with_biases) < 1e-9 or any(np.any(g != 0) for g in bias_grads)
    hint = ctx.t(
        "penalty は全ての W の penalty の合計です。",
        "The penalty is the sum of the penalties of all W.",
    )
    if biases_hit:
        hint = ctx.t(
            "バイアス b にも正則化をかけています。ノルムペナルティは重み W だけに使います "
            "(キーが 'W' で始まるものだけ)。",
            "The biases b are regularised too. The norm penalty applies to the weights W only "
            "(keys starting with 'W').",
        )
    ctx.expect(
        abs(float(penalty) - expected) < 1e-9 and not biases_hit,
        ctx.t("weight_penalty は重み W だけに正則化をかける", "weight_penalty covers weights only"),
        hint=hint,
    )


@register_check("mnist_accuracy_2_10")
def check_mnist_2_10(ctx: CheckContext) -> None:
    _check_weights_only(ctx)
    check_accuracy(ctx, THRESHOLD_2_10)
