"""``grade_notebook``: validate → restore → execute in the sandbox → score outside → explain.

See docs/ARCHITECTURE.md ("Engine API") for the contract and ../shared/DESIGN.md section 3
for the trust boundary: nothing the sandbox writes is a verdict; every pass is a comparison
made here, on arrays read back as data.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from grader import jail
from grader.engine.diagnose import explain_exception
from grader.engine.hostpaths import hide_host_paths
from grader.engine.probe import make_inputs, new_seed, write_inputs
from grader.engine.restore import neutralise_check_cells, restore_locked_cells, skip_ignored_cells
from grader.engine.result import GradeResult, ItemResult
from grader.engine.spec import Assignment, ProbeOutputError, ScoreContext, TrustedData, Verdict
from grader.engine.upload import RejectedUpload, check_belongs, grade_ids, parse_notebook
from grader.jail import runner_report, slots
from grader.jail.jobdir import make_box
from grader.jail.layout import MNIST_IN_JOB
from grader.jail.limits import Limits
from grader.jail.outputs import open_dirs, read_item_outputs
from grader.jail.probe_cell import probe_source
from grader.jail.runner_report import stored_notebook_cap
from grader.jail.warm import WarmPool, WarmSandbox

log = logging.getLogger("grader.engine")

PROBE_MARK = "dlgrader_probe"

__all__ = ["GradeResult", "grade_notebook", "list_assignments", "sandbox_status"]


# --------------------------------------------------------------------------- lookups


def assignments_dir() -> Path:
    """Released notebooks: ``$GRADER_ASSIGNMENTS_DIR`` or ``assignments/`` of the checkout."""
    env = os.environ.get("GRADER_ASSIGNMENTS_DIR")
    if env:
        return Path(env)
    import grader

    return Path(grader.__file__).resolve().parent.parent / "assignments"


def list_assignments() -> list[Assignment]:
    """The assignments the engine can grade (those with a spec), in course order."""
    from grader.specs import all_assignments

    return list(all_assignments())


def _get_spec(assignment_id: str) -> Assignment | None:
    try:
        from grader.specs import get_assignment
    except ImportError:
        return None
    try:
        return get_assignment(assignment_id)
    except (KeyError, LookupError, ValueError):
        return None


@lru_cache(maxsize=64)
def _released_cached(path: str, mtime_ns: int) -> Any:
    # Our own generated file (checked by `grader build`): no second schema validation here.
    import nbformat
    from nbformat.v4.rwbase import rejoin_lines

    with open(path, encoding="utf-8") as f:
        return rejoin_lines(nbformat.from_dict(json.load(f)))


def _owning_assignment(nb: Any, rejected_for: str) -> str | None:
    """The course assignment whose released notebook has every graded cell of ``nb`` (for a
    notebook submitted to the wrong assignment); None when none or several fit."""
    ids = set(grade_ids(nb))
    if not ids:
        return None
    fits = []
    for spec in list_assignments():
        if spec.id == rejected_for:
            continue
        try:
            released = load_released(spec.id)
        except (OSError, ValueError):
            continue
        if ids <= set(grade_ids(released)):
            fits.append(spec.id)
    return fits[0] if len(fits) == 1 else None


def load_released(assignment_id: str, directory: Path | None = None) -> Any:
    path = (directory or assignments_dir()) / f"{assignment_id}.ipynb"
    return _released_cached(str(path), path.stat().st_mtime_ns)


def sandbox_status() -> dict[str, Any]:
    """For health endpoints and the CLI: can bwrap run here, and what mode would be used."""
    ok, why = jail.bwrap_usable()
    return {
        "bwrap": ok,
        "mode": "bwrap" if ok else "limits-only",
        "reason": why,
        "root": os.geteuid() == 0,
    }


SANDBOX_START_ATTEMPTS = 2


class SandboxStartFailed(Exception):
    """The runner failed before the kernel was up: nothing of the student's had run."""


