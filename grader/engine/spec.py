"""Types that describe an assignment's graded items (the contract with ``grader/specs/``).

An :class:`Assignment` lists :class:`Item` s. For each item the engine

1. calls ``item.make_inputs(rng, data)`` on the trusted side with a fresh secret seed and writes
   the arrays to the job's input file;
2. runs ``item.probe`` (Python source) in the student's kernel, inside the sandbox, after the
   student's cells, with globals ``inp`` (the input arrays) and ``out`` (a dict the probe fills
   with arrays); ``MNIST_PROBE_X`` (float32, (10000, 784), in [0, 1]: the job's validation
   images, ``TrustedData.mnist_probe_images``) is there too for assignments with ``uses_mnist``;
3. reads ``out`` back as validated arrays and calls ``item.score(ctx)`` on the trusted side,
   which returns a :class:`Verdict`. ``score`` never sees a student object, only arrays.

Only additive changes are allowed here: ``grader/specs/`` is written against these names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.engine.text import Bilingual, blank

# The course's one trusted relative error (grader.student.numeric has the students' copy: that
# package ships alone and may not import reference/); re-exported here for spec authors.
from reference.functions import rel_error as relative_error


@dataclass(frozen=True)
class Hint:
    """A targeted hint for a known mistake (registry in ``grader/engine/hints.py``)."""

    id: str
    ja: str
    en: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "ja": self.ja, "en": self.en}


@dataclass
class Verdict:
    """The trusted side's judgement on one item.

    ``fraction`` in [0, 1] scales the item's points; ``measured_error`` is the error measured
    (e.g. the relative error ``max|a-b| / max(1e-8, |a|+|b|)``) and ``tolerance`` the bound it
    was held to.
    """

    fraction: float
    measured_error: float | None = None
    tolerance: float | None = None
    message: Bilingual = field(default_factory=blank)
    hint: Hint | None = None

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0

    @classmethod
    def ok(
        cls,
        ja: str = "正解です。",
        en: str = "Correct.",
        *,
        measured_error: float | None = None,
        tolerance: float | None = None,
    ) -> Verdict:
        return cls(1.0, measured_error, tolerance, {"ja": ja, "en": en}, None)

    @classmethod
    def fail(
        cls,
        ja: str,
        en: str,
        *,
        measured_error: float | None = None,
        tolerance: float | None = None,
        hint: Hint | None = None,
        fraction: float = 0.0,
    ) -> Verdict:
        return cls(fraction, measured_error, tolerance, {"ja": ja, "en": en}, hint)


class ProbeOutputError(Exception):
    """A probe output is missing or has the wrong shape / kind / values.

    Raised by :meth:`ScoreContext.require`; the engine turns it into a zero score for the item
    with ``message`` shown to the student.
    """

    def __init__(self, ja: str, en: str):
        super().__init__(en)
        self.message = {"ja": ja, "en": en}


class TrustedData:
    """Data only the trusted side sees: MNIST's test labels and the like.

    Loaded lazily (and cached per process) so that items that do not need MNIST cost nothing.
    ``mnist_path`` overrides where the canonical ``mnist.npz`` is found (otherwise the student
    loader's search order is used on the trusted side).
    """

    _cache: dict[str, Any] = {}

    def __init__(self, mnist_path: Path | None = None):
        self.mnist_path = mnist_path
        # This job's secret MNIST code (``grader.engine.mnist_sandbox.JobMnist``), set by the
        # pipeline for MNIST assignments; None: the canonical test split plays both parts.
        self.job_mnist = None

    def _mnist(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        key = f"mnist:{self.mnist_path}"
        if key not in self._cache:
            if self.mnist_path is not None:
                with np.load(self.mnist_path, allow_pickle=False) as z:
                    x_tr = z["x_train"].reshape(len(z["x_train"]), -1).astype(np.float32) / 255.0
                    x_te = z["x_test"].reshape(len(z["x_test"]), -1).astype(np.float32) / 255.0
                    t_tr = z["y_train" if "y_train" in z.files else "t_train"].astype(np.int64)
                    t_te = z["y_test" if "y_test" in z.files else "t_test"].astype(np.int64)
                self._cache[key] = ((x_tr, t_tr), (x_te, t_te))
            else:
                from grader.student.mnist import load_mnist

                self._cache[key] = load_mnist(normalize=True, flatten=True, one_hot_label=False)
        return self._cache[key]

    @property
    def mnist_test_labels(self) -> np.ndarray:
        """int64 (10000,): the MNIST test labels (never enter the sandbox)."""
        return np.asarray(self._mnist()[1][1], dtype=np.int64)

    @property
    def mnist_test_images(self) -> np.ndarray:
        """float32 (10000, 784) in [0, 1]: the canonical test images (never in the sandbox)."""
        return np.asarray(self._mnist()[1][0], dtype=np.float32)

    def mnist_graded_test(self) -> tuple[np.ndarray, np.ndarray]:
        """The images (float32 (10000, 784)) and int64 labels accuracy is graded on: the
        test split in this job's secret code, which the sandbox never held."""
        if self.job_mnist is None:
            return self.mnist_test_images, self.mnist_test_labels
        return self.job_mnist.graded_test(self)

    def mnist_probe_images(self) -> np.ndarray:
        """float32 (N, 784): the images the sandbox sees as ``MNIST_PROBE_X`` (this job's
        validation split), on which its predictions are compared with the rebuilt network."""
        if self.job_mnist is None:
            return self.mnist_test_images
        return self.job_mnist.probe_images(self)

    def mnist(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The full canonical split ``(x_train, t_train), (x_test, t_test)`` (flattened, [0, 1])."""
        return self._mnist()


_KINDS = {"f": "floating", "i": "integer", "b": "boolean", "n": "number"}


class ScoreContext:
    """What ``Item.score`` receives.

    ``inputs``: the arrays ``make_inputs`` returned (the trusted copy, not the sandbox's).
    ``outputs``: the arrays the probe saved, already read back safely (no pickles, no links,
    size-capped). ``data``: :class:`TrustedData`. ``item_id``: the item being scored.
    """

    def __init__(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray],
        data: TrustedData,
        item_id: str = "",
    ):
        self.inputs = dict(inputs)
        self.outputs = dict(outputs)
        self.data = data
        self.item_id = item_id

    def require(
        self,
        name: str,
        shape: tuple[int | None, ...] | None = None,
        kind: str = "f",
        finite: bool = True,
    ) -> np.ndarray:
        """The output ``name`` checked for shape and kind, as float64 / int64 / bool.

        ``shape`` entries of ``None`` match any length. ``kind``: "f" floating (ints accepted and
        converted), "i" integer, "b" boolean, "n" any number. ``finite``: reject NaN / inf.
        Raises :class:`ProbeOutputError` with a bilingual message otherwise.
        """
        if name not in self.outputs:
            raise ProbeOutputError(
                f"結果 `{name}` がありません (関数が値を返していない可能性があります)。",
                f"Result `{name}` is missing (the function may not return a value).",
            )
        a = self.outputs[name]
        if not isinstance(a, np.ndarray):
            raise ProbeOutputError(f"`{name}` は配列ではありません。", f"`{name}` is not an array.")
        if shape is not None:
            ok = a.ndim == len(shape) and all(s is None or s == d for s, d in zip(shape, a.shape))
            if not ok:
                want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
                raise ProbeOutputError(
                    f"`{name}` の形が違います: {a.shape} (期待: {want})。",
                    f"`{name}` has shape {a.shape}, expected {want}.",
                )
        k = a.dtype.kind
        allowed = {"f": "fiub", "i": "iu", "b": "b", "n": "fiub"}.get(kind, "fiub")
        if k not in allowed:
            raise ProbeOutputError(
                f"`{name}` の型が違います: {a.dtype} ({_KINDS.get(kind, kind)} が必要)。",
                f"`{name}` has dtype {a.dtype}; a {_KINDS.get(kind, kind)} array is required.",
            )
        if kind == "f":
            a = a.astype(np.float64)
        elif kind == "i":
            a = a.astype(np.int64)
        if finite and k in "fc" and not np.all(np.isfinite(a)):
            raise ProbeOutputError(
                f"`{name}` に NaN または inf が含まれています。",
                f"`{name}` contains NaN or inf.",
            )
        return a


InputMaker = Callable[[np.random.Generator, TrustedData], dict[str, np.ndarray]]
Scorer = Callable[[ScoreContext], Verdict]


@dataclass(frozen=True)
class Item:
    """One graded item; ``id`` equals the ``grade_id`` of its check cell."""

    id: str
    title: Bilingual
    points: float
    probe: str
    make_inputs: InputMaker
    score: Scorer
    hints: tuple[str, ...] = ()  # hint ids this item may show (checked when the spec loads)


@dataclass(frozen=True)
class Assignment:
    """An assignment (one notebook) and its graded items."""

    id: str
    title: Bilingual
    items: tuple[Item, ...]
    order: int = 0  # position in the course: the registry lists assignments by it
    notebook_timeout: float = 120.0  # whole notebook, seconds
    cell_timeout: float = 60.0
    uses_mnist: bool = False

    @property
    def max_score(self) -> float:
        return float(sum(i.points for i in self.items))

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)


__all__ = [
    "Assignment",
    "Hint",
    "InputMaker",
    "Item",
    "ProbeOutputError",
    "ScoreContext",
    "Scorer",
    "TrustedData",
    "Verdict",
    "relative_error",
]
