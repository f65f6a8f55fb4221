"""The sandbox's seccomp filter: no new namespaces inside the jail, in root and non-root mode.

A classic-BPF program for bwrap's ``--seccomp FD`` (bwrap loads it last, just before it starts
the runner). It refuses ``unshare`` and ``setns`` (EPERM), ``clone`` with any ``CLONE_NEW*``
flag (EPERM), and ``clone3`` (ENOSYS: its flags sit in memory a filter cannot read; glibc
then falls back to ``clone``). Everything else is allowed: the other limits are bwrap's,
setpriv's, the cgroup's and the rlimits' job. A syscall of another ABI (i386 or x32 on
x86_64) is refused outright, since its numbers differ.

Written here with ``struct`` (a dozen instructions) rather than through libseccomp: its
Python bindings are not on PyPI, and this filter never changes.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_NR, _ARCH, _ARG0_LOW = 0, 4, 16  # args[0]'s low 32 bits (little-endian machines below)

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000

# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (clone's low byte is the
# exit signal, so CLONE_NEWTIME, 0x80, cannot be asked for through clone).
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NEW_FLAGS |= 0x20000000 | 0x40000000


# machine: (AUDIT_ARCH_*, clone, unshare, setns, clone3, first number of a foreign ABI or None)
_ARCHES = {
    "x86_64": (0xC000003E, 56, 272, 308, 435, 0x40000000),  # x32 numbers have bit 30 set
    "aarch64": (0xC00000B7, 220, 97, 268, 435, None),
}


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() in _ARCHES


def program(machine: str | None = None) -> bytes:
    """The compiled filter (``struct sock_filter[]``) for ``machine`` (default: this one)."""
    arch, clone, unshare, setns, clone3, foreign = _ARCHES[machine or platform.machine()]
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    body = [
        _ins(_LD_W_ABS, _ARCH),
        _ins(_JEQ_K, arch, jt=1),
        _ins(_RET_K, _KILL_PROCESS),
        _ins(_LD_W_ABS, _NR),
    ]
    if foreign is not None:
        body += [_ins(_JGE_K, foreign, jf=1), _ins(_RET_K, eperm)]
    body += [
        _ins(_JEQ_K, unshare, jt=2),
        _ins(_JEQ_K, setns, jt=1),
        _ins(_JEQ_K, clone, jt=1, jf=5),
        _ins(_RET_K, eperm),  # unshare, setns
        _ins(_LD_W_ABS, _ARG0_LOW),  # clone: its flags
        _ins(_JSET_K, CLONE_NEW_FLAGS, jt=1),
        _ins(_RET_K, _ALLOW),
        _ins(_RET_K, eperm),
        _ins(_JEQ_K, clone3, jf=1),
        _ins(_RET_K, enosys),
        _ins(_RET_K, _ALLOW),
    ]
    return b"".join(body)


def program_fd() -> int:
    """A readable descriptor holding the filter, for bwrap's ``--seccomp`` (caller closes)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program())  # < 200 bytes: fits the pipe's buffer
    finally:
        os.close(write_end)
    return read_end
