"""Lesson 9's style constitution (data/constitution/): the shipped file loads as the datasheet
says, its worked examples are distinct, and a bad row is reported by file, line and field."""
import json

import pytest

from helpers.core import data
from helpers.core.data import DataError


def test_the_constitution_has_a_dozen_distinct_principles():
    rows = data.load_constitution()
    assert [r["id"] for r in rows] == [f"p-{i:02d}" for i in range(1, 13)]
    for field in ("name", "principle", "critique_request", "revision_request", "violation"):
        assert len({r[field] for r in rows}) == 12, field


def test_every_worked_example_is_a_whole_reply_and_its_minimal_revision():
    import difflib

    for r in data.load_constitution():
        for side in ("violation", "revision"):
            assert 40 <= len(r[side].split()) <= 90, (r["id"], side)
        # the revision keeps most of the reply: it fixes the one principle, not the whole text
        assert 0.3 < difflib.SequenceMatcher(None, r["violation"], r["revision"]).ratio() < 0.98, r["id"]


def _row(**kw):
    base = {"id": "p-1", "name": "be brief", "principle": "Say it once.", "critique_request": "Where?",
            "revision_request": "Rewrite it.", "violation": "Dear Ann, sorry, sorry.", "revision": "Dear Ann, sorry."}
    return json.dumps({**base, **kw}) + "\n"


def test_a_missing_field_is_named_by_file_line_and_field(tmp_path):
    path = tmp_path / "principles.jsonl"
    path.write_text(_row() + _row(id="p-2", principle=""))
    with pytest.raises(DataError, match=r"principles.jsonl, line 2, field 'principle'"):
        data.load_constitution(path)


def test_an_unchanged_revision_and_a_repeated_id_are_refused(tmp_path):
    path = tmp_path / "principles.jsonl"
    path.write_text(_row(revision="Dear Ann, sorry, sorry."))
    with pytest.raises(DataError, match="line 1, field 'revision': is the same text"):
        data.load_constitution(path)
    path.write_text(_row() + _row())
    with pytest.raises(DataError, match="line 2, field 'id': duplicate value 'p-1'"):
        data.load_constitution(path)
