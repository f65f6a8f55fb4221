"""The runner's report read back as untrusted data (grader/engine/runner_report.py)."""

from __future__ import annotations

import json

import nbformat
from adversarial import tiny

from grader.jail.limits import MB, Limits
from grader.jail.runner_report import (
    REPORT_NAME,
    clean_status,
    executed_notebook,
    read_report,
    stored_notebook_cap,
)


def _sent():
    nb = tiny.notebook(False)
    nb.cells.append(nbformat.v4.new_code_cell("# probe"))
    return nb


def _ran(sent, outputs_per_code_cell):
    ran = json.loads(json.dumps(sent))
    for cell in ran["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = outputs_per_code_cell
            cell["execution_count"] = 1
    return ran


def test_status_fields_of_the_wrong_type_are_dropped():
    """Issue 13, finding 5: ``"timings": [...]`` crashed the trusted side."""
    status = clean_status(
        {"state": "forged", "stopped": {"a": 1}, "error": 5, "timings": [1, 2], "cells": "x"}
    )
    assert status == {
        "state": "no report",
        "stopped": None,
        "error": None,
        "write_error": None,
        "output_capped": False,
        "timings": {},
    }
    good = clean_status(
        {"state": "done", "stopped": "cell_timeout", "timings": {"total": 1.5, "x": "no"}}
    )
    assert good["state"] == "done" and good["stopped"] == "cell_timeout"
    assert good["timings"] == {"total": 1.5}


def test_a_report_that_is_not_an_object_is_no_report(tmp_path):
    for raw in (b"[1, 2]", b"{not json", b"[" * 10_000 + b"]" * 10_000):
        (tmp_path / REPORT_NAME).write_bytes(raw)
        report = read_report(tmp_path, Limits())
        assert report.status["state"] == "no report" and report.notebook is None
        assert report.problems


def test_sources_come_from_the_cells_sent_and_outputs_are_capped():
    sent = _sent()
    stream = nbformat.v4.new_output("stream", name="stdout", text="y" * (2 * MB))
    ran = _ran(sent, [stream])
    ran["cells"][2]["source"] = "# derived by hand"
    cap = 5 * MB
    text, problems = executed_notebook(sent, ran, cap)
    shown = json.loads(text)
    assert len(text.encode()) <= cap
    assert [c["source"] for c in shown["cells"]] == [c.source for c in sent.cells[:-1]]
    assert any("dropped" in p for p in problems)
    outputs = [o for c in shown["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("too large" in o.get("text", "") for o in outputs)
    assert any(o.get("text") == "y" * (2 * MB) for o in outputs)  # what fits stays
    nbformat.validate(nbformat.from_dict(shown))


def test_outputs_not_in_the_notebook_format_are_dropped_and_surrogates_replaced():
    sent = _sent()
    ran = _ran(sent, [{"output_type": "stream", "name": "stdout", "text": "ok \ud800"}])
    ran["cells"][2]["outputs"] = [{"output_type": "forged", "data": [1]}]
    text, problems = executed_notebook(sent, ran, stored_notebook_cap(Limits()))
    text.encode("utf-8")
    shown = json.loads(text)
    assert "not follow the notebook format" in shown["cells"][2]["outputs"][0]["text"]
    assert shown["cells"][1]["outputs"][0]["text"] == "ok \ufffd"
    assert problems


def test_a_notebook_that_does_not_line_up_is_not_shown():
    sent = _sent()
    ran = _ran(sent, [])
    ran["cells"] = ran["cells"][:2]
    assert executed_notebook(sent, ran, stored_notebook_cap(Limits()))[0] is None
