"""Step 4 (reading half): read what the sandbox left, as data only.

Every path component is opened relative to an already-open directory with ``O_NOFOLLOW``;
files must be regular and below a size cap (``O_NONBLOCK`` so a planted FIFO cannot block us);
arrays go through ``np.load(allow_pickle=False)`` and must be plain numbers (bool, int, float)
with a bounded element count. Anything else is reported, never followed or unpickled.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader.jail.probe_cell import NAME

MAX_ARRAY_BYTES = 64 * 1024 * 1024
MAX_ITEM_BYTES = 128 * 1024 * 1024
MAX_FILES_PER_ITEM = 64
MAX_TEXT_BYTES = 16 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class UnsafeOutput(Exception):
    """A file that is not a plain, small regular file (link, FIFO, too big...)."""


def open_dir(path: Path, dir_fd: int | None = None) -> int:
    """Open a directory without following a symlink at its last component."""
    try:
        return os.open(str(path), _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise UnsafeOutput(f"{path}: {exc.strerror}") from None


def open_dirs(root: Path, *parts: str) -> int | None:
    """A descriptor of ``root/part/...``, each level opened without following a link; None
    when a level is missing or unsafe. The caller closes it."""
    try:
        fd = open_dir(root)
    except UnsafeOutput:
        return None
    for part in parts:
        try:
            inner = open_dir(Path(part), dir_fd=fd)
        except UnsafeOutput:
            return None
        finally:
            os.close(fd)
        fd = inner
    return fd


def read_file(dir_fd: int, name: str, max_bytes: int) -> bytes:
    """The bytes of regular file ``name`` inside ``dir_fd`` (no links, at most ``max_bytes``)."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise UnsafeOutput(f"{name}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeOutput(f"{name}: not a regular file")
        if st.st_size > max_bytes:
            raise UnsafeOutput(f"{name}: {st.st_size} bytes, limit {max_bytes}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise UnsafeOutput(f"{name}: grew beyond {max_bytes} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(dir_fd: int, name: str, max_bytes: int = MAX_TEXT_BYTES) -> str | None:
    """A small text file, or None when absent; longer files are cut at ``max_bytes``."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"<unreadable: {exc.strerror}>"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "<not a regular file>"
        return os.read(fd, max_bytes).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except OSError:
        return False


def load_array(data: bytes, name: str) -> np.ndarray:
    """An ``.npy`` payload as a plain numeric array (no pickles, no object/str/structured)."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise UnsafeOutput(f"{name}: not a plain .npy array ({type(exc).__name__})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf" or arr.dtype.names:
        raise UnsafeOutput(f"{name}: dtype {getattr(arr, 'dtype', '?')} is not numeric")
    return arr


@dataclass
class ItemOutputs:
    """What one item's probe left: arrays, an error text, whether it finished."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    done: bool = False
    problems: list[str] = field(default_factory=list)


def read_item_outputs(out_dir: Path, index: int) -> ItemOutputs:
    """Read ``out_dir/probe/<index>/`` safely (see module docstring)."""
    res = ItemOutputs()
    fd = open_dirs(out_dir, "probe", str(index))
    if fd is None:
        return res
    try:
        res.done = exists(fd, "done")
        res.error = read_text(fd, "error.txt")
        total = 0
        names = sorted(os.listdir(fd))[: MAX_FILES_PER_ITEM + 8]
        for entry in names:
            if not entry.endswith(".npy"):
                continue
            key = entry[:-4]
            if not NAME.match(key):
                res.problems.append(f"{entry}: unexpected name")
                continue
            if len(res.arrays) >= MAX_FILES_PER_ITEM:
                res.problems.append("too many output files")
                break
            try:
                data = read_file(fd, entry, MAX_ARRAY_BYTES)
                total += len(data)
                if total > MAX_ITEM_BYTES:
                    res.problems.append("outputs too large in total")
                    break
                res.arrays[key] = load_array(data, entry)
            except UnsafeOutput as exc:
                res.problems.append(str(exc))
    finally:
        os.close(fd)
    return res
