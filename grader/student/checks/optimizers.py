"""Self-checks of notebooks 2-5-1 (optimiser updates) and 2-5-2 (MNIST accuracy).

Each ``*_update`` check runs the student's optimiser for a few steps on a tiny quadratic
``f = sum(a * p**2) / 2`` (gradient ``a * p``) over two parameter arrays, and compares every
step with the formulas written in notebook 2-5-1 (eps = 1e-7 outside the square root, Adam in
the form with the bias-corrected ``lr_t``, Nesterov over the look-ahead parameters). When the
student's steps match a known wrong variant instead, the report names it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from grader.student.checks.multilayer import check_mnist_accuracy
from grader.student.numeric import rel_error
from grader.student.selfcheck import CheckContext, register_check

EPS = 1e-7
STEPS = 6
# Correct implementations agree to ~1e-15; eps placed inside the square root stays below 1e-8.
TOL = 1e-6

Params = dict[str, np.ndarray]
# A formula: (state, params, grads, hyper, t) -> None, updates params (and state) in place.
Formula = Callable[[dict, Params, Params, dict, int], None]


def _zeros_like(state: dict, name: str, params: Params) -> dict[str, np.ndarray]:
    if name not in state:
        state[name] = {k: np.zeros_like(v) for k, v in params.items()}
    return state[name]


def _sgd(state, p, g, h, t, sign=1.0):
    for k in p:
        p[k] -= sign * h["lr"] * g[k]


def _momentum(state, p, g, h, t, sign=1.0, keep=True):
    v = _zeros_like(state, "v", p) if keep else {k: np.zeros_like(a) for k, a in p.items()}
    for k in p:
        v[k] = h["momentum"] * v[k] - h["lr"] * g[k]
        p[k] += sign * v[k]


def _nesterov(state, p, g, h, t, textbook=False):
    v, a = _zeros_like(state, "v", p), h["momentum"]
    for k in p:
        v_old = v[k].copy()
        v[k] = a * v[k] - h["lr"] * g[k]
        if textbook:  # the widespread variant that multiplies the *new* v by a**2
            p[k] += a * a * v[k] - (1 + a) * h["lr"] * g[k]
        else:  # look-ahead parameters: p += a**2 v_old - (1 + a) lr g  ==  p += a v_new - lr g
            p[k] += a * a * v_old - (1 + a) * h["lr"] * g[k]


def _adagrad(state, p, g, h, t, accumulate=True):
    acc = _zeros_like(state, "h", p)
    for k in p:
        acc[k] = acc[k] + g[k] * g[k] if accumulate else g[k] * g[k]
        p[k] -= h["lr"] * g[k] / (np.sqrt(acc[k]) + EPS)


def _rmsprop(state, p, g, h, t, swapped=False):
    acc, rho = _zeros_like(state, "h", p), h["decay_rate"]
    if swapped:
        rho = 1 - rho
    for k in p:
        acc[k] = rho * acc[k] + (1 - rho) * g[k] * g[k]
        p[k] -= h["lr"] * g[k] / (np.sqrt(acc[k]) + EPS)


def _adam(state, p, g, h, t, correct=True, compound=False):
    s, r = _zeros_like(state, "s", p), _zeros_like(state, "r", p)
    b1, b2 = h["beta1"], h["beta2"]
    lr = state.get("lr", h["lr"])
    lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t) if correct else lr
    if compound:  # reading the seed's "lr <- lr * ..." literally: lr_t replaces lr for good
        state["lr"] = lr_t
    for k in p:
        s[k] = b1 * s[k] + (1 - b1) * g[k]
        r[k] = b2 * r[k] + (1 - b2) * g[k] * g[k]
        p[k] -= lr_t * s[k] / (np.sqrt(r[k]) + EPS)


def _variant(formula: Formula, **options) -> Formula:
    return lambda state, p, g, h, t: formula(state, p, g, h, t, **options)


# item id -> (class name, keyword arguments, formula, [(variant formula, hint ja, hint en)])
CASES: dict[str, tuple[str, dict, Formula, list[tuple[Formula, str, str]]]] = {
    "sgd_update": (
        "SGD",
        {"lr": 0.05},
        _sgd,
        [
            (
                _variant(_sgd, sign=-1.0),
                "更新の符号が逆です (θ ← θ − lr·g)。",
                "the sign of the update is flipped (θ ← θ − lr·g).",
            )
        ],
    ),
    "momentum_update": (
        "Momentum",
        {"lr": 0.03, "momentum": 0.8},
        _momentum,
        [
            (
                _variant(_momentum, sign=-1.0),
                "v ← αv − lr·g のあと θ ← θ + v です (符号)。",
                "after v ← αv − lr·g comes θ ← θ + v (sign).",
            ),
            (
                _variant(_momentum, keep=False),
                "v が update の呼び出しごとに 0 に戻っています。"
                "v はインスタンスに保存して次の呼び出しに持ち越します。",
                "v is reset at every call; keep it on the instance across calls.",
            ),
        ],
    ),
    "nesterov_update": (
        "Nesterov",
        {"lr": 0.03, "momentum": 0.8},
        _nesterov,
        [
            (
                _variant(_nesterov, textbook=True),
                "更新後の v に α² を掛けています。ノートブックの式は θ ← θ + α·v_new "
                "− lr·g (= θ + α²·v_old − (1+α)·lr·g) です。",
                "you multiply the updated v by α²; the notebook's formula "
                "is θ ← θ + α·v_new − lr·g (= θ + α²·v_old − (1+α)·lr·g).",
            ),
            (
                _momentum,
                "これは普通のモメンタムです。先読み (look-ahead) の項 "
                "θ ← θ + α·v_new − lr·g にしてください。",
                "this is plain momentum; use the look-ahead form θ ← θ + α·v_new − lr·g.",
            ),
        ],
    ),
    "adagrad_update": (
        "AdaGrad",
        {"lr": 0.2},
        _adagrad,
        [
            (
                _variant(_adagrad, accumulate=False),
                "h に g² を足し続けてください (h ← h + g·g)。今は毎回 g² で置き換えています。",
                "keep adding g² to h (h ← h + g·g); you replace it each time.",
            )
        ],
    ),
    "rmsprop_update": (
        "RMSProp",
        {"lr": 0.05, "decay_rate": 0.9},
        _rmsprop,
        [
            (
                _variant(_rmsprop, swapped=True),
                "decay_rate が逆です: h ← ρ·h + (1−ρ)·g·g。",
                "decay_rate is swapped: h ← ρ·h + (1−ρ)·g·g.",
            ),
            (
                _adagrad,
                "これは AdaGrad です。h は指数移動平均 h ← ρ·h + (1−ρ)·g·g にします。",
                "this is AdaGrad; h is the moving average h ← ρ·h + (1−ρ)·g·g.",
            ),
        ],
    ),
    "adam_update": (
        "Adam",
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.95},
        _adam,
        [
            (
                _variant(_adam, correct=False),
                "バイアス補正がありません: lr_t = lr·√(1−β2^t)/(1−β1^t) "
                "を使います (t は 1 から数えた更新回数)。",
                "bias correction is missing: use lr_t = "
                "lr·√(1−β2^t)/(1−β1^t), t counting updates from 1.",
            ),
            (
                _variant(_adam, compound=True),
                "lr 自体を書き換えています。lr_t は毎回もとの lr から計算します。",
                "you overwrite lr; compute lr_t from the original lr each time.",
            ),
        ],
    ),
}


def _quadratic_start() -> tuple[Params, Params]:
    """Start values and curvatures of two parameter arrays (fixed, so the check is repeatable)."""
    rng = np.random.default_rng(251)
    start = {"W1": rng.uniform(-2, 2, (2, 3)), "b1": rng.uniform(-2, 2, 3)}
    curvature = {"W1": rng.uniform(0.5, 10, (2, 3)), "b1": rng.uniform(0.5, 10, 3)}
    return start, curvature


def _trajectory_by_formula(formula: Formula, hyper: dict) -> list[Params]:
    params, curvature = _quadratic_start()
    state: dict = {}
    steps = []
    for t in range(1, STEPS + 1):
        grads = {k: curvature[k] * params[k] for k in params}
        formula(state, params, grads, hyper, t)
        steps.append({k: v.copy() for k, v in params.items()})
    return steps


def _max_error(a: list[Params], b: list[Params]) -> float:
    return max(rel_error(x[k], y[k]) for x, y in zip(a, b) for k in x)


def _check_optimizer(ctx: CheckContext, item_id: str) -> None:
    class_name, hyper, formula, variants = CASES[item_id]
    optimizer = ctx.get(class_name)(**hyper)
    params, curvature = _quadratic_start()
    originals = dict(params)
    steps = []
    for _ in range(STEPS):
        grads = {k: curvature[k] * params[k] for k in params}
        optimizer.update(params, grads)
        if any(params[k] is not originals[k] for k in originals):
            ctx.expect(
                False,
                ctx.t("params をその場で (in place) 更新", "params updated in place"),
                hint=ctx.t(
                    "params[key] -= ... のように配列そのものを書き換えてください。"
                    "params[key] = ... "
                    "と新しい配列を入れるとネットワークの層が古い重みのままになります。",
                    "modify the arrays themselves (params[key] -= ...); assigning a new array "
                    "leaves the network's layers with the old weights.",
                ),
            )
            return
        steps.append({k: np.array(v, dtype=np.float64) for k, v in params.items()})
    error = _max_error(steps, _trajectory_by_formula(formula, hyper))
    hint = ctx.t(
        "ノートブックの更新式と見比べてください (eps = 1e-7 は平方根の外)。",
        "compare with the notebook's update formulas (eps = 1e-7 outside the square root).",
    )
    for variant, ja, en in variants:
        if _max_error(steps, _trajectory_by_formula(variant, hyper)) < TOL:
            hint = ctx.t(ja, en)
            break
    args = ", ".join(f"{k}={v}" for k, v in hyper.items())
    ctx.expect_close(f"{class_name}({args}): {STEPS} steps", error, TOL, hint)


def _register(item_id: str) -> None:
    register_check(item_id)(lambda ctx: _check_optimizer(ctx, item_id))


for _item_id in CASES:
    _register(_item_id)


@register_check("mnist_accuracy_2_5_2")
def mnist_accuracy_2_5_2(ctx: CheckContext) -> None:
    check_mnist_accuracy(ctx, 0.96)
