"""Warm sandboxes: upload→result latency through the service against cold `grader grade`.

    .venv/bin/python bench/warm_latency.py [--n 10] [--cli-n 5] [--gap 1.5]

One run, side by side, on the 3-1-2 solution notebook: `grader grade` of it (whole commands,
cold: interpreter, sandbox and kernel start each time); then a real `grader serve` with one
worker and warm sandboxes (the default), and one with `--no-warm-sandboxes`: after one
warm-up submission, `--n` submissions one at a time, each followed to its result over the
event stream, `--gap` seconds apart (a student's pace: the worker starts the next sandbox
after each job). Prints p50 / p95 of each, the engine's own time inside the service, and the
ratio of the warm service's p50 to cold `grader grade` (issue 12's target: at most 0.4).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test helpers
from live_service import (  # noqa: E402
    FAST_ASSIGNMENT,
    LiveService,
    cli,
    released_env,
    solution_notebook,
)
from service_speed import follow, p95, submit  # noqa: E402


def grade_cli(tmp: Path, nb_path: Path) -> float:
    """Wall seconds of one `grader grade` command (fails loudly if grading fails)."""
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grader.cli", "grade", "--assignment", FAST_ASSIGNMENT,
         "--out", str(tmp / "cli-out"), str(nb_path)],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return time.perf_counter() - t


def service_latency(
    home: Path, nb: bytes, n: int, gap: float, extra: list[str]
) -> tuple[list[float], list[float], int]:
    """Upload→graded seconds of ``n`` submissions one at a time, the engine's total of each,
    and how many ran in a warm sandbox."""
    home.mkdir()
    headers = {"Authorization": "Bearer " + cli(home, "token", "create", "--instructor").strip()}
    lat, eng, warm = [], [], 0
    with LiveService(home, workers=1, extra=extra) as svc:
        client = httpx.Client(base_url=svc.url, headers=headers, timeout=120)
        follow(client, submit(client, nb))  # warm-up: worker imports, staging
        for _ in range(n):
            time.sleep(gap)
            t = time.perf_counter()
            sid = submit(client, nb)
            assert follow(client, sid) == "graded"
            lat.append(time.perf_counter() - t)
            timings = client.get(f"/api/v1/submissions/{sid}").json()["result"]["timings"]
            eng.append(float(timings["total"]))
            warm += "sandbox.warm_wait" in timings
    return lat, eng, warm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10, help="service submissions per mode")
    ap.add_argument("--cli-n", type=int, default=5, help="`grader grade` runs")
    ap.add_argument("--gap", type=float, default=1.5, help="seconds between submissions")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="warm-bench-"))
    os.environ.update(released_env(tmp / "released"))
    nb = solution_notebook()
    nb_path = tmp / "hw.ipynb"
    nb_path.write_bytes(nb)

    grade_cli(tmp, nb_path)  # stages the sandbox root once, as the services' warm-up does
    cold_cli = [grade_cli(tmp, nb_path) for _ in range(args.cli_n)]
    warm = service_latency(tmp / "warm", nb, args.n, args.gap, [])
    cold = service_latency(tmp / "cold", nb, args.n, args.gap, ["--no-warm-sandboxes"])

    def row(name: str, xs: list[float]) -> None:
        print(f"  {name:44s} p50 {statistics.median(xs):6.3f} s   p95 {p95(xs):6.3f} s")

    print(f"notebook: {FAST_ASSIGNMENT} (solutions/); one worker; {args.gap:g} s between uploads")
    row(f"`grader grade`, cold (n={len(cold_cli)})", cold_cli)
    row(f"service, warm sandboxes: upload→result (n={args.n})", warm[0])
    row("  engine inside it (timings.total)", warm[1])
    row(f"service, --no-warm-sandboxes (n={args.n})", cold[0])
    row("  engine inside it (timings.total)", cold[1])
    print(f"jobs that ran warm: {warm[2]}/{args.n} (default), {cold[2]}/{args.n} (off)")
    ratio = statistics.median(warm[0]) / statistics.median(cold_cli)
    print(f"warm service p50 / cold `grader grade` p50: {ratio:.2f} (target <= 0.4)")
    print(
        f"warm service p50 / cold service p50: "
        f"{statistics.median(warm[0]) / statistics.median(cold[0]):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
