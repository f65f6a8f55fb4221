"""Provenance of the MNIST predictions: recompute them on the trusted side.

MNIST's test labels are public, so the sandbox's ``pred`` alone proves nothing: a notebook
could paste the labels into ``network.predict``. The accuracy items therefore also read back,
as plain arrays, what the prediction is computed FROM: the class name of every layer in
``network.layers`` and its arrays (Affine ``W``, ``b``; BatchNormalization ``gamma``,
``beta``, ``running_mean``, ``running_var``, ``eps``; LeakyRelu ``alpha``) and, for Dropout,
its output on ones in inference mode (its scale, whatever convention the class follows).

The trusted side rebuilds the network with the reference layers in float64, evaluates it on
the 10000 test images itself, and

* agreement with the sandbox's predictions >= ``MIN_AGREEMENT``: the credit follows the LOWER
  of the two accuracies. The trusted one is bounded by what the returned parameters really
  compute (so the disagreement allowance cannot be spent on pasted labels), the sandbox's is
  what the student's notebook showed them (so float noise never raises it either);
* below: no credit, "the predictions do not come from the network's own parameters";
* a structure the trusted side cannot rebuild (unknown layer class, arrays that do not fit,
  too many parameters): no credit, with the reason. Falling back to the sandbox's predictions
  would reopen the hole (one unknown layer class would switch the check off); these items
  grade the course's network classes, and experiments can live in other variables.

The trusted work is bounded: at most ``MAX_PARAM_ELEMENTS`` parameters, and
``SCORE_CPU_SECONDS`` of CPU for the evaluations of one item (checked per chunk of images);
beyond either the item gets no credit, with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from grader.engine.hints import get_hint
from grader.engine.spec import ProbeOutputError, ScoreContext, Verdict
from reference.layers import Affine, BatchNormalization, LeakyRelu, Relu, Sigmoid, Tanh

# Measured on the four solution notebooks (`.venv/bin/python bench/mnist_provenance.py`): the
# float64 recomputation, a float32 one and one with BN eps 1e-5 instead of 1e-7 each disagree
# with the sandbox's predictions on 0 of the 10000 images (2-4, 2-5-2: float64 nets; 2-8, 2-10:
# float32 nets with BatchNorm, 2-10 with Dropout). 99% (100 images) leaves room for students'
# own numerics (other eps, float16); the min() above makes the allowance worthless to an
# attacker, so it need not be tight.
MIN_AGREEMENT = 0.99
MAX_LAYERS = 64
MAX_NAME_BYTES = 64  # characters per layer class name (up to 4 UTF-8 bytes each)
# The course's solution nets have <= 0.13M parameters (784-100x6-10) and its exercises suggest
# up to 784-256-256-10 (0.27M); 1M leaves room for wider experiments (784-1000-10 fits) and
# bounds the trusted side's work: each evaluation of 10000 images costs <= 2e10 flops.
MAX_PARAM_ELEMENTS = 1_000_000
# CPU seconds of the scoring thread for one item's rebuilt-network evaluations (at most three
# passes over 10000 images). A 1M-parameter net needs a few; the budget only stops pathologies.
SCORE_CPU_SECONDS = 60.0
MAX_DIM = 1_000_000
N_CLASSES = 10
DEFAULT_BN_EPS = 1e-7  # the course's BatchNormalization (seed 001) when the layer has no eps

# Attributes read from every layer (index = role code in ``prov_index``); "inference_out" is
# the Dropout measurement, not an attribute.
ROLES = (
    "W",
    "b",
    "gamma",
    "beta",
    "running_mean",
    "running_var",
    "eps",
    "alpha",
    "inference_out",
)
ROLE = {name: i for i, name in enumerate(ROLES)}

# Runs after PROBE_MNIST in the student's kernel. Nothing here is trusted: it only gathers
# arrays. Failures are reported as ``prov_error`` (UTF-8 bytes) instead of failing the item's
# probe, so the trusted side can say what was missing.
# What each layer kind keeps, by normalised class name (lower case, no "_").
WANTED = {
    "affine": ("W", "b"),
    "batchnormalization": ("gamma", "beta", "running_mean", "running_var", "eps"),
    "batchnorm": ("gamma", "beta", "running_mean", "running_var", "eps"),
    "leakyrelu": ("alpha",),
}

# Runs after PROBE_MNIST in the student's kernel. Nothing here is trusted: it only gathers
# arrays. Failures are reported as ``prov_error`` (UTF-8 bytes) instead of failing the item's
# probe, so the trusted side can say what was missing.
PROBE_PROVENANCE = f"""
def _grader_provenance(_out):
    import numpy as _np
    _roles = {ROLE!r}
    _wanted = {WANTED!r}
    _layers = network.layers
    _seq = list(_layers.values()) if hasattr(_layers, "values") else list(_layers)
    if len(_seq) > {MAX_LAYERS}:
        raise ValueError("network.layers has " + str(len(_seq)) + " layers (limit {MAX_LAYERS})")
    _names, _vals, _index, _total = [], [], [], 0
    for _li, _layer in enumerate(_seq):
        _name = type(_layer).__name__[:{MAX_NAME_BYTES}]
        _key = _name.lower().replace("_", "")
        _names.append(_name)
        _found = []
        for _attr in _wanted.get(_key, ()):
            _v = getattr(_layer, _attr, None)
            if _v is not None:
                _found.append((_attr, _v))
        if _key == "dropout":
            _ones = _np.ones((2, 4), dtype=_np.float64)
            _found.append(("inference_out", _layer.forward(_ones, False)))
        for _attr, _v in _found:
            _a = _np.asarray(_v, dtype=_np.float64)
            if _a.ndim > 2:
                raise ValueError(_name + "." + _attr + " has " + str(_a.ndim) + " dimensions")
            _total += _a.size
            if _total > {MAX_PARAM_ELEMENTS}:
                raise ValueError("more than {MAX_PARAM_ELEMENTS} parameters in network.layers")
            _index.append([_li, _roles[_attr], _a.ndim] + list(_a.shape) + [0] * (2 - _a.ndim))
            _vals.append(_a.reshape(-1))
    _out["prov_names"] = _np.frombuffer("\\n".join(_names).encode("utf-8"), dtype=_np.uint8)
    _out["prov_index"] = _np.asarray(_index, dtype=_np.int64).reshape(-1, 5)
    _out["prov_values"] = _np.concatenate(_vals) if _vals else _np.zeros(0)


