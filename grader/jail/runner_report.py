"""The runner's report: how it leaves the jail, and how the trusted side reads it back.

The runner (``grader/jail/inside/runner.py``) writes one JSON object, ``{"status", "notebook"}``,
to a descriptor of a host file that no mount of the jail reaches (``open_report``); nothing
under ``/job/out`` is read as a status or shown as the submission. The report is still read
as untrusted data: size-capped, JSON values and depth counted before parsing, every status
field type-checked (``clean_status``), and the executed notebook rebuilt from the cells the
trusted side sent, with only the code cells' outputs taken from the report, schema-checked,
made storable and capped (``executed_notebook``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.jail.jsonbounds import measure
from grader.jail.limits import MAX_SOURCE_CHARS, MB, Limits
from grader.jail.outputs import UnsafeOutput, open_dirs, read_file
from grader.jail.storable import storable, storable_text

REPORT_NAME = "runner-report.json"
MAX_REPORT_NODES = 2_000_000
MAX_REPORT_DEPTH = 64
STATES = ("running", "done", "kernel_died", "runner_error")
STOPPED = ("notebook_timeout", "cell_timeout", "output_cap", "kernel_stuck")
OMITTED = (
    "[grader] 出力が大きすぎるため保存していません。\n"
    "[grader] Output not stored: the executed notebook was too large.\n"
)
INVALID = (
    "[grader] 出力の形式が正しくないため保存していません。\n"
    "[grader] Output not stored: it does not follow the notebook format.\n"
)


def stored_notebook_cap(limits: Limits) -> int:
    """Largest executed notebook stored (UTF-8 bytes): the outputs the runner lets through,
    twice over for the JSON around them, plus the longest accepted source."""
    return 2 * limits.output_bytes + 3 * MAX_SOURCE_CHARS + MB


def open_report(job_root: Path) -> int:
    """A fresh report file in the trusted job directory, open for the runner (caller closes)."""
    flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(job_root / REPORT_NAME, flags, 0o600)


@dataclass
class RunnerReport:
    status: dict[str, Any] = field(default_factory=dict)  # clean_status's fields
    notebook: Any = None  # the runner's executed notebook, unchecked JSON
    problems: list[str] = field(default_factory=list)


def read_report(job_root: Path, limits: Limits) -> RunnerReport:
    """The report as data; an empty status ("no report") when absent or unreadable."""
    report = RunnerReport(status=clean_status(None))
    fd = open_dirs(job_root)
    if fd is None:
        return report
    try:
        raw = read_file(fd, REPORT_NAME, 2 * stored_notebook_cap(limits))
    except UnsafeOutput as exc:
        report.problems.append(f"runner report: {exc}")
        return report
    finally:
        os.close(fd)
    if not raw:
        return report
    text = raw.decode("utf-8", errors="replace")
    size = measure(text, MAX_REPORT_NODES, MAX_REPORT_DEPTH)
    if size.nodes > MAX_REPORT_NODES or size.depth > MAX_REPORT_DEPTH:
        report.problems.append(f"runner report too large ({size.nodes} values)")
        return report
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        report.problems.append(f"runner report is not JSON ({type(exc).__name__})")
        return report
    if not isinstance(data, dict):
        report.problems.append("runner report is not a JSON object")
        return report
    report.status = clean_status(data.get("status"))
    report.notebook = data.get("notebook")
    return report


def _text(value: Any, limit: int) -> str | None:
    return storable_text(value[:limit]) if isinstance(value, str) and value else None


def clean_status(raw: Any) -> dict[str, Any]:
    """The runner's status with every field of the expected type (others dropped):
    ``state``, ``stopped``, ``error``, ``write_error``, ``output_capped``, ``timings``."""
    raw = raw if isinstance(raw, dict) else {}
    timings = raw.get("timings")
    return {
        "state": raw["state"] if raw.get("state") in STATES else "no report",
        "stopped": raw["stopped"] if raw.get("stopped") in STOPPED else None,
        "error": _text(raw.get("error"), 2000),
        "write_error": _text(raw.get("write_error"), 500),
        "output_capped": raw.get("output_capped") is True,
        "timings": {
            str(k)[:32]: float(v)
            for k, v in (timings.items() if isinstance(timings, dict) else ())
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        },
    }


def executed_notebook(sent: Any, reported: Any, cap: int) -> tuple[str | None, list[str]]:
    """The notebook shown as the submission, as JSON, and what was wrong with the report.

    ``sent``: the notebook the trusted side gave the runner (its last cell is the probe,
    left out). Sources and metadata are ``sent``'s; only code cells' ``outputs`` and
    ``execution_count`` come from ``reported``, the runner's notebook. None when the
    report's cells do not line up with the ones sent."""
    import nbformat

    cells = reported.get("cells") if isinstance(reported, dict) else None
    if not isinstance(cells, list) or len(cells) != len(sent.cells):
        return None, ["the runner's notebook does not match the cells sent"] if reported else []
    nb = copy.deepcopy(sent)
    nb.cells = nb.cells[:-1]
    problems: list[str] = []
    for mine, theirs in zip(nb.cells, cells, strict=False):
        if mine.cell_type != "code" or not isinstance(theirs, dict):
            continue
        outputs = theirs.get("outputs")
        mine.outputs = nbformat.from_dict(storable(outputs)) if isinstance(outputs, list) else []
        count = theirs.get("execution_count")
        ok = isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31
        mine.execution_count = count if ok else None
    if not _valid(nb):
        for cell in nb.cells:
            alone = nbformat.from_dict({**nb, "cells": [cell]})
            if cell.cell_type == "code" and not _valid(alone):
                cell.outputs = [_note(INVALID)]
                problems.append("outputs not in the notebook format were dropped")
    return _capped(nb, cap, problems), problems


def _valid(nb: Any) -> bool:
    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
        return True
    except Exception:  # nbformat's ValidationError and friends
        return False


def _note(text: str) -> Any:
    import nbformat

    return nbformat.v4.new_output("stream", name="stderr", text=text)


def _capped(nb: Any, cap: int, problems: list[str]) -> str:
    """``nb`` as JSON of at most ``cap`` UTF-8 bytes: the largest outputs go first."""
    text = json.dumps(nb, ensure_ascii=False)
    total = len(text.encode())
    if total <= cap:
        return text
    sizes = {
        i: len(json.dumps(c.outputs, ensure_ascii=False).encode())
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    }
    for i in sorted(sizes, key=sizes.__getitem__, reverse=True):
        if total <= cap:
            break
        nb.cells[i].outputs = [_note(OMITTED)]
        total -= sizes[i] - len(json.dumps(nb.cells[i].outputs, ensure_ascii=False).encode())
    problems.append(f"executed notebook over {cap // MB} MB: the largest outputs were dropped")
    return json.dumps(nb, ensure_ascii=False)
