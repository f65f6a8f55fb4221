"""``grader grade NOTEBOOK [...]``: grade notebooks locally through the sandboxed pipeline.

Writes ``<name>.result.json`` and ``<name>.feedback.html`` per notebook and prints a summary.

Exit codes: 0 every notebook graded; 1 some rejected or errored; 2 usage error (missing file,
unknown assignment, bad option); 3 the sandbox is unavailable and ``--allow-unsandboxed`` was
not given; 4 the grader's own fault: a spec that does not load, or an internal error while
scoring an item (its spec's file and line are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from grader.commands import argtypes

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_NO_SANDBOX, EXIT_INTERNAL = 0, 1, 2, 3, 4


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade notebooks in the sandbox; write result JSON and HTML feedback",
        description=__doc__.replace("``", ""),  # the docstring without its reST markup
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    p.add_argument(
        "--assignment",
        help="assignment id (default: from the notebook metadata, file name or graded cells)",
    )
    p.add_argument(
        "--jobs", "-j", type=argtypes.count, default=0, help="parallel jobs (default: cores)"
    )
    p.add_argument("--out", type=Path, help="output folder (default: next to each notebook)")
    p.add_argument(
        "--gradescope",
        type=Path,
        metavar="PATH",
        help="write Gradescope's results.json: to PATH for one notebook, to "
        "PATH/<notebook>/results.json for several",
    )
    p.add_argument(
        "--prairielearn", type=Path, metavar="DIR", help="write PrairieLearn results.json"
    )
    p.add_argument("--lang", choices=("ja", "en"), default="ja", help="feedback language")
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="grade with process limits only when bubblewrap cannot run (UNSAFE)",
    )
    p.add_argument("--no-html", action="store_true", help="skip the HTML feedback files")
    p.set_defaults(func=run)


def infer_assignment(path: Path, data: bytes, specs: list) -> str | None:
    """The assignment of the notebook at ``path`` (``grader.engine.identify``'s one rule)."""
    from grader.engine.identify import identify

    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        nb = None
    return identify(nb, specs, file_stem=path.stem)


def run(args: argparse.Namespace) -> int:
    from grader.jail import sandbox_policy
    from grader.specs import SpecLoadError, all_assignments

    missing = [p for p in args.notebooks if not p.is_file()]
    if missing:
        print(f"grader grade: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        specs = all_assignments()
    except SpecLoadError as exc:
        print(f"grader grade: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    ids = [spec.id for spec in specs]
    if args.assignment and args.assignment not in ids:
        print(
            f"grader grade: unknown assignment {args.assignment!r}; known: {', '.join(ids)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    policy = sandbox_policy(args.allow_unsandboxed)
    if policy.mode != "bwrap":
        if not policy.may_grade:
            print(
                "grader grade: the bubblewrap sandbox cannot run here "
                f"({policy.reason}).\nRefusing to run student code without it; pass "
                "--allow-unsandboxed to grade with process limits only (UNSAFE).",
                file=sys.stderr,
            )
            return EXIT_NO_SANDBOX
        print(
            "!" * 70 + "\nWARNING: grading WITHOUT the sandbox (process limits only): "
            f"{policy.reason}\n" + "!" * 70,
            file=sys.stderr,
        )
    jobs = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    jobs = max(1, min(jobs, len(args.notebooks)))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    outcomes = grade_many(args, specs, policy, jobs)
    print_summary(outcomes)
    write_exports(args, outcomes)
    return exit_code(outcomes)


def exit_code(outcomes: list[dict]) -> int:
    """4 when the grader itself failed on an item (printed with its spec's file:line), else
    1 when a notebook was not graded, else 0."""
    faults = [
        (o["name"], item)
        for o in outcomes
        for item in o["result"]["items"]
        if item.get("scoring_error")
    ]
    for name, item in faults:
        print(
            f"grader grade: {name}: internal scoring error in {item['id']}: "
            f"{item['scoring_error']}",
            file=sys.stderr,
        )
    if faults:
        return EXIT_INTERNAL
    ok = all(o["result"]["status"] == "graded" for o in outcomes)
    return EXIT_OK if ok else EXIT_SOME_FAILED


def grade_many(args: argparse.Namespace, specs: list, policy, jobs: int) -> list[dict]:
    from grader.engine.pipeline import grade_notebook
    from grader.engine.report import feedback_html

    slots: queue.Queue[int] = queue.Queue()
    for s in range(jobs):
        slots.put(s)
    names = output_names(args.notebooks, args.out is not None)

    def one(path: Path) -> dict:
        data = path.read_bytes()
        aid = args.assignment or infer_assignment(path, data, specs)
        t0 = time.monotonic()
        slot = slots.get()
        try:
            if aid is None:
                from grader.engine.result import GradeResult

                res = GradeResult(assignment="?", status="rejected")
                res.reason = {
                    "ja": "課題を特定できません。--assignment で指定してください。",
                    "en": "Cannot tell which assignment this is; pass --assignment.",
                }
            else:
                spec = next(s for s in specs if s.id == aid)
                res = grade_notebook(
                    spec, data, policy=policy, slot=slot, lang=args.lang, candidates=specs
                )
        finally:
            slots.put(slot)
        out_dir = args.out or path.parent
        name = names[path]
        d = res.to_dict()
        (out_dir / f"{name}.result.json").write_text(
            json.dumps(d, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        if not args.no_html:
            (out_dir / f"{name}.feedback.html").write_text(
                feedback_html(res, lang=args.lang), encoding="utf-8"
            )
        return {"path": path, "name": name, "result": d, "seconds": time.monotonic() - t0}

    outcomes: list[dict] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, p) for p in args.notebooks]
        bar = None
        if len(futures) > 1:  # tqdm's import (importlib.metadata) costs ~0.1 s: only for many
            from tqdm import tqdm

            bar = tqdm(total=len(futures), desc="grading", unit="nb", file=sys.stderr, leave=False)
        for fut in as_completed(futures):
            outcomes.append(fut.result())
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    order = {p: i for i, p in enumerate(args.notebooks)}
    outcomes.sort(key=lambda o: order[o["path"]])
    return outcomes


def output_names(paths: list[Path], shared_out: bool) -> dict[Path, str]:
    """``<stem>`` per notebook; with one shared --out folder, clashing stems get ``-2``, ``-3``."""
    names: dict[Path, str] = {}
    used: dict[tuple[Path | None, str], int] = {}
    for p in paths:
        stem = p.name[: -len(".ipynb")] if p.name.endswith(".ipynb") else p.name
        key = (None if shared_out else p.parent.resolve(), stem)
        used[key] = used.get(key, 0) + 1
        names[p] = stem if used[key] == 1 else f"{stem}-{used[key]}"
    return names


def print_summary(outcomes: list[dict]) -> None:
    rows = [("notebook", "assignment", "score", "status", "time")]
    for o in outcomes:
        r = o["result"]
        score = f"{r['score']:g}/{r['max_score']:g}" if r["status"] == "graded" else "-"
        rows.append((o["name"], r["assignment"], score, r["status"], f"{o['seconds']:.2f}s"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    for n, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for o in outcomes:
        r = o["result"]
        if r["status"] != "graded" and r.get("reason"):
            print(f"{o['name']}: {r['reason']['ja']}\n{r['reason']['en']}", file=sys.stderr)


def write_exports(args: argparse.Namespace, outcomes: list[dict]) -> None:
    from grader.service.exports import gradescope, prairielearn

    if args.gradescope:
        # Gradescope reads one results.json per submission: FILE for one notebook, else
        # FILE/<notebook>/results.json (as --prairielearn does)
        for o in outcomes:
            path = args.gradescope
            if len(outcomes) > 1:
                path = args.gradescope / o["name"] / "results.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            doc = gradescope(o["result"], args.lang)
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    if args.prairielearn:
        for o in outcomes:
            d = args.prairielearn if len(outcomes) == 1 else args.prairielearn / o["name"]
            d.mkdir(parents=True, exist_ok=True)
            (d / "results.json").write_text(
                json.dumps(prairielearn(o["result"], args.lang), ensure_ascii=False, indent=1)
            )
