"""The common causes of an exception raised by code under test, recognised from the exception
text and the input arrays it was called with.

One rule set for both places that call a student's code on known inputs: the trusted scorer
(``grader.engine.diagnose.explain_exception`` adds the hint object) and the derived
self-check in the student's kernel (``grader.student.checks.declared``). It needs NumPy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

_INDEX_WORDS = ("used as indices", "only integers", "shape mismatch: indexing", "too many indices")
_SHAPE_WORDS = _INDEX_WORDS + (
    "dimension",
    "not aligned",
    "could not be broadcast",
    "cannot reshape",
    "mismatch in its core",
    "axis",
)


class Cause(NamedTuple):
    """A recognised cause: the hint id, and a sentence naming what was passed (ja, en)."""

    hint_id: str
    ja: str
    en: str


def _describe(name: str, a: np.ndarray) -> str:
    return f"`{name}` {tuple(a.shape)} {a.dtype}"


def _is_one_hot(t: np.ndarray) -> bool:
    return (
        t.ndim == 2
        and t.shape[1] > 1
        and bool(np.all((t == 0) | (t == 1)))
        and bool(np.all(t.sum(axis=1) == 1))
    )


def _shape_named(text: str, a: np.ndarray) -> bool:
    """True when ``a``'s shape is spelt in the exception text (numpy names the operands)."""
    spelt = str(tuple(a.shape))
    return a.ndim > 0 and (spelt in text or spelt.replace(" ", "") in text)


def likely_cause(error: str, inputs: Mapping[str, np.ndarray]) -> Cause | None:
    """The likely cause of the exception ``error`` ("Type: message ...") raised on ``inputs``
    (``large_*`` copies are ignored), or None when no rule fits. Rules, first match wins:

    * targets ``t``: one-hot ``(N, K)``, a column ``(N, 1)`` or labels ``(N,)`` with an
      indexing or shape error (``target_one_hot``, ``target_column``, ``target_labels``);
    * a dtype error (``UFuncTypeError``, "Cannot cast") names the integer inputs
      (``input_dtype``);
    * a shape error names the input whose shape the message spells, else the inputs of the
      rank the message states (``input_rank``).
    """
    head = error.split("\n---\n", 1)[0]
    low = head.lower()
    arrays = {k: np.asarray(v) for k, v in inputs.items() if not k.startswith("large_")}
    shape_error = any(w in low for w in _SHAPE_WORDS)
    t = arrays.get("t")
    if t is not None and (shape_error or "indexerror" in low):
        seen = _describe("t", t)
        if _is_one_hot(t):
            return Cause(
                "target_one_hot",
                f"採点側は t をワンホット表現 {seen} で渡しました。",
                f"The grader passed t as one-hot targets, {seen}.",
            )
        if t.ndim == 2 and t.shape[1] == 1:
            return Cause(
                "target_column",
                f"採点側は t を列ベクトル {seen} (0 か 1 の実数) で渡しました。",
                f"The grader passed t as a column {seen} of 0/1 floats.",
            )
        if t.ndim == 1 and t.dtype.kind in "iu":
            return Cause(
                "target_labels",
                f"採点側は t を整数ラベル {seen} で渡しました。",
                f"The grader passed t as integer labels, {seen}.",
            )
    if "ufunctypeerror" in low or "cannot cast" in low:
        ints = [_describe(k, a) for k, a in arrays.items() if a.dtype.kind in "iub" and a.ndim]
        seen = ", ".join(ints) or ", ".join(_describe(k, a) for k, a in arrays.items()) or "-"
        return Cause(
            "input_dtype",
            f"型 (dtype) の扱いでエラーになりました。採点側が渡した入力: {seen}。",
            f"The error is about dtypes. The grader passed: {seen}.",
        )
    if shape_error:
        named = [k for k, a in arrays.items() if _shape_named(head, a)]
        if not named:
            for rank in range(1, 6):
                if f"{rank}-dimensional" in low or f"dimension {rank}" in low:
                    named = [k for k, a in arrays.items() if a.ndim == rank]
                    break
        if not named:  # e.g. matmul's "mismatch in its core dimension": the >2-D input
            named = [k for k, a in arrays.items() if a.ndim > 2]
        if named:
            seen = ", ".join(_describe(k, arrays[k]) for k in named)
            return Cause(
                "input_rank",
                f"形 (次元数) の扱いでエラーになりました。採点側が渡した入力: {seen}。",
                f"The error is about shapes. The grader passed: {seen}.",
            )
    return None


# The hint ids ``likely_cause`` may give (their text lives in grader/engine/hints.py).
CAUSE_HINTS = ("target_one_hot", "target_column", "target_labels", "input_dtype", "input_rank")

__all__ = ["CAUSE_HINTS", "Cause", "likely_cause"]
