"""2-6: He and Glorot initialisers, judged by the statistics of one large draw.

The probe seeds ``np.random`` with the job's seed and draws an (n_in, n_out) matrix of about
10^5 entries. Bounds are five standard errors of each statistic for a correct sampler, so a
correct implementation fails with probability below 1e-5 per statistic, while the known
mistakes (factor sqrt(2), variance for std, wrong distribution) are 20+ standard errors away:

* mean: ``|m| <= 5 sigma / sqrt(n)``;
* std: ``|s/sigma - 1| <= 5 sqrt((kurt - 1) / (4 n))`` (kurt = 3 normal, 1.8 uniform);
* shape: excess kurtosis within ``5 sqrt(24 / n)`` of 0 (normal) or -1.2 (uniform);
* uniform range: ``max|w| <= L`` and ``max|w| >= L (1 - 20/n)`` (P(miss) = e^-20).
"""

from __future__ import annotations

import math

import numpy as np

from grader.engine.hints import get_hint
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict

Z = 5.0  # standard errors allowed


def make_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    """n_in != n_out (so a transposed result shows), n_in*n_out between 6e4 and 1.5e5."""
    return {
        "n_in": np.asarray(int(rng.choice([200, 250, 300])), dtype=np.int64),
        "n_out": np.asarray(int(rng.choice([350, 400, 500])), dtype=np.int64),
        "seed": np.asarray(int(rng.integers(0, 2**31 - 1)), dtype=np.int64),
    }


PROBE = """
import numpy as _np
_np.random.seed(int(inp["seed"]))
out["W"] = _np.array({fn}(int(inp["n_in"]), int(inp["n_out"])), dtype=_np.float64)
"""


def _stats(w: np.ndarray) -> tuple[float, float, float, float]:
    """mean, std, excess kurtosis, max |w|."""
    m = float(w.mean())
    c = w - m
    var = float(np.mean(c * c))
    kurt = float(np.mean(c**4) / var**2 - 3.0) if var > 0 else float("nan")
    return m, math.sqrt(var), kurt, float(np.max(np.abs(w)))


def _fail(ja: str, en: str, err: float, tol: float, hint: str | None) -> Verdict:
    return Verdict.fail(ja, en, error=err, tolerance=tol, hint=get_hint(hint) if hint else None)


def _get(ctx: ScoreContext) -> tuple[np.ndarray, int, int] | Verdict:
    n_in, n_out = int(ctx.inputs["n_in"]), int(ctx.inputs["n_out"])
    w = ctx.require("W", shape=None)
    if w.shape == (n_out, n_in):
        return _fail(
            f"形が (n_out, n_in) = {w.shape} です。(n_in, n_out) にしてください。",
            f"The shape is (n_out, n_in) = {w.shape}; it must be (n_in, n_out).",
            float("inf"),
            0.0,
            "transposed",
        )
    if w.shape != (n_in, n_out):
        return _fail(
            f"形が違います: {w.shape} (期待: ({n_in}, {n_out}))。",
            f"Shape {w.shape}, expected ({n_in}, {n_out}).",
            float("inf"),
            0.0,
            None,
        )
    return w, n_in, n_out


def _std_hint(s: float, n: int, candidates: dict[str, float], kurt_ratio: float) -> str | None:
    """The hint whose wrong std ``candidates[hint]`` the sample std ``s`` matches."""
    bound = Z * math.sqrt((kurt_ratio - 1.0) / (4.0 * n))
    for hint, sigma in candidates.items():
        if abs(s / sigma - 1.0) <= bound:
            return hint
    return None


def normal_scorer(name: str, sigma_of, wrong_stds_of):
    """Score a normal initialiser with std ``sigma_of(n_in, n_out)``."""

    def score(ctx: ScoreContext) -> Verdict:
        got = _get(ctx)
        if isinstance(got, Verdict):
            return got
        w, n_in, n_out = got
        n, sigma = w.size, sigma_of(n_in, n_out)
        m, s, kurt, _ = _stats(w)
        rel, std_bound = abs(s / sigma - 1.0), Z * math.sqrt(2.0 / (4.0 * n))
        kurt_bound = Z * math.sqrt(24.0 / n)
        if rel > std_bound:
            hint = _std_hint(s, n, wrong_stds_of(n_in, n_out), 3.0)
            return _fail(
                f"標準偏差 {s:.4g} が期待値 {sigma:.4g} と合いません (相対差 {rel:.3g})。",
                f"The standard deviation {s:.4g} does not match {sigma:.4g} (off by {rel:.3g}).",
                rel,
                std_bound,
                hint,
            )
        if abs(m) > Z * sigma / math.sqrt(n):
            return _fail(
                f"平均 {m:.3g} が 0 と合いません。",
                f"The mean {m:.3g} is not 0.",
                abs(m) / sigma,
                Z / math.sqrt(n),
                None,
            )
        if abs(kurt) > kurt_bound:
            return _fail(
                f"分布の形 (尖度 {kurt:.3g}) が正規分布 (0) と合いません。",
                f"The shape (excess kurtosis {kurt:.3g}) is not that of a normal (0).",
                abs(kurt),
                kurt_bound,
                "wrong_distribution",
            )
        return Verdict.ok(error=rel, tolerance=std_bound)

    return score


