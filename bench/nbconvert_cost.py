"""What would executing through nbconvert's ExecutePreprocessor cost the sandbox runner?

The runner executes the graded notebook with nbclient's ``NotebookClient`` (the engine that
``nbconvert.preprocessors.ExecutePreprocessor`` wraps since nbconvert 6). This script measures,
interleaved in one run so that a noisy machine hits both alike:

* the import the runner would pay per job (fresh interpreter each time): ``import nbclient``
  against ``from nbconvert.preprocessors import ExecutePreprocessor``;
* executing the same small notebook end to end in a fresh interpreter with either one
  (kernel start included), outside the sandbox.

    .venv/bin/python bench/nbconvert_cost.py [--repeats 7]

Needs nbconvert (a dev dependency: ``pip install -e '.[dev]'``). Prints medians and the
min-max range; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORTS = {
    "nbclient": "import nbclient",
    "nbconvert": "from nbconvert.preprocessors import ExecutePreprocessor",
}

EXECUTE = {
    "nbclient": (
        "import nbformat, nbclient, sys\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=60, kernel_name='python3').execute()\n"
    ),
    "nbconvert": (
        "import nbformat, sys\n"
        "from nbconvert.preprocessors import ExecutePreprocessor\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "ExecutePreprocessor(timeout=60, kernel_name='python3').preprocess(nb)\n"
    ),
}


def small_notebook(path: Path) -> None:
    cells = [
        "import numpy as np",
        "x = np.arange(12.0).reshape(3, 4)\nprint(x.sum())",
        "def softmax(x):\n    e = np.exp(x - x.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\nsoftmax(x)",
    ]
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": s,
                "outputs": [],
                "execution_count": None,
            }
            for s in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))


def wall(code: str, *args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)
    return time.perf_counter() - t


def report(title: str, runs: dict[str, list[float]]) -> None:
    print(f"\n== {title} ==")
    base = statistics.median(runs["nbclient"])
    for name, xs in runs.items():
        med = statistics.median(xs)
        print(
            f"{name:10s} median {med:.3f} s  (min {min(xs):.3f}, max {max(xs):.3f})  "
            f"{med / base:.2f}x nbclient"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        nb = Path(tmp) / "small.ipynb"
        small_notebook(nb)
        imports = {k: [] for k in IMPORTS}
        execute = {k: [] for k in EXECUTE}
        for name in IMPORTS:  # warm the page cache for both
            wall(IMPORTS[name])
        for _ in range(args.repeats):
            for name in IMPORTS:
                imports[name].append(wall(IMPORTS[name]))
            for name in EXECUTE:
                execute[name].append(wall(EXECUTE[name], str(nb)))
    report("import in a fresh interpreter", imports)
    report("execute a 3-cell notebook in a fresh interpreter (kernel start included)", execute)


if __name__ == "__main__":
    main()
