"""Cells the course marks as not run during grading (cell tag ``grader_ignore``).

Like Otter-Grader's ``otter_ignore`` tag: an experiment cell (a comparison, a sweep, a plot,
or a locked set-up cell that only experiments need) that no graded item reads keeps its place
in the student's notebook and runs in the student's own kernel, but the graded run replaces it
by a comment. What counts is the tag in the RELEASED notebook, never the student's copy: a
student's code cell is skipped only when its source is the released source of a tagged cell
(an edited cell runs, so adding or removing the tag, or changing the cell, can never make the
grader skip code the student wrote).

A second guard keeps skipping verdict-neutral for any notebook: a tagged cell still runs when
a cell that does run reads a name it may bind (``needed_cells``), e.g. a student's training
cell that uses a network an experiment trained. The name analysis is static and
conservative (``ast``, ``symtable``); what it cannot see (the global random state, objects
changed through method calls, ``globals()[name]`` with a computed name) is why course cells
that do run seed their own generators and read nothing from an experiment.
"""

from __future__ import annotations

import ast
import re
import symtable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_TAG = "grader_ignore"
_IDENT = re.compile(r"[A-Za-z_]\w*")
_DYNAMIC = {"globals", "locals", "vars", "eval", "exec", "__import__"}


def is_ignored(cell: Any) -> bool:
    """True for a code cell that carries the ``grader_ignore`` tag."""
    tags = cell.get("metadata", {}).get("tags") or []
    return cell.get("cell_type") == "code" and isinstance(tags, list) and IGNORE_TAG in tags


def may_skip(cell: Any) -> bool:
    """Ordinary code cells and locked set-up cells; never a graded or a solution cell."""
    from grader.notebooks.metadata import nbgrader  # metadata.py imports this module

    meta = nbgrader(cell)
    if meta is None:
        return cell.get("cell_type") == "code"
    return cell.get("cell_type") == "code" and not meta.get("grade") and not meta.get("solution")


def normalised(source: str) -> str:
    """The source as compared with the released one (line endings, trailing blanks)."""
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def ignored_sources(released: Any) -> set[str]:
    """The (normalised) sources of the released notebook's tagged cells."""
    return {normalised(c.source) for c in released.cells if is_ignored(c)}


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class CellNames:
    """What one cell may read from earlier cells and may bind for later ones."""

    reads: frozenset[str]  # read at top level before the cell binds them itself
    deferred: frozenset[str]  # read inside functions: whenever they are called
    binds: frozenset[str]  # anything the cell may assign, define, import or mutate by store
    definite: frozenset[str]  # bound at top level on every path (shadows earlier cells)


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _bound(source: str, tree: ast.AST) -> set[str]:
    """Module-level names a cell may bind anywhere in it: assigned, defined, imported,
    declared ``global`` and assigned in a function, or changed by ``x.a = ...``/``x[i] = ...``
    (conservative: every such root name counts)."""
    module = symtable.symtable(source, "<cell>", "exec")
    out = {
        s.get_name()
        for s in module.get_symbols()
        if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    stack = list(module.get_children())
    while stack:
        table = stack.pop()
        out |= {s.get_name() for s in table.get_symbols() if s.is_declared_global()}
        stack.extend(table.get_children())
    for n in ast.walk(tree):
        target = n.target if isinstance(n, ast.AugAssign) else n
        is_store = isinstance(getattr(target, "ctx", None), ast.Store | ast.Del)
        if isinstance(target, ast.Attribute | ast.Subscript) and (is_store or target is not n):
            if root := _root(target):
                out.add(root)
    return out


def _rebound(target: ast.AST) -> set[str]:
    """Names an assignment target rebinds (``x``, ``x, y``; not ``x.a`` or ``x[i]``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, ast.Tuple | ast.List):
        return set().union(set(), *(_rebound(e) for e in target.elts))
    if isinstance(target, ast.Starred):
        return _rebound(target.value)
    return set()


def _definite(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds on every path (conditional bodies do not count)."""
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
            return set()
        return set().union(*(_rebound(t) for t in targets))
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.With | ast.AsyncWith):
        return set().union(*(_definite(s) for s in stmt.body)) if stmt.body else set()
    return set()


