"""The sandbox policy: how jobs run here, decided once per process by the caller.

``sandbox_policy(allow_unsandboxed)`` probes bwrap (``availability.bwrap_usable``, cached) and
records the caller's opt-in (``--allow-unsandboxed``); the engine receives the result as an
argument and never probes or reads the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.jail.availability import bwrap_usable


@dataclass(frozen=True)
class SandboxPolicy:
    mode: str  # "bwrap" or "limits-only" (process limits, no namespaces)
    reason: str  # why bwrap cannot run here ("" when it can)
    allow_limits_only: bool  # the instructor's explicit opt-in to grade without bwrap

    @property
    def may_grade(self) -> bool:
        return self.mode == "bwrap" or self.allow_limits_only


def sandbox_policy(allow_unsandboxed: bool) -> SandboxPolicy:
    ok, why = bwrap_usable()
    return SandboxPolicy("bwrap" if ok else "limits-only", why, allow_unsandboxed)