def _printable(text: str) -> str:
    """Text from the sandbox made safe for a log line."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _allow_unsandboxed_default() -> bool:
    return os.environ.get("GRADER_ALLOW_UNSANDBOXED", "") in ("1", "true", "yes")


# --------------------------------------------------------------------------- job layout


@dataclass
class _JobPaths:
    """Paths of one job as the trusted side and as the runner see them."""

    root: Path  # trusted (0700)
    box: Path  # job tmpfs (root only) with in/ and out/
    mounted: bool
    in_seen: str
    out_seen: str
    mnist_seen: str | None
    stage_seen: str
    tmp_seen: str
    warm: WarmSandbox | None = None  # started before the job (grader.jail.warm)

    @property
    def job_in(self) -> Path:
        return self.box / "in"

    @property
    def job_out(self) -> Path:
        return self.box / "out"


@contextmanager
def _slot_lease(mode: str, slot: int) -> Iterator[int]:
    """In the sandbox, the job's uid is its own (see ``slots``); on the way in, clear what a
    killed grader left under that uid. Limits-only mode has no slot uids."""
    if mode != "bwrap":
        yield slot
        return
    with slots.lease(slot) as leased:
        slots.sweep_stale_jobs(leased, jail.unmount)
        yield leased


def _make_job(workdir: Path | None, mode: str, limits: Limits, slot: int) -> _JobPaths:
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix=slots.JOB_PREFIX))
        if mode == "bwrap":
            slots.mark_owner(root, slot)
    else:
        root = Path(workdir)
        root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    box, mounted = make_box(root, limits, slot if mode == "bwrap" else None)
    if mode == "bwrap":
        return _JobPaths(
            root,
            box,
            mounted,
            jail.JOB_IN,
            jail.JOB_OUT,
            jail.MNIST_IN_SANDBOX,
            jail.STAGE_IN_SANDBOX,
            "/tmp",
        )
    tmp = box / "tmp"
    tmp.mkdir()
    return _JobPaths(
        root,
        box,
        mounted,
        str(box / "in"),
        str(box / "out"),
        None,
        str(jail.staged_root()),
        str(tmp),
    )


def _cleanup_job(job: _JobPaths, keep: bool) -> None:
    """Unmount the job tmpfs; with ``keep`` copy what the trusted side wrote (``in/``) first.

    Nothing of ``out/`` is copied as files (it is sandbox-controlled); the executed notebook
    and the result were already read safely and are written by ``grade_notebook``.
    """
    if keep and (job.box / "in").is_dir():
        shutil.rmtree(job.root / "in", ignore_errors=True)
        shutil.copytree(job.box / "in", job.root / "in", symlinks=True)
    if job.mounted:
        jail.unmount(job.box)
    if not keep:
        shutil.rmtree(job.root, ignore_errors=True)


# --------------------------------------------------------------------------- main entry


def grade_notebook(
    assignment_id: str,
    notebook: bytes,
    *,
    slot: int = 0,
    workdir: Path | None = None,
    assignment: Assignment | None = None,
    released: Any = None,
    limits: Limits | None = None,
    allow_unsandboxed: bool | None = None,
    lang: str = "ja",
    warm_pool: WarmPool | None = None,
) -> GradeResult:
    """Grade one uploaded notebook (see docs/ARCHITECTURE.md, "Engine API").

    Never raises for a bad upload: returns ``status="rejected"`` with ``error_message``.
    ``assignment``/``released`` override the spec registry and ``assignments/<id>.ipynb``
    (tests use tiny ones); ``limits`` overrides the default limits; ``allow_unsandboxed``
    (default: env ``GRADER_ALLOW_UNSANDBOXED=1``) permits limits-only mode without bwrap.
    ``warm_pool``: a worker's pre-started sandbox, used for this job when it serves it.
    """
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    result = GradeResult(assignment=assignment_id, status="error")

    def reject(status: str, ja: str, en: str) -> GradeResult:
        result.status = status
        result.error_message = {"ja": ja, "en": en}
        timings["total"] = time.monotonic() - t_start
        result.timings = timings
        return result

    spec = assignment or _get_spec(assignment_id)
    if spec is None:
        return reject(
            "rejected",
            f"課題 {assignment_id!r} は存在しません。",
            f"There is no assignment {assignment_id!r}.",
        )
    result.title = dict(spec.title)
    result.max_score = spec.max_score
    if released is None:
        try:
            released = load_released(assignment_id)
        except (OSError, ValueError) as exc:
            return reject(
                "error",
                f"配布版ノートブック {assignment_id}.ipynb が読めません (サーバーの設定)。",
                f"The released notebook {assignment_id}.ipynb cannot be read "
                f"(server configuration): {exc}",
            )
    timings["load"] = time.monotonic() - t_start  # spec + released notebook (cached after)
    # 1. validate
    t = time.monotonic()
    nb = None
    try:
        nb = parse_notebook(bytes(notebook))
        check_belongs(nb, released, assignment_id)
    except RejectedUpload as exc:
        timings["validate"] = time.monotonic() - t
        ja, en = exc.message["ja"], exc.message["en"]
        other = (
            _owning_assignment(nb, assignment_id) if nb is not None and assignment is None else None
        )
        if other:
            ja += f" このノートブックは課題 {other} のものです。提出先に {other} を選んでください。"
            en += f" It is a notebook of assignment {other}: submit it there."
        return reject("rejected", ja, en)
    timings["validate"] = time.monotonic() - t
    # 2. restore locked cells, neutralise self-checks
    t = time.monotonic()
    nb, restored = restore_locked_cells(nb, released)
    neutralise_check_cells(nb)
    result.restored_cells = restored
    if restored:
        result.log.append("restored locked cells: " + ", ".join(restored))
    result.log.extend(skip_ignored_cells(nb, released, tuple(it.probe for it in spec.items)))
    timings["restore"] = time.monotonic() - t
    # 3. execute in the sandbox
    limits = limits or Limits()
    limits = limits.with_(
        notebook_timeout=limits.notebook_timeout or spec.notebook_timeout,
        cell_timeout=limits.cell_timeout or spec.cell_timeout,
    )
    ok, why = jail.bwrap_usable()
    mode = "bwrap" if ok else "limits-only"
    if not ok:
        allowed = _allow_unsandboxed_default() if allow_unsandboxed is None else allow_unsandboxed
        if not allowed:
            return reject(
                "error",
                "サンドボックス (bubblewrap) が使えないため採点できません。",
                f"Cannot grade: the bubblewrap sandbox is unavailable ({why}); "
                "pass --allow-unsandboxed (or GRADER_ALLOW_UNSANDBOXED=1) to grade with "
                "process limits only.",
            )
        msg = f"WARNING: sandbox unavailable ({why}); grading with process limits only"
        log.warning(msg)
        result.log.append(msg)
    result.sandbox_mode = mode
    warm = (
        warm_pool.take(mode, limits, lang, spec.uses_mnist) if warm_pool and not workdir else None
    )
    try:
        with warm.holding_slot() if warm else _slot_lease(mode, slot) as leased:
            if leased != slot:
                result.log.append(f"slot {slot} was busy; graded in slot {leased}")
                slot = leased
            for attempt in range(1, SANDBOX_START_ATTEMPTS + 1):
                if warm and attempt == 1:  # a retry starts cold
                    job = _JobPaths(
                        warm.root,
                        warm.box,
                        warm.mounted,
                        jail.JOB_IN,
                        jail.JOB_OUT,
                        MNIST_IN_JOB,
                        jail.STAGE_IN_SANDBOX,
                        "/tmp",
                        warm,
                    )
                else:
                    job = _make_job(workdir, mode, limits, slot)
                try:
                    _execute_and_score(
                        result, spec, copy.deepcopy(nb), job, limits, slot, mode, lang, timings
                    )
                    break
                except SandboxStartFailed as exc:
                    result.log.append(f"attempt {attempt}: the notebook runner failed: {exc}")
                finally:
                    t = time.monotonic()
                    _cleanup_job(job, keep=workdir is not None)
                    timings["cleanup"] = time.monotonic() - t
            else:
                return reject(
                    "error",
                    "採点サーバー側でノートブックの実行環境を起動できませんでした "
                    "(あなたのノートブックの問題ではありません)。もう一度提出してください。",
                    "The grader could not start the notebook's kernel (not a problem of your "
                    "notebook); please submit again.",
                )
    except slots.NoFreeSlot as exc:
        return reject(
            "error",
            "採点スロットがすべて使用中です。しばらくしてから再提出してください。",
            f"Cannot grade now: {exc}; submit again later.",
        )
    timings["total"] = time.monotonic() - t_start
    result.timings = timings
    if workdir is not None:
        (job.root / "result.json").write_text(json.dumps(result.to_dict(), ensure_ascii=False))
        if result.executed_notebook:
            (job.root / "executed.ipynb").write_text(result.executed_notebook, encoding="utf-8")
    return result


def _execute_and_score(
    result: GradeResult,
    spec: Assignment,
    nb: Any,
    job: _JobPaths,
    limits: Limits,
    slot: int,
    mode: str,
    lang: str,
    timings: dict[str, float],
) -> None:
    import nbformat

    t = time.monotonic()
    # One TrustedData per job (its arrays are cached per process): the job's own MNIST code
    # lives on it, and two jobs graded at once in one process must not share one.
    data = TrustedData()
    seed = new_seed()
    mnist_host = None
    if spec.uses_mnist:  # this job's own file, in a secret code (mnist_sandbox.py)
        from grader.engine.mnist_sandbox import job_rng, write_job_mnist

        code_rng = job_rng(json.dumps(nb, sort_keys=True).encode())  # same notebook, same code
        data.job_mnist = write_job_mnist(job.root / "mnist.npz", data, code_rng)
        mnist_host = data.job_mnist.path
        timings["prepare.mnist"] = time.monotonic() - t
    inputs = make_inputs(spec, seed, data)
    write_inputs(job.job_in / "inputs.npz", inputs)
    mnist_seen = job.mnist_seen if mode == "bwrap" else (str(mnist_host) if mnist_host else None)
    probe = nbformat.v4.new_code_cell(
        probe_source(
            [(it.id, it.probe) for it in spec.items],
            f"{job.in_seen}/inputs.npz",
            f"{job.out_seen}/probe",
            mnist_seen if spec.uses_mnist else None,
        )
    )
    probe.metadata[PROBE_MARK] = True
    nb.cells.append(probe)
    (job.job_in / "notebook.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    report_fd = runner_report.open_report(job.root)
    cfg = {
        "notebook": f"{job.in_seen}/notebook.ipynb",
        "report_fd": report_fd,
        "workdir": f"{job.tmp_seen}/work",
        "kernel_name": jail.KERNEL_NAME,
        "cell_timeout": limits.cell_timeout,
        "notebook_timeout": limits.notebook_timeout,
        "output_bytes": limits.output_bytes,
        "probe_cell_index": len(nb.cells) - 1,
    }
    (job.job_in / "run.json").write_text(json.dumps(cfg))
    for p in job.job_in.iterdir():
        p.chmod(0o644)
    env = jail.sandbox_env(
        lang, mnist_seen if spec.uses_mnist else None, stage=job.stage_seen, tmp=job.tmp_seen
    )
    timings["prepare"] = time.monotonic() - t

    t = time.monotonic()
    try:
        if job.warm:  # its environment was set when it started, from the same settings
            run = job.warm.go(limits, mnist_host)
        else:
            run = jail.run_sandboxed(
                job.box,
                limits,
                slot,
                env,
                mnist_host,
                mode,
                tag=f"{os.getpid()}-{slot}-{seed % 10**8}",
                report_fd=report_fd,
            )
    finally:
        os.close(report_fd)
    timings["sandbox"] = time.monotonic() - t
    if mnist_host is not None:
        mnist_host.unlink(missing_ok=True)
    if run.cpu_seconds is not None:
        timings["sandbox.cpu"] = run.cpu_seconds
    result.log.extend(run.weakened)
    if run.killed_by_wall_clock:
        result.log.append("the run was killed by the outside wall clock")
    if run.oom_killed:
        result.log.append("the memory limit was hit (processes of the job were killed)")
    if run.peak_memory:
        result.log.append(f"peak memory {run.peak_memory / 2**20:.0f} MB")

    t = time.monotonic()
    report = runner_report.read_report(job.root, limits)
    status = report.status
    result.log.extend(report.problems)
    runner_error = _printable(status["error"] or "")[:300]
    if status["state"] == "runner_error" and "kernel_start" not in status["timings"]:
        # Nothing of the student's ran yet: the grader's side failed (seen once in 200 jobs
        # under load). Retried in a fresh sandbox rather than scored as zero.
        raise SandboxStartFailed(runner_error or "no message")
    if runner_error:
        result.log.append(f"notebook runner error: {runner_error}")
    if status["write_error"]:
        result.log.append(f"the runner could not report the notebook: {status['write_error']}")
    for k, v in status["timings"].items():
        timings[f"sandbox.{k}"] = v
    result.run_state = {
        "state": status["state"],
        "stopped": status["stopped"],
        "killed_by_wall_clock": run.killed_by_wall_clock,
        "oom_killed": run.oom_killed,
        "returncode": run.returncode,
        "peak_memory_mb": round(run.peak_memory / 2**20, 1) if run.peak_memory else None,
    }
    result.executed_notebook, problems = runner_report.executed_notebook(
        nb, report.notebook, stored_notebook_cap(limits)
    )
    result.log.extend(problems)
    if result.executed_notebook:  # shown to the student: no host path in it
        result.executed_notebook = hide_host_paths(result.executed_notebook)
    reason = _why_not_run(result.run_state)
    setup_error = _read_setup_error(job.job_out)
    if setup_error:
        reason = {
            "ja": f"採点用コードの準備に失敗しました: {setup_error}",
            "en": f"The grading probe could not start: {setup_error}",
        }
    for index, item in enumerate(spec.items):
        outs = read_item_outputs(job.job_out, index)
        result.items.append(_score_item(item, index, inputs[index], outs, data, reason, result))
    result.status = "graded"
    timings["score"] = time.monotonic() - t


def _read_setup_error(out_dir: Path) -> str | None:
    """The probe's own start-up error (e.g. the notebook deleted numpy), if any."""
    from grader.jail.outputs import read_text

    probe = open_dirs(out_dir, "probe")
    if probe is None:
        return None
    try:
        text = read_text(probe, "setup_error.txt", 2000)
        return text.strip() if text else None
    finally:
        os.close(probe)


