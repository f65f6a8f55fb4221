"""Notebook runner: executes one notebook with nbclient. Runs INSIDE the sandbox.

Standalone on purpose (stdlib + nbformat + nbclient only; nothing of ``grader``): it is copied
into the sandbox's staged root and started as ``python runner.py RUN_JSON``. The trusted side
scores the probe outputs itself; the runner reports how the run went and the executed
notebook as one JSON object (``{"status": ..., "notebook": ...}``) on the descriptor
``report_fd``, a host file outside every mount of the jail. The student's code, same uid,
cannot reach it: the kernel closes it right after the fork (exec mode: not inheritable) and
the runner makes itself non-dumpable, so /proc/<runner>/fd and ptrace are closed too. The
trusted side still reads the report as untrusted data (``grader.jail.runner_report``).

RUN_JSON keys: notebook, report_fd, workdir, kernel_name, cell_timeout, notebook_timeout,
output_bytes, probe_cell_index.

A warm sandbox (``grader.jail.warm``) starts the runner before its job exists: RUN_JSON then
holds only report_fd, workdir, kernel_name, output_bytes and two pipe descriptors, ``ready_fd``
and ``go_fd``. The runner starts and connects the kernel, writes one byte on ``ready_fd`` and
waits on ``go_fd``; the trusted side writes the job's files (RUN_JSON overwritten with the
job's keys), then ``{"cpu_seconds": N}`` on ``go_fd`` and closes it. The job's clocks (the
notebook's timeout, RLIMIT_CPU lowered to what is used plus N) start there. End of file with
nothing written: no job comes, and the runner exits.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

T_START = time.monotonic()

KERNEL_ARGS = [
    "--HistoryManager.enabled=False",
    "--HistoryManager.hist_file=:memory:",
    "--IPKernelApp.extensions=[]",
    "--IPKernelApp.exec_lines=[]",
    "--IPKernelApp.exec_files=[]",
    "--Completer.use_jedi=False",
]


def connection_file(cfg: dict) -> str:
    """Write a connection file with free loopback ports and a fresh key; its path."""
    runtime = os.environ.get("JUPYTER_RUNTIME_DIR") or os.path.join(cfg["workdir"], ".rt")
    os.makedirs(runtime, exist_ok=True)
    ports = free_ports(5)
    conn = {
        "shell_port": ports[0],
        "iopub_port": ports[1],
        "stdin_port": ports[2],
        "control_port": ports[3],
        "hb_port": ports[4],
        "ip": "127.0.0.1",
        "key": os.urandom(16).hex(),
        "transport": "tcp",
        "signature_scheme": "hmac-sha256",
        "kernel_name": cfg["kernel_name"],
    }
    path = os.path.join(runtime, "kernel-grader.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(conn, f)
    return path


def free_ports(n: int) -> list[int]:
    """``n`` bindable loopback ports OUTSIDE the ephemeral range.

    Why: the kernel binds these a moment after we pick them, while our own client sockets
    connect from ephemeral source ports; a port picked from that range can be taken by one of
    those connections first, and the kernel dies on EADDRINUSE before replying (seen once in
    200 graded jobs). In the sandbox's private network namespace nothing else uses ports."""
    import random

    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(v) for v in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    pool = range(20000, lo) if lo - 20000 >= 1000 else range(hi + 1, 65536)
    if len(pool) < 1000:  # an unusual ephemeral range: let the system choose, as before
        socks = [socket.socket() for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        chosen = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        return chosen
    ports: list[int] = []
    for port in random.sample(pool, min(len(pool), 200)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    raise RuntimeError(f"no {n} free loopback ports outside the ephemeral range")


class ForkedKernel:
    """The little of ``subprocess.Popen`` that jupyter_client's provisioner uses."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


PR_SET_DUMPABLE = 4
PRIVATE_FDS = ("report_fd", "ready_fd", "go_fd")  # the runner's own: closed in the kernel


def set_dumpable(flag: int) -> None:
    """Non-dumpable (0): /proc/<pid>/fd, /proc/<pid>/mem and ptrace refuse other processes of
    the same uid, i.e. the student's code. Raises when it cannot be set."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, flag, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def prefer_oom_kill() -> None:
    """Make this process the OOM killer's first choice in the job's cgroup (raising the
    score needs no privilege), so that the runner survives to write the partial notebook."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def install_stream_cap(cap: int) -> str:
    """Make the kernel's stdout/stderr keep at most ``cap + 1`` characters in total.

    Why: ipykernel buffers everything printed between two flushes (0.2 s) in memory, without
    bound. A print flood on a loaded machine fills the memory cgroup (and the kernel is
    OOM-killed) before the runner has received, parsed and counted a single message. With
    this class the kernel never buffers more than the cap: it passes the first ``cap + 1``
    characters (the runner's byte count, at least as large, then crosses the cap, stops the
    run and reports ``output_cap``) and silently drops the rest. The runner's count stays the
    authority; this only bounds what can pile up before it gets to count.

    Returns the import string for ``IPKernelApp.outstream_class``.
    """
    from ipykernel.iostream import OutStream

    class CappedOutStream(OutStream):
        written = 0  # characters passed on, stdout and stderr together
        limit = cap + 1

        def write(self, string: str) -> int | None:
            if not isinstance(string, str):
                return super().write(string)  # raises ipykernel's TypeError
            cls = type(self)
            room = cls.limit - cls.written
            if room <= 0:
                return len(string)
            cls.written += min(room, len(string))
            super().write(string[:room])
            return len(string)

    sys.modules["__main__"].CappedOutStream = CappedOutStream
    return "__main__.CappedOutStream"


def run_kernel(cap: int, args: list[str]) -> None:
    """Become the IPython kernel (in the forked child, or as ``runner.py --kernel``)."""
    prefer_oom_kill()
    # ipykernel imports debugpy at start-up (~0.12 s CPU, helper threads) only to offer a
    # debugger, which a grading run never uses; an import that fails turns it off.
    sys.modules["debugpy"] = None
    stream_class = install_stream_cap(cap)
    sys.argv = ["ipykernel_launcher", *args, f"--IPKernelApp.outstream_class={stream_class}"]
    sys.path[0] = ""
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def launch_kernel(cfg: dict) -> tuple[ForkedKernel | subprocess.Popen, str]:
    """Start the kernel early, so its start-up overlaps the runner's own imports.

    "fork" mode (default): import what runner and kernel share (jupyter_client, zmq,
    tornado, traitlets), then fork; the child becomes the IPython kernel without paying for
    those imports again. No thread and no zmq context exist yet, so the fork is clean.
    "exec" mode: a separate process, this script run as ``runner.py --kernel CAP ...``.
    nbclient's kernel manager adopts the process (``AdoptingKernelManager``).
    """
    path = connection_file(cfg)
    args = ["-f", path, *KERNEL_ARGS]
    cap = int(cfg["output_bytes"])
    os.makedirs(cfg["workdir"], exist_ok=True)
    if cfg.get("kernel_launch", "fork") == "fork":
        import jupyter_client.session  # noqa: F401  (shared with the kernel)
        import tornado.ioloop  # noqa: F401
        import zmq.asyncio  # noqa: F401

        pid = os.fork()
        if pid == 0:  # the kernel
            code = 1
            try:
                for name in PRIVATE_FDS:
                    if name in cfg:
                        os.close(int(cfg[name]))
                set_dumpable(1)
                os.setsid()
                os.chdir(cfg["workdir"])
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                run_kernel(cap, args)
                code = 0
            finally:
                os._exit(code)
        return ForkedKernel(pid), path
    argv = [sys.executable, "-s", os.path.abspath(__file__), "--kernel", str(cap), *args]
    proc = subprocess.Popen(
        argv,
        cwd=cfg["workdir"],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, path


if len(sys.argv) > 2 and sys.argv[1] == "--kernel":  # exec mode's kernel process
    run_kernel(int(sys.argv[2]), sys.argv[3:])
    sys.exit(0)

with open(sys.argv[1], encoding="utf-8") as _f:
    CFG = json.load(_f)
for _name in PRIVATE_FDS:
    if _name in CFG:
        os.set_inheritable(int(CFG[_name]), False)
set_dumpable(0)
for _d in ("HOME", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
    if os.environ.get(_d):
        os.makedirs(os.environ[_d], exist_ok=True)
# matplotlib's first font scan runs fc-list, which without a config prints "Fontconfig error"
if os.environ.get("FONTCONFIG_FILE") and not os.path.exists(os.environ["FONTCONFIG_FILE"]):
    with open(os.environ["FONTCONFIG_FILE"], "w", encoding="utf-8") as _f:
        _f.write("<fontconfig></fontconfig>\n")
PRE_KERNEL = launch_kernel(CFG)

import nbformat  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402
from nbformat.v4.rwbase import rejoin_lines  # noqa: E402

T_IMPORTED = time.monotonic()


class AdoptingKernelManager(AsyncKernelManager):
    """A kernel manager that adopts the kernel ``prelaunch_kernel`` started."""

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        proc, _ = PRE_KERNEL
        prov = self.provisioner
        prov.process = proc
        prov.pid = proc.pid
        try:
            prov.pgid = os.getpgid(proc.pid)
        except OSError:
            prov.pgid = None
        prov.cwd = CFG["workdir"]
        self._reconcile_connection_info(prov.connection_info)


_COUNTED = {"stream", "display_data", "execute_result", "error", "update_display_data"}


class CappedClient(NotebookClient):
    """NotebookClient that counts output bytes and kills the kernel past the cap."""

    output_cap: int = 8 * 1024 * 1024
    output_seen: int = 0
    capped: bool = False

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") in _COUNTED:
            if self.capped:
                return None
            self.output_seen += len(json.dumps(msg.get("content", {}), default=str))
            if self.output_seen > self.output_cap:
                self.capped = True
                kill_kernel(self)
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "stream",
                        name="stderr",
                        text=(
                            "\n[grader] 出力が上限を超えたため実行を停止しました。\n"
                            f"[grader] Output exceeded {self.output_cap} bytes; run stopped.\n"
                        ),
                    )
                )
                return None
        return super().process_message(msg, cell, cell_index)


def kill_kernel(client: NotebookClient) -> None:
    km = getattr(client, "km", None)
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    pid = getattr(proc, "pid", None)
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def write_report(fd: int, status: dict, nb) -> None:
    """``{"status", "notebook"}`` on the report descriptor; past RLIMIT_FSIZE (EFBIG, with
    SIGXFSZ ignored) the status alone, with the reason."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        view = memoryview(json.dumps({"status": status, "notebook": nb}).encode())
        while view:
            view = view[os.write(fd, view) :]
    except Exception as exc:
        status["write_error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"status": status, "notebook": None}).encode())


def wait_for_go(cfg: dict) -> dict | None:
    """Warm sandbox: say the kernel is ready, wait for the job; then read its keys into
    ``cfg`` (the start keys stay) and return the go message. None: no job comes."""
    os.write(int(cfg.pop("ready_fd")), b"1")
    go_fd = int(cfg.pop("go_fd"))
    chunks = []
    while chunk := os.read(go_fd, 4096):
        chunks.append(chunk)
    os.close(go_fd)
    if not chunks:
        return None
    with open(sys.argv[1], encoding="utf-8") as f:
        for key, value in json.load(f).items():
            cfg.setdefault(key, value)
    return json.loads(b"".join(chunks))


def cpu_used(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_cpu_from_now(seconds: int) -> None:
    """RLIMIT_CPU of the runner and the kernel: what each has used before the job plus the
    job's own budget (a warm sandbox started with a higher one; lowering needs no privilege)."""
    import math
    import resource

    for pid in (os.getpid(), PRE_KERNEL[0].pid):
        limit = math.ceil(cpu_used(pid)) + seconds
        resource.prlimit(pid, resource.RLIMIT_CPU, (limit, limit))


def configure_for_job(client: NotebookClient, cfg: dict) -> None:
    """The job's notebook and cell timeout on a client made before the job was known."""
    with open(cfg["notebook"], encoding="utf-8") as f:
        # Written by the trusted side, already validated there: no second schema check.
        client.nb = rejoin_lines(nbformat.from_dict(json.load(f)))
    client.timeout = cfg["cell_timeout"]
    client.error_on_timeout = {
        "ename": "CellTimeout",
        "evalue": f"cell exceeded {cfg['cell_timeout']} s",
        "traceback": [
            "[grader] セルの実行時間が上限を超えました。",
            f"[grader] Cell exceeded the time limit of {cfg['cell_timeout']} s.",
        ],
    }


def main(cfg: dict) -> int:
    km = AdoptingKernelManager(kernel_name=cfg["kernel_name"])
    km.connection_file = PRE_KERNEL[1]
    km.load_connection_file()
    km.cache_ports = False
    status = {
        "state": "running",
        "timings": {"runner_import": T_IMPORTED - T_START},
        "cells": [],
        "output_capped": False,
        "stopped": None,
    }
    client = CappedClient(
        nbformat.v4.new_notebook(),  # the job's comes with configure_for_job
        km=km,
        kernel_name=cfg["kernel_name"],
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        shutdown_kernel="immediate",
        startup_timeout=60,
        iopub_timeout=2,
        resources={"metadata": {"path": cfg["workdir"]}},
        extra_arguments=list(KERNEL_ARGS),
    )
    client.output_cap = int(cfg["output_bytes"])
    finished = threading.Event()

    def start_clock(t_go: float) -> None:
        # Whole-notebook wall clock from inside, so the partial notebook still gets written;
        # the trusted side kills everything a little later regardless.
        deadline = t_go + float(cfg["notebook_timeout"])

        def watchdog() -> None:
            if not finished.wait(max(0.0, deadline - time.monotonic())):
                status["stopped"] = "notebook_timeout"
                kill_kernel(client)

        threading.Thread(target=watchdog, daemon=True).start()

    warm = "go_fd" in cfg
    if not warm:
        start_clock(T_START)
    try:
        t0 = time.monotonic()
        with client.setup_kernel():
            kernel_start = time.monotonic() - t0
            if warm:
                go = wait_for_go(cfg)
                if go is None:  # no job comes: nothing to report
                    return 0
                t_go = time.monotonic()
                status["timings"]["warm_wait"] = t_go - t0 - kernel_start
                if PRE_KERNEL[0].poll() is not None:  # nothing of the job's has run yet
                    raise RuntimeError("the kernel stopped before the job came")
                limit_cpu_from_now(int(go["cpu_seconds"]))
                start_clock(t_go)
            status["timings"]["kernel_start"] = kernel_start
            configure_for_job(client, cfg)
            nb = client.nb
            t1 = time.monotonic()
            probe_index = int(cfg.get("probe_cell_index", -1))
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if index == probe_index:
                    status["timings"]["cells"] = time.monotonic() - t1
                    t1 = time.monotonic()
                tc = time.monotonic()
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    status["stopped"] = "cell_timeout"
                    break
                status["cells"].append([index, round(time.monotonic() - tc, 4)])
                if client.capped:
                    status["stopped"] = "output_cap"
                    break
                timed_out = time.monotonic() - tc >= float(cfg["cell_timeout"])
                if timed_out:
                    cell.outputs.append(
                        nbformat.v4.new_output(
                            "error",
                            ename="CellTimeout",
                            evalue=f"{cfg['cell_timeout']} s",
                            traceback=[
                                "[grader] セルの実行時間が上限を超えたため中断しました。",
                                f"[grader] Cell interrupted after {cfg['cell_timeout']} s.",
                            ],
                        )
                    )
                if timed_out and not ping(client, min(5.0, float(cfg["cell_timeout"]))):
                    # The interrupt did not stop the cell (e.g. it swallows KeyboardInterrupt).
                    status["stopped"] = "kernel_stuck"
                    break
            status["timings"]["probe" if probe_index >= 0 else "cells"] = time.monotonic() - t1
        status["state"] = "done"
    except DeadKernelError:
        status["state"] = "kernel_died"
        if client.capped:
            status["stopped"] = "output_cap"
    except Exception as exc:  # report, never hide: the trusted side shows it
        status["state"] = "runner_error"
        status["error"] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    finally:
        finished.set()
        kill_kernel(client)
        try:
            os.killpg(PRE_KERNEL[0].pid, signal.SIGKILL)
        except OSError:
            pass
    status["output_capped"] = client.capped
    status["timings"]["total"] = time.monotonic() - T_START
    write_report(int(cfg["report_fd"]), status, client.nb)
    return 0


def ping(client: NotebookClient, timeout: float) -> bool:
    """True when the kernel answers a trivial request within ``timeout`` seconds."""
    cell = nbformat.v4.new_code_cell("pass")
    saved = client.timeout, client.interrupt_on_timeout, client.error_on_timeout
    client.timeout, client.interrupt_on_timeout, client.error_on_timeout = timeout, False, None
    # nbclient stores the cell it runs at the index given: put the notebook's own back after
    first = client.nb.cells[0]
    try:
        client.execute_cell(cell, 0)
        return True
    except (CellTimeoutError, DeadKernelError):
        return False
    finally:
        client.timeout, client.interrupt_on_timeout, client.error_on_timeout = saved
        client.nb.cells[0] = first


if __name__ == "__main__":
    _rc = main(CFG)  # every file is written and closed by now
    sys.stdout.flush()
    sys.stderr.flush()
    # No interpreter teardown: closing the zmq context waits on sockets to a killed kernel
    # (linger) and unloading nbclient & co. only costs time; the sandbox is discarded anyway.
    os._exit(_rc)
