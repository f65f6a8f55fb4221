"""Slot uids: the per-process base (``GRADER_UID_BASE``) and its checks."""

from __future__ import annotations

import pytest

from grader.jail.limits import UID_BASE_DEFAULT, slot_uid, uid_base


def test_default_and_env_base(monkeypatch):
    monkeypatch.delenv("GRADER_UID_BASE", raising=False)
    monkeypatch.delenv("GRADER_SANDBOX_UID_BASE", raising=False)
    assert uid_base() == UID_BASE_DEFAULT == 61000 and slot_uid(3) == 61003
    monkeypatch.setenv("GRADER_SANDBOX_UID_BASE", "70000")  # the older name still works
    assert slot_uid(3) == 70003
    monkeypatch.setenv("GRADER_UID_BASE", "2000000")  # the new name wins
    assert slot_uid(0) == 2000000 and slot_uid(999) == 2000999


@pytest.mark.parametrize("raw", ["abc", "12", "-5", str(2**32)])
def test_bad_base_is_a_clear_error(monkeypatch, raw):
    monkeypatch.setenv("GRADER_UID_BASE", raw)
    with pytest.raises(ValueError, match="GRADER_UID_BASE"):
        slot_uid(0)


def test_slot_range(monkeypatch):
    monkeypatch.delenv("GRADER_UID_BASE", raising=False)
    with pytest.raises(ValueError, match="slot must be in 0..999"):
        slot_uid(1000)
