"""Service overhead: upload → graded latency through the HTTP API on loopback, and throughput
of queued submissions on N workers, against the engine's own time on the same notebook.

    .venv/bin/python bench/service_speed.py [--latency-n 10] [--throughput-n 100] [--workers 2]

Prints: the engine alone (`grader grade` CLI wall time, and the engine's `timings.total`),
service latency median / p95 (one submission at a time, status followed with SSE), the
service's added time per submission (latency − engine total), where that time goes (median
per phase, from the timestamps in the database: upload stored, claimed, engine start/end,
result stored, client notified), the first and a cached feedback download, and throughput.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
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


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def submit(client: httpx.Client, nb: bytes) -> str:
    r = client.post(
        "/api/v1/submissions",
        data={"assignment_id": FAST_ASSIGNMENT},
        files={"notebook": ("hw.ipynb", nb)},
    )
    r.raise_for_status()
    return r.json()["id"]


def follow(client: httpx.Client, sid: str) -> str:
    with client.stream("GET", f"/api/v1/submissions/{sid}/events", timeout=300) as resp:
        status = "?"
        for line in resp.iter_lines():
            if line.startswith("data: "):
                status = json.loads(line[6:])["status"]
        return status


PHASES = [
    ("upload → stored", "t0", "stored"),
    ("stored → claimed", "stored", "claimed"),
    ("claimed → engine start", "claimed", "engine_start"),
    ("engine (grade_notebook wall)", "engine_start", "engine_end"),
    ("engine end → result stored", "engine_end", "result_stored"),
    ("result stored → client notified", "result_stored", "notified"),
]


def phase_marks(db: Path, sid: str, t0: float, notified: float) -> dict[str, float]:
    """UNIX timestamps of one submission's phases (same clock: all on this machine)."""
    con = sqlite3.connect(db)
    try:
        stored, claimed, finished, payload = con.execute(
            "SELECT s.created_at, j.claimed_at, j.finished_at, r.payload FROM submissions s "
            "JOIN jobs j ON j.submission_id = s.id JOIN results r ON r.job_id = j.id "
            "WHERE s.id = ?",
            (sid,),
        ).fetchone()
    finally:
        con.close()
    svc = json.loads(payload)["service_timings"]
    return {
        "t0": t0,
        "stored": stored,
        "claimed": claimed,
        "engine_start": svc["engine_start"],
        "engine_end": svc["engine_end"],
        "result_stored": finished,
        "notified": notified,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-n", type=int, default=10)
    ap.add_argument("--throughput-n", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cli-n", type=int, default=3, help="`grader grade` runs for the baseline")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="service-bench-"))
    env = released_env(tmp / "released")
    import os

    os.environ.update(env)
    nb = solution_notebook()
    nb_path = tmp / "hw.ipynb"
    nb_path.write_bytes(nb)

    def grade_cli(paths: list[Path], *extra: str) -> float:
        """Wall seconds of one `grader grade` command (fails loudly if grading fails)."""
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader.cli", "grade", "--assignment", FAST_ASSIGNMENT,
             "--out", str(tmp / "cli-out"), *extra, *map(str, paths)],
            capture_output=True,
            check=True,
        )  # fmt: skip
        return time.perf_counter() - t

    cli_times = [grade_cli([nb_path]) for _ in range(args.cli_n)]
    batch = []
    for i in range(args.throughput_n):
        (tmp / "batch" / str(i)).mkdir(parents=True)
        batch.append(tmp / "batch" / str(i) / "hw.ipynb")
        batch[-1].write_bytes(nb)
    cli_batch_wall = grade_cli(batch, "--jobs", str(args.workers))

    home = tmp / "home"
    home.mkdir()
    itok = cli(home, "token", "create", "--instructor").strip()
    headers = {"Authorization": f"Bearer {itok}"}
    with LiveService(home, workers=args.workers) as svc:
        client = httpx.Client(base_url=svc.url, headers=headers, timeout=120)
        follow(client, submit(client, nb))  # warm-up (worker imports, staging)
        lat, eng, marks = [], [], []
        for _ in range(args.latency_n):
            t, t0 = time.perf_counter(), time.time()
            sid = submit(client, nb)
            assert follow(client, sid) == "graded"
            lat.append(time.perf_counter() - t)
            marks.append(phase_marks(home / "grader.sqlite3", sid, t0, time.time()))
            res = client.get(f"/api/v1/submissions/{sid}").json()["result"]
            eng.append(float(res["timings"]["total"]))
        fb = []
        for _ in range(2):  # first download renders and stores the report, the second reads it
            t = time.perf_counter()
            client.get(f"/api/v1/submissions/{sid}/feedback").raise_for_status()
            fb.append(time.perf_counter() - t)
        t = time.perf_counter()
        ids = [submit(client, nb) for _ in range(args.throughput_n)]
        for sid in ids:
            assert follow(client, sid) == "graded"
        wall = time.perf_counter() - t
        tp_eng = [
            float(client.get(f"/api/v1/submissions/{sid}").json()["result"]["timings"]["total"])
            for sid in ids
        ]

    med_l, med_e = statistics.median(lat), statistics.median(eng)
    print(f"notebook: {FAST_ASSIGNMENT} (solutions/), workers: {args.workers}")
    print(
        f"`grader grade` CLI wall, one notebook: median {statistics.median(cli_times):.3f} s "
        f"(n={len(cli_times)}, includes interpreter start-up)"
    )
    print(f"engine timings.total inside the service: median {med_e:.3f} s")
    print(
        f"service latency upload→graded (one at a time, n={len(lat)}): "
        f"median {med_l:.3f} s, p95 {p95(lat):.3f} s"
    )
    print(
        f"service added per submission: median {med_l - med_e:.3f} s "
        f"({100 * (med_l - med_e) / med_e:.1f}% of the engine's time)"
    )
    print("where the time goes (median over the latency runs):")
    for name, a, b in PHASES:
        print(f"  {name:34s} {statistics.median(m[b] - m[a] for m in marks):.3f} s")
    print(f"feedback report download: first (renders) {fb[0]:.3f} s, then (stored) {fb[1]:.3f} s")
    per_sub = wall * args.workers / args.throughput_n
    print(
        f"throughput: {args.throughput_n} queued in {wall:.1f} s = "
        f"{args.throughput_n / wall:.2f}/s; {per_sub:.3f} worker-s per submission vs engine "
        f"median {statistics.median(tp_eng):.3f} s "
        f"({100 * (per_sub - statistics.median(tp_eng)) / statistics.median(tp_eng):.1f}% over)"
    )
    print(
        f"`grader grade --jobs {args.workers}` on the same {args.throughput_n} notebooks: "
        f"{cli_batch_wall:.1f} s = {args.throughput_n / cli_batch_wall:.2f}/s; the service's "
        f"throughput is {100 * cli_batch_wall / wall:.0f}% of the CLI's"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
