"""docs/ITEMS.md is generated from the specs and stays true: regenerating it changes nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "items_table", ROOT / "scripts" / "items_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_items_table_is_up_to_date_and_a_stale_copy_is_caught(tmp_path):
    table = _script()
    text = table.render()
    assert not table.out_of_date(table.OUT, text), "run: python scripts/items_table.py"
    # every graded item has its row
    from grader.specs import all_assignments

    for item in (it for a in all_assignments() for it in a.items):
        assert f"| `{item.id}` (" in text, item.id
    stale = tmp_path / "ITEMS.md"
    stale.write_text(text.replace("argument_modified", "argument_changed", 1), encoding="utf-8")
    assert table.out_of_date(stale, text)
    assert table.out_of_date(tmp_path / "missing.md", text)
