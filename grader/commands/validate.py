"""``grader validate``: the course's notebooks against the grader, through the real pipeline.

It walks ``solutions/``: every notebook needs a spec (``grader/specs/``) and every spec a
notebook. Every ``solutions/<id>.ipynb`` must earn full marks with all its self-check cells
(``check("...")``) passing, and every ``assignments/<id>.ipynb`` (the blank student version)
must earn zero with none passing; the self-checks run inside the sandbox as grading does.

Exit codes: 0 all hold; 1 some do not; 2 unknown assignment id; 3 the sandbox is unavailable
and ``--allow-unsandboxed`` was not given; 4 the grader's own fault: a spec that does not load
or an internal error while scoring (the first line of its traceback with the spec's file and
line is printed).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from grader.commands import argtypes

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NO_SANDBOX, EXIT_INTERNAL = 0, 1, 2, 3, 4


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate",
        help="check that solutions/ earn full marks and assignments/ earn zero",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ids", nargs="*", help="assignment ids (default: every notebook and spec)")
    p.add_argument("--repo", type=Path, default=Path("."), help="the course checkout")
    p.add_argument(
        "--jobs", "-j", type=argtypes.count, default=0, help="parallel jobs (default: cores)"
    )
    p.add_argument("--allow-unsandboxed", action="store_true", help="process limits only")
    p.set_defaults(func=run)


@dataclass
class Checked:
    """One notebook's outcome: as expected or not, the line to print, internal errors."""

    ok: bool
    detail: str
    scoring_errors: list[str]


def unpaired(solution_ids: set[str], spec_ids: set[str]) -> list[str]:
    """A notebook without a spec and a spec without a notebook, one line each."""
    return [
        f"FAIL solutions/{i}.ipynb: no spec in grader/specs/ has the id {i!r}"
        for i in sorted(solution_ids - spec_ids)
    ] + [
        f"FAIL spec {i!r} (grader/specs/): no notebook solutions/{i}.ipynb"
        for i in sorted(spec_ids - solution_ids)
    ]


def check_one(spec, kind: str, path: Path, slot: int, policy) -> Checked:
    """Grade ``path`` with its self-checks: a "solution" must score full marks and pass every
    self-check, an "assignment" (blank) score zero and pass none."""
    from grader.engine.pipeline import grade_notebook, load_released

    try:
        released = load_released(spec.id, path.parent.parent / "assignments")
    except (OSError, ValueError) as exc:
        return Checked(False, f"released notebook unreadable ({exc}); run `grader build`", [])
    res = grade_notebook(
        spec,
        path.read_bytes(),
        policy=policy,
        slot=slot,
        released=released,
        run_self_checks=True,
    )
    faults = [f"{path}: {i.id}: {i.scoring_error}" for i in res.items if i.scoring_error]
    if res.status != "graded":
        return Checked(False, f"{res.status}: {res.reason_text}", faults)
    solution = kind == "solution"
    bad = [
        f"{i.id} {i.points:g}/{i.max_points:g} ({i.message.get('en', '')[:120]})"
        for i in res.items
        if (solution and not i.passed) or (not solution and i.points > 0)
    ]
    checks = res.self_checks
    bad += [
        f"self-check {item} {'failed' if solution else 'passed'}"
        for item, passed in checks.items()
        if passed != solution
    ]
    bad += [f"{it.id}: no self-check cell" for it in spec.items if it.id not in checks]
    detail = f"{res.score:g}/{res.max_score:g}, self-checks {sum(checks.values())}/{len(checks)}"
    detail += f" passed, in {res.timings.get('total', 0):.1f}s"
    return Checked(not bad, detail + "".join("\n      " + b for b in bad), faults)


def run(args: argparse.Namespace) -> int:
    from grader.jail import sandbox_policy
    from grader.specs import SpecLoadError, all_assignments

    try:
        specs = {spec.id: spec for spec in all_assignments()}
    except SpecLoadError as exc:
        print(f"grader validate: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    policy = sandbox_policy(args.allow_unsandboxed)
    if not policy.may_grade:
        print(f"grader validate: sandbox unavailable ({policy.reason})", file=sys.stderr)
        return EXIT_NO_SANDBOX
    unknown = [i for i in args.ids if i not in specs]
    if unknown:
        print(f"grader validate: unknown assignment(s): {', '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    solutions = {p.stem for p in (args.repo / "solutions").glob("*.ipynb")}
    wanted = set(args.ids) or solutions | set(specs)
    problems = unpaired(solutions & wanted, set(specs) & wanted)
    tasks = [
        (specs[aid], kind, args.repo / folder / f"{aid}.ipynb")
        for aid in specs
        if aid in wanted and aid in solutions
        for kind, folder in (("solution", "solutions"), ("assignment", "assignments"))
    ]
    for line in problems:
        print(line)
    failures, faults = len(problems), []
    for (_spec, kind, path), checked in _check_all(tasks, args.jobs, policy):
        failures += not checked.ok
        faults += checked.scoring_errors
        want = "full marks" if kind == "solution" else "zero"
        print(f"{'ok  ' if checked.ok else 'FAIL'} {path} (want {want}): {checked.detail}")
    total = len(tasks) + len(problems)
    print(f"{total - failures}/{total} notebooks as expected")
    for fault in faults:
        print(f"grader validate: internal scoring error: {fault}", file=sys.stderr)
    if faults:
        return EXIT_INTERNAL
    return EXIT_OK if failures == 0 and tasks else EXIT_FAILED


def _check_all(tasks: list, jobs: int, policy):
    """``(task, Checked)`` per task, ``jobs`` at a time, each in its own engine slot."""
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    slots: queue.Queue[int] = queue.Queue()
    for s in range(jobs):
        slots.put(s)

    def work(task):
        slot = slots.get()
        try:
            return task, check_one(*task, slot, policy)
        finally:
            slots.put(slot)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(work, tasks)
