"""Self-checks of declared items, from the data ``grader build`` writes beside this file.

Each ``<item id>.json`` (``grader/specs/_selfcheck_data.py``) holds a call, public inputs, the
expected outputs and the known mistakes' outputs with their hints. The check runs the call on
the student's objects with the grader's one caller and compares; on a failure it names the
mistake whose outputs the student's match.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np

from grader.student.calls import argument, as_argument, run_call
from grader.student.checks._random import kept_random_state
from grader.student.explain import likely_cause
from grader.student.numeric import rel_error
from grader.student.selfcheck import CheckContext, register_check


def decode(data: dict[str, Any]) -> np.ndarray:
    return np.array(data["data"], dtype=data["dtype"]).reshape(data["shape"])


def _matches(got: dict[str, np.ndarray], outputs: dict[str, np.ndarray], tol: float) -> bool:
    return all(
        name in got
        and got[name].shape == want.shape
        and np.all(np.isfinite(got[name]))
        and rel_error(got[name], want) <= tol
        for name, want in outputs.items()
    )


def run_declared(ctx: CheckContext, data: dict[str, Any]) -> None:
    """Run the item's call on the public inputs and report, with the grader's hints."""
    ctx.get(data["call"]["target"])  # a clear message when the notebook has not defined it
    inputs = {name: decode(v) for name, v in data["inputs"].items()}
    got: dict[str, np.ndarray] = {}
    try:
        with kept_random_state():
            run_call(data["call"], inputs, got, ctx.namespace)
    except NotImplementedError:
        raise
    except Exception as exc:  # a common cause (t one-hot, a 3-D x, ...) gets the grader's hint
        if not _reported_cause(ctx, data, f"{type(exc).__name__}: {exc}", inputs):
            raise
    else:
        if not _changed_argument(ctx, data, got, inputs):
            _compare(ctx, data, got, inputs)
    for ex in data.get("examples", ()):  # also after an explained failure: what does work
        _worked_example(ctx, data, ex)


def _worked_example(ctx: CheckContext, data: dict, ex: dict) -> None:
    """One line: the call on a worked example of the course material, against its answer."""
    label = ctx.t(ex["ja"], ex["en"])
    got: dict[str, np.ndarray] = {}
    try:
        with kept_random_state():
            run_call(
                data["call"], {k: decode(v) for k, v in ex["inputs"].items()}, got, ctx.namespace
            )
    except NotImplementedError:
        raise
    except Exception as exc:
        ctx.expect(False, label, f"{type(exc).__name__}: {exc}")
        return
    errors = []
    for name, v in ex["expected"].items():
        want, have = decode(v), got.get(name)
        if have is not None and want.ndim == 0 and have.size == 1:
            have = have.reshape(())
        same = have is not None and have.shape == want.shape and bool(np.all(np.isfinite(have)))
        errors.append(rel_error(have, want) if same else float("inf"))
    ctx.expect_close(label, max(errors, default=0.0), data["tol"])


def _reported_cause(ctx: CheckContext, data: dict, error: str, inputs: dict) -> bool:
    """Report ``error``'s likely cause (``grader.student.explain``); False when none fits."""
    cause = likely_cause(error, inputs)
    if cause is None or cause.hint_id not in data.get("cause_hints", {}):
        return False
    ctx.expect(
        False,
        ctx.t("公開の入力で実行", "runs on the public inputs"),
        f"{error} {ctx.t(cause.ja, cause.en)}",
        _text(ctx, data["cause_hints"][cause.hint_id]),
    )
    return True


def _changed_argument(ctx: CheckContext, data: dict, got: dict, inputs: dict) -> bool:
    """Report an argument the call must leave unchanged but changed; False when none."""
    for name in data.get("unchanged", ()):
        passed = got.get("arg_" + name)  # none for a number (passed as a Python float)
        if passed is not None and not np.array_equal(passed, inputs[name], equal_nan=True):
            ctx.expect(
                False,
                ctx.t(f"引数 `{name}` を書き換えない", f"leaves argument `{name}` unchanged"),
                hint=_text(ctx, data["unchanged_hint"]),
            )
            return True
    return False


def _compare(ctx: CheckContext, data: dict, got: dict[str, np.ndarray], inputs: dict) -> None:
    """One line per expected output; a failing one carries the hint of the first known
    mistake the outputs match (or of the step that may fail, ``after``/``either``)."""
    staged = data.get("staged", {})  # outputs of steps allowed to raise, and their hint
    expected = {}
    for name, v in data["expected"].items():
        if name not in got:  # its step raised (``after`` / ``either``)
            error = got.get("error_" + name)
            detail = bytes(error).decode("utf-8", "replace") if error is not None else ""
            ctx.expect(
                False, name, detail or ctx.t("例外で終了", "raised"), _text(ctx, staged[name])
            )
            continue
        expected[name] = decode(v)
        if expected[name].ndim == 0 and got[name].size == 1:
            got[name] = got[name].reshape(())  # a loss returned as a (1,) array
    hint = ""
    nonfinite = any(not np.all(np.isfinite(got[n])) for n in expected)
    if nonfinite and data.get("nonfinite_hint"):
        hint = _text(ctx, data["nonfinite_hint"])
    for m in [] if hint else data["mistakes"]:  # the first known mistake the outputs match
        outputs = {name: decode(v) for name, v in m["outputs"].items()}
        if _applies(m, inputs, got) and _matches(got, outputs, data["diagnosis_tol"]):
            hint = _text(ctx, m)
            break
    for name, want in expected.items():
        have = got[name]
        line_hint = hint or (_text(ctx, staged[name]) if name in staged else "")
        if have.shape != want.shape:
            shapes = f"{have.shape} ({ctx.t('期待', 'expected')} {want.shape})"
            ctx.expect(False, name, shapes, line_hint)
        else:
            ctx.expect_close(name, rel_error(have, want), data["tol"], line_hint)


def _applies(mistake: dict, inputs: dict, got: dict) -> bool:
    """A mistake's ``when`` (a function of inputs and outputs by parameter name, shipped as
    its source) holds; an output it names missing: it does not (as in grading)."""
    if "when" not in mistake:
        return True
    when = argument(mistake["when"], {})
    names = inspect.signature(when).parameters
    if any(n not in got and n not in inputs for n in names):
        return False
    return bool(when(**{n: got[n] if n in got else as_argument(inputs[n]) for n in names}))


def _text(ctx: CheckContext, hint: dict[str, str]) -> str:
    return ctx.t(hint["ja"], hint["en"])


def _register(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    register_check(data["item"])(lambda ctx: run_declared(ctx, data))


for _path in sorted(Path(__file__).parent.glob("*.json")):
    _register(_path)
