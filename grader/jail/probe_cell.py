"""The probe cell: grader code that runs in the student's kernel, in the jail, after their cells.

For item number ``i`` it binds ``inp`` (that item's input arrays, fresh copies) and ``out``
(empty dict), runs the item's probe source in its own ``try``, and saves each ``out`` value
with ``np.save(..., allow_pickle=False)`` to ``<out>/probe/<i>/<name>.npy``; an exception is
written (size-capped) to ``<out>/probe/<i>/error.txt`` instead, and a ``done`` marker ends each
item. Nothing the probe writes is a verdict: the trusted side reads the arrays and judges.
"""

from __future__ import annotations

import re

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")  # an output's name (file stem under probe/<i>/)
MAX_ERROR_CHARS = 4000

_PROBE_TEMPLATE = """\
# 採点用プローブ (自動生成) / grader probe (generated): calls your code on hidden inputs.
def __grader_probe__():
    import os as _os
    import traceback as _tb

    try:
        import numpy as _np

        _g = globals()
        _z = _np.load({inputs!r}, allow_pickle=False)
        _all = {{_k: _z[_k] for _k in _z.files}}
        _z.close()
{mnist}
    except BaseException as _e:
        _os.makedirs({outdir!r}, exist_ok=True)
        with open(_os.path.join({outdir!r}, "setup_error.txt"), "w", encoding="utf-8") as _f:
            _f.write((type(_e).__name__ + ": " + str(_e))[:{cap}])
        raise
    for _i, _id, _src in {items!r}:
        _d = _os.path.join({outdir!r}, str(_i))
        try:
            _os.makedirs(_d, exist_ok=True)
            _pre = str(_i) + "__"
            _g["inp"] = {{
                _k[len(_pre) :]: _v.copy() for _k, _v in _all.items() if _k.startswith(_pre)
            }}
            _g["out"] = {{}}
            exec(compile(_src, "<probe " + _id + ">", "exec"), _g)
            for _k, _v in list(_g["out"].items()):
                _np.save(_os.path.join(_d, str(_k) + ".npy"), _np.asarray(_v), allow_pickle=False)
        except BaseException as _e:
            _tail = "".join(_tb.format_exception(type(_e), _e, _e.__traceback__)[-6:])
            try:
                with open(_os.path.join(_d, "error.txt"), "w", encoding="utf-8") as _f:
                    _head = (type(_e).__name__ + ": " + str(_e))[:{cap}]
                    _f.write(_head + "\\n---\\n" + _tail[-{cap}:])
            except BaseException:
                pass
        try:
            open(_os.path.join(_d, "done"), "w").close()
        except BaseException:
            pass
    for _k in ("inp", "out"):
        _g.pop(_k, None)


__grader_probe__()
del __grader_probe__
"""

_MNIST_LINES = """\
        _m = _np.load({mnist!r}, allow_pickle=False)
        _x = _m["x_test"].reshape(-1, 784).astype(_np.float32) / _np.float32(255.0)
        _g["MNIST_PROBE_X"] = _x
        _m.close()
"""


def probe_source(
    probes: list[tuple[str, str]], inputs_path: str, out_dir: str, mnist_path: str | None
) -> str:
    """The probe cell's source: ``probes`` are the items' (id, probe source) in order; paths
    as the sandbox sees them; ``mnist_path`` for MNIST assignments only."""
    items = [(i, item_id, src) for i, (item_id, src) in enumerate(probes)]
    mnist = _MNIST_LINES.format(mnist=mnist_path) if mnist_path else ""
    return _PROBE_TEMPLATE.format(
        inputs=inputs_path, items=items, outdir=out_dir, mnist=mnist, cap=MAX_ERROR_CHARS
    )
