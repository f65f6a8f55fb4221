"""The student's path in seconds: a notebook downloaded from a live service, opened in a bare
environment (a fresh venv without the helper package), until its first exercise is checked
(helper install from the service included); and ``submit()`` of 3-1-2 until its result is
printed.

    .venv/bin/python bench/student_path.py [--repeats 3]

Prints, per repeat and as a median: ``open-to-first-check`` (kernel start, the install cell's
pip install of the wheel served over loopback, the cells up to ``check("softmax")`` with the
first exercise solved; a fresh venv each time, pip's cache warm after the first) and
``submit-to-result`` (the ``submit()`` call in the kernel: read the saved file, upload, wait
for the sandboxed grading, print the items). The service has one worker and is idle.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the student-machine helpers the tests use

from live_service import LiveService, cli, solution_notebook  # noqa: E402
from student_env import bare_venv, cells_until, kernel_dirs, outputs, run_cells  # noqa: E402

A = "3-1-2_softmax_with_loss"


def _first_exercise(text: str):
    nb = nbformat.reads(text, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / f"{A}.ipynb", as_version=4)

    def gid(c):
        return c.metadata.get("nbgrader", {}).get("grade_id")

    impl = next(c for c in solution.cells if gid(c) == "softmax_impl")
    next(c for c in nb.cells if gid(c) == "softmax_impl").source = impl.source
    return cells_until(nb, "softmax")


def open_to_first_check(svc: LiveService, token: str, tmp: Path) -> float:
    text = httpx.get(
        f"{svc.url}/api/v1/assignments/{A}/notebook",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ).text
    py = bare_venv(tmp / "venv")
    kernels = kernel_dirs(py, tmp)
    work = tmp / "work"
    work.mkdir()
    nb = _first_exercise(text)
    started = time.perf_counter()
    nb = run_cells(nb, work, kernels=kernels, env={"HOME": str(tmp)})
    took = time.perf_counter() - started
    if "stopped_by" in nb.metadata or "合格" not in outputs(nb.cells[-1]):
        raise SystemExit(f"the first check did not pass: {outputs(nb.cells[-1])}")
    return took


def submit_to_result(svc: LiveService, token: str, tmp: Path) -> float:
    work = tmp / "work"
    work.mkdir()
    saved = work / f"{A}.ipynb"
    saved.write_bytes(solution_notebook())
    cell = (
        "import time\nfrom grader.student import submit\nt0 = time.perf_counter()\n"
        f'view = submit("{A}")\nprint("SECONDS", time.perf_counter() - t0)'
    )
    nb = run_cells(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]),
        work,
        env={
            "DL_COURSE_SERVICE": svc.url,
            "DL_COURSE_TOKEN": token,
            "DL_COURSE_CONFIG": str(tmp / "config"),
            "JPY_SESSION_NAME": str(saved),
        },
    )
    shown = outputs(nb.cells[0])
    if "得点: 6 / 6" not in shown:
        raise SystemExit(f"submit() did not print the full score: {shown}")
    return float(shown.rsplit("SECONDS", 1)[1].split()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-student-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        token = cli(home, "token", "create", "--student", "bench", "--name", "Bench").strip()
        figures: dict[str, list[float]] = {"open-to-first-check": [], "submit-to-result": []}
        with LiveService(home, workers=1) as svc:
            for i in range(args.repeats):
                for name, measure in (
                    ("open-to-first-check", open_to_first_check),
                    ("submit-to-result", submit_to_result),
                ):
                    run_dir = tmp / f"{name}-{i}"
                    run_dir.mkdir()
                    seconds = measure(svc, token, run_dir)
                    figures[name].append(seconds)
                    print(f"{name:22s} run {i + 1}: {seconds:6.2f} s", flush=True)
        for name, values in figures.items():
            print(
                f"{name:22s} median {statistics.median(values):6.2f} s"
                f"  (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"
            )


if __name__ == "__main__":
    main()
