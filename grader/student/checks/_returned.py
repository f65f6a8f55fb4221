"""What self-checks do with the values a student's code returns."""

from __future__ import annotations

import numpy as np

from grader.student.selfcheck import CheckContext


def as_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; a clear error when it is None or not numeric."""
    if value is None:
        raise TypeError(f"{what} is None (did you forget to return it or to set it?)")
    return np.asarray(value, dtype=np.float64)


def returned_dx(ctx: CheckContext, dx) -> np.ndarray | None:
    """``dx`` as float64; ``None`` after recording a failed line when backward returned nothing."""
    if dx is None:
        ctx.expect(
            False,
            ctx.t("backward の戻り値", "return value of backward"),
            "None",
            ctx.t("backward は dx を return します。", "backward must return dx."),
        )
        return None
    return np.asarray(dx, dtype=np.float64)