try:
    _grader_provenance(out)
except Exception as _e:
    _msg = (type(_e).__name__ + ": " + str(_e))[:300]
    for _k in ("prov_names", "prov_index", "prov_values"):
        out.pop(_k, None)
    out["prov_error"] = _np.frombuffer(_msg.encode("utf-8"), dtype=_np.uint8)
del _grader_provenance
"""


class Unrebuildable(Exception):
    """The trusted side cannot rebuild the network from the probe's arrays."""

    def __init__(self, ja: str, en: str):
        super().__init__(en)
        self.message = {"ja": ja, "en": en}


@dataclass
class Rebuilt:
    """The network as the trusted side evaluates it: reference layers in order."""

    names: list[str]
    layers: list[object] = field(default_factory=list)

    deadline: float = float("inf")  # thread CPU time (time.thread_time) to stop at

    def scores(self, x: np.ndarray, chunk: int = 2000, bn_batch_stats: bool = False):
        """float64 scores (N, 10) of ``x`` (N, 784), inference mode, in chunks.

        ``bn_batch_stats``: BatchNormalization normalises each chunk by its own statistics
        (the training-mode mistake in a student's ``predict``; it also moves the running
        statistics, so use it last). Raises Unrebuildable past ``deadline``."""
        parts = []
        for i in range(0, len(x), chunk):
            if time.thread_time() > self.deadline:
                raise Unrebuildable(
                    f"採点側での計算が上限の CPU 時間 {SCORE_CPU_SECONDS:.0f} 秒を超えました。",
                    f"Evaluating the network took more than the grader's budget of "
                    f"{SCORE_CPU_SECONDS:.0f} CPU seconds.",
                )
            h = np.asarray(x[i : i + chunk], dtype=np.float64)
            for layer in self.layers:
                if isinstance(layer, BatchNormalization):
                    h = layer.forward(h, train_flg=bn_batch_stats)
                else:
                    h = layer.forward(h)
            parts.append(h)
        return np.concatenate(parts)


