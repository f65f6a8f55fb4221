"""``grader validate``: the course's notebooks against the grader, through the real pipeline.

Every ``solutions/<id>.ipynb`` must earn full marks and every ``assignments/<id>.ipynb`` (the
blank student version) must earn zero. Exit 0 when all hold, 1 otherwise, 3 when the sandbox
is unavailable and ``--allow-unsandboxed`` was not given.
"""

from __future__ import annotations

import argparse
import queue
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from grader.commands import argtypes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check that solutions/ earn full marks and assignments/ earn zero",
        description=__doc__,
    )
    p.add_argument("ids", nargs="*", help="assignment ids (default: all with a notebook)")
    p.add_argument("--repo", type=Path, default=Path("."), help="the course checkout")
    p.add_argument(
        "--jobs", "-j", type=argtypes.count, default=0, help="parallel jobs (default: cores)"
    )
    p.add_argument("--allow-unsandboxed", action="store_true", help="process limits only")
    p.set_defaults(func=run)


def check_one(aid: str, kind: str, path: Path, slot: int, allow: bool) -> tuple[bool, str]:
    """Grade ``path``; ``kind`` "solution" must score full marks, "assignment" zero."""
    from grader.engine.pipeline import grade_notebook, load_released

    try:
        released = load_released(aid, path.parent.parent / "assignments")
    except (OSError, ValueError) as exc:
        return False, f"released notebook unreadable ({exc}); run `grader build`"
    res = grade_notebook(
        aid, path.read_bytes(), slot=slot, released=released, allow_unsandboxed=allow
    )
    if res.status != "graded":
        return False, f"{res.status}: {res.error}"
    want = res.max_score if kind == "solution" else 0.0
    ok = abs(res.score - want) < 1e-9
    bad = [
        f"{i.id} {i.points:g}/{i.max_points:g} ({i.message.get('en', '')[:120]})"
        for i in res.items
        if (kind == "solution" and not i.passed) or (kind == "assignment" and i.points > 0)
    ]
    detail = f"{res.score:g}/{res.max_score:g} in {res.timings.get('total', 0):.1f}s"
    return ok, detail + ("" if ok else "\n      " + "\n      ".join(bad))


def run(args: argparse.Namespace) -> int:
    import os

    from grader.engine.pipeline import sandbox_status
    from grader.specs import assignment_ids

    status = sandbox_status()
    if not status["bwrap"] and not args.allow_unsandboxed:
        print(f"grader validate: sandbox unavailable ({status['reason']})", file=sys.stderr)
        return 3
    known = assignment_ids()
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        print(f"grader validate: unknown assignment(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    ids = args.ids or known
    tasks = []
    for aid in ids:
        for kind, folder in (("solution", "solutions"), ("assignment", "assignments")):
            path = args.repo / folder / f"{aid}.ipynb"
            if path.is_file():
                tasks.append((aid, kind, path))
            elif args.ids:
                print(f"missing {path}", file=sys.stderr)
                return 1
    if not tasks:
        print("grader validate: no notebooks found", file=sys.stderr)
        return 1
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    slots: queue.Queue[int] = queue.Queue()
    for s in range(jobs):
        slots.put(s)

    def work(task):
        slot = slots.get()
        try:
            return task, check_one(*task, slot, args.allow_unsandboxed)
        finally:
            slots.put(slot)

    failures = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (_aid, kind, path), (ok, detail) in pool.map(work, tasks):
            failures += not ok
            want = "full marks" if kind == "solution" else "zero"
            print(f"{'ok  ' if ok else 'FAIL'} {path} (want {want}): {detail}")
    print(f"{len(tasks) - failures}/{len(tasks)} notebooks as expected")
    return 0 if failures == 0 else 1
