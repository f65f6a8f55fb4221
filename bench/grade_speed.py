"""How fast is `grader grade` (sandboxed) next to `nbgrader autograde` and bare nbconvert?

Usage: .venv/bin/python bench/grade_speed.py [--n 20] [--jobs 2] [--skip-nbgrader]

On the 3-1-2 notebook (solutions/3-1-2_softmax_with_loss.ipynb, which earns full marks):

1. `grader grade` on one submission, then on N submissions with --jobs parallel jobs (wall
   clock of the whole command, so CLI start-up and the HTML reports are included), plus the
   per-phase timings the engine records (validate, sandbox start, runner imports, kernel
   start, cells, probe, scoring, CPU seconds inside the sandbox);
2. bare `jupyter nbconvert --to notebook --execute` (no sandbox, no grading): one, and N with
   the same parallelism;
3. `nbgrader autograde` (no sandbox), installed into a throw-away venv under /tmp: one
   student, and N students in one autograde run.

Prints figures only; timings are never test assertions. The machine's load average is printed
too, because other work on a shared machine changes every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AID = "3-1-2_softmax_with_loss"
NOTEBOOK = REPO / "solutions" / f"{AID}.ipynb"
VENV_BIN = Path(sys.executable).parent
NBGRADER_VENV = Path(tempfile.gettempdir()) / "dlgrader-bench-nbgrader-venv"


def wall(cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        print(f"  ! {' '.join(map(str, cmd[:4]))} … exited {proc.returncode}")
        print("  " + (proc.stderr or proc.stdout)[-1500:].replace("\n", "\n  "))
    return elapsed


def copies(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"{AID}-s{i:02d}.ipynb"
        shutil.copy(NOTEBOOK, p)
        paths.append(p)
    return paths


def phase_means(out: Path) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for f in out.glob("*.result.json"):
        d = json.loads(f.read_text())
        if d["score"] != d["max_score"]:
            print(f"  ! {f.name}: {d['score']}/{d['max_score']} ({d['status']})")
        for k, v in d["timings"].items():
            sums.setdefault(k, []).append(v)
    return {k: statistics.mean(v) for k, v in sums.items()}


def print_phases(means: dict[str, float]) -> None:
    order = [
        "load",
        "validate",
        "restore",
        "prepare",
        "sandbox",
        "sandbox.runner_import",
        "sandbox.kernel_start",
        "sandbox.cells",
        "sandbox.probe",
        "sandbox.total",
        "sandbox.cpu",
        "score",
        "cleanup",
        "total",
    ]
    notes = {
        "load": "spec + released notebook (first use in a process)",
        "sandbox": "bwrap start → runner exit, wall",
        "sandbox.runner_import": "runner: python + nbclient imports (kernel starts meanwhile)",
        "sandbox.kernel_start": "waiting for the kernel after the runner's imports",
        "sandbox.total": "runner's own wall clock",
        "sandbox.cpu": "CPU seconds of everything in the job's cgroup",
    }
    for k in order:
        if k in means:
            print(f"    {k:<24}{means[k]:7.3f} s   {notes.get(k, '')}")


def bench_grader(tmp: Path, n: int, jobs: int) -> None:
    grader = str(VENV_BIN / "grader")
    print("\n== grader grade (bubblewrap sandbox, setpriv, cgroup limits) ==")
    one = copies(tmp / "one", 1)
    wall([grader, "grade", *map(str, one), "--out", str(tmp / "warm")])  # stage + MNIST cache
    runs = [wall([grader, "grade", *map(str, one), "--out", str(tmp / "one-out")])]
    print_phases_one = phase_means(tmp / "one-out")  # the phases of the first timed run
    runs += [
        wall([grader, "grade", *map(str, one), "--out", str(tmp / "one-out")]) for _ in range(4)
    ]
    print(
        f"  1 submission:   {statistics.median(runs):6.2f} s median of {len(runs)} "
        f"(min {min(runs):.2f}, max {max(runs):.2f}; whole command, HTML report included)"
    )
    print_phases(print_phases_one)
    many = copies(tmp / "many", n)
    tn = wall([grader, "grade", *map(str, many), "-j", str(jobs), "--out", str(tmp / "many-out")])
    print(f"  {n} submissions, -j {jobs}: {tn:6.2f} s = {tn / n:.3f} s/submission")
    print("  per-phase means over the batch:")
    print_phases(phase_means(tmp / "many-out"))
    tn2 = wall(
        [grader, "grade", *map(str, many), "-j", str(jobs), "--no-html"]
        + ["--out", str(tmp / "many-out2")]
    )
    print(f"  {n} submissions, -j {jobs}, --no-html: {tn2:6.2f} s = {tn2 / n:.3f} s/submission")


def bench_nbconvert(tmp: Path, n: int, jobs: int) -> None:
    jupyter = str(VENV_BIN / "jupyter")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    print("\n== bare jupyter nbconvert --execute (no sandbox, no grading) ==")
    one = copies(tmp / "nbc-one", 1)[0]

    def run(p: Path) -> float:
        return wall(
            [jupyter, "nbconvert", "--to", "notebook", "--execute", str(p)]
            + ["--output", p.stem + ".out"],
            env=env,
        )

    run(one)
    print(f"  1 notebook:     {run(one):6.2f} s")
    many = copies(tmp / "nbc-many", n)
    t = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(run, many))
    tn = time.perf_counter() - t
    print(f"  {n} notebooks, {jobs} at a time: {tn:6.2f} s = {tn / n:.3f} s/notebook")


def ensure_nbgrader() -> Path | None:
    py = NBGRADER_VENV / "bin" / "python"
    if not (NBGRADER_VENV / "bin" / "nbgrader").exists():
        print(f"  installing nbgrader into {NBGRADER_VENV} (throw-away venv) …")
        subprocess.run([sys.executable, "-m", "venv", str(NBGRADER_VENV)], check=True)
        proc = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "nbgrader", "numpy", "ipykernel"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            print("  ! pip install nbgrader failed:\n" + proc.stderr[-1500:])
            return None
    return NBGRADER_VENV / "bin" / "nbgrader"


def nbgrader_course(root: Path, students: int) -> None:
    """source/ps1 + submitted/<student>/ps1, the solution notebook as every submission."""
    (root / "source" / "ps1").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "source" / "ps1" / "ps1.ipynb")
    ids = [{"id": f"s{i}"} for i in range(students)]
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        "c.CourseDirectory.db_assignments = [dict(name='ps1')]\n"
        f"c.CourseDirectory.db_students = {ids!r}\n"
        "c.ExecutePreprocessor.timeout = 120\n"
    )
    for i in range(students):
        d = root / "submitted" / f"s{i}" / "ps1"
        d.mkdir(parents=True)
        shutil.copy(NOTEBOOK, d / "ps1.ipynb")


def bench_nbgrader(tmp: Path, n: int) -> None:
    print("\n== nbgrader autograde (no sandbox) ==")
    nbgrader = ensure_nbgrader()
    if nbgrader is None:
        return
    stage = tmp / "student-pkg"
    (stage / "grader").mkdir(parents=True)
    shutil.copy(REPO / "grader" / "__init__.py", stage / "grader" / "__init__.py")
    shutil.copytree(REPO / "grader" / "student", stage / "grader" / "student")
    env = dict(os.environ, PYTHONPATH=str(stage), PATH=f"{nbgrader.parent}:{os.environ['PATH']}")
    env.pop("JUPYTER_PATH", None)
    for count in (1, n):
        root = tmp / f"nbgrader-{count}"
        nbgrader_course(root, count)
        wall([str(nbgrader), "generate_assignment", "ps1", "--force"], cwd=root, env=env)
        t = wall([str(nbgrader), "autograde", "ps1", "--force"], cwd=root, env=env)
        label = "1 submission:  " if count == 1 else f"{count} submissions:"
        print(f"  {label} {t:6.2f} s = {t / count:.3f} s/submission")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-nbgrader", action="store_true")
    ap.add_argument("--skip-nbconvert", action="store_true")
    args = ap.parse_args()
    if not NOTEBOOK.is_file():
        print(f"missing {NOTEBOOK}", file=sys.stderr)
        return 2
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="dlgrader-bench-") as d:
        tmp = Path(d)
        bench_grader(tmp, args.n, args.jobs)
        if not args.skip_nbconvert:
            bench_nbconvert(tmp, args.n, args.jobs)
        if not args.skip_nbgrader:
            bench_nbgrader(tmp, args.n)
    print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
