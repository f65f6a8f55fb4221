"""``check("item_id")``: public self-checks that run in the student's own kernel.

A self-check only uses the student's own code (numeric gradients of their own forward, shapes,
worked examples from the syllabus). It is advice, never a grade: the server re-checks
everything on the trusted side with hidden inputs.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

_REGISTRY: dict[str, Callable[[CheckContext], None]] = {}


class CheckFailed(AssertionError):
    """Raised by ``check`` when a self-check fails (so the cell also works in nbgrader: the
    cell still ends in an error). IPython shows it as one line under the printed report,
    not as a traceback into this package."""

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {self}"]


@dataclass
class Line:
    ok: bool
    label: str
    detail: str = ""
    hint: str = ""


@dataclass
class CheckReport:
    item_id: str
    lines: list[Line] = field(default_factory=list)
    crashed: str | None = None

    @property
    def passed(self) -> bool:
        return self.crashed is None and bool(self.lines) and all(x.ok for x in self.lines)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"<self-check {self.item_id}: {'PASS' if self.passed else 'FAIL'}>"

    def _ipython_display_(self) -> None:
        # ``check(...)`` is the last line of its cell; the printed report already says it all.
        pass


class CheckContext:
    """What a self-check function receives: the student's objects and a way to report."""

    def __init__(self, item_id: str, namespace: dict, lang: str):
        self.item_id = item_id
        self.namespace = namespace
        self.lang = lang
        self.report = CheckReport(item_id)

    def get(self, name: str):
        """The student's object called ``name``; a clear failure when it is missing."""
        if name not in self.namespace:
            raise _Missing(name)
        return self.namespace[name]

    def t(self, ja: str, en: str) -> str:
        return en if self.lang == "en" else ja

    def expect(self, ok: bool, label: str, detail: str = "", hint: str = "") -> bool:
        """Record one line of the report; ``hint`` is shown only when ``ok`` is false."""
        self.report.lines.append(Line(bool(ok), label, detail, "" if ok else hint))
        return bool(ok)

    def expect_close(self, label: str, error: float, tol: float, hint: str = "") -> bool:
        """Record a measured relative error against its tolerance."""
        ok = bool(error == error and error <= tol)  # NaN fails
        detail = self.t(
            f"相対誤差 {error:.2e} (許容 {tol:.0e})", f"rel. error {error:.2e} (tol {tol:.0e})"
        )
        return self.expect(ok, label, detail, hint)


class _Missing(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def register_check(item_id: str):
    """Decorator: register ``fn(ctx: CheckContext) -> None`` as the self-check ``item_id``."""

    def decorator(fn):
        if item_id in _REGISTRY:
            raise ValueError(f"self-check {item_id!r} registered twice")
        _REGISTRY[item_id] = fn
        return fn

    return decorator


def available_checks() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    import grader.student.checks  # noqa: F401  (registers every check module)


def check(item_id: str, *, lang: str | None = None, quiet: bool = False, **objects) -> CheckReport:
    """Run the self-check ``item_id`` on the student's code and print a report.

    Names are looked up in the caller's globals (the notebook), or taken from ``objects``.
    Raises ``CheckFailed`` when the check does not pass.
    """
    _load_all()
    lang = lang or os.environ.get("GRADER_LANG", "ja")
    if item_id not in _REGISTRY:
        raise KeyError(f"unknown self-check {item_id!r}; known: {', '.join(sorted(_REGISTRY))}")
    namespace = dict(sys._getframe(1).f_globals)
    namespace.update(objects)
    ctx = CheckContext(item_id, namespace, lang)
    try:
        _REGISTRY[item_id](ctx)
    except _Missing as exc:
        ctx.report.crashed = ctx.t(
            f"`{exc.name}` が定義されていません。上のセルを実行しましたか?",
            f"`{exc.name}` is not defined. Did you run the cells above?",
        )
    except NotImplementedError:
        ctx.report.crashed = ctx.t(
            "まだ実装されていません (NotImplementedError)。",
            "not implemented yet (NotImplementedError).",
        )
    except Exception as exc:  # the student's code raised: show where
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        ctx.report.crashed = ctx.t(
            f"実行中にエラー: {type(exc).__name__}: {exc} ({tb.name}, 行 {tb.lineno})",
            f"error while running: {type(exc).__name__}: {exc} ({tb.name}, line {tb.lineno})",
        )
    if not quiet:
        _print_report(ctx)
    if not ctx.report.passed:
        raise CheckFailed(ctx.t(f"セルフチェック {item_id} 不合格", f"self-check {item_id} failed"))
    return ctx.report


def _print_report(ctx: CheckContext) -> None:
    report = ctx.report
    head = ctx.t("合格", "PASS") if report.passed else ctx.t("不合格", "FAIL")
    print(f"[{head}] {report.item_id}")
    for line in report.lines:
        mark = "✓" if line.ok else "✗"
        print(f"  {mark} {line.label}" + (f": {line.detail}" if line.detail else ""))
        if line.hint:
            print(f"      {ctx.t('ヒント', 'hint')}: {line.hint}")
    if report.crashed:
        print(f"  ✗ {report.crashed}")
