"""2-7: BatchNormalization: forward (training and inference), backward, running statistics."""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import GENERIC_HINTS, Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare, layer_numeric_grads, scalar
from grader.specs._large import LARGE_COLS, LARGE_ROWS, large_verdict, timed
from reference import BatchNormalization

N, D = 8, 4  # batch >= 4; features != batch


def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """A batch with per-feature offsets and scales in [0.5, 2] (variance well above eps),
    random gamma/beta, random upstream gradient (never all ones: the BN terms would vanish),
    running statistics for inference, three batches for the running averages."""
    scale = rng.uniform(0.5, 2.0, size=D)
    shift = rng.uniform(-2.0, 2.0, size=D)
    return {
        "x": shift + scale * rng.standard_normal((N, D)),
        "gamma": rng.uniform(0.5, 2.0, size=D),
        "beta": rng.standard_normal(D),
        "dout": rng.standard_normal((N, D)),
        "rm": rng.standard_normal(D),
        "rv": rng.uniform(0.5, 2.0, size=D),
        "batches": shift + scale * rng.standard_normal((3, N, D)),
        "momentum": scalar(rng.uniform(0.6, 0.9)),
    }


def make_backward_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """The small inputs, ``x_other`` (a second instance's forward runs between the first one's
    forward and backward) and a large batch (``_large.py``: no credit for finite differences)."""
    n, d = LARGE_ROWS, LARGE_COLS
    small = make_inputs(rng, data)
    x_other = rng.uniform(-2.0, 2.0, D) + rng.uniform(0.5, 2.0, D) * rng.standard_normal((N, D))
    return {
        **small,
        "x_other": x_other,
        "large_x": rng.uniform(-2, 2, d) + rng.uniform(0.5, 2, d) * rng.standard_normal((n, d)),
        "large_gamma": rng.uniform(0.5, 2.0, size=d),
        "large_beta": rng.standard_normal(d),
        "large_dout": rng.standard_normal((n, d)),
    }


def _train_forward(x, gamma, beta) -> np.ndarray:
    return BatchNormalization(gamma.copy(), beta.copy()).forward(x, train_flg=True)


PROBE_FORWARD = """
import numpy as _np
_bn = BatchNormalization(inp["gamma"].copy(), inp["beta"].copy())
out["y"] = _np.array(_bn.forward(inp["x"].copy(), train_flg=True), dtype=_np.float64)
_bn = BatchNormalization(inp["gamma"].copy(), inp["beta"].copy(),
                         running_mean=inp["rm"].copy(), running_var=inp["rv"].copy())
out["y_eval"] = _np.array(_bn.forward(inp["x"].copy(), train_flg=False), dtype=_np.float64)
"""


