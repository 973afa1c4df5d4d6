import json

import pytest

from helpers.core import data
from helpers.core.data import DataError


def write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


GOOD = {"prompt": "p", "chosen": "c", "rejected": "r"}


def test_valid_rows_load(tmp_path):
    rows = data.load_preferences(write(tmp_path / "p.jsonl", [GOOD, {**GOOD, "margin": 2}]))
    assert len(rows) == 2 and rows[1]["margin"] == 2


def test_bad_json_names_file_and_line(tmp_path):
    path = write(tmp_path / "p.jsonl", [GOOD, "{not json"])
    with pytest.raises(DataError) as err:
        data.load_preferences(path)
    assert err.value.line == 2 and str(path) in str(err.value)


def test_missing_field_is_named(tmp_path):
    path = write(tmp_path / "p.jsonl", [GOOD, GOOD, {"prompt": "p", "chosen": "c"}])
    with pytest.raises(DataError, match=r"line 3, field 'rejected': is missing"):
        data.load_preferences(path)


def test_wrong_optional_type_is_named(tmp_path):
    path = write(tmp_path / "p.jsonl", [{**GOOD, "margin": "big"}])
    with pytest.raises(DataError, match=r"line 1, field 'margin'"):
        data.load_preferences(path)


def test_nested_message_field_is_named(tmp_path):
    row = {"id": "a", "category": "refund", "casual_reply": "x",
           "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]}
    path = write(tmp_path / "e.jsonl", [row])
    with pytest.raises(DataError, match=r"field 'messages\[1\]\.content'"):
        data.load_jsonl(path, data.FORMAL_EMAIL_SCHEMA)


def test_last_message_must_be_assistant(tmp_path):
    row = {"messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(DataError, match=r"messages\[0\]\.role"):
        data.load_jsonl(write(tmp_path / "s.jsonl", [row]), data.SFT_SCHEMA)


def test_duplicate_ids_rejected(tmp_path):
    row = {"text": "Hello there.", "label": 1, "register": "x"}
    with pytest.raises(DataError, match="duplicate value"):
        data.load_jsonl(write(tmp_path / "f.jsonl", [row, row]), data.FORMALITY_SCHEMA, unique="text")


def test_label_out_of_range(tmp_path):
    with pytest.raises(DataError, match="field 'label'"):
        data.load_jsonl(write(tmp_path / "f.jsonl", [{"text": "a", "label": 2, "register": "x"}]), data.FORMALITY_SCHEMA)


def test_shipped_formal_emails():
    train, test = data.load_formal_emails("train"), data.load_formal_emails("test")
    assert len(train) >= 160 and len(test) >= 40
    prompts = [r["messages"][0]["content"] for r in train + test]
    assert len(set(prompts)) == len(prompts), "every scenario must be distinct"
    assert len({r["category"] for r in train}) >= 10
    assert {r["category"] for r in test} <= {r["category"] for r in train}


def test_shipped_formality_sentences():
    rows = data.load_formality_sentences()
    assert len(rows) >= 600
    share_formal = sum(r["label"] for r in rows) / len(rows)
    assert 0.4 < share_formal < 0.6
    assert len({r["register"] for r in rows}) >= 15


def test_shipped_empathy_pairs():
    train, test = data.load_empathy_pairs("train"), data.load_empathy_pairs("test")
    assert len(train) + len(test) >= 300 and len(test) >= 50
    modes = {"curt", "overly_casual", "over_apologetic_no_fix", "polite_refusal", "warm_but_wrong", "rambling"}
    assert {r["failure_mode"] for r in test} == modes == {r["failure_mode"] for r in train}
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    assert all(r["chosen"] != r["rejected"] for r in train + test)


def test_shipped_likert():
    items, ratings = data.load_likert()
    assert len(items) >= 60
    raters = {r["rater"] for r in ratings}
    assert len(raters) >= 3
    for trait in ("empathy", "professionalism"):
        rated = {}
        for r in ratings:
            if r["trait"] == trait:
                rated.setdefault(r["item_id"], set()).add(r["rater"])
        assert all(len(v) >= 3 for v in rated.values()) and len(rated) == len(items)


def test_likert_rating_of_unknown_item_names_its_line(tmp_path, monkeypatch):
    (tmp_path / "likert").mkdir()
    write(tmp_path / "likert" / "items.jsonl", [{"item_id": "a", "prompt": "p", "response": "r"}])
    good = {"item_id": "a", "rater": "r1", "trait": "empathy", "score": 3}
    write(tmp_path / "likert" / "ratings.jsonl", [good, "", {**good, "item_id": "zz"}])
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    with pytest.raises(DataError, match=r"ratings.jsonl, line 3, field 'item_id': no item 'zz'"):
        data.load_likert()
