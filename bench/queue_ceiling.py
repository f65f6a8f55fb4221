"""Queue ceiling: claims + completions per second by worker count, SQLite and PostgreSQL.

    .venv/bin/python bench/queue_ceiling.py [--workers 8,32,128] [--seconds 8] [--jobs 12000]
        [--backends sqlite,postgresql] [--pg-fast] [--pg-socket] [--netns]

Each point: a fresh database (migrated), ``--jobs`` queued submissions of the 3-1-2 solution
notebook (10 kB, stored in the database as in service) from 1,000 students with their fair
keys, then N worker processes (forked, one database connection each) that run the real
``queue.claim`` and ``queue.complete`` with a no-op grade in a loop for ``--seconds``. Printed
per point: jobs/s (one claim + one completion each), per worker, the CPU seconds per job spent
by the workers and by the PostgreSQL server processes (the postmaster's children, from
/proc), and whether the queue ran dry (then the rate is a lower bound).

PostgreSQL is a throw-away cluster (tests/pg_cluster.py) reached over TCP on 127.0.0.1, as
workers on other machines would reach it (``--pg-socket``: the unix socket), with durable
settings (fsync, synchronous_commit on; ``--pg-fast`` turns them off as the tests do) and
max_connections 400. ``--netns`` (root, iproute2) adds, at each N, a run in which every worker
runs in its own network namespace and reaches the server over its own veth link to a bridge
(10.77.0.1/16), as workers on other machines would (a network stack per worker, packets over
a link instead of loopback); the namespaces and the bridge are removed afterwards. Workers,
server and this script share the machine's cores: the point where the server's CPU per job
grows, or jobs/s stops growing with N, is the ceiling.
"""

from __future__ import annotations

import argparse
import ctypes
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from live_service import free_port, solution_notebook  # noqa: E402
from pg_cluster import FAST_SETTINGS, PgCluster, pg_bindir  # noqa: E402

from grader.service import queue  # noqa: E402
from grader.service.db import make_engine, migrate  # noqa: E402
from grader.service.models import Job, Submission, User  # noqa: E402

STUDENTS = 1000
ASSIGNMENT = "3-1-2_softmax_with_loss"
DURABLE = ("fsync=on", "synchronous_commit=on", "full_page_writes=on")
PG_SETTINGS = ("max_connections=400", "shared_buffers=256MB")


