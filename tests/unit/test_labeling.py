import json

import pytest

from helpers.core.data import DataError
from helpers.labeling import LabelStore, LikertLabeler, likert_panel

ITEMS = [{"item_id": f"i{k}", "prompt": f"p{k}", "response": f"r{k}"} for k in range(4)]


def test_rate_skip_undo_and_progress(tmp_path):
    lab = LikertLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="formality")
    lab.rate(4)
    lab.skip()
    assert lab.current()["item_id"] == "i2" and lab.progress() == (2, 4)
    assert lab.undo()
    assert lab.current()["item_id"] == "i1"
    lab.rate(2)
    assert sorted((r["item_id"], r["score"]) for r in lab.ratings()) == [("i0", 4), ("i1", 2)]


def test_resume_after_restart_keeps_every_event(tmp_path):
    path = tmp_path / "l.jsonl"
    first = LikertLabeler(ITEMS, path, rater="ann", trait="formality")
    first.rate(5)
    first.rate(3)
    again = LikertLabeler(ITEMS, path, rater="ann", trait="formality")
    assert again.current()["item_id"] == "i2"
    assert [r["score"] for r in sorted(again.ratings(), key=lambda r: r["item_id"])] == [5, 3]
    other = LikertLabeler(ITEMS, path, rater="bob", trait="formality")
    assert other.current()["item_id"] == "i0"  # raters are independent
    assert len(path.read_text().splitlines()) == 2


def test_undo_with_nothing_to_undo(tmp_path):
    assert not LikertLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t").undo()


def test_score_out_of_scale(tmp_path):
    with pytest.raises(ValueError):
        LikertLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t").rate(6)


def test_corrupt_line_names_file_and_line_and_loses_nothing(tmp_path):
    path = tmp_path / "l.jsonl"
    LikertLabeler(ITEMS, path, rater="ann", trait="t").rate(4)
    with path.open("a") as handle:
        handle.write('{"item_id": "i1", "rater": \n')
    before = path.read_text()
    with pytest.raises(DataError) as err:
        LikertLabeler(ITEMS, path, rater="ann", trait="t")
    assert err.value.line == 2 and str(path) in str(err.value)
    assert path.read_text() == before


def test_event_with_bad_field_is_named(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"item_id": "i0", "rater": "ann", "action": "delete"}) + "\n")
    with pytest.raises(DataError, match="line 1, field 'action'"):
        LabelStore(path).events()


def test_panel_buttons_drive_the_labeler(tmp_path):
    lab = LikertLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t")
    panel = likert_panel(lab)
    buttons = panel.children[1].children
    buttons[2].click()  # score 3
    buttons[-2].click()  # skip
    assert lab.progress() == (2, 4)
    buttons[-1].click()  # undo the skip
    assert lab.current()["item_id"] == "i1"
    assert "1/4" in panel.children[3].value