def score_forward(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    ref = BatchNormalization(i["gamma"].copy(), i["beta"].copy(), running_mean=i["rm"].copy())
    ref.running_var = i["rv"].copy()
    expected = {
        "y": _train_forward(i["x"], i["gamma"], i["beta"]),
        "y_eval": ref.forward(i["x"].copy(), train_flg=False),
    }
    xc = i["x"] - i["x"].mean(axis=0)
    unbiased = np.sqrt(np.sum(xc**2, axis=0) / (N - 1) + 1e-7)
    mistakes = [Mistake("bn_running_var_unbiased", {"y": i["gamma"] * xc / unbiased + i["beta"]})]
    # Reference: 0. eps 1e-6 instead of 1e-7 changes xn by ~eps/(2 var) <= 2e-6 (var >= 0.25).
    return compare(ctx, expected, tol=1e-4, mistakes=mistakes)


PROBE_BACKWARD = """
import numpy as _np
_bn = BatchNormalization(inp["gamma"].copy(), inp["beta"].copy())
_bn.forward(inp["x"].copy(), train_flg=True)
BatchNormalization(inp["gamma"].copy(), inp["beta"].copy()).forward(inp["x_other"].copy(), True)
out["dx"] = _np.array(_bn.backward(inp["dout"].copy()), dtype=_np.float64)
out["dgamma"] = _np.array(_bn.dgamma, dtype=_np.float64)
out["dbeta"] = _np.array(_bn.dbeta, dtype=_np.float64)
""" + timed("""
_bn = BatchNormalization(inp["large_gamma"].copy(), inp["large_beta"].copy())
_bn.forward(inp["large_x"].copy(), train_flg=True)
out["large_dx"] = _np.array(_bn.backward(inp["large_dout"].copy()), dtype=_np.float64)
out["large_dgamma"] = _np.array(_bn.dgamma, dtype=_np.float64)
out["large_dbeta"] = _np.array(_bn.dbeta, dtype=_np.float64)
""")


def score_backward(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    arrays = {k: i[k] for k in ("x", "gamma", "beta")}
    g = layer_numeric_grads(_train_forward, arrays, i["dout"], wrt=("x", "gamma", "beta"))
    expected = {"dx": g["x"], "dgamma": g["gamma"], "dbeta": g["beta"]}
    # The known mistakes, computed exactly: dx without the terms through mean and variance,
    # and with the mean term only.
    x, dout = i["x"], i["dout"]
    std = np.sqrt(x.var(axis=0) + 1e-7)
    dxn = i["gamma"] * dout
    other = BatchNormalization(i["gamma"].copy(), i["beta"].copy())
    other.forward(i["x_other"].copy(), train_flg=True)
    mistakes = [
        Mistake("layer_state_shared", {"dx": other.backward(dout.copy())}),
        Mistake("bn_backward_missing_mean_terms", {"dx": dxn / std}),
        Mistake("bn_backward_missing_var_term", {"dx": (dxn - dxn.mean(axis=0)) / std}),
    ]
    # Reference vs numeric: <= 2e-9; eps 1e-6 vs 1e-7 shifts dx by <= ~4e-6 relative.
    small = compare(ctx, expected, tol=1e-4, mistakes=mistakes, batch_size=N)
    ref = BatchNormalization(i["large_gamma"].copy(), i["large_beta"].copy())
    ref.forward(i["large_x"].copy(), train_flg=True)
    large = {"large_dx": ref.backward(i["large_dout"].copy())}
    large.update(large_dgamma=ref.dgamma, large_dbeta=ref.dbeta)
    return large_verdict(ctx, small, large, tol=1e-4)  # same variance floor and eps leeway


PROBE_RUNNING = """
import numpy as _np
_bn = BatchNormalization(inp["gamma"].copy(), inp["beta"].copy(), momentum=float(inp["momentum"]))
for _xb in inp["batches"]:
    _bn.forward(_xb.copy(), train_flg=True)
out["running_mean"] = _np.array(_bn.running_mean, dtype=_np.float64)
out["running_var"] = _np.array(_bn.running_var, dtype=_np.float64)
"""


def _running(batches: np.ndarray, m: float, ddof: int = 0, swap: bool = False, first: bool = False):
    """The running averages after ``batches``: with ``swap`` the weights exchanged, with
    ``first`` started from the first batch's statistics instead of zeros."""
    mean, var = np.zeros(D), np.zeros(D)
    if first:
        mean, var = batches[0].mean(axis=0), batches[0].var(axis=0, ddof=ddof)
    a, b = (1.0 - m, m) if swap else (m, 1.0 - m)
    for xb in batches[1:] if first else batches:
        mean = a * mean + b * xb.mean(axis=0)
        var = a * var + b * xb.var(axis=0, ddof=ddof)
    return {"running_mean": mean, "running_var": var}


def score_running(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    m = float(i["momentum"])
    bn = BatchNormalization(i["gamma"].copy(), i["beta"].copy(), momentum=m)
    for xb in i["batches"]:
        bn.forward(xb.copy(), train_flg=True)
    expected = {"running_mean": bn.running_mean, "running_var": bn.running_var}
    mistakes = [
        Mistake("bn_running_momentum_swapped", _running(i["batches"], m, swap=True)),
        Mistake("bn_running_init_first_batch", _running(i["batches"], m, first=True)),
        Mistake(
            "bn_running_var_unbiased", {"running_var": _running(i["batches"], m, 1)["running_var"]}
        ),
        Mistake(
            "bn_running_not_updated", {"running_mean": np.zeros(D), "running_var": np.zeros(D)}
        ),
    ]
    # Same recurrences up to rounding: measured <= 3e-16.
    return compare(ctx, expected, tol=1e-8, mistakes=mistakes)


ASSIGNMENT = Assignment(
    id="2-7_batch_norm",
    order=130,
    title={"ja": "バッチ正規化", "en": "Batch normalisation"},
    items=(
        Item(
            id="batchnorm_forward",
            title={"ja": "BatchNorm の順伝播 (学習/推論)", "en": "BatchNorm forward (train/test)"},
            points=1,
            probe=PROBE_FORWARD,
            make_inputs=make_inputs,
            score=score_forward,
            hints=(*GENERIC_HINTS, "bn_running_var_unbiased"),
        ),
        Item(
            id="batchnorm_backward",
            title={"ja": "BatchNorm の逆伝播", "en": "BatchNorm backward pass"},
            points=3,
            probe=PROBE_BACKWARD,
            make_inputs=make_backward_inputs,
            score=score_backward,
            hints=(
                *GENERIC_HINTS,
                "bn_backward_missing_mean_terms",
                "bn_backward_missing_var_term",
                "layer_state_shared",
            ),
        ),
        Item(
            id="batchnorm_running_stats",
            title={"ja": "移動平均 (running_mean, running_var)", "en": "Running statistics"},
            points=1,
            probe=PROBE_RUNNING,
            make_inputs=make_inputs,
            score=score_running,
            hints=(
                *GENERIC_HINTS,
                "bn_running_init_first_batch",
                "bn_running_momentum_swapped",
                "bn_running_not_updated",
                "bn_running_var_unbiased",
            ),
        ),
    ),
)
