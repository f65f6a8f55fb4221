"""Declared items: an instructor states what to call, on which inputs, compared with what,
within which tolerance, and the known mistakes; the probe, the trusted scorer, the student
self-check (``_selfcheck_data.py``) and the mutation variants (``tests/mutations/declared.py``)
are derived.

A spec module writes, per item (see ``docs/AUTHORING.md``)::

    declare(
        "affine_forward", ("Affine の順伝播", "Affine forward pass"), points=1,
        call=construct("Affine", "W", "b").then("forward", "x", save="y"),
        solution=Affine,                       # correct code: the correct variant, author check
        inputs=make_inputs,                    # rng -> {name: array}
        expect={"y": lambda x, W, b: x.reshape(len(x), -1) @ W + b},
        tol=1e-10,
        mistakes=[mistake("my_hint", ja="...", en="...", y=lambda x, W, b: x @ W)],
    )

Functions of the inputs (``expect``, mistakes' outputs) receive the inputs their parameters
name, as copies (0-d arrays as floats). ``gradient(forward, "x")`` is the central-difference
gradient of a trusted forward. Custom items stay plain ``Item(probe=..., make_inputs=...,
score=...)`` (e.g. the MNIST accuracy items): nothing here is required.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from grader.engine.diagnose import (
    ALWAYS_HINTS,
    BATCH_HINTS,
    FACTOR_TWO_HINTS,
    Mistake,
    find_mistake,
)
from grader.engine.hints import HINTS, get_hint
from grader.engine.spec import Item, ScoreContext, TrustedData, Verdict
from grader.specs._checks import (
    compare,
    modified_argument,
    numeric_grad,
    student_outputs,
    upstream_first,
)
from grader.specs._large import large_verdict, timed
from grader.student.calls import as_argument, output_names, run_call

# --- what to call: data for grader.student.calls.run_call --------------------------------------


@dataclass(frozen=True)
class Arg:
    """An argument spelt as call data: ``constant("relu")`` (a string passed as is, not an
    input's name) or ``as_list("hidden")`` (an integer input passed as a Python list)."""

    data: Mapping[str, Any]


def constant(value: Any) -> Arg:
    return Arg({"value": value})


def as_list(name: str) -> Arg:
    return Arg({"list": name})


def dict_of(**refs: Any) -> Arg:
    """A dict argument: ``dict_of(W="gW", b="gb")`` passes ``{"W": <input gW>, ...}``."""
    return Arg({"dict": {k: _ref(v) for k, v in refs.items()}})


def var(name: str) -> Arg:
    """The value kept by ``Call.let(name, ...)``: the same object at every step."""
    return Arg({"var": name})


def trusted(fn: Callable[..., Any]) -> Arg:
    """A function of the spec passed to the called code, carried as its source (so it must
    use only its arguments and ``np``): e.g. the plain L2 that ``weight_penalty`` gets."""
    return Arg({"source": textwrap.dedent(inspect.getsource(fn)), "name": fn.__name__})


def _ref(arg: Any) -> Any:
    """An argument as call data: a string names an input; an ``Arg`` is its data; anything
    else (``True``, ``0.5``) is passed as that constant."""
    if isinstance(arg, Arg):
        return dict(arg.data)
    return arg if isinstance(arg, str) else {"value": arg}


@dataclass(frozen=True)
class Call:
    """A function or a class to call, and the steps (see ``grader/student/calls.py``)."""

    target: str
    init: tuple[Any, ...] | None = None  # None: ``target`` is a function
    steps: tuple[Mapping[str, Any], ...] = ()
    init_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def then(
        self,
        method: str,
        *args: Any,
        save: str | tuple[str, ...] | Mapping[str, str] = "",
        other: bool = False,
        unchanged: bool = False,
        optional: bool = False,
        after: str = "",
        either: str = "",
        **kwargs: Any,
    ) -> Call:
        """Call ``method`` (of the instance; of a second instance with ``other``) on ``args``
        / ``kwargs`` (input names, or constants such as ``train_flg=True``), saving the result
        as output ``save`` (a tuple of names: the returned tuple's items; a mapping: entries
        of the returned dict, ``{"W1": "dW1"}``). With ``unchanged``,
        the arrays passed as ``args`` must not be written into (hint ``argument_modified``).
        ``optional``: an ungraded call (its outputs are not compared with ``expect``; they are
        there for ``when=`` of mistakes and for ``warnings=``); an exception of it is dropped.
        ``after="softmax_1d"``: its outputs are compared only once the others pass, and its
        failure (or exception) is reported with that hint. ``either="label_format"``: the steps
        with the same ``either`` compute the same outputs from two forms of an input; any of
        them may raise (not all), and when some are right and others not, that hint."""
        step: dict[str, Any] = {"method": method, "args": [_ref(a) for a in args]}
        step["save"] = (
            [dict(s) if isinstance(s, Mapping) else s for s in save]
            if isinstance(save, tuple)
            else save
        )
        if isinstance(save, Mapping):
            step["save"] = dict(save)
        if kwargs:
            step["kwargs"] = {k: _ref(v) for k, v in kwargs.items()}
        if other:
            step["on"] = "other"
        if unchanged:
            step["keep"] = True
        if optional:
            step["optional"] = True
        if after:
            step["after"] = after
        if either:
            step["either"] = either
        return replace(self, steps=self.steps + (step,))

    def also(self, function: str, *args: Any, save: Any = "", **flags: Any) -> Call:
        """Call another function of the notebook, ``function`` (e.g. an ungraded helper:
        ``optional=True``; when it is not defined, the step fails)."""
        call = self.then("", *args, save=save, **flags)
        return replace(call, steps=call.steps[:-1] + ({**call.steps[-1], "function": function},))

    def seed(self, name: str) -> Call:
        """Seed ``np.random`` with the input ``name`` (the same draws as another run)."""
        return replace(self, steps=self.steps + ({"seed": name},))

    def let(self, name: str, value: Any) -> Call:
        """Keep ``value`` (e.g. ``dict_of(W="W0")``) for later steps to pass as ``var(name)``."""
        return replace(self, steps=self.steps + ({"let": name, "value": _ref(value)},))

    def read(
        self,
        name: str,
        save: Mapping[str, str],
        stack: bool = False,
        since: Mapping[str, str] | None = None,
    ) -> Call:
        """Save entries of the kept value ``name`` as it is now (``save={"W": "W"}``); with
        ``stack``, one row per such step, stacked into a trajectory; with ``since={"W":
        "W0"}``, minus those inputs (displacements)."""
        step: dict[str, Any] = {"read": name, "save": dict(save)}
        if stack:
            step["stack"] = True
        if since:
            step["since"] = dict(since)
        return replace(self, steps=self.steps + (step,))

    def fill(self, name: str, **entries: str) -> Call:
        """Overwrite the entries of the instance's dict attribute ``name`` in place with inputs
        (``fill("params", W1="W1")``: layers that hold the arrays by reference see them)."""
        return replace(self, steps=self.steps + ({"fill": name, "with": dict(entries)},))

    def attr(self, name: str, save: str) -> Call:
        """Save the instance's attribute ``name`` (e.g. ``dW`` after backward)."""
        return replace(self, steps=self.steps + ({"attr": name, "save": save},))

    def data(self) -> dict[str, Any]:
        init = None if self.init is None else list(self.init)
        data = {"target": self.target, "init": init, "steps": [dict(s) for s in self.steps]}
        if self.init_kwargs:
            data["init_kwargs"] = dict(self.init_kwargs)
        return data

    def saves(self, optional: bool = False) -> list[str]:
        """The graded outputs (with ``optional``: those of the optional steps instead)."""
        found = [
            s["save"] for s in self.steps if s.get("save") and optional == s.get("optional", False)
        ]
        return list(dict.fromkeys(n for save in found for n in output_names(save)))

    def staged(self, key: str) -> dict[str, list[str]]:
        """Per hint of ``after`` (or ``either``) steps, the outputs those steps save."""
        found: dict[str, list[str]] = {}
        for s in self.steps:
            if key in s:
                found.setdefault(s[key], []).extend(output_names(s["save"]))
        return found

    def functions(self) -> list[str]:
        """The other functions that steps call (``also``)."""
        return list(dict.fromkeys(s["function"] for s in self.steps if "function" in s))

    def kept(self) -> list[str]:
        """The inputs passed to steps that must leave them unchanged."""
        found = [
            n for s in self.steps if s.get("keep") for n in s.get("args", ()) if isinstance(n, str)
        ]
        return list(dict.fromkeys(found))

    def own(self) -> Call:
        """The call on its own instance only, with no argument copies kept (the large run)."""
        steps = tuple(
            {k: v for k, v in s.items() if k != "keep"}
            for s in self.steps
            if s.get("on") != "other"
        )
        return replace(self, steps=steps)

    def probe(self, large: bool = False) -> str:
        """The probe: the one caller on this data; the target is spelt as code so that the
        static analysis of skipped cells (``grader/notebooks/ignore.py``) sees it read. With
        ``large``, the same call (its own instance only) runs again on the ``large_*`` inputs
        under the alarm of ``_large.py``, saving ``large_*`` outputs."""
        objects = "_objects"
        source = (
            "from grader.student.calls import run_call as _run_call\n"
            f"_objects = {{{self.target!r}: {self.target}}}\n"
            + "".join(
                f"try:\n    _objects[{name!r}] = {name}\nexcept NameError:\n    pass\n"
                for name in self.functions()
            )
            + f"_run_call({self.data()!r}, inp, out, {objects})\n"
        )
        if not large:
            return source
        own = self.own()
        return source + timed(
            "_big = {}\n"
            '_inp = {_k[6:]: _v for _k, _v in inp.items() if _k.startswith("large_")}\n'
            f"_run_call({own.data()!r}, _inp, _big, {objects})\n"
            'out.update({"large_" + _k: _v for _k, _v in _big.items()})\n'
        )


def function(
    name: str, *args: str, save: str | tuple[str, ...], unchanged: bool = False, **kwargs: str
) -> Call:
    """Call the student's function ``name`` on the inputs ``args``; its result is ``save``
    (see ``Call.then``)."""
    return Call(name).then("", *args, save=save, unchanged=unchanged, **kwargs)


def construct(name: str, *init: Any, **init_kwargs: Any) -> Call:
    """Build the student's class ``name`` with ``init`` / ``init_kwargs`` (input names, or
    constants); add steps with ``then``."""
    kwargs = {k: _ref(v) for k, v in init_kwargs.items()}
    return Call(name, tuple(_ref(a) for a in init), init_kwargs=kwargs)


# --- what to compare with ------------------------------------------------------------------------


def evaluate(fn: Callable[..., Any], inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """``fn`` on the inputs its parameters name (copies), as a float64 array."""
    if isinstance(fn, Gradient):
        return fn.of(inputs)
    names = inspect.signature(fn).parameters
    return np.asarray(fn(**{n: as_argument(inputs[n]) for n in names}), dtype=np.float64)


@dataclass(frozen=True)
class Gradient:
    """Central differences of ``sum(forward(...) * inputs[dout])`` (of ``sum(forward(...))``
    when ``dout`` is None: a loss, or an element-wise graph) with respect to the input ``wrt``."""

    forward: Callable[..., Any]
    wrt: str
    dout: str | None = None

    def of(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        names = inspect.signature(self.forward).parameters
        args = {n: as_argument(inputs[n]) for n in names}
        args[self.wrt] = np.array(inputs[self.wrt], dtype=np.float64)
        weight = None if self.dout is None else np.asarray(inputs[self.dout], dtype=np.float64)

        def f() -> float:
            y = np.asarray(self.forward(**args), dtype=np.float64)
            return float(np.sum(y if weight is None else y * weight))

        return numeric_grad(f, args[self.wrt])


def gradient(forward: Callable[..., Any], wrt: str, dout: str | None = None) -> Gradient:
    """Expect the numeric gradient of the trusted ``forward`` with respect to input ``wrt``."""
    return Gradient(forward, wrt, dout)


class _Solution:
    """``expect="solution"``: the declared solution's own outputs through the same call (for
    state that no formula of the inputs states briefly, e.g. an optimiser's trajectory)."""

    def __repr__(self) -> str:
        return "SOLUTION"


SOLUTION = _Solution()


# --- known mistakes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A known mistake: what it outputs (output name -> function of the inputs, or ``code``: a
    mistaken implementation, whose outputs through the call are the mistaken ones) and its hint
    (registered under ``hint`` with ``ja`` / ``en``; both empty: an existing hint id).
    ``where``: the spec line that declared it."""

    hint: str
    outputs: Mapping[str, Callable[..., Any]]
    ja: str = ""
    en: str = ""
    where: str = "?"
    code: Any = None  # or: mistaken code for the call's target, run through the same call
    # the mistake is looked for only when this function of inputs and outputs (by parameter
    # name; an output missing: not looked for) is true, e.g. an optional call's result
    when: Callable[..., bool] | None = None

    def applies(self, inputs: Mapping[str, Any], outputs: Mapping[str, Any] | None) -> bool:
        if self.when is None or outputs is None:
            return True
        names = inspect.signature(self.when).parameters
        if any(n not in inputs and n not in outputs for n in names):
            return False
        found = {n: outputs[n] if n in outputs else as_argument(inputs[n]) for n in names}
        return bool(self.when(**found))


class DeclarationError(ValueError):
    """A declaration that cannot be right; ``where`` is the spec's ``file:line`` (the registry
    reports it as the place of the fault, not this module)."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def mistake(
    hint: str,
    *,
    ja: str = "",
    en: str = "",
    code: Any = None,
    when: Callable[..., bool] | None = None,
    **outputs: Callable[..., Any],
) -> Known:
    """``mistake("softmax_axis", y=lambda x: ...)``: the mistaken value of each output; or
    ``mistake("adam_no_bias_correction", code=AdamNoBiasCorrection)``: a mistaken class or
    function (it is also the mutation variant). ``when=lambda y_train, p: ...``: looked for
    only when that holds of the inputs and outputs (e.g. an optional call's)."""
    where = _declared_at()
    if (code is None) == (not outputs):
        raise DeclarationError(where, f"mistake {hint!r}: give either code= or its outputs")
    return Known(hint, outputs, ja, en, where, code, when)