def fill(url: str, jobs: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    nb = solution_notebook()
    users = [f"u{i:04d}" for i in range(STUDENTS)]
    with engine.begin() as conn:
        conn.execute(insert(User), [{"id": u, "created_at": 0.0} for u in users])
    for start in range(0, jobs, 2000):
        rows = range(start, min(jobs, start + 2000))
        with engine.begin() as conn:
            conn.execute(
                insert(Submission),
                [
                    {"id": f"s{i}", "user_id": users[i % STUDENTS], "assignment_id": ASSIGNMENT,
                     "filename": "hw.ipynb", "notebook": nb, "sha256": f"{i}", "size": len(nb),
                     "created_at": float(i), "status": "queued"}
                    for i in rows
                ],
            )  # fmt: skip
            conn.execute(
                insert(Job),
                [
                    {"submission_id": f"s{i}", "idempotency_key": f"s{i}:1", "status": "queued",
                     "attempts": 0, "max_attempts": 3, "created_at": float(i),
                     "user_id": users[i % STUDENTS], "assignment_id": ASSIGNMENT,
                     "fair_key": i // STUDENTS, "expected_seconds": 1.0}
                    for i in rows
                ],
            )  # fmt: skip
    engine.dispose()


BRIDGE, BRIDGE_ADDRESS = "qcbr0", "10.77.0.1"
CLONE_NEWNET = 0x40000000


def _ip_batch(namespace: str | None, lines: list[str]) -> None:
    where = ["-n", namespace] if namespace else []
    subprocess.run(["ip", *where, "-batch", "-"], input="\n".join(lines), text=True, check=True)


class WorkerNetworks:
    """One network namespace per worker, each with a veth link to a bridge in this one."""

    def __init__(self, n: int):
        self.names = [f"qc{i}" for i in range(n)]

    def __enter__(self) -> WorkerNetworks:
        self.close()  # what an interrupted run left
        lines = []
        for name in self.names:
            lines += [
                f"netns add {name}",
                f"link add {name}v type veth peer name eth0 netns {name}",
                f"link set {name}v master {BRIDGE} up",
            ]
        _ip_batch(None, lines)
        for i, name in enumerate(self.names):
            address = f"10.77.{1 + i // 250}.{1 + i % 250}/16"
            _ip_batch(name, [f"addr add {address} dev eth0", "link set eth0 up", "link set lo up"])
        return self

    def enter(self, index: int) -> None:
        """Move the calling process (a forked worker) into namespace ``index``."""
        fd = os.open(f"/run/netns/{self.names[index]}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    def close(self) -> None:
        for name in self.names:  # a namespace takes its end of the veth pair with it
            subprocess.run(["ip", "netns", "del", name], capture_output=True)

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def bridge() -> Iterator[None]:
    """The bridge the workers' links attach to; it exists before the server starts, so that
    PostgreSQL can listen on its address."""
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)  # an interrupted run's
    add = [f"link add {BRIDGE} type bridge", f"addr add {BRIDGE_ADDRESS}/16 dev {BRIDGE}"]
    _ip_batch(None, [*add, f"link set {BRIDGE} up"])
    try:
        yield
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


def work(url: str, index: int, lane: str, ready, go, out, nets=None) -> None:  # noqa: ANN001
    if nets is not None:
        nets.enter(index)
    engine = make_engine(url)
    engine.connect().close()  # connect before the clock starts
    ready.wait()
    t_start, t_end = go.get()
    time.sleep(max(0.0, t_start - time.time()))
    cpu0 = sum(os.times()[:2])
    done = dry = 0
    payload = {"status": "graded", "items": []}
    while time.time() < t_end:
        job = queue.claim(engine, f"w{index}", 60, lane=lane)
        if job is None:
            dry += 1
            time.sleep(0.01)
            continue
        queue.complete(engine, job, outcome="graded", score=1.0, max_score=1.0, penalty=0.0,
                       payload=payload, executed_notebook=None, feedback_html=None,
                       worker_id=f"w{index}")  # fmt: skip
        if time.time() <= t_end:
            done += 1
    out.put((done, dry, sum(os.times()[:2]) - cpu0))
    engine.dispose()


def _stat(pid: int | str) -> list[str]:
    """Fields of /proc/PID/stat after the command name (index 1: ppid, 11-14: utime, stime,
    cutime, cstime in clock ticks)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_cpu(cluster: PgCluster | None) -> float:
    """CPU seconds used so far by the server: its live processes (backends, writers) plus the
    children that already exited (the postmaster's cutime + cstime)."""
    if cluster is None:
        return 0.0
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    own = _stat(postmaster)
    total = sum(int(x) for x in own[11:15]) / tick
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = _stat(pid)
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def point(
    url: str, n: int, seconds: float, jobs: int, cluster: PgCluster | None, netns: bool = False
) -> str:
    fill(url, jobs)
    if netns:
        with WorkerNetworks(n) as nets:
            return _run_point(url.replace("127.0.0.1", BRIDGE_ADDRESS), n, seconds, cluster, nets)
    return _run_point(url, n, seconds, cluster, None)


def _run_point(url: str, n: int, seconds: float, cluster: PgCluster | None, nets) -> str:  # noqa: ANN001
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Barrier(n + 1), ctx.Queue(), ctx.Queue()
    lanes = ["light-first"] + ["any"] * (n - 1)  # as grader serve sets them
    procs = [
        ctx.Process(target=work, args=(url, i, lanes[i], ready, go, out, nets)) for i in range(n)
    ]
    for p in procs:
        p.start()
    ready.wait()
    t_start = time.time() + 0.5
    for _ in procs:
        go.put((t_start, t_start + seconds))
    time.sleep(max(0.0, t_start - time.time()))
    cpu0 = server_cpu(cluster)
    time.sleep(seconds)
    db_cpu = server_cpu(cluster) - cpu0
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    done = sum(r[0] for r in results)
    dry = sum(r[1] for r in results)
    w_cpu = sum(r[2] for r in results)
    rate = done / seconds
    return (
        f"{n:4d} workers: {rate:8.1f} jobs/s ({2 * rate:8.1f} claims+completions/s), "
        f"{rate / n:6.2f} per worker; CPU per job: workers {1000 * w_cpu / max(done, 1):6.2f} ms"
        + (f", server {1000 * db_cpu / max(done, 1):6.2f} ms" if cluster else "")
        + (f"; queue ran dry ({dry} empty claims): a lower bound" if dry else "")
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="8,32,128")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--jobs", type=int, default=12000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-fast", action="store_true", help="fsync and synchronous_commit off")
    ap.add_argument("--pg-socket", action="store_true", help="unix socket instead of TCP")
    ap.add_argument(
        "--netns",
        action="store_true",
        help="at each N, also a run with every worker in its own network namespace",
    )
    args = ap.parse_args()
    if args.netns and args.pg_socket:
        ap.error("--netns needs TCP (no --pg-socket)")
    counts = [int(x) for x in args.workers.split(",")]
    print(f"no-op grade, {args.seconds:g} s per point, {args.jobs} jobs queued, cores: "
          f"{os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")  # fmt: skip
    for backend in args.backends.split(","):
        if backend == "sqlite":
            print("SQLite (WAL, BEGIN IMMEDIATE, one file on local disk):")
            for n in counts:
                tmp = Path(tempfile.mkdtemp(prefix="ceiling-"))
                print(
                    " ", point(f"sqlite:///{tmp / 'q.sqlite3'}", n, args.seconds, args.jobs, None)
                )
        elif backend == "postgresql":
            if pg_bindir() is None:
                print("PostgreSQL: binaries not found, skipped")
                continue
            settings = (FAST_SETTINGS if args.pg_fast else DURABLE) + PG_SETTINGS
            tcp = not args.pg_socket
            links = [False, True] if args.netns else [False]  # side by side at each N
            stack = ExitStack()
            if args.netns:
                stack.enter_context(bridge())
            cluster = PgCluster(pg_bindir()).start(
                settings, free_port() if tcp else None, BRIDGE_ADDRESS if args.netns else None
            )
            try:
                print(f"PostgreSQL ({'TCP' if tcp else 'unix socket'}; {', '.join(settings)}):")
                for n in counts:
                    for netns in links:
                        url = cluster.new_database(tcp=tcp)
                        link = "own netns" if netns else ("127.0.0.1" if tcp else "socket")
                        print(
                            f"  [{link:9s}]", point(url, n, args.seconds, args.jobs, cluster, netns)
                        )
            finally:
                cluster.stop()
                stack.close()
        else:
            print(f"unknown backend {backend!r} (sqlite, postgresql)", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
