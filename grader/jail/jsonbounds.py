"""How big a JSON text would be as Python objects, measured before building them.

A 4.6 MB upload of 1.6 M empty objects costs gigabytes once parsed, validated and copied;
nesting thousands deep makes every recursive walk fail. :func:`measure` counts the values and
the nesting depth of a JSON text with a few C-speed passes (strings, numbers and whitespace
squeezed out by regular expressions first), so a caller can refuse the text before
``json.loads``. The text must still be valid JSON for ``json.loads`` afterwards; ``measure``
does not check that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_SCALAR = re.compile(r"[^\[\]{},:\s]+")
_SPACE = re.compile(r"\s+")
_INNERMOST = re.compile(r"[\[{][^\[\]{}]*[\]}]")


@dataclass(frozen=True)
class JsonSize:
    nodes: int  # values: objects, arrays, strings, numbers, literals
    depth: int  # deepest nesting of objects and arrays (capped at the caller's limit + 1)


def measure(text: str, max_nodes: int, max_depth: int) -> JsonSize:
    """The size of ``text``; ``depth`` stops counting past ``max_depth``, and is not counted
    at all (0) when there are more than ``max_nodes`` values."""
    squeezed = _SPACE.sub("", _SCALAR.sub("0", _STRING.sub("0", text)))
    containers = squeezed.count("{") + squeezed.count("[")
    # Each value is a scalar ("0" now) or a container; object keys were squeezed to "0"
    # too, so they are taken off again (one per ":").
    nodes = squeezed.count("0") + containers - squeezed.count(":")
    depth = 0
    while nodes <= max_nodes and depth <= max_depth and ("{" in squeezed or "[" in squeezed):
        inner = _INNERMOST.sub("0", squeezed)
        if inner == squeezed:  # unbalanced brackets (a truncated file): json.loads says so
            break
        squeezed = inner
        depth += 1
    return JsonSize(nodes=nodes, depth=depth)
