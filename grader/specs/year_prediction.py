"""2-2-4: regression problem set (YearPredictionMSD, or its synthetic substitute).

``standardize``: checked on random data against ``(x - mean) / std``.

``year_prediction_fit``: the probe reads ``network.params`` and the notebook's statistics
``x_mean``, ``x_std`` (and ``t_mean``, ``t_std`` when it standardised the targets), and runs
the notebook's own pipeline (its ``standardize``, ``network.predict``, the map back to years)
on fresh points. The trusted side repeats that pipeline with the reference TwoLayerNet, checks
it agrees, and scores it by R^2 = 1 - MSE / Var(t) on fresh examples of the synthetic
substitute that never enter the sandbox (``_two_layer.fit_item``).
"""

from __future__ import annotations

import numpy as np

from grader.engine.spec import Assignment, ProbeOutputError, ScoreContext, Verdict
from grader.specs._declare import declare, function, mistake
from grader.specs._two_layer import PROBE_PARAMS, fit_item, fit_verdict
from grader.student.yearprediction import N_FEATURES, fresh_synthetic

# On the synthetic substitute the notebook's recipe (hidden 32, init std 0.1, 10 epochs of
# batch 100, lr 0.1, standardised inputs and targets) measures R^2 = 0.565 with the reference
# TwoLayerNet (two init seeds); least squares 0.547, init std 1.0 0.49, the mean 0.
R2_FULL, R2_ZERO = 0.50, 0.15


def make_standardize_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "x": 10.0 * rng.standard_normal((7, 5)) + 3.0,
        "mean": rng.standard_normal(5),
        "std": rng.uniform(0.5, 5.0, size=5),
    }


def standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """The notebook's formula (the correct variant)."""
    return (x - mean) / std


def draw_fit(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` fresh examples of the synthetic substitute (features and years)."""
    x, t = fresh_synthetic(n, rng)
    return {"x": x.astype(np.float64), "t": t}


# The notebook's own pipeline: its standardize and, when it standardised the targets, the map
# back to years; the trusted side reads the statistics it used and repeats both.
PROBE_FIT = (
    PROBE_PARAMS
    + """
_y = network.predict(standardize(inp["x"].copy(), x_mean, x_std))
_y = _np.array(_y, dtype=_np.float64)
out["x_mean"] = _np.array(x_mean, dtype=_np.float64)
out["x_std"] = _np.array(x_std, dtype=_np.float64)
if "t_mean" in globals() and "t_std" in globals():
    out["t_mean"] = _np.array(t_mean, dtype=_np.float64)
    out["t_std"] = _np.array(t_std, dtype=_np.float64)
    _y = _y * out["t_std"] + out["t_mean"]
out["y"] = _y
"""
)


def _statistic(ctx: ScoreContext, name: str, width: int) -> np.ndarray:
    """A finite statistic of the notebook: a scalar or one value per column."""
    a = ctx.require(name, shape=None)
    if a.size not in (1, width):
        raise ProbeOutputError(
            f"`{name}` の大きさ {a.shape} が違います (スカラーまたは {width} 個)。",
            f"`{name}` has shape {a.shape}; a scalar or {width} values are expected.",
        )
    return a.reshape(-1) if a.size == width else a.reshape(())


def fit_io(ctx: ScoreContext):
    """Standardisation with the notebook's ``x_mean``/``x_std`` and, when present, the map of
    the standardised predictions back to years with ``t_mean``/``t_std``."""
    mean, std = _statistic(ctx, "x_mean", N_FEATURES), _statistic(ctx, "x_std", N_FEATURES)
    if np.any(std == 0):
        raise ProbeOutputError("`x_std` に 0 が含まれています。", "`x_std` contains zeros.")
    if "t_mean" in ctx.outputs:
        t_mean, t_std = _statistic(ctx, "t_mean", 1), _statistic(ctx, "t_std", 1)
    else:
        t_mean, t_std = np.float64(0.0), np.float64(1.0)
    return (lambda x: (x - mean) / std), (lambda y: y * t_std + t_mean)


def judge_fit(points: dict[str, np.ndarray], y: np.ndarray) -> Verdict:
    t = points["t"]
    r2 = float(1.0 - np.mean((y - t) ** 2) / np.var(t))
    what = {
        "ja": f"新しいテストデータでの決定係数 R^2 = {r2:.3f} (満点: {R2_FULL} 以上)。",
        "en": f"R^2 on fresh test data: {r2:.3f} (full credit at {R2_FULL}).",
    }
    return fit_verdict(r2, R2_ZERO, R2_FULL, 1.0 - r2, 1.0 - R2_FULL, what)


ASSIGNMENT = Assignment(
    id="2-2-4_year_prediction",
    order=50,
    title={"ja": "回帰問題: 発売年の予測", "en": "Regression: predicting the release year"},
    items=(
        declare(
            "standardize",
            ("特徴量の標準化", "Feature standardisation"),
            points=1,
            call=function("standardize", "x", "mean", "std", save="z"),
            solution=standardize,
            inputs=make_standardize_inputs,
            expect={"z": standardize},
            tol=1e-10,  # the same formula up to rounding: measured <= 2e-16
            mistakes=[mistake("std_vs_variance", z=lambda x, mean, std: (x - mean) / std**2)],
        ),
        fit_item(
            "year_prediction_fit",
            task="regression",
            input_size=N_FEATURES,
            output_size=1,
            draw=draw_fit,
            judge=judge_fit,
            points=2,
            probe=PROBE_FIT,
            io=fit_io,
            title={"ja": "学習済みネットワークの性能 (R^2)", "en": "Trained network (R^2)"},
        ),
    ),
    notebook_timeout=600.0,
    cell_timeout=300.0,
)
