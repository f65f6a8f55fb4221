"""``grade_notebook``, the judge: validate → restore → inputs → jail → score → result.

See docs/ARCHITECTURE.md ("Engine API") for the contract and ../shared/DESIGN.md section 3
for the trust boundary: nothing the sandbox writes is a verdict; every pass is a comparison
made here, on arrays read back as data. The caller resolves the spec and decides the
sandbox policy; the engine looks neither up.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader import jail
from grader.engine.hostpaths import hide_host_paths
from grader.engine.identify import identify
from grader.engine.job import JobPaths, cleanup_job, make_job, slot_lease, warm_job
from grader.engine.probe import make_inputs, new_seed, write_inputs
from grader.engine.restore import neutralise_check_cells, restore_locked_cells, skip_ignored_cells
from grader.engine.result import GradeResult, ItemResult
from grader.engine.scoring import score_item, why_not_run
from grader.engine.selfchecks import self_check_outcomes
from grader.engine.spec import Assignment, TrustedData
from grader.engine.text import Bilingual
from grader.engine.upload import RejectedUpload, check_belongs, parse_notebook
from grader.jail import runner_report, slots
from grader.jail.limits import Limits
from grader.jail.outputs import ItemOutputs, open_dirs, read_item_outputs, read_text
from grader.jail.policy import SandboxPolicy
from grader.jail.probe_cell import probe_source
from grader.jail.runner_report import stored_notebook_cap
from grader.jail.warm import WarmPool, WarmSandbox

log = logging.getLogger("grader.engine")

PROBE_MARK = "dlgrader_probe"
SANDBOX_START_ATTEMPTS = 2

__all__ = ["GradeResult", "grade_notebook", "load_released"]


# --------------------------------------------------------------------------- lookups


def assignments_dir() -> Path:
    """Released notebooks: ``$GRADER_ASSIGNMENTS_DIR`` or ``assignments/`` of the checkout."""
    env = os.environ.get("GRADER_ASSIGNMENTS_DIR")
    if env:
        return Path(env)
    import grader

    return Path(grader.__file__).resolve().parent.parent / "assignments"


@lru_cache(maxsize=64)
def _released_cached(path: str, mtime_ns: int) -> Any:
    # Our own generated file (checked by `grader build`): no second schema validation here.
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    with open(path, encoding="utf-8") as f:
        return rejoin_lines(nbformat.from_dict(json.load(f)))


def load_released(assignment_id: str, directory: Path | None = None) -> Any:
    path = (directory or assignments_dir()) / f"{assignment_id}.ipynb"
    return _released_cached(str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------- the judge


class Refused(Exception):
    """Grading stops here: ``status`` "rejected" (the upload) or "error" (the grader's side)."""

    def __init__(self, status: str, ja: str, en: str, log_lines: Sequence[str] = ()):
        super().__init__(en)
        self.status = status
        self.message = {"ja": ja, "en": en}
        self.log = list(log_lines)  # what happened before (e.g. the failed attempts)


class SandboxStartFailed(Exception):
    """The runner failed before the kernel was up: nothing of the student's had run."""


@dataclass
class PreparedJob:
    """What the trusted side made for one job: the notebook to run and its secret inputs."""

    notebook: Any  # the restored notebook with the probe cell appended
    inputs: list[dict[str, Any]]  # per item, the trusted copy
    data: TrustedData
    seed: int
    mnist_host: Path | None  # this job's MNIST file (deleted after the run)
    mnist_seen: str | None  # ... as the runner sees it


@dataclass
class JailOutcome:
    """What came back out of the jail, read as data."""

    run_state: dict[str, Any]
    executed_notebook: str | None
    outputs: list[ItemOutputs]  # per item
    reason: Bilingual  # why the probe did not finish, for items without outputs
    log: list[str] = field(default_factory=list)


def grade_notebook(
    spec: Assignment,
    notebook: bytes,
    *,
    policy: SandboxPolicy,
    slot: int = 0,
    workdir: Path | None = None,
    released: Any = None,
    limits: Limits | None = None,
    lang: str = "ja",
    candidates: Sequence[Assignment] = (),
    run_self_checks: bool = False,
    warm_pool: WarmPool | None = None,
) -> GradeResult:
    """Grade one uploaded notebook against ``spec`` (see docs/ARCHITECTURE.md, "Engine API").

    Never raises for a bad upload: returns ``status="rejected"`` with its ``reason``.
    ``released`` overrides ``assignments/<id>.ipynb``; ``candidates`` (the course's specs)
    let a notebook of another assignment be told where it belongs. ``run_self_checks`` keeps
    the ``check(...)`` cells and reports their outcome in ``result.self_checks``.
    """
    clock = Clock()
    result = GradeResult(
        assignment=spec.id, status="error", title=dict(spec.title), max_score=spec.max_score
    )
    try:
        with clock.phase("load"):  # the released notebook (cached after its first use)
            released = _released(spec.id) if released is None else released
        with clock.phase("validate"):
            nb = _validate(notebook, released, spec.id, candidates)
        with clock.phase("restore"):
            nb, result.restored_cells, restore_log = _restore(nb, released, spec, run_self_checks)
        result.log += restore_log + _sandbox_warning(policy)
        result.sandbox_mode = policy.mode
        limits = _job_limits(spec, limits or Limits())
        warm = None  # a worker's pre-started sandbox, when it serves this job
        if warm_pool and not workdir:
            warm = warm_pool.take(policy.mode, limits, lang, spec.uses_mnist)
        outcome, result.items = _run_and_score(
            spec, nb, policy, slot, workdir, limits, lang, clock, warm
        )
    except Refused as refused:
        result.status, result.reason = refused.status, refused.message
        result.log += refused.log
    else:
        result.status = "graded"
        result.log += outcome.log + [
            f"internal error scoring {it.id}: {it.scoring_error}"
            for it in result.items
            if it.scoring_error
        ]
        result.run_state, result.executed_notebook = outcome.run_state, outcome.executed_notebook
        if run_self_checks:
            result.self_checks = self_check_outcomes(outcome.executed_notebook)
        if workdir is not None:
            _keep_result(Path(workdir), result, clock)
    result.timings = clock.done()
    return result


class Clock:
    """The job's phase timings (seconds), as the result reports them."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.timings: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = time.monotonic() - t

    def done(self) -> dict[str, float]:
        self.timings["total"] = time.monotonic() - self.start
        return self.timings


def _released(assignment_id: str) -> Any:
    try:
        return load_released(assignment_id)
    except (OSError, ValueError) as exc:
        raise Refused(
            "error",
            f"配布版ノートブック {assignment_id}.ipynb が読めません (サーバーの設定)。",
            f"The released notebook {assignment_id}.ipynb cannot be read "
            f"(server configuration): {exc}",
        ) from None


def _validate(
    notebook: bytes, released: Any, assignment_id: str, candidates: Sequence[Assignment]
) -> Any:
    """The parsed upload, or Refused: not a notebook, or one of another assignment (then
    named when ``candidates`` says which)."""
    nb = None
    try:
        nb = parse_notebook(bytes(notebook))
        check_belongs(nb, released, assignment_id)
    except RejectedUpload as exc:
        ja, en = exc.message["ja"], exc.message["en"]
        others = [c for c in candidates if c.id != assignment_id]
        other = identify(nb, others) if nb is not None else None
        if other:
            ja += f" このノートブックは課題 {other} のものです。提出先に {other} を選んでください。"
            en += f" It is a notebook of assignment {other}: submit it there."
        raise Refused("rejected", ja, en) from None
    return nb


def _restore(
    nb: Any, released: Any, spec: Assignment, keep_checks: bool
) -> tuple[Any, list[str], list[str]]:
    """Locked cells from the released notebook, self-checks neutralised (unless kept),
    ignored cells skipped: the notebook, the restored cells' ids and the log lines."""
    nb, restored = restore_locked_cells(nb, released)
    if not keep_checks:
        neutralise_check_cells(nb)
    lines = ["restored locked cells: " + ", ".join(restored)] if restored else []
    lines += skip_ignored_cells(nb, released, tuple(it.probe for it in spec.items))
    return nb, restored, lines


def _sandbox_warning(policy: SandboxPolicy) -> list[str]:
    """The log line of limits-only mode; Refused when the caller did not allow it."""
    if policy.mode == "bwrap":
        return []
    if not policy.may_grade:
        raise Refused(
            "error",
            "サンドボックス (bubblewrap) が使えないため採点できません。",
            f"Cannot grade: the bubblewrap sandbox is unavailable ({policy.reason}); "
            "pass --allow-unsandboxed to grade with process limits only.",
        )
    msg = f"WARNING: sandbox unavailable ({policy.reason}); grading with process limits only"
    log.warning(msg)
    return [msg]


def _job_limits(spec: Assignment, limits: Limits) -> Limits:
    """The caller's limits, with the spec's timeouts where the caller set none."""
    return limits.with_(
        notebook_timeout=limits.notebook_timeout or spec.notebook_timeout,
        cell_timeout=limits.cell_timeout or spec.cell_timeout,
    )


def _run_and_score(
    spec: Assignment,
    nb: Any,
    policy: SandboxPolicy,
    slot: int,
    workdir: Path | None,
    limits: Limits,
    lang: str,
    clock: Clock,
    warm: WarmSandbox | None,
) -> tuple[JailOutcome, list[ItemResult]]:
    """In a leased slot, a fresh job directory per attempt: inputs → jail → score. A runner
    that fails before the kernel is up is retried once (nothing of the student's ran)."""
    failures: list[str] = []
    try:
        with warm.holding_slot() if warm else slot_lease(policy.mode, slot) as leased:
            if leased != slot:
                failures.append(f"slot {slot} was busy; graded in slot {leased}")
            for attempt in range(1, SANDBOX_START_ATTEMPTS + 1):
                first_warm = warm and attempt == 1  # a retry starts cold
                job = (
                    warm_job(warm) if first_warm else make_job(workdir, policy.mode, limits, leased)
                )
                try:
                    with clock.phase("prepare"):
                        prepared = _prepare_job(spec, copy.deepcopy(nb), job, policy.mode, clock)
                    outcome = _run_in_jail(prepared, job, limits, leased, policy.mode, lang, clock)
                    with clock.phase("score"):
                        items = _score_items(spec, prepared, outcome)
                    outcome.log[:0] = failures
                    return outcome, items
                except SandboxStartFailed as exc:
                    failures.append(f"attempt {attempt}: the notebook runner failed: {exc}")
                finally:
                    with clock.phase("cleanup"):
                        cleanup_job(job, keep=workdir is not None)
    except slots.NoFreeSlot as exc:
        raise Refused(
            "error",
            "採点スロットがすべて使用中です。しばらくしてから再提出してください。",
            f"Cannot grade now: {exc}; submit again later.",
        ) from None
    raise Refused(
        "error",
        "採点サーバー側でノートブックの実行環境を起動できませんでした "
        "(あなたのノートブックの問題ではありません)。もう一度提出してください。",
        "The grader could not start the notebook's kernel (not a problem of your "
        "notebook); please submit again.",
        failures,
    )


def _prepare_job(spec: Assignment, nb: Any, job: JobPaths, mode: str, clock: Clock) -> PreparedJob:
    """The secret inputs (and this job's MNIST), the probe cell, and the runner's notebook
    written into the job's ``in/``."""
    import nbformat

    # One TrustedData per job (its arrays are cached per process): the job's own MNIST code
    # lives on it, and two jobs graded at once in one process must not share one.
    data = TrustedData()
    mnist_host = None
    if spec.uses_mnist:  # this job's own file, in a secret code (mnist_sandbox.py)
        from grader.engine.mnist_sandbox import job_rng, write_job_mnist

        with clock.phase("prepare.mnist"):
            code_rng = job_rng(json.dumps(nb, sort_keys=True).encode())  # same nb, same code
            data.job_mnist = write_job_mnist(job.root / "mnist.npz", data, code_rng)
        mnist_host = data.job_mnist.path
    seed = new_seed()
    inputs = make_inputs(spec, seed, data)
    write_inputs(job.job_in / "inputs.npz", inputs)
    mnist_seen = None
    if spec.uses_mnist:
        mnist_seen = job.mnist_seen if mode == "bwrap" else str(mnist_host)
    probe = nbformat.v4.new_code_cell(
        probe_source(
            [(it.id, it.probe) for it in spec.items],
            f"{job.in_seen}/inputs.npz",
            f"{job.out_seen}/probe",
            mnist_seen,
        )
    )
    probe.metadata[PROBE_MARK] = True
    nb.cells.append(probe)
    (job.job_in / "notebook.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return PreparedJob(nb, inputs, data, seed, mnist_host, mnist_seen)


def _run_config(job: JobPaths, limits: Limits, report_fd: int, probe_index: int) -> None:
    """The runner's ``run.json``; then everything in ``in/`` is made readable to the job."""
    cfg = {
        "notebook": f"{job.in_seen}/notebook.ipynb",
        "report_fd": report_fd,
        "workdir": jail.workdir(job.tmp_seen),
        "kernel_name": jail.KERNEL_NAME,
        "cell_timeout": limits.cell_timeout,
        "notebook_timeout": limits.notebook_timeout,
        "output_bytes": limits.output_bytes,
        "probe_cell_index": probe_index,
    }
    (job.job_in / "run.json").write_text(json.dumps(cfg))
    for p in job.job_in.iterdir():
        p.chmod(0o644)


def _run_in_jail(
    prepared: PreparedJob,
    job: JobPaths,
    limits: Limits,
    slot: int,
    mode: str,
    lang: str,
    clock: Clock,
) -> JailOutcome:
    """One sandboxed run of the prepared job, and what it left read back as data."""
    report_fd = runner_report.open_report(job.root)
    try:
        _run_config(job, limits, report_fd, len(prepared.notebook.cells) - 1)
        env = jail.sandbox_env(lang, prepared.mnist_seen, stage=job.stage_seen, tmp=job.tmp_seen)
        with clock.phase("sandbox"):
            if job.warm:  # its environment was set when it started, from the same settings
                run = job.warm.go(limits, prepared.mnist_host)
            else:
                run = jail.run_sandboxed(
                    job.box,
                    limits,
                    slot,
                    env,
                    prepared.mnist_host,
                    mode,
                    tag=f"{os.getpid()}-{slot}-{prepared.seed % 10**8}",
                    report_fd=report_fd,
                )
    finally:
        os.close(report_fd)
    if prepared.mnist_host is not None:
        prepared.mnist_host.unlink(missing_ok=True)
    if run.cpu_seconds is not None:
        clock.timings["sandbox.cpu"] = run.cpu_seconds
    return _read_back(prepared, job, limits, run, clock)


def _read_back(
    prepared: PreparedJob, job: JobPaths, limits: Limits, run: jail.SandboxRun, clock: Clock
) -> JailOutcome:
    """The runner's report, the executed notebook and each item's outputs, as data."""
    lines = list(run.weakened)
    if run.killed_by_wall_clock:
        lines.append("the run was killed by the outside wall clock")
    if run.oom_killed:
        lines.append("the memory limit was hit (processes of the job were killed)")
    if run.peak_memory:
        lines.append(f"peak memory {run.peak_memory / 2**20:.0f} MB")
    report = runner_report.read_report(job.root, limits)
    status = report.status
    lines += report.problems
    runner_error = _printable(status["error"] or "")[:300]
    if status["state"] == "runner_error" and "kernel_start" not in status["timings"]:
        # Nothing of the student's ran yet: the grader's side failed (seen once in 200 jobs
        # under load). Retried in a fresh sandbox rather than scored as zero.
        raise SandboxStartFailed(runner_error or "no message")
    if runner_error:
        lines.append(f"notebook runner error: {runner_error}")
    if status["write_error"]:
        lines.append(f"the runner could not report the notebook: {status['write_error']}")
    for k, v in status["timings"].items():
        clock.timings[f"sandbox.{k}"] = v
    run_state = {
        "state": status["state"],
        "stopped": status["stopped"],
        "killed_by_wall_clock": run.killed_by_wall_clock,
        "oom_killed": run.oom_killed,
        "returncode": run.returncode,
        "peak_memory_mb": round(run.peak_memory / 2**20, 1) if run.peak_memory else None,
    }
    executed, problems = runner_report.executed_notebook(
        prepared.notebook, report.notebook, stored_notebook_cap(limits)
    )
    lines += problems
    if executed:  # shown to the student: no host path in it
        executed = hide_host_paths(executed)
    reason = why_not_run(run_state)
    setup_error = _read_setup_error(job.job_out)
    if setup_error:
        reason = {
            "ja": f"採点用コードの準備に失敗しました: {setup_error}",
            "en": f"The grading probe could not start: {setup_error}",
        }
    outputs = [read_item_outputs(job.job_out, i) for i in range(len(prepared.inputs))]
    return JailOutcome(run_state, executed, outputs, reason, lines)


def _score_items(spec: Assignment, prepared: PreparedJob, outcome: JailOutcome) -> list[ItemResult]:
    return [
        score_item(item, prepared.inputs[i], outcome.outputs[i], prepared.data, outcome.reason)
        for i, item in enumerate(spec.items)
    ]


def _printable(text: str) -> str:
    """Text from the sandbox made safe for a log line."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _read_setup_error(out_dir: Path) -> str | None:
    """The probe's own start-up error (e.g. the notebook deleted numpy), if any."""
    probe = open_dirs(out_dir, "probe")
    if probe is None:
        return None
    try:
        text = read_text(probe, "setup_error.txt", 2000)
        return text.strip() if text else None
    finally:
        os.close(probe)


def _keep_result(workdir: Path, result: GradeResult, clock: Clock) -> None:
    """With a ``workdir``, the result and the executed notebook stay beside the job's inputs."""
    result.timings = dict(clock.timings, total=time.monotonic() - clock.start)
    (workdir / "result.json").write_text(json.dumps(result.to_dict(), ensure_ascii=False))
    if result.executed_notebook:
        (workdir / "executed.ipynb").write_text(result.executed_notebook, encoding="utf-8")
