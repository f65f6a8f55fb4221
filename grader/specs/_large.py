"""A second, large input for backward items: finite differences earn no backward credit.

A backward pass computed by central differences of the student's own forward (e.g. with the
set-up cell's ``numerical_gradient``) matches the small probe to 1e-10. On top of the small
check, a backward item therefore also calls the student's layer on an input of
``LARGE_ELEMENTS`` entries under a wall-clock alarm of ``LARGE_SECONDS``: an analytic backward
needs milliseconds for it, finite differences need one or two forward passes per entry
(500,000 forwards of the whole input; even per-row tricks need a million small calls), far
beyond the alarm. The trusted side compares the large result with the reference layer's
analytic backward.

Inside the kernel the alarm is SIGALRM raising a ``BaseException`` subclass, so a student's
``except Exception`` does not swallow it; a notebook that disarms it only runs into the cell
time limit instead. Residual risk: a finite-difference scheme that exploits the layer's
structure with vectorised perturbations (e.g. perturbing one entry per column of BatchNorm at
once, a forward per feature) is not stopped by this; it needs the same insight as the
derivation.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np

from grader.engine.spec import ScoreContext, Verdict
from grader.specs._checks import compare, student_outputs

LARGE_ROWS, LARGE_COLS = 2000, 250  # 500,000 entries: 8 MB in float64 per array
LARGE_ELEMENTS = LARGE_ROWS * LARGE_COLS
# Analytic forward + backward of the course's layers at this size: ~10-50 ms; central
# differences: >= 500,000 forward passes. The alarm sits far from both.
LARGE_SECONDS = 5.0
TIMEOUT_KEY = "large_timeout"


def timed(source: str) -> str:
    """Probe source that runs ``source`` (which fills ``out["large_*"]``) under the alarm and
    records ``out["large_timeout"]`` when it fires; any other error leaves the large outputs
    missing (the item then gets no credit, with the error)."""
    body = textwrap.indent(textwrap.dedent(source).strip("\n"), "    ")
    return f"""
import signal as _signal
import numpy as _np


class _GraderLargeTimeout(BaseException):
    pass


def _grader_alarm(*_args):
    raise _GraderLargeTimeout()


_previous = _signal.signal(_signal.SIGALRM, _grader_alarm)
_signal.setitimer(_signal.ITIMER_REAL, {LARGE_SECONDS})
try:
{body}
except _GraderLargeTimeout:
    out["{TIMEOUT_KEY}"] = _np.ones(1)
finally:
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    _signal.signal(_signal.SIGALRM, _signal.SIG_DFL if _previous is None else _previous)
"""


def large_verdict(
    ctx: ScoreContext, small: Verdict, expected: Mapping[str, np.ndarray], tol: float
) -> Verdict:
    """``small`` when it fails (its hint names the mistake); otherwise full marks only if the
    large outputs ``expected`` (names ``large_*``) came back in time and match."""
    if not small.passed:
        return small
    if TIMEOUT_KEY in ctx.outputs:
        return Verdict.fail(
            f"大きな入力 ({LARGE_ELEMENTS} 要素) での backward が {LARGE_SECONDS:.0f} 秒以内に"
            "終わりませんでした。数値微分 (有限差分) で求めた backward には点を与えません: "
            "連鎖律で導いた式で計算してください (解析的な backward なら数ミリ秒で終わります)。",
            f"The backward pass on a large input ({LARGE_ELEMENTS} entries) did not finish "
            f"within {LARGE_SECONDS:.0f} s. A backward computed by finite differences earns no "
            "backward credit: compute it with the formula derived by the chain rule (an "
            "analytic backward takes milliseconds).",
            measured_error=float("inf"),
            tolerance=tol,
        )
    verdict = compare(ctx, expected, tol, student=student_outputs(ctx, expected))
    if verdict.passed:
        return small
    return Verdict.fail(
        "小さな入力では正しいものの、大きな入力での backward の結果が違います: "
        + verdict.message["ja"],
        "Correct on the small input, but the backward pass on a large input differs: "
        + verdict.message["en"],
        measured_error=verdict.measured_error,
        tolerance=tol,
    )


__all__ = ["LARGE_COLS", "LARGE_ROWS", "LARGE_SECONDS", "large_verdict", "timed"]
