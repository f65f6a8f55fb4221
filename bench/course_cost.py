"""What grading one student's whole course costs, with and without skipping ignored cells.

Usage: .venv/bin/python bench/course_cost.py [--before-ref REF] [assignment ids ...]

Grades each solution notebook (default: all 16) through the real pipeline (sandbox on), twice,
one after the other:

* before: without skipping, i.e. against the released notebook with its ``grader_ignore`` tags
  removed; with ``--before-ref REF`` the solution and the released notebook as they were at
  git revision REF instead (e.g. the commit before the tags and the smaller training runs);
* after: the current solution against the current released notebook (tagged cells skipped).

Prints per notebook the CPU seconds (the sandbox's cgroup CPU plus this process's own CPU
for the call) and wall seconds of each, the score, and whether every item's verdict (points,
pass, hint id) is the same; then the totals and the after/before ratio. Figures only: never a
test assertion. The load average is printed because other work on the machine moves them.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from grader.engine import grade_notebook  # noqa: E402
from grader.engine.pipeline import load_released  # noqa: E402
from grader.jail import sandbox_policy  # noqa: E402
from grader.notebooks.ignore import IGNORE_TAG  # noqa: E402
from grader.specs import all_assignments, get_assignment  # noqa: E402


def untagged(released):
    """The released notebook without ``grader_ignore`` tags: every cell runs."""
    nb = copy.deepcopy(released)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags")
        if tags and IGNORE_TAG in tags:
            cell.metadata.tags = [t for t in tags if t != IGNORE_TAG]
    return nb


def at_revision(ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def grade(aid: str, notebook: bytes, released) -> dict:
    cpu0 = time.process_time()
    result = grade_notebook(
        get_assignment(aid), notebook, policy=sandbox_policy(False), released=released
    )
    own_cpu = time.process_time() - cpu0
    d = result.to_dict()
    sandbox_cpu = d["timings"].get("sandbox.cpu")
    return {
        "cpu": None if sandbox_cpu is None else sandbox_cpu + own_cpu,
        "wall": d["timings"]["total"],
        "score": d["score"],
        "max": d["max_score"],
        "status": d["status"],
        "verdicts": [
            (it["id"], it["passed"], it["points"], (it["hint"] or {}).get("id"))
            for it in d["items"]
        ],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ids", nargs="*", help="assignment ids (default: all)")
    ap.add_argument("--before-ref", help="git revision whose notebooks are the 'before' run")
    args = ap.parse_args()
    ids = args.ids or [a.id for a in all_assignments()]
    print(f"load average {os.getloadavg()[0]:.2f}; before = ", end="")
    print(f"notebooks at {args.before_ref}" if args.before_ref else "no skipping", flush=True)
    head = f"{'notebook':28s} {'CPU before':>10s} {'CPU after':>10s} {'wall before':>11s} "
    print(head + f"{'wall after':>10s}  score  same verdicts")
    totals = [0.0, 0.0, 0.0, 0.0]
    all_same = True
    for aid in ids:
        current = (REPO / "solutions" / f"{aid}.ipynb").read_bytes()
        released = load_released(aid)
        if args.before_ref:
            old_nb = at_revision(args.before_ref, f"solutions/{aid}.ipynb").encode()
            old_rel = nbformat.reads(at_revision(args.before_ref, f"assignments/{aid}.ipynb"), 4)
            before = grade(aid, old_nb, old_rel)
        else:
            before = grade(aid, current, untagged(released))
        after = grade(aid, current, released)
        same = before["verdicts"] == after["verdicts"] and before["status"] == after["status"]
        all_same &= same
        for i, v in enumerate((before["cpu"], after["cpu"], before["wall"], after["wall"])):
            totals[i] += v or 0.0

        def fmt(v):
            return "   n/a" if v is None else f"{v:6.1f} s"

        print(
            f"{aid:28s} {fmt(before['cpu']):>10s} {fmt(after['cpu']):>10s} "
            f"{fmt(before['wall']):>11s} {fmt(after['wall']):>10s}  "
            f"{after['score']:g}/{after['max']:g}  {'yes' if same else 'NO'}",
            flush=True,
        )
        if not same:
            print("    before: " + json.dumps(before["verdicts"]))
            print("    after:  " + json.dumps(after["verdicts"]))
    cb, ca, wb, wa = totals
    print(
        f"{'total':28s} {cb:8.1f} s {ca:8.1f} s {wb:9.1f} s {wa:8.1f} s"
        f"  CPU after/before {ca / cb if cb else float('nan'):.2f}, "
        f"wall after/before {wa / wb if wb else float('nan'):.2f}; "
        f"verdicts {'all the same' if all_same else 'DIFFER'}"
    )
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
