"""Detect known mistakes by explicit comparison (trusted side).

A *mistake* is what a specific wrong implementation returns on this job's inputs, computed on
the trusted side (e.g. the reference BatchNorm backward without the mean and variance terms, or
the expected gradient times the batch size). A student's failed output is matched against each
mistake with the relative error ``max|a-b| / max(1e-8, max(|a|+|b|))``; the first mistake that
matches within the diagnosis tolerance gives the hint. Nothing here guesses: no match, no hint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from grader.engine.hints import get_hint
from grader.engine.spec import Hint, relative_error
from grader.student.explain import likely_cause

# A student's output matches a mistake when it is at least this close to it: loose enough for
# eps choices (BN eps 1e-7 vs 1e-6, float32 arithmetic), far tighter than the distance between
# the correct answer and any mistake we test (factors 2, N, -1, missing terms: O(1) apart).
DIAGNOSIS_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Mistake:
    """What the mistake ``hint_id`` produces, for the outputs it affects (name -> array).

    Outputs not listed are not compared, so a mistake in ``dW`` is found whatever ``dx`` is.
    """

    hint_id: str
    outputs: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        get_hint(self.hint_id)  # a misspelt id fails where the mistake is defined


def matches(
    student: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    tol: float = DIAGNOSIS_TOLERANCE,
) -> bool:
    """True when every array of ``expected`` is in ``student`` with the same shape, all finite,
    and within relative error ``tol``."""
    for name, want in expected.items():
        got = student.get(name)
        if got is None or np.shape(got) != np.shape(want):
            return False
        got = np.asarray(got, dtype=np.float64)
        if not np.all(np.isfinite(got)):
            return False
        if relative_error(got, want) > tol:
            return False
    return True


def find_mistake(
    student: Mapping[str, np.ndarray],
    mistakes: Iterable[Mistake],
    tol: float = DIAGNOSIS_TOLERANCE,
) -> Hint | None:
    """The hint of the first mistake in ``mistakes`` that ``student`` matches, else None."""
    for mistake in mistakes:
        if mistake.outputs and matches(student, mistake.outputs, tol):
            return get_hint(mistake.hint_id)
    return None


# The hints ``generic_mistakes`` may give: always, with a batch size, with ``factor_two``.
ALWAYS_HINTS = ("sign_flip", "transposed", "row_vector_shape")
BATCH_HINTS = ("batch_size_division", "extra_batch_division")
FACTOR_TWO_HINTS = ("missing_factor_2", "missing_half_factor")
GENERIC_HINTS = ALWAYS_HINTS + BATCH_HINTS + FACTOR_TWO_HINTS  # items that ``compare`` declare them


def generic_mistakes(
    expected: Mapping[str, np.ndarray],
    batch_size: int | None = None,
    *,
    names: Sequence[str] | None = None,
    factor_two: bool = False,
) -> list[Mistake]:
    """Mistakes that can affect any single output, built from its expected value ``e``.

    * ``sign_flip``: ``-e``;
    * ``transposed``: ``e.T`` for a non-square 2-D ``e`` (square ones are compared too);
    * with ``batch_size`` N > 1: ``batch_size_division`` ``N*e`` and ``extra_batch_division``
      ``e/N``;
    * with ``factor_two``: ``missing_factor_2`` ``e/2`` and ``missing_half_factor`` ``2*e``;
    * ``row_vector_shape``: ``e`` as a ``(1, D)`` row for a 1-D ``e`` (right values, the
      shape ``(D,)`` lost to ``keepdims=True`` or ``np.zeros((1, D))``).

    Outputs whose expected value is all zeros are skipped (every scaling matches them).
    """
    out: list[Mistake] = []
    for name in names if names is not None else expected:
        e = np.asarray(expected[name], dtype=np.float64)
        if e.size == 0 or not np.any(e):
            continue
        out.append(Mistake("sign_flip", {name: -e}))
        if batch_size is not None and batch_size > 1:
            out.append(Mistake("batch_size_division", {name: e * batch_size}))
            out.append(Mistake("extra_batch_division", {name: e / batch_size}))
        if factor_two:
            out.append(Mistake("missing_factor_2", {name: e / 2}))
            out.append(Mistake("missing_half_factor", {name: e * 2}))
        if e.ndim == 1:
            out.append(Mistake("row_vector_shape", {name: e[None, :]}))
        if e.ndim == 2 and (e.shape[0] != e.shape[1] or not np.allclose(e, e.T)):
            out.append(Mistake("transposed", {name: e.T}))
    return out


# --------------------------------------------------------------------------------------------
# Exceptions: the common causes (the rules live in grader/student/explain.py, which the
# derived self-checks run too)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """What a recognised exception says about the student's code: a sentence naming the
    input the grader passed (ja, en) and the hint that says what the interface requires."""

    message: Mapping[str, str]
    hint: Hint


def explain_exception(error: str, inputs: Mapping[str, np.ndarray]) -> Explanation | None:
    """The likely cause of the exception ``error`` ("Type: message ...") raised by the
    student's code on ``inputs`` (see ``grader.student.explain.likely_cause``), or None."""
    cause = likely_cause(error, inputs)
    if cause is None:
        return None
    return Explanation({"ja": cause.ja, "en": cause.en}, get_hint(cause.hint_id))


def first_nonfinite(student: Mapping[str, np.ndarray]) -> str | None:
    """Name of the first floating output that contains NaN or inf, else None."""
    for name, a in student.items():
        a = np.asarray(a)
        if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            return name
    return None


__all__ = [
    "DIAGNOSIS_TOLERANCE",
    "Explanation",
    "Mistake",
    "explain_exception",
    "find_mistake",
    "first_nonfinite",
    "generic_mistakes",
    "matches",
]
