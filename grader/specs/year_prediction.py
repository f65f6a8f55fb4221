"""2-2-4: regression problem set (YearPredictionMSD, or its synthetic substitute).

``standardize``: checked on random data against ``(x - mean) / std``.

``year_prediction_fit``: the probe standardises the substitute's test features with the
notebook's globals ``x_mean`` and ``x_std`` (through the student's ``standardize``), calls
``network.predict`` and, when the notebook standardised the targets too (globals ``t_mean``,
``t_std``), maps the predictions back to years. Scored by R^2 = 1 - MSE / Var(t) on the
trusted side.
"""

from __future__ import annotations

import numpy as np

from grader.engine.diagnose import Mistake
from grader.engine.spec import Assignment, Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import compare
from grader.specs._two_layer import fit_verdict, predictions
from grader.student.yearprediction import make_synthetic

# On the synthetic substitute the notebook's recipe (hidden 32, init std 0.1, 10 epochs of
# batch 100, lr 0.1, standardised inputs and targets) measures R^2 = 0.565 with the reference
# TwoLayerNet (two init seeds); least squares 0.547, init std 1.0 0.49, the mean 0.
R2_FULL, R2_ZERO = 0.50, 0.15


def make_standardize_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    return {
        "x": 10.0 * rng.standard_normal((7, 5)) + 3.0,
        "mean": rng.standard_normal(5),
        "std": rng.uniform(0.5, 5.0, size=5),
    }


PROBE_STANDARDIZE = """
import numpy as _np
_z = standardize(inp["x"].copy(), inp["mean"].copy(), inp["std"].copy())
out["z"] = _np.asarray(_z, dtype=_np.float64)
"""


def score_standardize(ctx: ScoreContext) -> Verdict:
    i = ctx.inputs
    x = i["x"]
    mistakes = [Mistake("std_vs_variance", {"z": (x - i["mean"]) / i["std"] ** 2})]
    # Same formula up to rounding: measured <= 2e-16.
    return compare(ctx, {"z": (x - i["mean"]) / i["std"]}, tol=1e-10, mistakes=mistakes)


def _test_split() -> tuple[np.ndarray, np.ndarray]:
    d = make_synthetic()
    return d.x_test.astype(np.float64), d.t_test


def make_fit_inputs(rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
    return {"x": _test_split()[0]}


PROBE_FIT = """
import numpy as _np
_y = network.predict(standardize(inp["x"].copy(), x_mean, x_std))
_y = _np.asarray(_y, dtype=_np.float64)
if "t_mean" in globals() and "t_std" in globals():
    _y = _y * _np.asarray(t_std, dtype=_np.float64) + _np.asarray(t_mean, dtype=_np.float64)
out["y"] = _y
"""


def score_fit(ctx: ScoreContext) -> Verdict:
    x, t = ctx.inputs["x"], _test_split()[1]
    y = predictions(ctx, len(x), 1)
    r2 = float(1.0 - np.mean((y - t) ** 2) / np.var(t))
    what = {
        "ja": f"テストデータでの決定係数 R^2 = {r2:.3f} (満点: {R2_FULL} 以上)。",
        "en": f"R^2 on the test split: {r2:.3f} (full credit at {R2_FULL}).",
    }
    return fit_verdict(r2, R2_ZERO, R2_FULL, 1.0 - r2, 1.0 - R2_FULL, what)


ASSIGNMENT = Assignment(
    id="2-2-4_year_prediction",
    title={"ja": "回帰問題: 発売年の予測", "en": "Regression: predicting the release year"},
    items=(
        Item(
            id="standardize",
            title={"ja": "特徴量の標準化", "en": "Feature standardisation"},
            points=1,
            probe=PROBE_STANDARDIZE,
            make_inputs=make_standardize_inputs,
            score=score_standardize,
        ),
        Item(
            id="year_prediction_fit",
            title={"ja": "学習済みネットワークの性能 (R^2)", "en": "Trained network (R^2)"},
            points=2,
            probe=PROBE_FIT,
            make_inputs=make_fit_inputs,
            score=score_fit,
        ),
    ),
    notebook_timeout=600.0,
    cell_timeout=300.0,
)