class _Scale:
    """A Dropout layer at inference: ``out = c * x`` with the scale ``c`` it was measured at."""

    def __init__(self, c: float):
        self.c = float(c)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * self.c


class _Softmax:
    """A softmax layer inside ``layers`` (does not move the argmax, kept for the scores)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


# Normalised class name (lower case, no "_") -> kind.
KNOWN = {
    "affine": "affine",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "leakyrelu": "leakyrelu",
    "batchnormalization": "batchnorm",
    "batchnorm": "batchnorm",
    "dropout": "dropout",
    "softmax": "softmax",
}
SUPPORTED = "Affine, Relu, Sigmoid, Tanh, LeakyRelu, BatchNormalization, Dropout, Softmax"


def _printable(text: str, limit: int = 200) -> str:
    """Sandbox text made safe to quote: printable characters only, length-capped."""
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _read_layout(ctx: ScoreContext) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Validate ``prov_names`` / ``prov_index`` / ``prov_values``: per layer its class name
    and its arrays by role. Raises Unrebuildable (with the probe's own error when it sent
    one) or ProbeOutputError for malformed arrays."""
    if "prov_error" in ctx.outputs:
        raw = ctx.require("prov_error", shape=(None,), kind="i")
        why = _printable(bytes(np.clip(raw, 0, 255).astype(np.uint8)).decode("utf-8", "replace"))
        raise Unrebuildable(
            f"network の層とパラメータを読み出せませんでした ({why})。",
            f"The layers and parameters of network could not be read ({why}).",
        )
    names_raw = ctx.require("prov_names", shape=(None,), kind="i")
    if names_raw.size > MAX_LAYERS * (4 * MAX_NAME_BYTES + 1) or np.any(
        (names_raw < 0) | (names_raw > 255)
    ):
        raise ProbeOutputError("`prov_names` が不正です。", "`prov_names` is malformed.")
    text = bytes(names_raw.astype(np.uint8)).decode("utf-8", "replace")
    names = [_printable(n, MAX_NAME_BYTES) for n in text.split("\n")] if text else []
    if not names:
        raise Unrebuildable("network.layers が空です。", "network.layers is empty.")
    if len(names) > MAX_LAYERS:
        raise Unrebuildable(
            f"network.layers の層が多すぎます ({len(names)} > {MAX_LAYERS})。",
            f"network.layers has too many layers ({len(names)} > {MAX_LAYERS}).",
        )
    index = ctx.require("prov_index", shape=(None, 5), kind="i")
    values = ctx.require("prov_values", shape=(None,), kind="f", finite=False)
    if values.size > MAX_PARAM_ELEMENTS or len(index) > len(names) * len(ROLES):
        raise Unrebuildable(
            f"パラメータが多すぎます (上限 {MAX_PARAM_ELEMENTS} 個)。",
            f"Too many parameters (limit {MAX_PARAM_ELEMENTS}).",
        )
    arrays: list[dict[str, np.ndarray]] = [{} for _ in names]
    offset = 0
    for li, role, ndim, d0, d1 in (tuple(int(v) for v in row) for row in index):
        ok = 0 <= li < len(names) and 0 <= role < len(ROLES) and 0 <= ndim <= 2
        ok = ok and 0 <= d0 <= MAX_DIM and 0 <= d1 <= MAX_DIM
        ok = ok and (ndim >= 1 or d0 == 0) and (ndim == 2 or d1 == 0)
        if not ok or ROLES[role] in arrays[li]:
            raise ProbeOutputError("`prov_index` が不正です。", "`prov_index` is malformed.")
        shape = (d0, d1)[:ndim]
        size = int(np.prod(shape, dtype=np.int64)) if ndim else 1
        if offset + size > values.size:
            raise ProbeOutputError("`prov_values` が短すぎます。", "`prov_values` is too short.")
        arrays[li][ROLES[role]] = values[offset : offset + size].reshape(shape)
        offset += size
    if offset != values.size:
        raise ProbeOutputError("`prov_values` が長すぎます。", "`prov_values` is too long.")
    return names, arrays


