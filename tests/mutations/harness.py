"""Run an item's probe in-process against a namespace and score it (trusted-side tests).

This is the trusted side testing its own checks: the namespaces hold reference objects or the
known-mistake variants of ``tests/mutations/``, never student code, so no sandbox is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.engine.diagnose import explain_exception
from grader.engine.spec import Item, ProbeOutputError, ScoreContext, TrustedData, Verdict


def run_item(
    item: Item,
    namespace: Mapping[str, Any],
    seed: int,
    data: TrustedData | None = None,
) -> Verdict:
    """make_inputs(seed) -> probe in a copy of ``namespace`` -> score, like the engine does.

    Outputs go through an ``np.save``-like normalisation (``np.asarray``); a probe exception
    or a ProbeOutputError gives a zero Verdict whose message names the exception.
    """
    data = data or TrustedData()
    inputs = item.make_inputs(np.random.default_rng(seed), data)
    g: dict[str, Any] = dict(namespace)
    g["inp"] = {k: np.array(v, copy=True) for k, v in inputs.items()}
    g["out"] = {}
    try:
        exec(compile(item.probe, f"<probe {item.id}>", "exec"), g)
    except Exception as exc:  # noqa: BLE001 - recorded like the engine does
        text = f"{type(exc).__name__}: {exc}"
        explained = explain_exception(text, inputs)
        if explained is None:
            return Verdict.fail(text, text)
        m = explained.message
        return Verdict.fail(f"{text} {m['ja']}", f"{text} {m['en']}", hint=explained.hint)
    outputs = {k: np.asarray(v) for k, v in g["out"].items()}
    ctx = ScoreContext(inputs, outputs, data, item.id)
    try:
        verdict = item.score(ctx)
    except ProbeOutputError as exc:
        return Verdict.fail(exc.message["ja"], exc.message["en"])
    # the engine's rule (grader.engine.scoring): a hint its item does not declare is a fault
    assert verdict.hint is None or verdict.hint.id in item.hints, (item.id, verdict.hint.id)
    return verdict
