"""``grader worker``: the grading loop on its own, for more machines on one database."""

from __future__ import annotations

import argparse
import logging
import sys

from grader.commands import argtypes
from grader.service.lanes import LANES, LIGHT_SECONDS


def add_grading_options(p: argparse.ArgumentParser) -> None:
    """Options of the grading itself, shared with ``grader serve`` (which passes them on to its
    workers)."""
    p.add_argument(
        "--lease-seconds",
        type=argtypes.positive_seconds,
        default=60.0,
        help="job lease (default 60)",
    )
    p.add_argument(
        "--grade-fn",
        default=None,
        metavar="MODULE:FUNCTION",
        help="grade with this function instead of the engine (smoke tests of a deployment)",
    )
    p.add_argument(
        "--no-warm-sandboxes",
        dest="warm_sandboxes",
        action="store_false",
        help="start each job's sandbox when the job arrives; by default each worker keeps "
        "the next job's sandbox started (kernel up, used for one job only), which saves "
        "the kernel's start-up on every job",
    )


def register(subparsers) -> None:
    from grader.service.cli_common import add_store_options

    p = subparsers.add_parser(
        "worker",
        help="run one grading worker against the service database",
        description="Claim queued submissions from the database, grade them with the engine "
        "and write the results. Run any number of these, on any machine that reaches the "
        "database (PostgreSQL for more than one machine). SIGTERM/SIGINT: finish the current "
        "job and stop; a second signal gives the job back to the queue.",
    )
    add_store_options(p)
    add_grading_options(p)
    p.add_argument(
        "--slot",
        type=argtypes.slot,
        default=0,
        help="preferred engine slot (its own sandbox uid); when another job on this machine "
        "holds it, the first free slot is used (default 0)",
    )
    p.add_argument(
        "--poll-interval",
        type=argtypes.positive_seconds,
        default=0.05,
        help="longest idle poll period, seconds",
    )
    p.add_argument(
        "--max-jobs", type=argtypes.positive_int, default=None, help="exit after this many jobs"
    )
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade even when bubblewrap is unavailable (process limits only)",
    )
    p.add_argument(
        "--lane",
        choices=LANES,
        default="any",
        help="claim order: 'any' takes the next job in the fair order (per-student round "
        "robin), 'light-first' takes jobs its assignment's past gradings expect to finish "
        "within --light-seconds first (grader serve gives slot 0 this lane when it runs two "
        "or more workers), 'fifo' the oldest first (a benchmark's baseline) (default any)",
    )
    p.add_argument(
        "--light-seconds",
        type=argtypes.positive_seconds,
        default=LIGHT_SECONDS,
        help=f"light-first: a light job's expected run time at most (default {LIGHT_SECONDS:g})",
    )
    p.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grader.jail import sandbox_policy
    from grader.jail.warm import WarmPool
    from grader.service.cli_common import (
        SANDBOX_REFUSAL,
        UNSANDBOXED_BANNER,
        config_from,
        open_store,
    )
    from grader.service.grading import load_grade_fn
    from grader.service.worker import Worker, WorkerOptions

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s worker[{args.slot}] %(levelname)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    policy = sandbox_policy(args.allow_unsandboxed)
    if not args.grade_fn and policy.mode != "bwrap":
        if not policy.may_grade:
            print(SANDBOX_REFUSAL, file=sys.stderr)
            return 3
        print(UNSANDBOXED_BANNER, file=sys.stderr)
    cfg = config_from(args, lease_seconds=args.lease_seconds)
    engine, _ = open_store(cfg)
    warm_pool = WarmPool(args.slot) if args.warm_sandboxes and not args.grade_fn else None
    worker = Worker(
        engine,
        load_grade_fn(args.grade_fn, policy, warm_pool),
        WorkerOptions(
            slot=args.slot,
            lease_seconds=args.lease_seconds,
            poll_interval=args.poll_interval,
            parent_pid=args.parent_pid,
            max_jobs=args.max_jobs,
            lane=args.lane,
            light_seconds=args.light_seconds,
            warm_pool=warm_pool,
        ),
    )
    worker.install_signal_handlers()
    logging.info("worker %s ready (db %s)", worker.worker_id, engine.url.render_as_string())
    done = worker.run()
    logging.info("worker %s stopped after %d jobs", worker.worker_id, done)
    return 0
