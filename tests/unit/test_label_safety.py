"""Labels are never lost or misattributed: two labellers on one file, torn files, changed items,
bad values, errors shown in the panel, and a property test over random click sequences."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.data import DataError
from helpers.labeling import LabelConflict, LabelStore, LikertLabeler, PairwiseLabeler, likert_panel, pairwise_panel

ITEMS = [{"item_id": f"i{k}", "prompt": f"p{k}", "response": f"r{k}"} for k in range(4)]
PAIRS = [{"item_id": f"p{k}", "prompt": f"prompt {k}", "response_a": f"a{k}", "response_b": f"b{k}"} for k in range(4)]


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_labellers_on_one_file_share_one_history(tmp_path):
    path = tmp_path / "l.jsonl"
    tab1 = LikertLabeler(ITEMS, path, rater="ann", trait="formality")
    tab2 = LikertLabeler(ITEMS, path, rater="ann", trait="formality")  # a second tab, opened at once
    on_screen_in_tab2 = tab2.current()["item_id"]
    tab1.rate(5)
    with pytest.raises(LabelConflict, match="labelled meanwhile"):
        tab2.rate(1, item_id=on_screen_in_tab2)  # tab 2 still shows i0: refused, not written
    assert tab2.current()["item_id"] == "i1"
    tab2.rate(2)
    assert tab1.undo()  # undoes the rater's last label, whichever tab made it
    assert tab1.ratings() == tab2.ratings() == [{"item_id": "i0", "rater": "ann", "trait": "formality", "score": 5}]
    assert [e["action"] for e in lines(path)] == ["label", "label", "undo"]


def test_a_missing_final_newline_is_completed_before_the_next_write(tmp_path):
    path = tmp_path / "l.jsonl"
    LikertLabeler(ITEMS, path, rater="ann", trait="t").rate(4)
    path.write_text(path.read_text().rstrip("\n"))  # e.g. edited by hand
    LikertLabeler(ITEMS, path, rater="ann", trait="t").rate(3)
    assert [e["score"] for e in lines(path)] == [4, 3]


def test_a_torn_last_line_is_reported_and_never_overwritten(tmp_path):
    path = tmp_path / "l.jsonl"
    lab = LikertLabeler(ITEMS, path, rater="ann", trait="t")
    lab.rate(4)
    with path.open("a") as handle:
        handle.write('{"item_id": "i1", "rater": "an')  # a write cut off
    before = path.read_bytes()
    with pytest.raises(DataError, match="line 2"):
        lab.rate(3)
    with pytest.raises(DataError, match="line 2"):
        LikertLabeler(ITEMS, path, rater="ann", trait="t")
    assert path.read_bytes() == before


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    path = tmp_path / "l.jsonl"
    LikertLabeler(ITEMS, path, rater="ann", trait="t").rate(4)
    with path.open("ab") as handle:
        handle.write(b'{"item_id": "i1", "rater": "\xff\xfe", "action": "skip"}\n')
    with pytest.raises(DataError, match=r"line 2.*not UTF-8"):
        LabelStore(path).events()


@pytest.mark.parametrize("rater, items", [("", ITEMS), (None, ITEMS), ("ann", [{"item_id": 3, "response": "x"}]),
                                          ("ann", [{"response": "no id"}])])
def test_bad_rater_or_item_id_is_refused_before_anything_is_written(tmp_path, rater, items):
    with pytest.raises(ValueError):
        LikertLabeler(items, tmp_path / "l.jsonl", rater=rater, trait="t")
    assert not (tmp_path / "l.jsonl").exists()


@pytest.mark.parametrize("score", [3.7, True, "3", 0, 6])
def test_a_score_must_be_an_integer_on_the_scale(tmp_path, score):
    lab = LikertLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t")
    with pytest.raises(ValueError, match="integer from 1 to 5"):
        lab.rate(score)
    assert lab.progress() == (0, 4)


def test_a_second_trait_on_the_same_file_starts_from_the_beginning(tmp_path):
    path = tmp_path / "l.jsonl"
    LikertLabeler(ITEMS, path, rater="ann", trait="empathy").rate(5)
    other = LikertLabeler(ITEMS, path, rater="ann", trait="professionalism")
    assert other.current()["item_id"] == "i0" and other.ratings() == []


def test_a_changed_response_is_a_new_item(tmp_path):
    path = tmp_path / "l.jsonl"
    LikertLabeler(ITEMS, path, rater="ann", trait="t").rate(5)
    rerun = [{**ITEMS[0], "response": "a new reply"}] + ITEMS[1:]  # re-running lesson 1: same ids, new replies
    again = LikertLabeler(rerun, path, rater="ann", trait="t")
    assert again.current()["item_id"] == "i0" and again.ratings() == []
    assert LikertLabeler(ITEMS, path, rater="ann", trait="t").ratings()[0]["score"] == 5  # nothing lost


def test_the_panel_shows_an_error_instead_of_only_logging_it(tmp_path):
    path = tmp_path / "l.jsonl"
    lab = LikertLabeler(ITEMS, path, rater="ann", trait="t")
    panel = likert_panel(lab)
    path.write_text('{"item_id": "i0", "rater"')  # the file is torn behind the panel's back
    panel.children[1].children[2].click()
    assert "line 1" in panel.children[-1].value and "fix or remove that line" in panel.children[-1].value
    assert path.read_text() == '{"item_id": "i0", "rater"'


def test_a_panel_labels_the_pair_it_shows_not_the_next_one(tmp_path):
    path = tmp_path / "l.jsonl"
    tab1, tab2 = (pairwise_panel(PairwiseLabeler(PAIRS, path, rater="ann", trait="t")) for _ in range(2))
    tab1.children[2].children[0].click()  # tab 1 labels p0
    tab2.children[2].children[1].click()  # tab 2 still shows p0: refused, then shows p1
    assert "meanwhile" in tab2.children[-1].value
    assert [e["item_id"] for e in lines(path)] == ["p0"]
    assert "prompt 1" in tab2.children[0].value


ACTIONS = st.lists(st.tuples(st.sampled_from(["rate", "skip", "undo", "reopen"]), st.integers(0, 1),
                             st.integers(1, 5)), max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_the_file_replays_to_exactly_the_intended_labels(tmp_path_factory, actions):
    """Random clicks from two labellers (reopened at random) on one file against a model: a stack
    of standing (item, score) entries that undo pops."""
    path = tmp_path_factory.mktemp("prop") / "l.jsonl"
    tabs = [LikertLabeler(ITEMS, path, rater="ann", trait="t") for _ in range(2)]
    stack = []
    for action, tab, score in actions:
        done = {item for item, _ in stack}
        nxt = next((i["item_id"] for i in ITEMS if i["item_id"] not in done), None)
        if action == "reopen":
            tabs[tab] = LikertLabeler(ITEMS, path, rater="ann", trait="t")
        elif action == "undo":
            assert tabs[tab].undo() == bool(stack)
            stack = stack[:-1]
        elif nxt is None:
            with pytest.raises(RuntimeError):
                tabs[tab].rate(score) if action == "rate" else tabs[tab].skip()
        else:
            tabs[tab].rate(score) if action == "rate" else tabs[tab].skip()
            stack.append((nxt, score if action == "rate" else None))
        expected = sorted((item, s) for item, s in stack if s is not None)
        for labeller in tabs + [LikertLabeler(ITEMS, path, rater="ann", trait="t")]:
            assert sorted((r["item_id"], r["score"]) for r in labeller.ratings()) == expected
            assert labeller.progress() == (len(stack), len(ITEMS))
