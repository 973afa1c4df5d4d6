"""Lesson 8's refusal data (data/refusals/): the shipped files load, are balanced as the datasheet
says, do not overlap, and a bad row is reported by file, line and field."""
import json

import pytest

from helpers.core import data
from helpers.core.data import DataError


def test_the_probe_set_has_both_labels_in_both_splits():
    rows = data.load_refusal_requests()
    assert len(rows) == 120 and sum(r["reasonable"] for r in rows) == 72
    for split in ("train", "test"):
        part = data.load_refusal_requests(split)
        assert {r["reasonable"] for r in part} == {True, False}
        assert 0.45 < sum(r["reasonable"] for r in part) / len(part) < 0.75


def test_the_counterexamples_teach_both_sides_of_the_fix():
    rows = data.load_refusal_counterexamples()
    assert len(rows) == 90
    for split in ("train", "test"):
        assert {r["kind"] for r in data.load_refusal_counterexamples(split)} == {"helpful_answer", "firm_refusal"}


def test_no_counterexample_repeats_a_probe():
    probes = {r["request"][:40].lower() for r in data.load_refusal_requests()}
    assert not [r["id"] for r in data.load_refusal_counterexamples() if r["prompt"][:40].lower() in probes]


def test_a_bad_label_is_named_by_file_line_and_field(tmp_path):
    good = {"id": "rq-1", "request": "Please cancel order WS-1.", "reasonable": True, "policy": "p", "split": "test"}
    path = tmp_path / "requests.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "rq-2", "reasonable": "yes"}) + "\n")
    with pytest.raises(DataError, match=r"requests.jsonl, line 2, field 'reasonable': must be true or false"):
        data.load_refusal_requests(path=path)


def test_an_unknown_kind_and_a_bad_split_are_refused(tmp_path):
    row = {"id": "cx-1", "prompt": "p", "chosen": "a", "rejected": "b", "kind": "helpful_answer", "split": "train"}
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({**row, "kind": "polite"}) + "\n")
    with pytest.raises(DataError, match="line 1, field 'kind'"):
        data.load_refusal_counterexamples(path=path)
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="split must be"):
        data.load_refusal_counterexamples("dev", path=path)
