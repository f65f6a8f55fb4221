"""The score step: each item's probe outputs (read back as data) → its :class:`ItemResult`.

A fault of the course's own definitions (a scorer that raises, returns something else than a
``Verdict``, or shows a hint its item does not declare) is an internal scoring error: the
item carries ``scoring_error`` (where, and the exception's line) and the student is told it
is the grader's fault, never theirs.
"""

from __future__ import annotations

import logging
import math
import traceback
from pathlib import Path

from grader.engine.diagnose import explain_exception
from grader.engine.result import ItemResult
from grader.engine.spec import Item, ProbeOutputError, ScoreContext, TrustedData, Verdict
from grader.engine.text import Bilingual
from grader.jail.outputs import ItemOutputs

log = logging.getLogger("grader.engine")

NOT_YOUR_FAULT = {
    "ja": "採点側の内部エラーです (あなたのコードの問題ではありません)。担当者に連絡してください。",
    "en": "Internal grader error while scoring this item: not a problem of your code. "
    "Please tell the staff.",
}


class UndeclaredHint(Exception):
    """A scorer returned a hint that its item does not list in ``Item.hints``."""


def score_item(item: Item, inputs, outs: ItemOutputs, data: TrustedData, reason) -> ItemResult:
    """``reason`` ({ja, en}): why the probe did not finish, for an item without outputs."""
    res = ItemResult(
        id=item.id, title=dict(item.title), points=0.0, max_points=float(item.points), passed=False
    )
    if outs.error is not None:
        return _probe_raised(res, outs.error, inputs)
    if not outs.done:
        res.message = dict(reason)
        return res
    try:
        verdict = _verdict(item, ScoreContext(inputs, outs.arrays, data, item.id))
    except ProbeOutputError as exc:
        res.message = dict(exc.message)
        if outs.problems:
            extra = "; ".join(outs.problems)[:300]
            res.message = {
                "ja": res.message["ja"] + f" (読めなかった出力: {extra})",
                "en": res.message["en"] + f" (unreadable outputs: {extra})",
            }
        return res
    except Exception as exc:
        # The one line (in the result and its log) is what the CLI and the service show.
        log.debug("internal error scoring %s", item.id, exc_info=True)
        res.scoring_error = _where_it_failed(item, exc)
        res.message = dict(NOT_YOUR_FAULT)
        return res
    return _scored(res, item, verdict)


def _verdict(item: Item, ctx: ScoreContext) -> Verdict:
    verdict = item.score(ctx)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"score() returned {type(verdict).__name__}, not Verdict")
    if verdict.hint is not None and verdict.hint.id not in item.hints:
        raise UndeclaredHint(
            f"hint {verdict.hint.id!r} is not declared in Item.hints of {item.id!r}"
        )
    return verdict


def _where_it_failed(item: Item, exc: Exception) -> str:
    """``file:line: Type: message`` at the deepest frame in the scorer's own folder (the spec)."""
    code = item.score.__code__ if hasattr(item.score, "__code__") else None
    folder = Path(code.co_filename).parent if code else None
    where = f"{code.co_filename}:{code.co_firstlineno}" if code else item.id
    for frame in traceback.extract_tb(exc.__traceback__):
        if folder is not None and Path(frame.filename).parent == folder:
            where = f"{frame.filename}:{frame.lineno}"
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{where}: {type(exc).__name__}: {first}"


def _probe_raised(res: ItemResult, error: str, inputs) -> ItemResult:
    first = error.split("\n---\n", 1)[0].strip()[:500]
    res.probe_error = error
    res.message = {
        "ja": f"あなたのコードを呼び出したときにエラーが発生しました: {first}",
        "en": f"Your code raised an error when the grader called it: {first}",
    }
    explained = explain_exception(error, inputs)
    if explained is not None:  # a common cause recognised: say what the interface wants
        res.message = {k: v + " " + explained.message[k] for k, v in res.message.items()}
        res.hint = explained.hint.to_dict()
    if first.startswith("NotImplementedError"):  # the stub left as released: say so
        res.message = {
            "ja": "まだ実装されていません (NotImplementedError)。"
            "# YOUR CODE HERE の部分を実装してください。",
            "en": "Not implemented yet (NotImplementedError): "
            "replace # YOUR CODE HERE with your code.",
        }
    return res


def _scored(res: ItemResult, item: Item, verdict: Verdict) -> ItemResult:
    frac = verdict.fraction
    frac = 0.0 if not (isinstance(frac, int | float) and math.isfinite(frac)) else frac
    frac = min(1.0, max(0.0, float(frac)))
    res.points = round(frac * float(item.points), 6)
    res.passed = frac >= 1.0
    res.measured_error = verdict.measured_error
    res.tolerance = verdict.tolerance
    res.message = dict(verdict.message)
    if verdict.hint is not None and not res.passed:
        res.hint = verdict.hint.to_dict()
    return res


def why_not_run(state: dict) -> Bilingual:
    """What to tell the student when the probe did not finish, from the run's state."""
    if state.get("oom_killed"):
        return {
            "ja": "メモリの上限を超えたため、ノートブックの実行が止まりました。",
            "en": "The notebook was stopped: it exceeded the memory limit.",
        }
    stopped = state.get("stopped")
    if state.get("killed_by_wall_clock") or stopped == "notebook_timeout":
        return {
            "ja": "ノートブック全体の実行時間が上限を超えました。",
            "en": "The notebook exceeded its total time limit.",
        }
    if stopped == "output_cap":
        return {
            "ja": "出力 (print など) が多すぎるため実行を停止しました。",
            "en": "The run was stopped: the notebook printed too much output.",
        }
    if stopped in ("kernel_stuck", "cell_timeout"):
        return {
            "ja": "セルが時間内に終わらず、中断もできなかったため実行を停止しました。",
            "en": "A cell did not finish in time and could not be interrupted; the run stopped.",
        }
    if state.get("state") == "kernel_died":
        return {
            "ja": "カーネルが途中で終了しました (os._exit やメモリ不足など)。",
            "en": "The kernel died during the run (os._exit, out of memory, ...).",
        }
    return {
        "ja": "採点用のコードが実行されませんでした。",
        "en": "The grading probe did not run.",
    }