def _why_not_run(state: dict) -> dict[str, str]:
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


def _score_item(item, index, inputs, outs, data, reason, result) -> ItemResult:
    res = ItemResult(
        id=item.id, title=dict(item.title), points=0.0, max_points=float(item.points), passed=False
    )
    if outs.error is not None:
        first = outs.error.split("\n---\n", 1)[0].strip()[:500]
        res.probe_error = outs.error
        res.message = {
            "ja": f"あなたのコードを呼び出したときにエラーが発生しました: {first}",
            "en": f"Your code raised an error when the grader called it: {first}",
        }
        explained = explain_exception(outs.error, inputs)
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
    if not outs.done:
        res.message = dict(reason)
        return res
    ctx = ScoreContext(inputs, outs.arrays, data, item.id)
    try:
        verdict = item.score(ctx)
        if not isinstance(verdict, Verdict):
            raise TypeError(f"score() returned {type(verdict).__name__}, not Verdict")
    except ProbeOutputError as exc:
        res.message = dict(exc.message)
        if outs.problems:
            extra = "; ".join(outs.problems)[:300]
            res.message = {
                "ja": res.message["ja"] + f" (読めなかった出力: {extra})",
                "en": res.message["en"] + f" (unreadable outputs: {extra})",
            }
        return res
    except Exception:
        tb = traceback.format_exc(limit=5)
        log.error("internal error scoring %s:\n%s", item.id, tb)
        result.log.append(f"internal error scoring {item.id}: {tb.strip().splitlines()[-1]}")
        res.message = {
            "ja": "採点側の内部エラーです (担当者に連絡してください)。",
            "en": "Internal grader error while scoring this item (please tell the staff).",
        }
        return res
    frac = verdict.fraction
    frac = 0.0 if not (isinstance(frac, int | float) and math.isfinite(frac)) else frac
    frac = min(1.0, max(0.0, float(frac)))
    res.points = round(frac * float(item.points), 6)
    res.passed = frac >= 1.0
    res.error = verdict.error
    res.tolerance = verdict.tolerance
    res.message = dict(verdict.message)
    if verdict.hint is not None and not res.passed:
        res.hint = verdict.hint.to_dict()
    return res