def _targets(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _expr_reads(node: ast.AST) -> set[str]:
    """Names an expression or simple statement reads now (function bodies are deferred)."""
    out: set[str] = set()
    local: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(n, ast.AugAssign) and (root := _root(n.target)):
            out.add(root)  # x += 1 reads x
        elif isinstance(n, ast.comprehension):
            local |= _targets(n.target)
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _DYNAMIC:
            # globals()["x"], eval("x"): the names the statement spells out in strings
            for s in ast.walk(node):
                if isinstance(s, ast.Constant) and type(s.value) is str:
                    out.update(_IDENT.findall(s.value))
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = n.args
            stack.extend([*args.defaults, *(d for d in args.kw_defaults if d)])
            stack.extend(getattr(n, "decorator_list", []))
            continue
        stack.extend(ast.iter_child_nodes(n))
    return out - local


def _block_reads(stmts: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names a block reads before it binds them itself, statement by statement."""
    reads: set[str] = set()
    bound = set(bound)
    for s in stmts:
        reads |= _stmt_reads(s, bound)
        bound |= _definite(s)
    return reads


def _stmt_reads(s: ast.stmt, bound: set[str]) -> set[str]:
    if isinstance(s, ast.For | ast.AsyncFor):
        body = _block_reads(s.body + s.orelse, bound | _targets(s.target))
        return (_expr_reads(s.iter) - bound) | body
    if isinstance(s, ast.If | ast.While):
        body = _block_reads(s.body, bound) | _block_reads(s.orelse, bound)
        return (_expr_reads(s.test) - bound) | body
    if isinstance(s, ast.With | ast.AsyncWith):
        names = {n for i in s.items if i.optional_vars for n in _targets(i.optional_vars)}
        heads = set().union(*(_expr_reads(i.context_expr) for i in s.items))
        return (heads - bound) | _block_reads(s.body, bound | names)
    if isinstance(s, ast.Try):
        reads = _block_reads(s.body + s.orelse, bound) | _block_reads(s.finalbody, bound)
        for h in s.handlers:
            head = _expr_reads(h.type) - bound if h.type else set()
            reads |= head | _block_reads(h.body, bound | ({h.name} if h.name else set()))
        return reads
    if isinstance(s, ast.ClassDef):
        heads = set().union(set(), *(_expr_reads(e) for e in [*s.bases, *s.decorator_list]))
        return (heads - bound) | _block_reads(s.body, bound)
    return _expr_reads(s) - bound


def _deferred(source: str) -> set[str]:
    """Module-level names read inside functions, lambdas, classes and comprehensions."""
    out: set[str] = set()
    stack = list(symtable.symtable(source, "<cell>", "exec").get_children())
    while stack:
        table = stack.pop()
        out |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()}
        stack.extend(table.get_children())
    return out


class _Unreachable(ast.NodeTransformer):
    """Drops the statements after a ``raise``/``return``/``break``/``continue`` in a block:
    they never run (e.g. ``return dx`` after a blank's ``raise NotImplementedError()``)."""

    _ENDS = (ast.Raise, ast.Return, ast.Break, ast.Continue)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                ends = [i for i, st in enumerate(block) if isinstance(st, self._ENDS)]
                if ends:
                    setattr(node, field, block[: ends[0] + 1])
        return node


def cell_names(source: str) -> CellNames:
    """The names of one code cell. A cell that is not plain Python (IPython magics, shell
    escapes) reads every identifier in its text and binds none for sure."""
    try:
        tree = _Unreachable().visit(ast.parse(source))
        source = ast.unparse(tree)
        deferred = _deferred(source)
    except (SyntaxError, ValueError):
        words = frozenset(_IDENT.findall(source))
        return CellNames(words, words, words, frozenset())
    sure: set[str] = set()
    for stmt in tree.body:
        sure |= _definite(stmt)
    return CellNames(
        frozenset(_block_reads(tree.body, set())),
        frozenset(deferred),
        frozenset(_bound(source, tree)),
        frozenset(sure),
    )


@dataclass(frozen=True)
class Needed:
    """A tagged cell that runs anyway: ``reader`` reads ``name``, which it may bind."""

    cell: int
    reader: int
    name: str


def needed_cells(sources: Sequence[str], skipped: set[int]) -> list[Needed]:
    """The cells of ``skipped`` that must run after all, until nothing more is needed.

    ``sources`` are the run's code cells in order (the grader's probes last). A skipped cell
    is needed when a cell that runs reads, at top level, a name whose latest possible binder
    before it is that skipped cell, or reads it inside a function (called at any time)."""
    names = [cell_names(s) for s in sources]
    skipped = set(skipped)
    found: list[Needed] = []
    changed = True
    while changed:
        changed = False
        for reader, rn in enumerate(names):
            if reader in skipped:
                continue
            for name in sorted(rn.reads):
                for cell in range(reader - 1, -1, -1):
                    if cell in skipped and name in names[cell].binds:
                        found.append(Needed(cell, reader, name))
                        skipped.discard(cell)
                        changed = True
                        break
                    if cell not in skipped and name in names[cell].definite:
                        break
            for name in sorted(rn.deferred):
                for cell in sorted(skipped):
                    if name in names[cell].binds:
                        found.append(Needed(cell, reader, name))
                        skipped.discard(cell)
                        changed = True
    return found


def ignore_problems(nb: Any) -> list[str]:
    """Authoring mistakes with the tag: on a cell that is not an ordinary code cell, or on a
    cell that a later cell (check cells included: they name what the grader reads) needs."""
    problems = []
    positions = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags") or []
        if IGNORE_TAG in tags and not may_skip(cell):
            problems.append(
                f"cell {i}: {IGNORE_TAG} belongs on an ordinary code cell or a locked set-up "
                "cell, never on a graded or a solution cell"
            )
    code = [nb.cells[i] for i in positions]
    skipped = {k for k, c in enumerate(code) if is_ignored(c) and may_skip(c)}
    for n in needed_cells([c.source for c in code], skipped):
        problems.append(
            f"cell {positions[n.cell]}: tagged {IGNORE_TAG} but cell {positions[n.reader]} "
            f"reads {n.name!r}, which it may bind (untag it or move what is read out of it)"
        )
    return problems
