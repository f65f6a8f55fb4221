"""``grader serve``: the web app and API (uvicorn) plus N local grading workers.

With no arguments: state in ``$GRADER_HOME`` or ``./var``, SQLite there, migrated, an
instructor token created and printed on first start, one worker per core.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from grader.commands import argtypes
from grader.commands.worker import add_grading_options


def register(subparsers) -> None:
    from grader.service.cli_common import add_store_options

    p = subparsers.add_parser(
        "serve",
        help="run the grader service (web UI, API, workers)",
        description="Start the FastAPI app under uvicorn and N grading worker processes on "
        "the same database. Refuses to start when the sandbox is unavailable unless "
        "--allow-unsandboxed is given.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=argtypes.port, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers",
        type=argtypes.count,
        default=os.cpu_count() or 1,
        help="local grading workers (default: number of cores; 0 = API only)",
    )
    add_store_options(p)
    add_grading_options(p)
    p.add_argument(
        "--allow-unsandboxed",
        action="store_true",
        help="start even when bubblewrap is unavailable (process limits only; shown loudly)",
    )
    p.add_argument(
        "--policy", default=None, help="deadline policy TOML (default <home>/policy.toml)"
    )
    from grader.engine.upload import MAX_UPLOAD_BYTES

    limit_mb = MAX_UPLOAD_BYTES / 2**20
    p.add_argument(
        "--max-upload-mb",
        type=argtypes.megabytes,
        default=limit_mb,
        help=f"upload size cap, at most the grader's own {limit_mb:g} (default {limit_mb:g})",
    )
    p.add_argument(
        "--max-queued", type=argtypes.positive_int, default=3, help="queued submissions per student"
    )
    p.add_argument(
        "--max-attempts",
        type=argtypes.positive_int,
        default=30,
        help="submissions per student per assignment",
    )
    p.add_argument(
        "--max-streams",
        type=argtypes.positive_int,
        default=6,
        help="open status streams (pages following a submission) per user (default 6)",
    )
    p.add_argument(
        "--header-timeout",
        type=argtypes.positive_seconds,
        default=10.0,
        help="seconds a client has to send a request's headers (default 10; then 408)",
    )
    p.add_argument(
        "--body-timeout",
        type=argtypes.positive_seconds,
        default=120.0,
        help="seconds a client has to send a request's body after its headers (default 120)",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="addresses of reverse proxies whose X-Forwarded-For/-Proto are trusted "
        "(default: $FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    p.add_argument(
        "--shutdown-grace",
        type=argtypes.seconds,
        default=30.0,
        help="seconds running jobs get to finish on shutdown before they are returned",
    )
    p.set_defaults(func=run)


class WorkerPool:
    """Local ``grader worker`` processes; restarts any that die while the service runs."""

    def __init__(self, n: int, base_cmd: list[str]) -> None:
        self.n = n
        self.base_cmd = base_cmd
        self.procs: dict[int, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)

    def _spawn(self, slot: int) -> None:
        from grader.service.lanes import serve_lane

        lane = serve_lane(slot, self.n)
        cmd = [
            *self.base_cmd,
            "--slot",
            str(slot),
            "--lane",
            lane,
            "--parent-pid",
            str(os.getpid()),
        ]
        # Own process group: a Ctrl-C in the terminal reaches the server only, which then
        # shuts the workers down in order.
        self.procs[slot] = subprocess.Popen(cmd, start_new_session=True)

    def start(self) -> None:
        for slot in range(self.n):
            self._spawn(slot)
        self._thread.start()

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            for slot, proc in list(self.procs.items()):
                if proc.poll() is not None and not self._stop.is_set():
                    logging.warning(
                        "worker slot %d (pid %d) exited with %s; restarting",
                        slot,
                        proc.pid,
                        proc.returncode,
                    )
                    self._spawn(slot)

    def stop(self, grace: float) -> None:
        """SIGTERM (finish the current job), then after ``grace`` a second SIGTERM (return
        it to the queue), then SIGKILL."""
        self._stop.set()
        alive = [p for p in self.procs.values() if p.poll() is None]
        for p in alive:
            p.send_signal(signal.SIGTERM)
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(p.poll() is None for p in alive):
                time.sleep(0.1)
            for p in alive:
                if p.poll() is None:
                    p.send_signal(sig)
        for p in alive:
            p.wait()


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from grader.engine.upload import MAX_UPLOAD_BYTES
    from grader.jail import sandbox_policy
    from grader.service import auth
    from grader.service.app import create_app
    from grader.service.cli_common import config_from, open_store
    from grader.service.routes_downloads import prepare_student_wheel
    from grader.service.slow_clients import DeadlineHttpProtocol

    if args.max_upload_mb * 2**20 > MAX_UPLOAD_BYTES:  # the engine would refuse it when grading
        print(
            f"grader serve: error: --max-upload-mb {args.max_upload_mb:g} is above the grader's"
            f" own limit of {MAX_UPLOAD_BYTES / 2**20:g} MB",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s serve %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    refused = _refuse_to_start(args.allow_unsandboxed)
    if refused:
        return refused
    mode = sandbox_policy(args.allow_unsandboxed).mode
    try:  # before anything else, so a busy port costs no token and starts no worker
        sock = _listen(args.host, args.port)
    except socket.gaierror as exc:
        print(f"grader serve: --host {args.host!r}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"grader serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
            "(another service on that port? pass --port)",
            file=sys.stderr,
        )
        return 2
    cfg = config_from(
        args,
        policy_file=args.policy,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_queued_per_student=args.max_queued,
        max_attempts_per_assignment=args.max_attempts,
        lease_seconds=args.lease_seconds,
        max_streams_per_user=args.max_streams,
    )
    _engine, sessions = open_store(cfg)
    with sessions.begin() as s:
        token = None if auth.has_instructor_token(s) else auth.create_instructor_token(s)
    app = create_app(cfg, sandbox_mode=mode)
    prepare_student_wheel(cfg.home)
    n_assign = len(app.state.grader.catalog.assignments)

    url = f"http://{args.host}:{args.port}/"
    print(f"grader service: {url}  (state: {cfg.home}, db: {_safe_url(cfg.db_url)})")
    print(f"  sandbox: {mode}; assignments: {n_assign}; workers: {args.workers}")
    if token:
        print("  instructor token (shown once; keep it, log in with it at /login):")
        print(f"    {token}")
    else:
        print("  instructor token: already created (new one: grader token create --instructor)")
    sys.stdout.flush()

    worker_cmd = [
        sys.executable,
        "-m",
        "grader.cli",
        "worker",
        "--home",
        str(cfg.home),
        "--db",
        cfg.db_url,
        "--lease-seconds",
        str(args.lease_seconds),
    ]
    if args.allow_unsandboxed:
        worker_cmd.append("--allow-unsandboxed")
    if args.grade_fn:
        worker_cmd += ["--grade-fn", args.grade_fn]
    if not args.warm_sandboxes:
        worker_cmd.append("--no-warm-sandboxes")
    pool = WorkerPool(args.workers, worker_cmd)
    pool.start()
    raise_open_files_limit()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
            http=functools.partial(
                DeadlineHttpProtocol,
                header_timeout=args.header_timeout,
                body_timeout=args.body_timeout,
            ),
            forwarded_allow_ips=args.forwarded_allow_ips,
        )
    )
    # uvicorn handles SIGINT/SIGTERM while it runs and re-raises the signal when it returns;
    # these handlers take that re-raised signal so that the workers are stopped in order.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: logging.info("signal %s: shutting down", signum))
    try:
        server.run(sockets=[sock])
    finally:
        logging.info("stopping workers (grace %.0f s)", args.shutdown_grace)
        pool.stop(args.shutdown_grace)
        sock.close()
    return 0 if server.started else 1


def _refuse_to_start(allow_unsandboxed: bool) -> int:
    """Exit 4 when a spec does not load (no assignment is skipped in silence), 3 when the
    sandbox cannot run and limits-only mode was not allowed; 0 to go on."""
    from grader.jail import sandbox_policy
    from grader.service.cli_common import SANDBOX_REFUSAL, UNSANDBOXED_BANNER
    from grader.specs import SpecLoadError, all_assignments

    try:
        all_assignments()
    except SpecLoadError as exc:
        print(f"grader serve: {exc}", file=sys.stderr)
        return 4
    policy = sandbox_policy(allow_unsandboxed)
    if policy.mode != "bwrap":
        if not policy.may_grade:
            print(SANDBOX_REFUSAL, file=sys.stderr)
            return 3
        print(UNSANDBOXED_BANNER, file=sys.stderr)
    return 0


def raise_open_files_limit() -> None:
    """Soft limit on open files up to the hard one: each connection holds a descriptor, and
    the common soft default of 1024 is reached by a modest crowd of slow clients."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _listen(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn (which calls listen on it)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
    except OSError:
        sock.close()
        raise
    return sock


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
