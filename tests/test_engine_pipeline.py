"""grade_notebook end to end on the tiny assignment, the CLI, reports and exports (sandboxed)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
from adversarial import tiny
from adversarial.uids import private_uid_base, worker_index

from grader import jail
from grader.cli import main as cli_main
from grader.engine import pipeline
from grader.engine.mnist_sandbox import N_TRAIN, write_job_mnist
from grader.engine.report import feedback_html
from grader.engine.spec import TrustedData
from grader.jail import SandboxPolicy, sandbox_policy
from grader.jail import policy as jail_policy
from grader.jail.limits import Limits
from grader.service import exports
from grader.specs import all_assignments, get_assignment

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not jail.bwrap_usable()[0], reason="bubblewrap cannot run here"),
]
LIMITS = Limits(notebook_timeout=60, cell_timeout=20)


@pytest.fixture(scope="module", autouse=True)
def uid_base():
    with private_uid_base() as base:
        yield base


@pytest.fixture(scope="module")
def slot(uid_base) -> int:
    return 50 + worker_index()


def grade(nb, slot, policy=None, limits=LIMITS, **kw):
    return pipeline.grade_notebook(
        tiny.ASSIGNMENT,
        tiny.to_bytes(nb),
        policy=policy or sandbox_policy(False),
        slot=slot,
        released=tiny.released(),
        limits=limits,
        **kw,
    )


def test_solution_full_marks_blank_zero_and_deterministic(slot):
    first = grade(tiny.notebook(True), slot)
    again = grade(tiny.notebook(True), slot)
    blank = grade(tiny.notebook(False), slot)
    assert first.status == again.status == "graded"
    assert first.score == again.score == first.max_score == 3.0
    assert [i.points for i in first.items] == [i.points for i in again.items]
    assert blank.score == 0.0
    assert all("NotImplementedError" in i.message["en"] for i in blank.items)
    d = first.to_dict()
    assert d["sandbox_mode"] == "bwrap" and d["status"] == "graded"
    assert {"validate", "sandbox", "score", "total"} <= set(d["timings"])
    json.dumps(d)  # JSON-able


def test_partial_credit_and_messages(slot):
    wrong = tiny.SOFTMAX_SOLUTION.replace("e / e.sum", "e / 2 / e.sum")
    nb = tiny.notebook(True)
    nb.cells[2].source = wrong
    res = grade(nb, slot)
    by_id = {i.id: i for i in res.items}
    assert not by_id["tiny_softmax"].passed and by_id["tiny_softmax"].measured_error > 0.1
    assert by_id["tiny_softmax"].tolerance == 1e-10
    assert by_id["tiny_triple"].passed
    assert res.score == 2.0


def test_edited_locked_cell_is_restored(slot):
    nb = tiny.notebook(True)
    nb.cells[1].source = "raise SystemExit('no set-up for you')"
    res = grade(nb, slot)
    assert res.score == 3.0 and res.restored_cells == ["tiny_setup"]


def test_rejected_upload_never_raises(slot):
    res = pipeline.grade_notebook(
        tiny.ASSIGNMENT,
        b"not a notebook",
        policy=sandbox_policy(False),
        released=tiny.released(),
        slot=slot,
    )
    assert res.status == "rejected" and "JSON" in res.reason_text


def test_workdir_is_kept_for_inspection(slot, tmp_path):
    res = grade(tiny.notebook(True), slot, workdir=tmp_path / "job")
    assert res.score == 3.0
    job = tmp_path / "job"
    assert (job / "in" / "notebook.ipynb").is_file() and (job / "in" / "inputs.npz").is_file()
    assert json.loads((job / "result.json").read_text())["score"] == 3.0
    assert "cells" in json.loads((job / "executed.ipynb").read_text())
    assert str(tmp_path / "job") not in Path("/proc/mounts").read_text()


def test_feedback_html_is_self_contained_and_escaped(slot):
    nb = tiny.notebook(False)
    nb.cells.append(
        __import__("nbformat").v4.new_code_cell(
            "from IPython.display import HTML, display\n"
            "display(HTML('<script>alert(1)</script>'))\nprint('<b>shown as text</b>')"
        )
    )
    res = grade(nb, slot)
    page = feedback_html(res)
    assert "Content-Security-Policy" in page and "<script>alert" not in page
    assert "&lt;b&gt;shown as text&lt;/b&gt;" in page
    assert "tiny_softmax" in page and "NotImplementedError" in page
    assert "0 / 1" in page or "0 / 1" in page.replace("\u00a0", " ")


def test_exports_formats(slot):
    d = grade(tiny.notebook(True), slot).to_dict()
    gs = exports.gradescope(d, "en")
    assert gs["score"] == 3.0 and [t["status"] for t in gs["tests"]] == ["passed", "passed"]
    pl = exports.prairielearn(d, "en")
    assert pl["score"] == 1.0 and pl["gradable"] and pl["tests"][1]["max_points"] == 2.0
    # Gradescope's execution_time is the job's wall time: the engine's "total", not the sum of
    # every phase (the sandbox's own phases are nested inside "sandbox")
    assert gs["execution_time"] == round(d["timings"]["total"], 3)
    assert gs["execution_time"] < round(sum(d["timings"].values()), 3)


def test_sandbox_mnist_file_has_no_test_images_or_labels(tmp_path):
    """The per-job file: training data only (train + validation), in a secret code that
    differs per job and that the trusted side reproduces exactly."""
    data = TrustedData()
    (x_tr, t_tr), (x_te, t_te) = data.mnist()
    jobs = [write_job_mnist(tmp_path / f"{i}.npz", data) for i in range(2)]
    assert not np.array_equal(jobs[0].pixel_perm, jobs[1].pixel_perm)
    job = jobs[0]
    with np.load(job.path, allow_pickle=False) as z:
        assert set(z.files) == {"x_train", "y_train", "x_test", "y_test", "__split__"}
        assert len(z["x_train"]) == N_TRAIN and len(z["x_test"]) == 10_000
        x_val = z["x_test"].reshape(10_000, 784).astype(np.float32) / np.float32(255.0)
        y_val = z["y_test"]
        jail_rows = {r.tobytes() for r in z["x_train"].reshape(N_TRAIN, 784)}
        jail_rows |= {r.tobytes() for r in z["x_test"].reshape(10_000, 784)}
        for k in z.files:
            assert not (z[k].shape == t_te.shape and np.array_equal(z[k], t_te)), k
    # what the probe sees is what the trusted side compares with, label code included
    assert np.array_equal(x_val, job.probe_images(data))
    assert np.array_equal(y_val, job.label_perm[t_tr[job.val_order]])
    # no test image is in the file, in either code
    test_u8 = np.rint(x_te * 255).astype(np.uint8)
    for code in (test_u8, job.encode_images(test_u8)):
        assert not any(r.tobytes() in jail_rows for r in code)
    images, labels = job.graded_test(data)
    assert np.array_equal(images, job.encode_images(x_te))
    assert np.array_equal(labels, job.label_perm[t_te])


def test_cli_grade_writes_results_and_exports(tmp_path, monkeypatch, capsys):
    from grader.specs import assignment_ids

    if "3-1-2_softmax_with_loss" not in assignment_ids():
        pytest.skip("3-1-2 spec missing")
    repo = Path(pipeline.__file__).resolve().parents[2]
    src = repo / "solutions" / "3-1-2_softmax_with_loss.ipynb"
    if not src.is_file() or not (repo / "assignments" / src.name).is_file():
        pytest.skip("3-1-2 notebooks missing")
    sub = tmp_path / "student-3-1-2_softmax_with_loss.ipynb"
    sub.write_bytes(src.read_bytes())
    out = tmp_path / "out"
    rc = cli_main(
        [
            "grade",
            str(sub),
            "--out",
            str(out),
            "--gradescope",
            str(tmp_path / "gs.json"),
            "--prairielearn",
            str(tmp_path / "pl"),
            "--lang",
            "en",
        ]
    )
    assert rc == 0
    result = json.loads((out / f"{sub.stem}.result.json").read_text())
    assert result["assignment"] == "3-1-2_softmax_with_loss"  # inferred from the file name
    assert result["score"] == result["max_score"] > 0
    assert (out / f"{sub.stem}.feedback.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "gs.json").read_text())["score"] == result["score"]
    assert json.loads((tmp_path / "pl" / "results.json").read_text())["score"] == 1.0
    assert "graded" in capsys.readouterr().out


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    assert cli_main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{}")
    assert cli_main(["grade", str(bad), "--assignment", "nope"]) == 2
    # sandbox unavailable and no opt-in: exit 3 before running anything
    monkeypatch.setattr(jail_policy, "bwrap_usable", lambda: (False, "test: no bwrap"))
    assert cli_main(["grade", str(bad), "--assignment", "3-1-2_softmax_with_loss"]) == 3
    assert "--allow-unsandboxed" in capsys.readouterr().err
    # a rejected notebook: exit 1
    monkeypatch.undo()
    assert (
        cli_main(
            [
                "grade",
                str(bad),
                "--assignment",
                "3-1-2_softmax_with_loss",
                "--out",
                str(tmp_path),
                "--no-html",
            ]
        )
        == 1
    )
    res = json.loads((tmp_path / "bad.result.json").read_text())
    assert res["status"] == "rejected"


def test_limits_only_mode_needs_opt_in_and_says_so(slot):
    no_bwrap = SandboxPolicy("limits-only", "test: no bwrap", allow_limits_only=False)
    refused = grade(tiny.notebook(True), slot, policy=no_bwrap)
    assert refused.status == "error" and "--allow-unsandboxed" in refused.reason_text
    res = grade(tiny.notebook(True), slot, policy=replace(no_bwrap, allow_limits_only=True))
    assert res.status == "graded" and res.score == 3.0
    assert res.sandbox_mode == "limits-only"
    assert any("WARNING" in line and "limits only" in line for line in res.log)
    assert "WITHOUT the sandbox" in feedback_html(res)


def test_output_names_do_not_clash(tmp_path):
    from grader.commands.grade import output_names

    a, b = tmp_path / "x" / "nb.ipynb", tmp_path / "y" / "nb.ipynb"
    assert output_names([a, b], shared_out=True) == {a: "nb", b: "nb-2"}
    assert output_names([a, b], shared_out=False) == {a: "nb", b: "nb"}


def test_a_notebook_of_another_assignment_is_refused_with_where_it_belongs():
    repo = Path(pipeline.__file__).resolve().parents[2]
    data = (repo / "solutions" / "3-1-2_softmax_with_loss.ipynb").read_bytes()
    course = all_assignments()
    res = pipeline.grade_notebook(
        get_assignment("2-1_autodiff"), data, policy=sandbox_policy(False), candidates=course
    )
    assert res.status == "rejected"
    assert "It is a notebook of assignment 3-1-2_softmax_with_loss" in res.reason["en"]
    assert "3-1-2_softmax_with_loss を選んでください" in res.reason["ja"]
    # a notebook of no course assignment gets the refusal without a guess
    stray = pipeline.grade_notebook(
        get_assignment("2-1_autodiff"),
        tiny.to_bytes(tiny.notebook(True)),
        policy=sandbox_policy(False),
        candidates=course,
    )
    assert stray.status == "rejected" and "It is a notebook of" not in stray.reason["en"]


def test_a_runner_that_fails_before_the_kernel_is_retried_then_reported_as_an_error(
    slot, monkeypatch
):
    """A grader-side failure before any student code ran is not a zero: it is retried once in
    a fresh sandbox, then reported as an error asking for a resubmission."""
    monkeypatch.setattr(jail, "KERNEL_NAME", "no-such-kernel")  # the runner cannot start it
    res = grade(tiny.notebook(True), slot)
    assert res.status == "error" and res.score == 0
    assert "could not start the notebook's kernel" in res.reason["en"]
    failed = [line for line in res.log if "the notebook runner failed" in line]
    assert [line.split(":")[0] for line in failed] == ["attempt 1", "attempt 2"], res.log
    assert "no-such-kernel" in failed[0]


def test_a_timed_out_cell_leaves_the_other_cells_of_the_feedback_as_they_were(slot):
    # After a timeout the runner pings the kernel with a throwaway cell; nbclient writes the
    # cell it runs into the notebook at the index given, which once replaced cell 0.
    nb = tiny.notebook(True, extra=["import time\ntime.sleep(60)"])
    nb.cells.insert(0, nbformat.v4.new_code_cell("print('first cell ran')"))
    res = grade(nb, slot, limits=replace(LIMITS, cell_timeout=2))
    cells = json.loads(res.executed_notebook)["cells"]
    assert [o.get("text") for o in cells[0]["outputs"]] == ["first cell ran\n"]
    assert any(o.get("ename") == "CellTimeout" for o in cells[-1]["outputs"])
    assert res.score == 3.0