def _declared_at() -> str:
    """``file:line`` of the spec line that called into this module (the first frame outside)."""
    for frame in inspect.stack()[1:]:
        if frame.filename != __file__:
            return f"{frame.filename}:{frame.lineno}"
    return "?"


def register_hint(known: Known, item_id: str) -> None:
    """Put a declared hint's text in the registry; an unknown id without text, or an id already
    registered with other text, stops the spec from loading (naming the id and the line)."""
    text = {"ja": known.ja, "en": known.en}
    if not (known.ja or known.en):
        if known.hint not in HINTS:
            raise DeclarationError(
                known.where,
                f"item {item_id!r}: hint {known.hint!r} is not registered; "
                "give its ja= and en= text",
            )
        return
    if not (known.ja and known.en):
        raise DeclarationError(
            known.where, f"item {item_id!r}: hint {known.hint!r} needs both ja= and en= text"
        )
    if HINTS.get(known.hint, text) != text:
        raise DeclarationError(
            known.where,
            f"item {item_id!r}: hint {known.hint!r} is already registered with other text",
        )
    HINTS[known.hint] = text


# --- functions of earlier items this item's code uses ---------------------------------------------


@dataclass(frozen=True)
class Upstream:
    """An earlier item's function that this item's code calls: the probe also runs it on this
    item's inputs (not at all when it is not defined: ported code may not use it), and when
    this item fails while that function is wrong, the verdict names the earlier item first
    (hint ``fix_upstream_first``)."""

    item_id: str
    call: Call  # saves ``up_<item_id>``
    expect: Callable[..., Any]
    tol: float

    def probe(self) -> str:
        raised = f'    out["up_{self.item_id}_raised"] = _np.array(True)\n'
        body = "\n".join("    " + line for line in self.call.probe().splitlines())
        return (
            "import numpy as _np\ntry:\n" + body + "\nexcept NameError:\n    pass\n"
            "except Exception:\n" + raised
        )


