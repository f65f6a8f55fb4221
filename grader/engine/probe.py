"""Step 3 (trusted half): make the job's secret inputs (the probe cell that uses them is the
jail's: ``grader/jail/probe_cell.py``)."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import numpy as np

from grader.engine.spec import Assignment, TrustedData
from grader.jail.probe_cell import NAME


class SpecError(RuntimeError):
    """An assignment spec produced something the engine cannot use (a grader bug)."""


def new_seed() -> int:
    """A fresh secret seed per job (never written into the sandbox)."""
    return secrets.randbits(128)


def make_inputs(
    assignment: Assignment, seed: int, data: TrustedData
) -> list[dict[str, np.ndarray]]:
    """Each item's inputs from its own child of ``SeedSequence(seed)``."""
    children = np.random.SeedSequence(seed).spawn(len(assignment.items))
    result = []
    for item, child in zip(assignment.items, children):
        arrays = item.make_inputs(np.random.default_rng(child), data)
        clean = {}
        for name, a in arrays.items():
            if not NAME.match(name):
                raise SpecError(f"{item.id}: input name {name!r} is not an identifier")
            a = np.asarray(a)
            if a.dtype.kind not in "biuf":
                raise SpecError(f"{item.id}: input {name!r} has dtype {a.dtype}")
            clean[name] = a
        result.append(clean)
    return result


def write_inputs(path: Path, inputs: list[dict[str, np.ndarray]]) -> None:
    """All items' inputs in one ``.npz`` (keys ``<item index>__<name>``), sandbox-readable."""
    flat = {f"{i}__{k}": v for i, arrays in enumerate(inputs) for k, v in arrays.items()}
    buf = io.BytesIO()
    np.savez(buf, **flat)
    path.write_bytes(buf.getvalue())
    path.chmod(0o644)