def score_glorot_uniform(ctx: ScoreContext) -> Verdict:
    got = _get(ctx)
    if isinstance(got, Verdict):
        return got
    w, n_in, n_out = got
    n, limit = w.size, math.sqrt(6.0 / (n_in + n_out))
    sigma = limit / math.sqrt(3.0)
    m, s, kurt, top = _stats(w)
    wrong_limits = {
        "glorot_uniform_bound": [
            math.sqrt(6.0 / n_in),
            math.sqrt(3.0 / (n_in + n_out)),
            math.sqrt(1.0 / (n_in + n_out)),
            math.sqrt(2.0 / (n_in + n_out)),
        ]
    }
    kurt_bound = Z * math.sqrt(24.0 / n)
    if abs(kurt + 1.2) > kurt_bound:
        return _fail(
            f"分布の形 (尖度 {kurt:.3g}) が一様分布 (-1.2) と合いません。",
            f"The shape (excess kurtosis {kurt:.3g}) is not that of a uniform (-1.2).",
            abs(kurt + 1.2),
            kurt_bound,
            "wrong_distribution",
        )
    rel = abs(top / limit - 1.0)
    if top > limit * (1 + 1e-9) or top < limit * (1.0 - 20.0 / n):
        hint = None
        for wrong in wrong_limits["glorot_uniform_bound"]:
            if abs(top / wrong - 1.0) <= 20.0 / n + 1e-9:
                hint = "glorot_uniform_bound"
        if hint is None and abs(top / limit - 1.0) > 0.5:
            hint = "glorot_uniform_bound"
        return _fail(
            f"値の範囲 max|W| = {top:.4g} が sqrt(6/(n_in+n_out)) = {limit:.4g} と合いません。",
            f"The range max|W| = {top:.4g} does not match sqrt(6/(n_in+n_out)) = {limit:.4g}.",
            rel,
            20.0 / n,
            hint,
        )
    if abs(m) > Z * sigma / math.sqrt(n):
        return _fail(
            f"平均 {m:.3g} が 0 と合いません (範囲が [-L, L] ではない?)。",
            f"The mean {m:.3g} is not 0 (is the range [-L, L]?).",
            abs(m) / sigma,
            Z / math.sqrt(n),
            "glorot_uniform_bound",
        )
    std_bound = Z * math.sqrt(0.8 / (4.0 * n))
    if abs(s / sigma - 1.0) > std_bound:
        return _fail(
            f"標準偏差 {s:.4g} が期待値 {sigma:.4g} と合いません。",
            f"The standard deviation {s:.4g} does not match {sigma:.4g}.",
            abs(s / sigma - 1.0),
            std_bound,
            None,
        )
    return Verdict.ok(error=rel, tolerance=20.0 / n)


def _item(item_id: str, ja: str, en: str, score, hints: tuple[str, ...]) -> Item:
    return Item(
        id=item_id,
        title={"ja": ja, "en": en},
        points=1,
        probe=PROBE.format(fn=item_id),
        make_inputs=make_inputs,
        score=score,
        hints=hints,
    )


ASSIGNMENT = Assignment(
    id="2-6_weight_init",
    order=120,
    title={"ja": "重みの初期値", "en": "Weight initialisation"},
    items=(
        _item(
            "he_normal",
            "He の初期値 (正規分布, std = sqrt(2/n_in))",
            "He initialisation (normal, std = sqrt(2/n_in))",
            normal_scorer(
                "he_normal",
                lambda i, o: math.sqrt(2.0 / i),
                lambda i, o: {"he_std_n_in": math.sqrt(1.0 / i), "std_vs_variance": 2.0 / i},
            ),
            hints=("he_std_n_in", "std_vs_variance", "transposed", "wrong_distribution"),
        ),
        _item(
            "glorot_normal",
            "Glorot の初期値 (正規分布, 分散 2/(n_in+n_out))",
            "Glorot initialisation (normal, variance 2/(n_in+n_out))",
            normal_scorer(
                "glorot_normal",
                lambda i, o: math.sqrt(2.0 / (i + o)),
                lambda i, o: {
                    "glorot_n_in_only": math.sqrt(1.0 / i),
                    "std_vs_variance": 2.0 / (i + o),
                },
            ),
            hints=("glorot_n_in_only", "std_vs_variance", "transposed", "wrong_distribution"),
        ),
        _item(
            "glorot_uniform",
            "Glorot の初期値 (一様分布)",
            "Glorot initialisation (uniform)",
            score_glorot_uniform,
            hints=("glorot_uniform_bound", "transposed", "wrong_distribution"),
        ),
    ),
)
