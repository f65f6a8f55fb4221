"""Fairness at a deadline: FIFO against the fair claim order, side by side in one run.

    .venv/bin/python bench/fairness.py [--students 10] [--heavy 20] [--light 20] [--workers 2]
        [--spread 0] [--seed 0] [--grade-fn MODULE:FUNCTION]

Two real ``grader worker`` processes (the real engine, sandbox on) grade the same mix twice
on one SQLite database: first with every worker in the old FIFO order (``--lane fifo``), then
with the lanes ``grader serve`` gives them (slot 0 ``light-first``, the others ``any``: the
per-student round robin of grader/service/queue.py). The mix: ``--heavy`` 2-4 and ``--light``
3-1-2 solution submissions from ``--students`` students, dealt round-robin and shuffled with
``--seed``, all arriving at once (``--spread S``: uniformly over S seconds instead). One graded
run of each notebook comes first, so that the fair order has learned their run times from
past gradings, as it does in service.

Prints, per order: light jobs' wait (claim − upload) p50 / p95 in seconds and as a multiple
of their own grading time (the job's run), the same for heavy jobs, the largest wait any
student's job had, and throughput (jobs / (last result − first upload)); then the fair
order's throughput relative to FIFO's. ``--grade-fn structural_grader:grade`` swaps
the engine for sleeps of the measured run times (a quick run of the scheduling alone).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from grader.service import auth
from grader.service.catalog import Catalog
from grader.service.config import ServiceConfig
from grader.service.db import make_engine, make_sessionmaker, migrate
from grader.service.lanes import serve_lane
from grader.service.models import Job
from grader.service.state import AppState

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))  # test helpers (live_service, structural_grader)
from live_service import REPO, released_env  # noqa: E402

from grader.service.submissions import create_submission  # noqa: E402

HEAVY, LIGHT = "2-4_multilayer_mnist", "3-1-2_softmax_with_loss"
SIMULATED_SECONDS = {HEAVY: 15.0, LIGHT: 1.3}  # issue 12's measured run times


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def notebook(assignment: str, simulated: bool) -> bytes:
    raw = (REPO / "solutions" / f"{assignment}.ipynb").read_bytes()
    if not simulated:
        return raw
    nb = json.loads(raw)
    nb["metadata"]["structural_grader_seconds"] = SIMULATED_SECONDS[assignment]
    return json.dumps(nb).encode()


class Workers:
    def __init__(self, home: Path, lanes: list[str], grade_fn: str | None) -> None:
        self.procs = []
        for slot, lane in enumerate(lanes):
            cmd = [sys.executable, "-m", "grader.cli", "worker", "--home", str(home),
                   "--slot", str(slot), "--lane", lane, "--poll-interval", "0.05"]  # fmt: skip
            if grade_fn:
                cmd += ["--grade-fn", grade_fn]
            log = open(home / f"worker-{lane}-{slot}.log", "ab")  # noqa: SIM115
            env = {**os.environ, "PYTHONPATH": str(TESTS)}  # for --grade-fn structural_grader:grade
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(120)


def wait_done(st: AppState, ids: list[str], timeout: float) -> list[tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with st.sessions() as s:
            rows = s.execute(
                select(Job.submission_id, Job.status, Job.user_id, Job.assignment_id,
                       Job.created_at, Job.claimed_at, Job.finished_at)
                .where(Job.submission_id.in_(ids))
            ).all()  # fmt: skip
        if len(rows) == len(ids) and all(r[1] in ("done", "failed") for r in rows):
            failed = [r for r in rows if r[1] == "failed"]
            if failed:
                raise SystemExit(f"{len(failed)} jobs failed; see the worker logs")
            return rows
        time.sleep(0.5)
    raise SystemExit(f"not all graded within {timeout} s")


def run_batch(st, home, lanes, grade_fn, mix, spread, simulated, timeout):  # noqa: ANN001
    workers = Workers(home, lanes, grade_fn)
    try:
        ids, t0 = [], time.time()
        for i, (student, assignment) in enumerate(mix):
            if spread:
                time.sleep(max(0.0, t0 + spread * i / len(mix) - time.time()))
            who = auth.Principal(student, "student", "", 0)
            nb = notebook(assignment, simulated)
            ids.append(create_submission(st, who, assignment, "hw.ipynb", nb).id)
        return wait_done(st, ids, timeout)
    finally:
        workers.stop()


def light_floor(rows: list[tuple], workers: int) -> float:
    """The p95 light wait no order can beat when all arrive at once: every worker grading
    light jobs only, back to back, from the first upload."""
    light = [r for r in rows if r[3] == LIGHT]
    run = statistics.median(r[6] - r[5] for r in light)
    waits = [(k // workers) * run for k in range(len(light))]
    return pct(waits, 0.95) / run


def report(name: str, rows: list[tuple]) -> float:
    start = min(r[4] for r in rows)
    end = max(r[6] for r in rows)
    print(f"{name}:")
    for label, assignment in (("light", LIGHT), ("heavy", HEAVY)):
        mine = [r for r in rows if r[3] == assignment]
        wait = [r[5] - r[4] for r in mine]
        rel = [(r[5] - r[4]) / (r[6] - r[5]) for r in mine]
        run = statistics.median(r[6] - r[5] for r in mine)
        print(
            f"  {label} ({assignment}, n={len(mine)}, run median {run:.2f} s): wait p50 "
            f"{pct(wait, 0.5):.1f} s p95 {pct(wait, 0.95):.1f} s; relative to own grading time "
            f"p50 {pct(rel, 0.5):.1f}x p95 {pct(rel, 0.95):.1f}x"
        )
    worst = {}
    for r in rows:
        worst[r[2]] = max(worst.get(r[2], 0.0), r[5] - r[4])
    tput = len(rows) / (end - start)
    print(
        f"  longest wait per student: max {max(worst.values()):.1f} s, min "
        f"{min(worst.values()):.1f} s; makespan {end - start:.1f} s; throughput "
        f"{60 * tput:.2f} jobs/min"
    )
    return tput


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=10)
    ap.add_argument("--heavy", type=int, default=20)
    ap.add_argument("--light", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--spread", type=float, default=0.0, help="arrivals over this many seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grade-fn", default=None)
    ap.add_argument("--timeout", type=float, default=3600.0)
    args = ap.parse_args()
    simulated = bool(args.grade_fn)
    tmp = Path(tempfile.mkdtemp(prefix="fairness-bench-"))
    os.environ.update(released_env(tmp / "released"))
    home = tmp / "home"
    cfg = ServiceConfig(home=home, max_queued_per_student=10_000)
    cfg.ensure_home()
    engine = make_engine(cfg.db_url)
    migrate(engine)
    st = AppState(cfg, engine, make_sessionmaker(engine), Catalog(cfg.policy_file), "bwrap")
    students = [f"st{i:02d}" for i in range(args.students)]
    with st.sessions.begin() as s:
        for u in [*students, "warmup"]:
            auth.ensure_user(s, u)
    kinds = [HEAVY] * args.heavy + [LIGHT] * args.light
    mix = [(students[i % len(students)], a) for i, a in enumerate(kinds)]
    random.Random(args.seed).shuffle(mix)
    fair_lanes = [serve_lane(slot, args.workers) for slot in range(args.workers)]
    print(
        f"{args.heavy} x {HEAVY} + {args.light} x {LIGHT} from {args.students} students, "
        f"{args.workers} workers, arrivals over {args.spread:g} s, "
        f"{'simulated (' + args.grade_fn + ')' if simulated else 'real engine, sandbox on'}"
    )
    warm = [("warmup", HEAVY), ("warmup", LIGHT)]
    run_batch(st, home, fair_lanes, args.grade_fn, warm, 0, simulated, args.timeout)
    fifo = run_batch(
        st, home, ["fifo"] * args.workers, args.grade_fn, mix, args.spread, simulated,
        args.timeout,
    )  # fmt: skip
    fair = run_batch(st, home, fair_lanes, args.grade_fn, mix, args.spread, simulated, args.timeout)
    t_fifo = report("FIFO (--lane fifo on every worker)", fifo)
    t_fair = report(f"fair order (lanes {', '.join(fair_lanes)})", fair)
    print(f"fair throughput / FIFO throughput: {100 * t_fair / t_fifo:.1f}%")
    if not args.spread:
        print(
            f"floor for light p95 with {args.light} arriving at once on {args.workers} workers "
            f"(all workers on light jobs only): {light_floor(fair, args.workers):.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
