"""Upload validation, locked-cell restoration and safe output reading (no sandbox needed)."""

from __future__ import annotations

import io
import json
import os
import pickle

import numpy as np
import pytest
from adversarial import tiny

from grader.engine.restore import SERVER_GRADED, neutralise_check_cells, restore_locked_cells
from grader.engine.spec import ProbeOutputError, ScoreContext, TrustedData
from grader.engine.upload import RejectedUpload, check_belongs, parse_notebook
from grader.jail.outputs import read_item_outputs


def _reject(data: bytes) -> dict:
    with pytest.raises(RejectedUpload) as info:
        parse_notebook(data)
    assert info.value.message["ja"] and info.value.message["en"]
    return info.value.message


@pytest.mark.parametrize(
    "data, needle",
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b"{not json", "JSON"),
        (b"[1, 2, 3]", "not a notebook"),
        (json.dumps({"cells": [], "nbformat": 3, "metadata": {}}).encode(), "nbformat 3"),
        (
            json.dumps(
                {
                    "cells": [{"cell_type": "code"}],
                    "nbformat": 4,
                    "nbformat_minor": 5,
                    "metadata": {},
                }
            ).encode(),
            "schema",
        ),
    ],
)
def test_bad_uploads_get_clear_messages(data, needle):
    assert needle in _reject(data)["en"]


def test_size_cap():
    msg = _reject(b" " * (21 * 1024 * 1024))
    assert "too large" in msg["en"] and "大きすぎ" in msg["ja"]


def test_outputs_are_stripped():
    nb = tiny.notebook(True)
    nb.cells[1].outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 100}]
    nb.cells[1].execution_count = 7
    parsed = parse_notebook(tiny.to_bytes(nb))
    assert parsed.cells[1].outputs == [] and parsed.cells[1].execution_count is None


def _bomb(values: int) -> bytes:
    """The released tiny notebook with ``values`` empty objects in one cell's metadata."""
    nb = json.loads(tiny.to_bytes(tiny.released()))
    nb["cells"][2]["metadata"]["bomb"] = [{}] * values
    return json.dumps(nb, separators=(",", ":")).encode()


def test_metadata_json_bomb_is_refused_before_parsing():
    """Issue 13, finding 8: 1.6 M empty objects (4.6 MB) in one cell's metadata."""
    data = _bomb(1_600_000)
    assert 4e6 < len(data) < 6e6
    msg = _reject(data)
    assert "1,600," in msg["en"] and "too large" in msg["en"]
    assert "大きすぎます" in msg["ja"]


def test_deep_nesting_is_refused():
    nb = json.loads(tiny.to_bytes(tiny.released()))
    nb["cells"][2]["metadata"]["deep"] = "@"
    text = json.dumps(nb).replace('"@"', "[" * 5000 + "]" * 5000)
    assert "nesting" in _reject(text.encode())["en"]


def test_unused_metadata_is_stripped_and_nbgrader_kept():
    nb = json.loads(tiny.to_bytes(tiny.released()))
    nb["metadata"]["widgets"] = {"state": [{}] * 1000}
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    meta = nb["cells"][2]["metadata"]
    meta["collapsed"] = True
    meta["bomb"] = [{}] * 1000
    meta["nbgrader"]["junk"] = [{}] * 1000
    parsed = parse_notebook(json.dumps(nb).encode())
    assert dict(parsed.metadata) == {"kernelspec": nb["metadata"]["kernelspec"]}
    want = {k: v for k, v in meta["nbgrader"].items() if k != "junk"}
    assert parsed.cells[2].metadata == {"nbgrader": want}
    assert all(set(c.metadata) <= {"nbgrader"} for c in parsed.cells)
    check_belongs(parsed, tiny.released(), tiny.ID)


def test_lone_surrogates_in_an_upload_become_storable():
    """Issue 13, finding 6: the six ASCII bytes \\ud800 in a markdown cell."""
    nb = json.loads(tiny.to_bytes(tiny.released()))
    nb["cells"][0]["source"] = "lone @ here"
    data = json.dumps(nb).replace("@", "\\ud800").encode()
    assert b"\\ud800" in data
    parsed = parse_notebook(data)
    assert parsed.cells[0].source == "lone \ufffd here"
    json.dumps(parsed, ensure_ascii=False).encode("utf-8")