def upstream(item_id: str, name: str, *args: str, expect: Callable[..., Any], tol: float):
    """``upstream("softmax", "softmax", "x", expect=softmax, tol=1e-8)``: item ``item_id``'s
    function ``name`` on these inputs (see :class:`Upstream`)."""
    return Upstream(item_id, function(name, *args, save="up_" + item_id), expect, tol)


# --- worked examples for the student self-check ---------------------------------------------------


@dataclass(frozen=True)
class Example:
    """Inputs of the call worked out in the course material (e.g. the syllabus's example 3.6):
    the derived self-check runs the call on them too and reports one line under ``label``
    (ja, en). Grading does not use them: its inputs are fresh per job."""

    label: tuple[str, str]
    inputs: Mapping[str, np.ndarray]
    where: str

    def worked(self, item_id: str, d: Declaration) -> dict[str, np.ndarray]:
        """The example's answer (``expect=`` on its inputs), once the solution has run on it:
        an example that misses an input fails here (``grader build``) with its place."""
        try:
            d.solution_outputs(self.inputs, d.call)
            return d.expected(self.inputs)
        except Exception as exc:
            raise DeclarationError(
                self.where,
                f"item {item_id!r}: example {self.label[1]!r}: {type(exc).__name__}: {exc}",
            ) from exc


