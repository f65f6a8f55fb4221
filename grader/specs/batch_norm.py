"""2-7: BatchNormalization: forward (training and inference), backward, running statistics
(declared items, ``_declare.py``)."""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment
from grader.specs._checks import scalar
from grader.specs._declare import construct, declare, gradient, mistake
from grader.specs._large import LARGE_COLS, LARGE_ROWS
from reference import BatchNormalization

N, D = 8, 4  # batch >= 4; features != batch
EPS = 1e-7  # the reference's, for the mistakes computed exactly


def _batch(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Per-feature offsets and scales in [0.5, 2]: the variance stays well above eps."""
    d = shape[-1]
    return rng.uniform(-2.0, 2.0, size=d) + rng.uniform(0.5, 2.0, size=d) * rng.standard_normal(
        shape
    )


def make_inputs(rng: np.random.Generator, n: int = N, d: int = D) -> dict[str, np.ndarray]:
    """A batch, random gamma/beta, running statistics for inference, a random upstream
    gradient (never all ones: the terms through mean and variance would vanish), ``x_other``
    for a second instance's forward between the first one's forward and backward, three
    training batches ``x1``..``x3`` and the momentum for the running statistics."""
    return {
        "x": _batch(rng, (n, d)),
        "gamma": rng.uniform(0.5, 2.0, size=d),
        "beta": rng.standard_normal(d),
        "rm": rng.standard_normal(d),
        "rv": rng.uniform(0.5, 2.0, size=d),
        "dout": rng.standard_normal((n, d)),
        "x_other": _batch(rng, (n, d)),
        **{f"x{k}": _batch(rng, (n, d)) for k in (1, 2, 3)},
        "momentum": scalar(rng.uniform(0.6, 0.9)),
    }


def make_large_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A large batch (``_large.py``: no credit for finite differences)."""
    return make_inputs(rng, LARGE_ROWS, LARGE_COLS)


def train_forward(x, gamma, beta) -> np.ndarray:
    return BatchNormalization(gamma, beta).forward(x, train_flg=True)


def eval_forward(x, gamma, beta, rm, rv) -> np.ndarray:
    return BatchNormalization(gamma, beta, running_mean=rm, running_var=rv).forward(x, False)


def unbiased_forward(x, gamma, beta) -> np.ndarray:
    """The training output with the unbiased (N - 1) batch variance."""
    xc = x - x.mean(axis=0)
    return gamma * xc / np.sqrt(np.sum(xc**2, axis=0) / (len(x) - 1) + EPS) + beta


def other_dx(x_other, gamma, beta, dout) -> np.ndarray:
    """dx from the other instance's forward: state kept on the class or in a global."""
    other = BatchNormalization(gamma, beta)
    other.forward(x_other, train_flg=True)
    return other.backward(dout)


def missing(x: np.ndarray, dxn: np.ndarray, mean_term: int = 0) -> np.ndarray:
    """dx without the terms through mean and variance (with ``mean_term``: the mean's only)."""
    return (dxn - mean_term * dxn.mean(axis=0)) / np.sqrt(x.var(axis=0) + EPS)


def running(x1, x2, x3, momentum, ddof=0, swap=False, first=False) -> dict[str, np.ndarray]:
    """The running averages after three batches: with ``swap`` the weights exchanged, with
    ``first`` started from the first batch's statistics instead of zeros."""
    batches = [x1, x2, x3]
    mean, var = np.zeros(D), np.zeros(D)
    if first:
        mean, var = x1.mean(axis=0), x1.var(axis=0, ddof=ddof)
        batches = batches[1:]
    a, b = (1.0 - momentum, momentum) if swap else (momentum, 1.0 - momentum)
    for xb in batches:
        mean = a * mean + b * xb.mean(axis=0)
        var = a * var + b * xb.var(axis=0, ddof=ddof)
    return {"running_mean": mean, "running_var": var}


def running_stat(name: str, **how):
    """One output of ``running`` as a function of the inputs (for ``mistake``)."""
    return lambda x1, x2, x3, momentum: running(x1, x2, x3, momentum, **how)[name]


def reference_stat(name: str):
    """The reference layer's running statistic ``name`` after the three batches."""

    def stat(gamma, beta, x1, x2, x3, momentum) -> np.ndarray:
        bn = BatchNormalization(gamma, beta, momentum=momentum)
        for xb in (x1, x2, x3):
            bn.forward(xb, train_flg=True)
        return getattr(bn, name)

    return stat


ASSIGNMENT = Assignment(
    id="2-7_batch_norm",
    order=130,
    title={"ja": "バッチ正規化", "en": "Batch normalisation"},
    items=(
        declare(
            "batchnorm_forward",
            ("BatchNorm の順伝播 (学習/推論)", "BatchNorm forward (train/test)"),
            points=1,
            # inference first, on the given running statistics; training does not read them
            call=construct(
                "BatchNormalization", "gamma", "beta", running_mean="rm", running_var="rv"
            )
            .then("forward", "x", train_flg=False, save="y_eval")
            .then("forward", "x", train_flg=True, save="y"),
            solution=BatchNormalization,
            inputs=make_inputs,
            expect={"y_eval": eval_forward, "y": train_forward},
            # Reference: 0. eps 1e-6 instead of 1e-7 changes xn by ~eps/(2 var) <= 2e-6
            # (var >= 0.25).
            tol=1e-4,
            mistakes=[mistake("bn_running_var_unbiased", y=unbiased_forward)],
        ),
        declare(
            "batchnorm_backward",
            ("BatchNorm の逆伝播", "BatchNorm backward pass"),
            points=3,
            call=construct("BatchNormalization", "gamma", "beta")
            .then("forward", "x", train_flg=True)
            .then("forward", "x_other", True, other=True)  # a second layer
            .then("backward", "dout", save="dx")
            .attr("dgamma", save="dgamma")
            .attr("dbeta", save="dbeta"),
            solution=BatchNormalization,
            inputs=make_inputs,
            expect={
                "dx": gradient(train_forward, "x", dout="dout"),
                "dgamma": gradient(train_forward, "gamma", dout="dout"),
                "dbeta": gradient(train_forward, "beta", dout="dout"),
            },
            # Reference vs numeric: <= 2e-9; eps 1e-6 vs 1e-7 shifts dx by <= ~4e-6 relative.
            tol=1e-4,
            mistakes=[
                mistake("layer_state_shared", dx=other_dx),
                mistake(
                    "bn_backward_missing_mean_terms",
                    dx=lambda x, gamma, dout: missing(x, gamma * dout),
                ),
                mistake(
                    "bn_backward_missing_var_term",
                    dx=lambda x, gamma, dout: missing(x, gamma * dout, 1),
                ),
            ],
            batch_of="x",
            large=make_large_inputs,
            large_tol=1e-4,  # the same variance floor and eps leeway
        ),
        declare(
            "batchnorm_running_stats",
            ("移動平均 (running_mean, running_var)", "Running statistics"),
            points=1,
            call=construct("BatchNormalization", "gamma", "beta", momentum="momentum")
            .then("forward", "x1", train_flg=True)
            .then("forward", "x2", train_flg=True)
            .then("forward", "x3", train_flg=True)
            .attr("running_mean", save="running_mean")
            .attr("running_var", save="running_var"),
            solution=BatchNormalization,
            inputs=make_inputs,
            expect={n: reference_stat(n) for n in ("running_mean", "running_var")},
            tol=1e-8,  # the same recurrences up to rounding: measured <= 3e-16
            mistakes=[
                mistake(
                    "bn_running_momentum_swapped",
                    **{n: running_stat(n, swap=True) for n in ("running_mean", "running_var")},
                ),
                mistake(
                    "bn_running_init_first_batch",
                    **{n: running_stat(n, first=True) for n in ("running_mean", "running_var")},
                ),
                mistake("bn_running_var_unbiased", running_var=running_stat("running_var", ddof=1)),
                mistake(
                    "bn_running_not_updated",
                    running_mean=lambda: np.zeros(D),
                    running_var=lambda: np.zeros(D),
                ),
            ],
        ),
    ),
)
