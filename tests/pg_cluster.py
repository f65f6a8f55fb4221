"""A throw-away PostgreSQL cluster for tests: ``initdb`` into a temp dir, ``pg_ctl start``
with the unix socket in that dir and no TCP listener, one fresh database per test.

PostgreSQL refuses to run as root, so as root the server runs as an unprivileged system
user (``postgres``, else ``nobody``) through ``setpriv``; the data dir is created for that
user. The fixture skips (with the reason) only when the PostgreSQL binaries are absent;
``make test`` installs them (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Durability is irrelevant for a cluster that is deleted after the run.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


def pg_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: ``pg_config --bindir``, else the newest
    ``/usr/lib/postgresql/*/bin`` (Debian keeps them off PATH)."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += [Path(p) for p in sorted(versions, key=_version_key, reverse=True)]
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def _version_key(path: str) -> tuple[int, ...]:
    ver = Path(path).parent.name
    return tuple(int(x) for x in ver.split(".") if x.isdigit())


def _run_as() -> tuple[list[str], int | None, int | None]:
    """Command prefix and uid/gid to run the server with (unprivileged when we are root)."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        prefix = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups"]
        return prefix, pw.pw_uid, pw.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")


class PgCluster:
    """One running cluster; :meth:`new_database` returns a SQLAlchemy URL to a fresh DB."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="grader-pg-"))
        self.data = self.root / "data"
        self.port = 5432  # with no TCP listener the port only names the socket file
        self._prefix, uid, gid = _run_as()
        if uid is not None:
            os.chown(self.root, uid, gid)
        self._names = itertools.count(1)

    def _pg(self, tool: str, *args: str) -> None:
        out = subprocess.run(
            [*self._prefix, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{tool} failed ({out.returncode}): {out.stderr or out.stdout}")

    def start(
        self,
        settings: tuple[str, ...] = FAST_SETTINGS,
        tcp_port: int | None = None,
        also_listen: str | None = None,
    ) -> PgCluster:
        """``settings``: server settings (bench/queue_ceiling.py passes durable ones);
        ``tcp_port``: also listen on 127.0.0.1 there (``url(tcp=True)``), and on the address
        ``also_listen`` (the benchmark's bridge for workers in their own network namespaces)."""
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if tcp_port is not None:
            self.port = tcp_port
            if also_listen:  # trust auth is local-only by default: let the bridge's hosts in
                with open(self.data / "pg_hba.conf", "a") as hba:
                    hba.write(f"host all all {also_listen}/16 trust\n")
        listen = ",".join(["127.0.0.1"] + ([also_listen] if also_listen else []))
        listen = listen if tcp_port is not None else "''"
        opts = " ".join(
            [f"-c {s}" for s in settings]
            + [f"-c unix_socket_directories={self.root}", f"-c listen_addresses={listen}"]
            + [f"-p {self.port}"]
        )
        log = str(self.root / "server.log")
        self._pg("pg_ctl", "-D", str(self.data), "-l", log, "-o", opts, "-w", "start")
        return self

    def url(self, database: str = "postgres", tcp: bool = False) -> str:
        if tcp:
            return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}&port={self.port}"

    def new_database(self, tcp: bool = False) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            host=str(self.root), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, tcp=tcp)

    def stop(self) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def postgres_cluster() -> Iterator[PgCluster]:
    """Body of the session fixture: skip only when the binaries or the driver are absent."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not found (pg_config --bindir, /usr/lib/postgresql)")
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install -e '.[dev]')")
    cluster = PgCluster(bindir).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    yield from postgres_cluster()