def example(label_ja: str, label_en: str, **inputs: Any) -> Example:
    """``example("例題 3.6 の 2", "worked example 3.6 #2", x=..., W=np.eye(2), b=...)``:
    every input the call passes, as arrays (numbers: 0-d)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    return Example((label_ja, label_en), arrays, _declared_at())


# --- the declaration and the item derived from it -------------------------------------------------

# Hints ``compare`` may add on its own (generic patterns of any output).


@dataclass(frozen=True)
class Declaration:
    call: Call
    solution: Any  # correct code for ``call.target`` (a class or a function)
    inputs: Callable[[np.random.Generator], dict[str, np.ndarray]]
    expect: Mapping[str, Callable[..., Any]]
    tol: float
    mistakes: tuple[Known, ...] = ()
    batch_of: str | None = None  # an input whose length is the batch size N (generic hints)
    factor_two: bool = False  # generic hints for factors 2 and 1/2 too
    # inputs of the large check (``_large.py``: no credit for finite differences): the
    # gradient outputs are compared with the solution's on them within ``large_tol``
    large: Callable[[np.random.Generator], dict[str, np.ndarray]] | None = None
    large_tol: float = 1e-9
    # the student self-check is hand-written in grader/student/checks/ (not derived as data)
    own_selfcheck: bool = False
    nonfinite_hint: str | None = None  # the hint when an output holds NaN or inf
    upstream: tuple[Upstream, ...] = ()
    # mistakes in the optional calls' outputs: shown on a passing verdict (no points lost)
    warnings: tuple[Known, ...] = ()
    examples: tuple[Example, ...] = ()  # worked examples, for the derived self-check only
    # the derived self-check's inputs when the graded ones are too large to ship
    public_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]] | None = None

    def expected(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if any(fn is SOLUTION for fn in self.expect.values()):
            ran = self.solution_outputs(inputs, self.call)
        return {
            name: ran[name] if fn is SOLUTION else evaluate(fn, inputs)
            for name, fn in self.expect.items()
        }

    def mistaken(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Mapping[str, np.ndarray] | None = None,
        known: Sequence[Known] | None = None,
    ) -> list[Mistake]:
        """The mistakes' outputs (those whose ``when`` holds of ``outputs``, when given)."""
        return [
            Mistake(
                k.hint,
                self.solution_outputs(inputs, self.call, k.code)
                if k.code is not None
                else {n: evaluate(fn, inputs) for n, fn in k.outputs.items()},
            )
            for k in (self.mistakes if known is None else known)
            if k.applies(inputs, outputs)
        ]

    def batch_size(self, inputs: Mapping[str, np.ndarray]) -> int | None:
        return None if self.batch_of is None else len(inputs[self.batch_of])

    def solution_outputs(self, inputs: Mapping[str, np.ndarray], call: Call, code=None) -> dict:
        """What the declared solution (or other ``code``) returns through ``call`` (its graded
        outputs; a ``seed`` step leaves the trusted side's ``np.random`` state as it was)."""
        out: dict[str, np.ndarray] = {}
        state = np.random.get_state()
        try:
            run_call(
                call.data(),
                {k: np.array(v) for k, v in inputs.items()},
                out,
                {call.target: self.solution if code is None else code},
            )
        finally:
            np.random.set_state(state)
        return {n: out[n] for n in call.saves()}

    def score(self, ctx: ScoreContext) -> Verdict:
        i = ctx.inputs
        expected = self.expected(i)
        later = self.call.staged("after")
        first = {n: v for n, v in expected.items() if all(n not in s for s in later.values())}
        small = modified_argument(ctx, self.call.kept()) or self.alternatives(ctx, first)
        if small is None:
            for forms in self.call.staged("either").values():  # drop the forms that raised
                first = {n: v for n, v in first.items() if n not in forms or n in ctx.outputs}
            small = compare(
                ctx,
                first,
                self.tol,
                mistakes=self.mistaken(i, ctx.outputs),
                batch_size=self.batch_size(i),
                factor_two=self.factor_two,
                nonfinite_hint=self.nonfinite_hint,
            )
        for step in [s for s in self.call.steps if "after" in s]:
            if small.passed:
                small = self.after(ctx, small, step, expected)
        if small.passed and self.warnings:
            small = self.warned(ctx, small)
        if self.upstream:
            found = [(u.item_id, evaluate(u.expect, i), u.tol) for u in self.upstream]
            small = upstream_first(ctx, small, found)
        if self.large is None:
            return small
        big = {k[len("large_") :]: v for k, v in i.items() if k.startswith("large_")}
        own = self.call.own()
        # gradients only: the large check is there to refuse finite-difference backwards
        grads = [n for n, fn in self.expect.items() if isinstance(fn, Gradient)]
        found = self.solution_outputs(big, own)
        want = {"large_" + n: found[n] for n in grads}
        return large_verdict(ctx, small, want, tol=self.large_tol)

    def alternatives(self, ctx: ScoreContext, expected: Mapping[str, np.ndarray]):
        """A failure with the ``either`` hint when some forms of a call are right and the
        others wrong or raising; else None (the forms that ran are compared as usual)."""
        for hint, names in self.call.staged("either").items():
            ran = [n for n in names if n in ctx.outputs]
            got = student_outputs(ctx, ran, scalars=[n for n in ran if np.ndim(expected[n]) == 0])
            ok = {n: compare(ctx, {n: expected[n]}, self.tol, student=got).passed for n in ran}
            right = [n for n in names if ok.get(n)]
            if right and len(right) < len(names):
                wrong = [n for n in names if n not in right]
                steps = {
                    n: s for s in self.call.steps if "either" in s for n in output_names(s["save"])
                }
                a, b = (self._spelt(steps[n], ctx.inputs) for n in (right[0], wrong[0]))
                return Verdict.fail(
                    f"{a} は正しいですが、{b} が正しくありません。",
                    f"{a} is right, but {b} is not.",
                    tolerance=self.tol,
                    hint=get_hint(hint),
                )
        return None

    def _spelt(self, step: Mapping[str, Any], inputs: Mapping[str, np.ndarray]) -> str:
        """A step's call as the student writes it, with the shapes of its array arguments,
        e.g. ``cross_entropy_error(y, t)` (y: (5, 4), t: (5,))``."""
        refs = step.get("args", ())
        args = ", ".join(a if isinstance(a, str) else "..." for a in refs)
        name = step.get("function") or step.get("method") or self.call.target
        shapes = [f"{a}: {np.shape(inputs[a])}" for a in refs if isinstance(a, str)]
        return f"`{name}({args})`" + (f" ({', '.join(shapes)})" if shapes else "")

    def after(
        self, ctx: ScoreContext, passed: Verdict, step: Mapping[str, Any], expected: Mapping
    ) -> Verdict:
        """The outputs of an ``after`` step, compared once the others pass: their failure, or
        the step's exception, with its hint; else ``passed``."""
        hint = step["after"]
        graded = [s for s in self.call.steps if "method" in s and s.get("save")]
        right = ", ".join(
            self._spelt(s, ctx.inputs) for s in graded if not ({"after", "optional"} & set(s))
        )
        error = ctx.outputs.get("error_" + output_names(step["save"])[0])
        if error is not None:
            text = bytes(np.asarray(error, dtype=np.uint8)).decode("utf-8", "replace")
            return Verdict.fail(
                f"{right} は正しいですが、{self._spelt(step, ctx.inputs)} で例外が出ました: {text}",
                f"{right} is right, but {self._spelt(step, ctx.inputs)} raised: {text}",
                hint=get_hint(hint),
            )
        one = compare(ctx, {n: expected[n] for n in output_names(step["save"])}, self.tol)
        if one.passed:
            return passed
        return Verdict.fail(
            f"{right} は正しいですが、{self._spelt(step, ctx.inputs)} が違います: "
            + one.message["ja"],
            f"{right} is right, but not {self._spelt(step, ctx.inputs)}: " + one.message["en"],
            measured_error=one.measured_error,
            tolerance=one.tolerance,
            hint=get_hint(hint),
        )

    def warned(self, ctx: ScoreContext, passed: Verdict) -> Verdict:
        """``passed`` with the hint of a ``warnings=`` mistake the optional outputs match in
        its message (the engine shows a hint only on failed items; no points are lost)."""
        got = {}
        for name in self.call.saves(optional=True):
            a = ctx.outputs.get(name)
            if isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
                got[name] = a.astype(np.float64)
        mistakes = self.mistaken(ctx.inputs, ctx.outputs, self.warnings)
        for m in mistakes:
            for n, v in m.outputs.items():
                if np.ndim(v) == 0 and n in got and got[n].size == 1:
                    got[n] = got[n].reshape(())
        hint = find_mistake(got, mistakes)
        if hint is None:
            return passed
        names = ", ".join(self.call.functions()) or self.call.target
        return Verdict(
            1.0,
            passed.measured_error,
            passed.tolerance,
            {
                "ja": f"正解です。ただし {names} (採点対象外) について: {hint.ja}",
                "en": f"Correct. About {names} (not graded): {hint.en}",
            },
            hint,
        )

    def make_inputs(self, rng: np.random.Generator, data: TrustedData) -> dict[str, np.ndarray]:
        small = self.inputs(rng)
        if self.large is None:
            return small
        return {**small, **{"large_" + k: v for k, v in self.large(rng).items()}}

    def hint_ids(self) -> tuple[str, ...]:
        own = tuple(dict.fromkeys(k.hint for k in self.mistakes))
        batch = BATCH_HINTS if self.batch_of else ()
        two = FACTOR_TWO_HINTS if self.factor_two else ()
        kept = ("argument_modified",) if self.call.kept() else ()
        up = ("fix_upstream_first",) if self.upstream else ()
        inf = (self.nonfinite_hint,) if self.nonfinite_hint else ()
        staged = tuple(self.call.staged("after")) + tuple(self.call.staged("either"))
        warned = tuple(k.hint for k in self.warnings)
        found = own + ALWAYS_HINTS + batch + two + kept + up + inf + staged + warned
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class DeclaredItem(Item):
    """An :class:`Item` derived from a :class:`Declaration` (kept for the derived checks)."""

    declaration: Declaration | None = field(default=None, compare=False)


