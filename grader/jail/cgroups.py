"""A per-job cgroup (v2, or v1 memory + pids) the sandbox starts in; memory, process and CPU
figures."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.jail.limits import Limits


@dataclass
class Cgroup:
    """A per-job cgroup (v2, or v1 memory + pids) that the sandbox is started in."""

    procs_files: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    version: int = 0
    memory_dir: Path | None = None
    cpu_dir: Path | None = None

    def cpu_seconds(self) -> float | None:
        """CPU time used by everything in the job's cgroup (user + system)."""
        if self.cpu_dir is None:
            return None
        try:
            if self.version == 2:
                for line in (self.cpu_dir / "cpu.stat").read_text().splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
                return None
            return int((self.cpu_dir / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, IndexError):
            return None

    @property
    def active(self) -> bool:
        return bool(self.procs_files)

    def peak_memory(self) -> int | None:
        if self.memory_dir is None:
            return None
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((self.memory_dir / name).read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return None

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        try:
            if self.version == 2:
                events = (self.memory_dir / "memory.events").read_text()
                return any(
                    line.split()[0] == "oom_kill" and int(line.split()[1]) > 0
                    for line in events.splitlines()
                )
            ctl = (self.memory_dir / "memory.oom_control").read_text().split()
            if "oom_kill" in ctl:
                return int(ctl[ctl.index("oom_kill") + 1]) > 0
            return int((self.memory_dir / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, IndexError):
            return False

    def kill_all(self) -> None:
        """SIGKILL whatever is still in the cgroup (nothing should be)."""
        for procs in self.procs_files:
            try:
                pids = [int(x) for x in procs.read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def remove(self) -> None:
        self.kill_all()
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _own_cgroup_paths() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except OSError:
        pass
    return out


def _parents() -> list[Path]:
    """The folders ``make_cgroup`` makes job cgroups in (v2, or v1's hierarchies)."""
    own = _own_cgroup_paths()
    root = Path("/sys/fs/cgroup")
    found = [base / own[""].lstrip("/") for base in (root, root / "unified") if "" in own]
    found += [root / c / own[c].lstrip("/") for c in ("memory", "cpuacct", "pids") if c in own]
    return [p for p in found if p.is_dir()]


def sweep_stale_cgroups() -> list[Path]:
    """Remove the empty job cgroups of graders that no longer run (a killed grader leaves
    its job's cgroup behind; the tag starts with the grader's pid). Returns what went."""
    removed = []
    for parent in _parents():
        for d in parent.glob("dlgrader-*"):
            pid = d.name.split("-")[1]
            if not pid.isdigit() or Path(f"/proc/{pid}").exists():
                continue
            try:
                d.rmdir()  # refused while a process is in it
            except OSError:
                continue
            removed.append(d)
    return removed


def make_cgroup(limits: Limits, tag: str) -> tuple[Cgroup, str]:
    """A fresh cgroup for one job with memory and pids limits, or an inactive one and why."""
    own = _own_cgroup_paths()
    root = Path("/sys/fs/cgroup")
    name = f"dlgrader-{tag}"
    cg = Cgroup()
    # cgroup v2 with the memory controller delegated to our cgroup.
    for base in (root, root / "unified"):
        ctrl = base / "cgroup.controllers"
        if "" in own and ctrl.exists() and "memory" in ctrl.read_text().split():
            parent = base / own[""].lstrip("/")
            try:
                d = parent / name
                d.mkdir()
                cg.dirs.append(d)
                (d / "memory.max").write_text(str(limits.memory_bytes))
                if (d / "memory.swap.max").exists():
                    (d / "memory.swap.max").write_text("0")
                if (d / "pids.max").exists():
                    (d / "pids.max").write_text(str(limits.nproc))
                cg.procs_files.append(d / "cgroup.procs")
                cg.version, cg.memory_dir, cg.cpu_dir = 2, d, d
                return cg, ""
            except OSError as exc:
                cg.remove()
                cg = Cgroup()
                reason = f"cgroup v2 not writable ({exc})"
                break
    else:
        reason = ""
    # cgroup v1: separate memory and pids hierarchies.
    mem = root / "memory"
    if (mem / "memory.limit_in_bytes").exists():
        try:
            d = mem / own.get("memory", "/").lstrip("/") / name
            d.mkdir()
            cg.dirs.append(d)
            (d / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            if (d / "memory.memsw.limit_in_bytes").exists():
                try:
                    (d / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
                except OSError:
                    pass
            cg.procs_files.append(d / "cgroup.procs")
            cg.version, cg.memory_dir = 1, d
            acct = root / "cpuacct"
            if (acct / "cpuacct.usage").exists():
                try:
                    ad = acct / own.get("cpuacct", "/").lstrip("/") / name
                    ad.mkdir()
                    cg.dirs.append(ad)
                    cg.procs_files.append(ad / "cgroup.procs")
                    cg.cpu_dir = ad
                except OSError:
                    pass
            pids = root / "pids"
            if (pids / "cgroup.procs").exists():
                try:
                    pd = pids / own.get("pids", "/").lstrip("/") / name
                    pd.mkdir()
                    cg.dirs.append(pd)
                    (pd / "pids.max").write_text(str(limits.nproc))
                    cg.procs_files.append(pd / "cgroup.procs")
                except OSError:
                    pass
            return cg, ""
        except OSError as exc:
            cg.remove()
            cg = Cgroup()
            reason = (reason + "; " if reason else "") + f"cgroup v1 memory not writable ({exc})"
    return cg, reason or "no writable memory cgroup"
