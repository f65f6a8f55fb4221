"""Assignment specs: one module per assignment in this folder, each defining ``ASSIGNMENT``.

The folder is the registry: every module here whose name does not start with ``_`` is a spec
(``_``-modules are shared helpers). ``get_assignment("3-1-1_affine_layer")`` returns the
:class:`~grader.engine.spec.Assignment`; ``all_assignments()`` lists them in course order
(``Assignment.order``). The modules import ``reference`` (trusted side only).

One error policy: a spec that cannot be loaded (it raises at import, has no ``ASSIGNMENT``,
declares a hint id that ``grader.engine.hints.HINTS`` does not define, or two modules claim
one id) is a :class:`SpecLoadError` naming the file and line, raised to
whoever asked — the CLI, the service and the validator all stop on it; no assignment is ever
skipped in silence.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from functools import cache
from pathlib import Path

from grader.engine.hints import HINTS
from grader.engine.spec import Assignment

FOLDER = Path(__file__).resolve().parent


class SpecLoadError(Exception):
    """A spec module failed to load; ``where`` is ``file:line`` of the fault."""

    def __init__(self, module: str, where: str, reason: str):
        super().__init__(f"{where}: cannot load spec {module!r}: {reason}")
        self.module = module
        self.where = where
        self.reason = reason


def spec_module_names() -> list[str]:
    """The spec modules in this folder (file names without ``.py``), sorted by name."""
    return sorted(m.name for m in pkgutil.iter_modules([str(FOLDER)]) if not m.name.startswith("_"))


def _fault_location(module: str, exc: BaseException) -> str:
    """``file:line`` of the deepest frame inside this folder (else the module's file)."""
    where = f"{FOLDER / (module + '.py')}:1"
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve().parent == FOLDER:
            where = f"{frame.filename}:{frame.lineno}"
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}:{exc.lineno}"
    return where


def _load_module(module: str) -> Assignment:
    name = f"grader.specs.{module}"
    try:
        loaded = importlib.import_module(name)
    except Exception as exc:  # any fault in a spec is the instructor's to see, with its line
        sys.modules.pop(name, None)
        reason = f"{type(exc).__name__}: {exc}"
        raise SpecLoadError(module, _fault_location(module, exc), reason) from exc
    spec = getattr(loaded, "ASSIGNMENT", None)
    if not isinstance(spec, Assignment):
        raise SpecLoadError(
            module, f"{FOLDER / (module + '.py')}:1", "defines no ASSIGNMENT = Assignment(...)"
        )
    _check_hints(module, spec)
    return spec


def _check_hints(module: str, spec: Assignment) -> None:
    """Every hint id an item declares must exist: a misspelt one never reaches a student."""
    for item in spec.items:
        unknown = [h for h in item.hints if h not in HINTS]
        if unknown:
            raise SpecLoadError(
                module,
                _source_line(module, unknown[0], item.id),
                f"item {item.id!r} declares unknown hint id {unknown[0]!r} "
                f"(defined ones are in grader/engine/hints.py)",
            )


def _source_line(module: str, *needles: str) -> str:
    """``file:line`` of the first line quoting one of ``needles`` (in order), in the spec
    module, then in this folder's shared helpers; else the module's first line."""
    files = [FOLDER / f"{module}.py", *sorted(FOLDER.glob("_*.py"))]
    for needle in needles:
        quoted = (f'"{needle}"', f"'{needle}'")
        for path in files:
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if any(q in line for q in quoted):
                    return f"{path}:{n}"
    return f"{FOLDER / (module + '.py')}:1"


@cache
def _registry() -> dict[str, Assignment]:
    """assignment id -> spec, in course order (loaded once per process)."""
    found: dict[str, tuple[str, Assignment]] = {}
    for module in spec_module_names():
        spec = _load_module(module)
        if spec.id in found:
            other = found[spec.id][0]
            raise SpecLoadError(
                module,
                f"{FOLDER / (module + '.py')}:1",
                f"assignment id {spec.id!r} is already defined in {other}.py",
            )
        found[spec.id] = (module, spec)
    ordered = sorted(found.values(), key=lambda pair: (pair[1].order, pair[1].id))
    return {spec.id: spec for _, spec in ordered}


def assignment_ids() -> list[str]:
    """Every assignment id, in course order."""
    return list(_registry())


def get_assignment(assignment_id: str) -> Assignment:
    """The spec of ``assignment_id`` (e.g. ``"2-7_batch_norm"``); KeyError lists the known ids."""
    registry = _registry()
    try:
        return registry[assignment_id]
    except KeyError:
        raise KeyError(
            f"unknown assignment {assignment_id!r}; known: {', '.join(registry)}"
        ) from None


def all_assignments() -> list[Assignment]:
    """Every assignment spec, in course order."""
    return list(_registry().values())


def reload_registry() -> None:
    """Forget the loaded specs (tests that add a spec module to the folder call this)."""
    _registry.cache_clear()


__all__ = [
    "FOLDER",
    "SpecLoadError",
    "all_assignments",
    "assignment_ids",
    "get_assignment",
    "reload_registry",
    "spec_module_names",
]
