"""Which sandbox the service's workers use: ``"bwrap"`` or ``"limits-only"``.

One answer, the engine's own (``grader.engine.pipeline.sandbox_status``, probed once per
process); the service never probes bubblewrap itself.
"""

from __future__ import annotations


def sandbox_mode() -> str:
    from grader.engine.pipeline import sandbox_status

    return str(sandbox_status()["mode"])
