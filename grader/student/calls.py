"""The one generic caller of declared items: a call description (data) run on input arrays.

A *call* is JSON-like data written by ``grader/specs/_declare.py``::

    {"target": "Affine", "init": ["W", "b"],          # a class built with inputs W, b
     "steps": [{"method": "forward", "args": ["x"], "save": "y"},
               {"method": "forward", "args": ["x_other"], "on": "other"},  # a second instance
               {"method": "backward", "args": ["dout"], "save": "dx"},
               {"attr": "dW", "save": "dW"}]}

``init`` None means ``target`` is a function: each step calls it (``method`` is empty).
Arguments name input arrays and are passed as fresh copies (0-d arrays as Python numbers), or
are constants written ``{"value": true}`` (e.g. ``train_flg``), or ``{"list": "hidden"}`` (an
input as a Python list); ``init_kwargs`` and a step's ``kwargs`` map keyword names to either.
A step ``{"fill": "params", "with": {"W1": "W1"}}`` overwrites the entries of a dict attribute
in place with inputs (layers holding the arrays by reference see them). A step with ``"keep":
true`` saves the arrays it passed as ``arg_<name>`` after the calls (a function must not write
into its arguments). ``save`` may list names for a returned tuple, or map a returned dict's
keys to names. ``{"let": "params", "value": {"dict": {"W": "W0"}}}`` keeps a value that later
arguments pass as ``{"var": "params"}`` (the same object: an optimiser updates it in place)
and ``{"read": "params", "save": {"W": "W"}}`` saves its entries (with ``"since": {"W":
"W0"}``, minus those inputs: a displacement); with ``"stack": true`` the
rows a step saves on each run are stacked (a trajectory, shape (steps, ...)).
Saved values are copied to float64 arrays when produced, so a later call that reuses the
array in place does not change what was returned.

A step ``"function": "weight_penalty"`` calls that function of the namespace instead of the
target. A step ``{"seed": "seed"}`` seeds ``np.random`` with that input (a random forward run
twice draws the same mask). An argument ``{"source": "def f(W, a): ...", "name": "f"}`` is a
function given as its source (run with ``np`` only): trusted code the called code receives.
Steps may fail without failing the call: ``"optional": true`` (an ungraded call: an exception
is dropped, what it saved before stays; a dict save takes the keys the result has),
``"after": <hint>`` (its exception text is saved as ``error_<first saved name>``, for the
scorer to report after the other outputs pass) and ``"either": <hint>`` (the steps with the
same ``either`` are alternatives: any may raise, but when all do, the last exception is
raised). An input passed to several kept steps is saved as the copy a step changed, if any.

It runs in two places, with the same code: in the jail, in the student's kernel, as the probe
of a declared item (the probe cell records any exception), and in the student's own kernel as
the self-check of that item. It lives in ``grader.student`` because both may import it (the
jail stages this package; ``grader.student`` may import nothing else of ``grader``).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np


def as_argument(value: np.ndarray) -> Any:
    """An input as the called code gets it: a fresh copy, a 0-d array as a Python number."""
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value.copy()


def argument(
    ref: str | Mapping[str, Any],
    inp: Mapping[str, np.ndarray],
    variables: Mapping[str, Any] | None = None,
) -> Any:
    """An argument: the input array named ``ref`` (a fresh copy), ``ref["value"]``, the input
    named ``ref["list"]`` as a Python list (e.g. layer widths), a dict of arguments
    (``ref["dict"]``), the value kept under ``ref["var"]`` (the same object each time), or the
    function whose source is ``ref["source"]``."""
    if not isinstance(ref, Mapping):
        return as_argument(inp[ref])
    if "list" in ref:
        return np.asarray(inp[ref["list"]]).tolist()
    if "dict" in ref:
        return {k: argument(r, inp, variables) for k, r in ref["dict"].items()}
    if "var" in ref:
        return (variables or {})[ref["var"]]
    if "source" in ref:  # a trusted function, written as its source
        scope: dict[str, Any] = {"np": np}
        exec(ref["source"], scope)
        return scope[ref["name"]]
    return ref["value"]


def run_call(
    call: Mapping[str, Any],
    inp: Mapping[str, np.ndarray],
    out: MutableMapping[str, np.ndarray],
    namespace: Mapping[str, Any],
) -> None:
    """Run ``call`` on ``inp`` with the objects of ``namespace``; fill ``out`` with what the
    steps save. Exceptions of the called code propagate (the caller records them)."""
    target = namespace[call["target"]]
    init = call.get("init")
    instances: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    stacks: dict[str, list[np.ndarray]] = {}

    def arg(ref: str | Mapping[str, Any]) -> Any:
        return argument(ref, inp, variables)

    def instance(which: str) -> Any:
        if which not in instances:
            kwargs = {k: arg(r) for k, r in call.get("init_kwargs", {}).items()}
            instances[which] = target(*[arg(r) for r in init], **kwargs)
        return instances[which]

    kept: dict[str, list[Any]] = {}

    def do(step: Mapping[str, Any]) -> None:
        """One step that reads or calls (see ``run_call``), saving what it gives."""
        which = step.get("on", "main")
        if "read" in step:  # entries of a kept value, as it is now (minus inputs: since)
            value = arg({"var": step["read"]})
            since = step.get("since", {})
            value = {
                k: np.asarray(value[k]) - inp[since[k]] if k in since else value[k]
                for k in step["save"]
            }
        elif "attr" in step:
            value = getattr(instance(which), step["attr"])
        else:
            args = [arg(r) for r in step.get("args", ())]
            kwargs = {k: arg(r) for k, r in step.get("kwargs", {}).items()}
            if step.get("keep"):  # the arrays passed, to be saved after the calls
                for r, a in zip(step.get("args", ()), args):
                    if isinstance(r, str):
                        kept.setdefault(r, []).append(a)
            if "function" in step:  # another function of the namespace
                fn = namespace[step["function"]]
            elif init is None:
                fn = target
            else:
                fn = getattr(instance(which), step["method"])
            value = fn(*args, **kwargs)
        partial = bool(step.get("optional"))
        if step.get("stack"):  # one row per such step, stacked after the calls
            once: dict[str, np.ndarray] = {}
            _save(step.get("save"), value, once)
            for name, row in once.items():
                stacks.setdefault(name, []).append(row)
        else:
            _save(step.get("save"), value, out, partial)

    raised: dict[str, list[BaseException | None]] = {}  # per ``either``: each step's exception
    for step in call["steps"]:
        which = step.get("on", "main")
        if "let" in step:  # a value later steps pass and read (e.g. the params dict)
            variables[step["let"]] = arg(step["value"])
            continue
        if "seed" in step:  # the same random draws as another run seeded alike
            np.random.seed(int(inp[step["seed"]]))
            continue
        if "fill" in step:  # overwrite entries of a dict attribute in place (e.g. params)
            entries = getattr(instance(which), step["fill"])
            for key, ref in step["with"].items():
                entries[key][...] = arg(ref)
            continue
        caught = step.get("optional") or "after" in step or "either" in step
        try:
            do(step)
        except Exception as exc:
            if not caught:
                raise
            if "after" in step:
                text = repr(exc)[:300].encode("utf-8")
                out["error_" + output_names(step["save"])[0]] = np.frombuffer(text, dtype=np.uint8)
            if "either" in step:
                raised.setdefault(step["either"], []).append(exc)
        else:
            if "either" in step:
                raised.setdefault(step["either"], []).append(None)
    out.update({name: np.stack(rows) for name, rows in stacks.items()})
    for name, copies in kept.items():  # the copy a step changed, if any
        arrays = [a for a in copies if isinstance(a, np.ndarray)]
        changed = [a for a in arrays if not _same(a, inp[name])]
        if arrays:
            out["arg_" + name] = np.array((changed or arrays)[0])
    for errors in raised.values():
        if all(e is not None for e in errors):
            raise errors[-1]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == np.shape(b) and np.array_equal(a, b, equal_nan=True)


def output_names(save: str | list[Any] | Mapping[str, str]) -> list[str]:
    """The output names a step's ``save`` gives (nested in a list: a returned tuple's dict)."""
    if isinstance(save, str):
        return [save]
    if isinstance(save, Mapping):
        return list(save.values())
    return [n for s in save for n in output_names(s)]


def _save(
    save: str | list[Any] | Mapping[str, str] | None,
    value: Any,
    out: MutableMapping[str, np.ndarray],
    partial: bool = False,
) -> None:
    """``save``: one output name, a list of names (or of dict saves) for a returned tuple
    (unpacked), or a mapping from the keys of a returned dict to output names (with
    ``partial``, only the keys the dict has)."""
    if not save:
        return
    if isinstance(save, str):
        out[save] = np.array(value, dtype=np.float64)
        return
    if isinstance(save, Mapping):
        for key, name in save.items():
            if not partial or key in value:
                out[name] = np.array(value[key], dtype=np.float64)
        return
    values = tuple(value)
    if len(values) != len(save):
        raise ValueError(f"expected {len(save)} return values, got {len(values)}")
    for name, item in zip(save, values):
        _save(name, item, out, partial)


__all__ = ["argument", "as_argument", "output_names", "run_call"]
