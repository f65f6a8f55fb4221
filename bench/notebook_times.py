"""Execute notebooks top to bottom in a fresh kernel and print each one's wall time.

Usage: .venv/bin/python bench/notebook_times.py [solutions/2-1_autodiff.ipynb ...]
(default: every notebook in solutions/). Prints one line per notebook and the failures, if any.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def run(path: Path) -> tuple[float, str | None, nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        start = time.perf_counter()
        try:
            client.execute()
            error = None
        except CellExecutionError as exc:
            error = str(exc).splitlines()[-1] if str(exc) else repr(exc)
        return time.perf_counter() - start, error, nb


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "solutions").glob("*.ipynb"))
    failed = 0
    for path in paths:
        seconds, error, _ = run(path)
        status = "ok" if error is None else f"FAILED: {error}"
        print(f"{path.name:40s} {seconds:7.1f} s  {status}", flush=True)
        failed += error is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
