"""``grader author check``: measure a declared item's tolerance and mistakes over many seeds.

Per seed, the declared solution runs through the item's call (the same caller as the probe)
and is compared with the expected outputs, as the scorer compares a student's; each declared
mistake's outputs are compared with the expected ones too. An item is

* ``too tight`` when correct code measures more than the tolerance on some seed (a correct
  student would lose the points there),
* ``mistake not separable`` when some mistake is within the tolerance on some seed (it would
  get full marks there, its hint never shown),
* ``fine`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from grader.engine.spec import relative_error
from grader.specs._declare import DeclaredItem

TOO_TIGHT, NOT_SEPARABLE, FINE = "too tight", "mistake not separable", "fine"


@dataclass
class MistakeReport:
    hint: str
    smallest_distance: float = float("inf")
    undetectable_seeds: list[int] = field(default_factory=list)


@dataclass
class ItemReport:
    item_id: str
    tol: float
    correct_errors: list[float] = field(default_factory=list)
    mistakes: list[MistakeReport] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return max(self.correct_errors)

    @property
    def p9999(self) -> float:
        return float(np.percentile(self.correct_errors, 99.99))

    @property
    def verdict(self) -> str:
        if self.worst > self.tol:
            return TOO_TIGHT
        if any(m.undetectable_seeds for m in self.mistakes):
            return NOT_SEPARABLE
        return FINE


def _distance(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> float:
    """The scorer's measure: the worst relative error over the outputs compared."""
    return max(relative_error(np.reshape(got[n], np.shape(e)), e) for n, e in expected.items())


def check_item(
    item: DeclaredItem, seeds: int, progress: Callable[[int], None] = lambda k: None
) -> ItemReport:
    d = item.declaration
    report = ItemReport(item.id, d.tol, mistakes=[MistakeReport(k.hint) for k in d.mistakes])
    for seed in range(seeds):
        inputs = d.inputs(np.random.default_rng(seed))
        expected = d.expected(inputs)
        correct = d.solution_outputs(inputs, d.call)
        report.correct_errors.append(_distance(correct, expected))
        for m, found in zip(d.mistaken(inputs), report.mistakes):
            dist = _distance(dict(m.outputs), {n: expected[n] for n in m.outputs})
            found.smallest_distance = min(found.smallest_distance, dist)
            if dist <= d.tol:
                found.undetectable_seeds.append(seed)
        progress(seed + 1)
    return report


def render(report: ItemReport, seeds: int) -> str:
    lines = [
        f"{report.item_id}: {report.verdict}",
        f"  tolerance {report.tol:.1e}; correct code over {seeds} seeds: worst "
        f"{report.worst:.2e}, 99.99th percentile {report.p9999:.2e}",
    ]
    for m in report.mistakes:
        bad = m.undetectable_seeds
        where = "none" if not bad else f"{len(bad)}: " + ", ".join(map(str, bad[:20]))
        more = " ..." if len(bad) > 20 else ""
        lines.append(
            f"  mistake {m.hint}: smallest distance {m.smallest_distance:.2e}; "
            f"not detectable on seeds {where}{more}"
        )
    return "\n".join(lines)


__all__ = ["FINE", "NOT_SEPARABLE", "TOO_TIGHT", "ItemReport", "check_item", "render"]
