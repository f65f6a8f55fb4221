"""Mutation variants derived from declared items (``grader/specs/_declare.py``): the declared
solution is a correct variant; each declared mistake becomes a stand-in for the student's
class or function that returns what the mistake computes (a buggy variant whose hint must be
shown). Test doubles, so they live with the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.specs._declare import Declaration, DeclaredItem, Known, evaluate


def variants(item: DeclaredItem) -> list[tuple[str, dict[str, Any], str | None]]:
    """``(name, namespace, hint id)``: the declared solution (a correct variant, no hint) and,
    per declared mistake, its ``code`` or else a stand-in target that returns the correct
    outputs except those the mistake changes (a buggy variant that must lose the points with
    that hint)."""
    d = item.declaration
    found = [("solution", {d.call.target: d.solution}, None)]
    for n, known in enumerate(d.mistakes):
        wrong = known.code if known.code is not None else _StandIn(d, known)
        found.append((f"mistake {n}: {known.hint}", {d.call.target: wrong}, known.hint))
    return found


class _StandIn:
    """Called like the student's class or function. The probe runs the call's steps in order
    (second instance included), so the stand-in counts them over one run: each step records
    its arguments by input name and returns the saved output as ``known`` computes it from the
    inputs seen so far (the correct value for the outputs it does not change). The large run
    that follows (items with ``large``) gets the declared solution itself: the mistake is
    judged on the small inputs. Outputs of optional steps (``then(..., optional=True)``) are
    not stood in for: such a step raises, and the probe drops it."""

    def __init__(self, d: Declaration, known: Known):
        self.d, self.known = d, known
        # the target's calls (``also`` steps call other functions, absent from the namespace)
        self.calls = [s for s in d.call.steps if "method" in s and "function" not in s]
        self.phase, self.done, self.seen, self.large_left = "idle", 0, {}, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        function = self.d.call.init is None
        if self.phase == "large":
            if function and self.large_left:
                self.large_left -= 1
                return self.d.solution(*args, **kwargs)
            self.phase = "idle"  # the next probe
        if self.phase == "small" and self.done == len(self.calls):
            self.phase = "idle"
            if self.d.large is not None:
                self.phase, self.large_left = "large", len(self.calls) - 1
                return self.d.solution(*args, **kwargs)
        if self.phase == "idle":
            self.phase, self.done, self.seen = "small", 0, {}
        if function:
            return self.step(args, kwargs)
        self.record(self.d.call.init, self.d.call.init_kwargs, args, kwargs)
        return _Instance(self)

    def step(self, args: tuple, kwargs: dict) -> Any:
        step = self.calls[self.done]
        self.done += 1
        self.record(step.get("args", ()), step.get("kwargs", {}), args, kwargs)
        return self.value(step.get("save", ""))

    def record(self, refs, keyword_refs, args: tuple, kwargs: dict) -> None:
        """What the call passed, by input name (constants are not inputs)."""
        named = list(zip(refs, args)) + [(keyword_refs[k], v) for k, v in kwargs.items()]
        self.seen.update((r, v) for r, v in named if isinstance(r, str))

    def value(self, name: str | list[str] | dict[str, str]) -> Any:
        if not name:
            return None
        if isinstance(name, list):
            return tuple(self.value(n) for n in name)
        if isinstance(name, dict):
            return {key: self.value(n) for key, n in name.items()}
        if name not in self.known.outputs and name not in self.d.expect:
            raise LookupError(f"{name}: an optional call's output, not stood in for")
        fn = self.known.outputs.get(name, self.d.expect.get(name))
        return evaluate(fn, {k: np.asarray(v) for k, v in self.seen.items()})


class _Instance:
    def __init__(self, stand_in: _StandIn):
        self._stand_in = stand_in

    def __getattr__(self, name: str) -> Any:
        for step in self._stand_in.d.call.steps:
            if step.get("attr") == name:
                return self._stand_in.value(step["save"])
            if step.get("fill") == name:  # the entries filled in place are inputs seen
                refs = step["with"]
                return {key: _Entry(self._stand_in.seen, ref) for key, ref in refs.items()}
        return lambda *args, **kwargs: self._stand_in.step(args, kwargs)


class _Entry:
    """An entry of a filled dict attribute: ``entry[...] = value`` records the input."""

    def __init__(self, seen: dict[str, Any], ref: str):
        self.seen, self.ref = seen, ref

    def __setitem__(self, index: Any, value: Any) -> None:
        self.seen[self.ref] = np.array(value)