def test_foreign_and_duplicated_cells_are_rejected():
    released = tiny.released()
    other = tiny.notebook(False)
    other.cells[2].metadata["nbgrader"]["grade_id"] = "someone_elses_impl"
    with pytest.raises(RejectedUpload, match="not a notebook of assignment"):
        check_belongs(parse_notebook(tiny.to_bytes(other)), released, tiny.ID)
    dup = tiny.notebook(False)
    dup.cells.append(dup.cells[3])
    with pytest.raises(RejectedUpload, match="duplicated"):
        check_belongs(parse_notebook(tiny.to_bytes(dup)), released, tiny.ID)
    check_belongs(parse_notebook(tiny.to_bytes(tiny.notebook(True))), released, tiny.ID)


def test_locked_cells_are_restored_in_place():
    released = tiny.released()
    nb = parse_notebook(tiny.to_bytes(tiny.notebook(True)))
    nb.cells[1].source = "np = None  # sabotaged set-up"
    del nb.cells[5]  # the graded check cell of tiny_triple
    restored, changed = restore_locked_cells(nb, released)
    assert set(changed) == {"tiny_setup", "tiny_triple"}
    assert restored.cells[1].source == tiny.SETUP
    assert restored.cells[5].metadata["nbgrader"]["grade_id"] == "tiny_triple"
    assert restored.cells[4].source == tiny.TRIPLE_SOLUTION  # student code kept
    assert nb.cells[1].source.startswith("np = None")  # the input is not modified


def test_check_cells_are_neutralised():
    nb = parse_notebook(tiny.to_bytes(tiny.notebook(True)))
    items = neutralise_check_cells(nb)
    assert items == ["tiny_softmax", "tiny_triple"]
    assert nb.cells[3].source == SERVER_GRADED.format(item="tiny_softmax")


def _item_dir(tmp_path, index=0):
    d = tmp_path / "probe" / str(index)
    d.mkdir(parents=True)
    return d


def test_outputs_plain_arrays_are_read(tmp_path):
    d = _item_dir(tmp_path)
    np.save(d / "y.npy", np.arange(6.0).reshape(2, 3))
    (d / "done").touch()
    res = read_item_outputs(tmp_path, 0)
    assert res.done and res.error is None and res.problems == []
    np.testing.assert_array_equal(res.arrays["y"], np.arange(6.0).reshape(2, 3))


def test_outputs_refuse_links_fifos_pickles_and_objects(tmp_path):
    d = _item_dir(tmp_path)
    secret = tmp_path / "secret.npy"
    np.save(secret, np.ones(3))
    os.symlink(secret, d / "linked.npy")
    os.mkfifo(d / "fifo.npy")
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (d / "objects.npy").write_bytes(buf.getvalue())
    (d / "pickle.npy").write_bytes(pickle.dumps(np.ones(3)))
    np.save(d / "text.npy", np.array(["a", "b"]))
    (d / "done").touch()
    res = read_item_outputs(tmp_path, 0)
    assert res.arrays == {}
    assert len(res.problems) == 5, res.problems


def test_outputs_refuse_a_linked_probe_dir(tmp_path):
    real = tmp_path / "elsewhere" / "0"
    real.mkdir(parents=True)
    np.save(real / "y.npy", np.ones(3))
    (real / "done").touch()
    os.symlink(tmp_path / "elsewhere", tmp_path / "probe")
    res = read_item_outputs(tmp_path, 0)
    assert not res.done and res.arrays == {}


def test_require_checks_shape_kind_and_finiteness():
    ctx = ScoreContext(
        {},
        {"y": np.ones((2, 3)), "n": np.array([np.nan]), "i": np.arange(3)},
        TrustedData(),
    )
    assert ctx.require("y", shape=(2, None)).dtype == np.float64
    with pytest.raises(ProbeOutputError, match="shape"):
        ctx.require("y", shape=(3, 2))
    with pytest.raises(ProbeOutputError, match="NaN"):
        ctx.require("n")
    with pytest.raises(ProbeOutputError, match="missing"):
        ctx.require("absent")
    with pytest.raises(ProbeOutputError, match="dtype"):
        ctx.require("y", kind="i")
    assert ctx.require("i", kind="i").dtype == np.int64
