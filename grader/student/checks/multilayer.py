"""Self-checks of notebook 2-4: the multi-layer network's gradient and its MNIST accuracy.

``multilayer_gradient`` builds small networks with the student's own ``MultiLayerNet`` and
compares ``gradient(x, t)`` with central differences of the student's own ``loss``.
``check_mnist_accuracy`` is shared with 2-5-2: the accuracy of ``network`` on the MNIST test
split that ``load_mnist`` returns, against the notebook's threshold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from grader.student.numeric import numerical_gradient, rel_error
from grader.student.selfcheck import CheckContext, register_check

# A correct float64 implementation measures about 1e-8 here; the loss's log(y + 1e-7) alone
# makes the analytic gradient differ from the numeric one by up to ~1e-7 / min(y).
GRADIENT_TOL = 1e-5


@contextmanager
def saved_random_state(seed: int) -> Iterator[None]:
    """Seed ``np.random`` for a check and give the student's global state back afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _shape_detail(got: tuple, expected: tuple) -> str:
    return str(got) if got == expected else f"{got} != {expected}"


def _expect_params(ctx: CheckContext, net, sizes: list[int], activation: str) -> bool:
    """``net.params`` must hold W1, b1, ... with shapes (sizes[i-1], sizes[i]) and (sizes[i],)."""
    params = getattr(net, "params", None)
    if not isinstance(params, dict):
        return ctx.expect(
            False,
            ctx.t("params が辞書になっている", "params is a dict"),
            hint=ctx.t(
                "self.params = {} として W1, b1, ... を入れてください。",
                "set self.params = {} and store W1, b1, ... in it.",
            ),
        )
    bad = []
    for i in range(1, len(sizes)):
        for key, shape in ((f"W{i}", (sizes[i - 1], sizes[i])), (f"b{i}", (sizes[i],))):
            got = params.get(key)
            if got is None or np.shape(got) != shape:
                bad.append(f"{key}: {None if got is None else np.shape(got)} != {shape}")
    extra = sorted(set(params) - {f"{p}{i}" for i in range(1, len(sizes)) for p in "Wb"})
    return ctx.expect(
        not bad and not extra,
        ctx.t(f"{activation}: params のキーと形", f"{activation}: keys and shapes of params"),
        "; ".join(bad + [f"extra {k}" for k in extra]),
        ctx.t(
            "層 i の重みは W{i} (形 (前の層のユニット数, "
            "この層のユニット数))、バイアスは b{i} です。",
            "layer i has weight W{i} of shape (units before, units here) and bias b{i}.",
        ),
    )


def _gradient_hint(ctx: CheckContext, analytic: np.ndarray, numeric: np.ndarray, n: int) -> str:
    """Name the known mistake that the pattern of the two gradients shows, if any."""
    if not np.any(numeric):
        return ctx.t(
            "数値微分が 0 です: Affine 層が self.params の配列そのもの (コピーではなく) を"
            "持つようにしてください。",
            "the numeric gradient is zero: the Affine layers must hold the arrays of "
            "self.params themselves, not copies.",
        )
    if rel_error(analytic, -numeric) < GRADIENT_TOL:
        return ctx.t("符号が逆です。", "the sign is flipped.")
    if rel_error(analytic, n * numeric) < GRADIENT_TOL:
        return ctx.t("バッチサイズ N 倍ずれています。", "off by a factor of the batch size N.")
    return ctx.t(
        "逆伝播は層を逆順 (reversed) にたどり、各 Affine 層の dW, db を grads に集めます。",
        "backward visits the layers in reverse order and collects each Affine layer's dW, db.",
    )


@register_check("multilayer_gradient")
def multilayer_gradient(ctx: CheckContext) -> None:
    """gradient(x, t) of small ReLU and sigmoid networks against numeric gradients of loss."""
    net_class = ctx.get("MultiLayerNet")
    input_size, hidden, output_size, batch = 6, [5, 4], 3, 4
    sizes = [input_size, *hidden, output_size]
    for activation in ("relu", "sigmoid"):
        with saved_random_state(20240):
            net = net_class(
                input_size, hidden, output_size, activation=activation, weight_init_std=0.5
            )
            x = np.random.randn(batch, input_size)
            t = np.random.randint(0, output_size, size=batch)
        if not _expect_params(ctx, net, sizes, activation):
            return
        scores = np.asarray(net.predict(x))
        if not ctx.expect(
            scores.shape == (batch, output_size),
            ctx.t(f"{activation}: predict の出力の形", f"{activation}: shape of predict"),
            _shape_detail(scores.shape, (batch, output_size)),
            ctx.t(
                "最後の Affine 層まで順に forward しているか確認してください。",
                "check that predict runs every layer up to the last Affine layer.",
            ),
        ):
            return
        grads = net.gradient(x, t)
        for key in sorted(net.params, key=lambda k: (int(k[1:]), k[0])):
            label = f"{activation}: d loss / d {key}"
            got = None if not isinstance(grads, dict) else grads.get(key)
            if got is None or np.shape(got) != np.shape(net.params[key]):
                ctx.expect(
                    False,
                    label,
                    ctx.t(
                        f"grads[{key!r}] がないか形が違います",
                        f"grads[{key!r}] missing or misshaped",
                    ),
                    ctx.t(
                        "gradient は params と同じキー・同じ形の辞書を返します。",
                        "gradient returns a dict with the same keys and shapes as params.",
                    ),
                )
                continue
            numeric = numerical_gradient(
                lambda _, net=net, x=x, t=t: float(net.loss(x, t)), net.params[key]
            )
            got = np.asarray(got, dtype=np.float64)
            ctx.expect_close(
                label,
                rel_error(got, numeric),
                GRADIENT_TOL,
                _gradient_hint(ctx, got, numeric, batch),
            )


def check_mnist_accuracy(ctx: CheckContext, threshold: float, batch: int = 1000) -> None:
    """Accuracy of ``network.predict`` on the MNIST test split of ``load_mnist``."""
    network = ctx.get("network")
    from grader.student.mnist import load_mnist

    (_, _), (x_test, t_test) = load_mnist(normalize=True, flatten=True, one_hot_label=False)
    correct = 0
    for start in range(0, len(x_test), batch):
        scores = np.asarray(network.predict(x_test[start : start + batch]))
        expected = (min(batch, len(x_test) - start), 10)
        if scores.shape != expected:
            ctx.expect(
                False,
                ctx.t("predict の出力の形", "shape of predict"),
                _shape_detail(scores.shape, expected),
                ctx.t("predict は (N, 10) のスコアを返します。", "predict returns (N, 10) scores."),
            )
            return
        correct += int(np.sum(np.argmax(scores, axis=1) == t_test[start : start + batch]))
    accuracy = correct / len(x_test)
    if accuracy < 0.2:
        hint = ctx.t(
            "ほとんど学習できていません。学習ループを実行したか、"
            "勾配と更新の符号を確認してください。",
            "the network has hardly learned: did the training loop run? check signs of "
            "gradients and updates.",
        )
    else:
        hint = ctx.t(
            "学習回数を増やすか学習率を調整してください。",
            "train for more iterations or tune the learning rate.",
        )
    ctx.expect(
        accuracy >= threshold,
        ctx.t("テストデータでの正解率", "test accuracy"),
        ctx.t(f"{accuracy:.4f} (基準 {threshold})", f"{accuracy:.4f} (threshold {threshold})"),
        hint,
    )


@register_check("mnist_accuracy_2_4")
def mnist_accuracy_2_4(ctx: CheckContext) -> None:
    check_mnist_accuracy(ctx, 0.95)