def _need(arrays: dict[str, np.ndarray], role: str, where: str, shape: tuple[int, ...]):
    """The finite float64 array ``role`` of a layer, of ``shape`` (or ``(1, *shape)``)."""
    a = arrays.get(role)
    if a is None:
        raise Unrebuildable(
            f"{where} に `{role}` がありません。", f"{where} has no `{role}` attribute."
        )
    if a.shape == (1, *shape):
        a = a[0]  # a row vector (1, M) broadcasts like (M,) in the student's forward
    if a.shape != shape:
        raise Unrebuildable(
            f"{where}.{role} の形 {a.shape} が合いません (期待: {shape})。",
            f"{where}.{role} has shape {a.shape}, expected {shape}.",
        )
    if not np.all(np.isfinite(a)):
        raise Unrebuildable(
            f"{where}.{role} に NaN または inf が含まれています。",
            f"{where}.{role} contains NaN or inf.",
        )
    return np.array(a, dtype=np.float64)


def rebuild(
    names: list[str], arrays: list[dict[str, np.ndarray]], input_size: int = 784
) -> Rebuilt:
    """Reference layers (float64) for the layer classes ``names`` and their ``arrays``;
    checks that widths chain from ``input_size`` to 10 scores. Raises Unrebuildable."""
    net = Rebuilt(names=list(names))
    width = input_size
    for i, (name, arr) in enumerate(zip(names, arrays)):
        where = f"network.layers[{i}] ({name})"
        kind = KNOWN.get(name.lower().replace("_", ""))
        if kind is None:
            raise Unrebuildable(
                f"{where} は採点側で再現できない層です (使える層: {SUPPORTED})。",
                f"{where} is a layer class the grader cannot rebuild (supported: {SUPPORTED}).",
            )
        if kind == "affine":
            W = arr.get("W")
            out = W.shape[1] if W is not None and W.ndim == 2 else -1
            W = _need(arr, "W", where, (width, out))
            net.layers.append(Affine(W, _need(arr, "b", where, (out,))))
            width = out
        elif kind == "batchnorm":
            eps = _need(arr, "eps", where, ()) if "eps" in arr else np.float64(DEFAULT_BN_EPS)
            var = _need(arr, "running_var", where, (width,))
            if not np.all(var + float(eps) > 0):
                raise Unrebuildable(
                    f"{where}: running_var + eps が正ではありません。",
                    f"{where}: running_var + eps is not positive.",
                )
            layer = BatchNormalization(
                _need(arr, "gamma", where, (width,)),
                _need(arr, "beta", where, (width,)),
                running_mean=_need(arr, "running_mean", where, (width,)),
                running_var=var,
                eps=float(eps),
            )
            net.layers.append(layer)
        elif kind == "dropout":
            out = _need(arr, "inference_out", where, (2, 4))
            c = float(out.flat[0])
            if not np.allclose(out, c, rtol=1e-12, atol=0.0):
                raise Unrebuildable(
                    f"{where}: 推論モードの出力が入力の定数倍になっていません。",
                    f"{where}: its inference-mode output is not a constant multiple of the input.",
                )
            net.layers.append(_Scale(c))
        elif kind == "leakyrelu":
            alpha = float(_need(arr, "alpha", where, ())) if "alpha" in arr else 0.1
            net.layers.append(LeakyRelu(alpha))
        else:
            net.layers.append(
                {"relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh}.get(kind, _Softmax)()
            )
    if width != N_CLASSES:
        raise Unrebuildable(
            f"最後の Affine の出力が {width} 次元です (期待: {N_CLASSES})。",
            f"The last Affine layer has {width} outputs, expected {N_CLASSES}.",
        )
    return net


@dataclass
class Provenance:
    """What the comparison found: agreement in [0, 1] and the trusted accuracy."""

    agreement: float
    trusted_accuracy: float
    trusted_pred: np.ndarray


def recompute(
    net: Rebuilt, images: np.ndarray, labels: np.ndarray, sandbox_pred: np.ndarray
) -> Provenance:
    """Trusted predictions of ``net`` on ``images`` (N, 784) vs. ``sandbox_pred`` (N,)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        trusted = np.argmax(net.scores(images), axis=1)
    return Provenance(
        agreement=float(np.mean(trusted == sandbox_pred)),
        trusted_accuracy=float(np.mean(trusted == labels)),
        trusted_pred=trusted,
    )


def check_provenance(ctx: ScoreContext, sandbox_pred: np.ndarray) -> Provenance | Verdict:
    """The Provenance of ``sandbox_pred`` (the sandbox's int predictions on
    ``MNIST_PROBE_X``), or a zero Verdict saying why the network cannot be credited
    (unrebuildable network, or predictions that are not the network's own)."""
    try:
        net = rebuild(*_read_layout(ctx))
        net.deadline = time.thread_time() + SCORE_CPU_SECONDS
        return _judge_provenance(ctx, net, sandbox_pred)
    except Unrebuildable as exc:
        return Verdict.fail(
            "予測を network 自身のパラメータから確かめられないため、この項目は 0 点です: "
            + exc.message["ja"],
            "The predictions cannot be checked against the network's own parameters, so this "
            "item gets no credit: " + exc.message["en"],
            hint=get_hint("mnist_provenance"),
        )


def _judge_provenance(ctx: ScoreContext, net: Rebuilt, sandbox_pred: np.ndarray):
    hint = get_hint("mnist_provenance")
    probe_x = ctx.data.mnist_probe_images()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        agreement = float(np.mean(np.argmax(net.scores(probe_x), axis=1) == sandbox_pred))
    if agreement < MIN_AGREEMENT and _bn_in_training_mode(net, probe_x, sandbox_pred):
        return Verdict.fail(
            "predict の中で BatchNormalization が学習モード (ミニバッチの平均・分散) で"
            "動いています: "
            "予測が running_mean / running_var ではなくバッチ統計から計算されています。",
            "BatchNormalization runs in training mode inside predict: the predictions were "
            "computed with each batch's own mean and variance instead of running_mean / "
            "running_var.",
            measured_error=1.0 - agreement,
            tolerance=1.0 - MIN_AGREEMENT,
            hint=get_hint("bn_predict_train_mode"),
        )
    if agreement < MIN_AGREEMENT:
        return Verdict.fail(
            "予測が network 自身のパラメータから計算されたものではありません: network.layers の"
            f"パラメータから採点側で計算し直した予測との一致率が {agreement:.2%} です "
            f"({MIN_AGREEMENT:.0%} 以上が必要)。",
            "The predictions do not come from the network's own parameters: they agree with "
            "the predictions recomputed from the parameters in network.layers on only "
            f"{agreement:.2%} of the probe images ({MIN_AGREEMENT:.0%} required).",
            measured_error=1.0 - agreement,
            tolerance=1.0 - MIN_AGREEMENT,
            hint=hint,
        )
    test_x, test_t = ctx.data.mnist_graded_test()
    prov = recompute(net, test_x, test_t, np.full(len(test_t), -1))
    return Provenance(agreement, prov.trusted_accuracy, prov.trusted_pred)


def _bn_in_training_mode(net: Rebuilt, images: np.ndarray, sandbox_pred: np.ndarray) -> bool:
    """Do the sandbox's predictions match the network with batch-statistics BN, evaluated in
    the probe's chunks of 1000 (``PROBE_MNIST``)?"""
    if not any(isinstance(layer, BatchNormalization) for layer in net.layers):
        return False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scores = net.scores(images, chunk=1000, bn_batch_stats=True)
    return float(np.mean(np.argmax(scores, axis=1) == sandbox_pred)) >= MIN_AGREEMENT


__all__ = [
    "MIN_AGREEMENT",
    "PROBE_PROVENANCE",
    "Provenance",
    "Rebuilt",
    "Unrebuildable",
    "check_provenance",
    "rebuild",
    "recompute",
]