def declare(
    item_id: str,
    title: tuple[str, str],
    *,
    points: float,
    call: Call,
    solution: Any,
    inputs: Callable[[np.random.Generator], dict[str, np.ndarray]],
    expect: Mapping[str, Callable[..., Any]] | str,
    tol: float,
    mistakes: Sequence[Known] = (),
    batch_of: str | None = None,
    factor_two: bool = False,
    large: Callable[[np.random.Generator], dict[str, np.ndarray]] | None = None,
    large_tol: float = 1e-9,
    own_selfcheck: bool = False,
    nonfinite_hint: str | None = None,
    upstream: Sequence[Upstream] = (),
    warnings: Sequence[Known] = (),
    examples: Sequence[Example] = (),
    public_inputs: Callable[[np.random.Generator], dict[str, np.ndarray]] | None = None,
) -> DeclaredItem:
    """The graded item ``item_id`` (the ``grade_id`` of its ``check("item_id")`` cell).
    ``expect="solution"``: every saved output as the declared solution gives it.
    ``warnings=``: mistakes in the outputs of optional calls (``then(..., optional=True)``),
    whose hint a passing verdict carries in its message."""
    if expect == "solution":
        expect = {name: SOLUTION for name in call.saves()}
        for known in mistakes:
            if known.code is None:  # its other outputs would have no formula to come from
                raise DeclarationError(
                    known.where, f"item {item_id!r}: with expect='solution', give code="
                )
    elif isinstance(expect, str):
        raise DeclarationError(_declared_at(), f"item {item_id!r}: expect= {expect!r}?")
    if set(expect) != set(call.saves()):
        raise DeclarationError(
            _declared_at(),
            f"item {item_id!r}: expect= names {sorted(expect)} but the call saves "
            f"{sorted(call.saves())}",
        )
    if large is not None and not any(isinstance(fn, Gradient) for fn in expect.values()):
        raise DeclarationError(
            _declared_at(),
            f"item {item_id!r}: large= checks gradient outputs, and none is expected",
        )
    if nonfinite_hint is not None and nonfinite_hint not in HINTS:
        raise DeclarationError(
            _declared_at(), f"item {item_id!r}: nonfinite_hint {nonfinite_hint!r} is not registered"
        )
    for known in mistakes:
        register_hint(known, item_id)
        unknown = set(known.outputs) - set(expect)
        if unknown:
            raise DeclarationError(
                known.where, f"item {item_id!r}: mistake {known.hint!r} sets unknown {unknown}"
            )
    for known in warnings:
        register_hint(known, item_id)
        unknown = set(known.outputs) - set(call.saves(optional=True))
        if unknown or known.code is not None:
            raise DeclarationError(
                known.where,
                f"item {item_id!r}: warning {known.hint!r} must set outputs of optional calls",
            )
    staged = [*call.staged("after"), *call.staged("either")]
    for known in mistakes:
        if known.when is not None and not own_selfcheck and known.when.__name__ == "<lambda>":
            # the derived self-check runs when= from its source, which a lambda does not have
            raise DeclarationError(
                known.where,
                f"item {item_id!r}: when= of mistake {known.hint!r} must be a def using only "
                "np and its arguments (the derived self-check runs it from its source)",
            )
    for hint in staged:
        if hint not in HINTS:
            raise DeclarationError(
                _declared_at(), f"item {item_id!r}: hint {hint!r} is not registered"
            )
    d = Declaration(
        call,
        solution,
        inputs,
        dict(expect),
        tol,
        tuple(mistakes),
        batch_of,
        factor_two,
        large,
        large_tol,
        own_selfcheck,
        nonfinite_hint,
        tuple(upstream),
        tuple(warnings),
        tuple(examples),
        public_inputs,
    )
    return DeclaredItem(
        id=item_id,
        title={"ja": title[0], "en": title[1]},
        points=points,
        probe=call.probe(large=large is not None) + "".join(u.probe() for u in upstream),
        make_inputs=d.make_inputs,
        score=d.score,
        hints=d.hint_ids(),
        declaration=d,
    )


__all__ = [
    "Arg",
    "Call",
    "Declaration",
    "Example",
    "DeclaredItem",
    "SOLUTION",
    "Upstream",
    "Gradient",
    "Known",
    "as_list",
    "constant",
    "dict_of",
    "construct",
    "declare",
    "evaluate",
    "example",
    "function",
    "gradient",
    "mistake",
    "trusted",
    "upstream",
    "var",
]
