"""The pairwise labeller driven like a rater would: clicks, undo, restart, resume, export."""
import pytest

from helpers.labeling import PairwiseLabeler, pairwise_panel, scripted_pairwise_rater
from helpers.preferences import left_win_rate

ITEMS = [{"item_id": f"p{k}", "prompt": f"prompt {k}", "response_a": f"good {k}", "response_b": f"bad {k}"}
         for k in range(12)]


def click_good(lab, n):
    for _ in range(n):
        shown = lab.shown()
        lab.choose("left" if shown["left"].startswith("good") else "right")


def test_order_is_randomised_but_stable(tmp_path):
    lab = PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="empathy", seed=1)
    lefts = [lab.sides(item)[0] for item in ITEMS]
    assert "a" in lefts and "b" in lefts
    again = PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="empathy", seed=1)
    assert [again.sides(item)[0] for item in ITEMS] == lefts


def test_clicks_undo_restart_resume_and_export(tmp_path):
    path = tmp_path / "labels.jsonl"
    lab = PairwiseLabeler(ITEMS, path, rater="ann", trait="empathy")
    click_good(lab, 3)
    lab.choose("tie")
    lab.skip()
    assert lab.undo()  # the skip is retracted
    assert lab.current()["item_id"] == "p4"
    click_good(lab, 2)  # p4, p5
    # restart: a new labeller on the same file resumes at the first unlabelled item
    lab = PairwiseLabeler(ITEMS, path, rater="ann", trait="empathy")
    assert lab.current()["item_id"] == "p6" and lab.progress() == (6, 12)
    lab.skip()
    click_good(lab, 1)
    pairs = lab.preference_pairs()
    labels = lab.labels()
    non_tie = [label for label in labels if label["winner"] != "tie"]
    assert len(pairs) == len(non_tie) == 6  # p0-p2, p4, p5, p7; p3 tie, p6 skipped
    assert all(p["chosen"].startswith("good") and p["rejected"].startswith("bad") for p in pairs)
    assert len({p["item_id"] for p in pairs}) == len(pairs)  # nothing duplicated


def test_invalid_choice(tmp_path):
    with pytest.raises(ValueError):
        PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t").choose("A")


def test_panel_clicks(tmp_path):
    lab = PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="ann", trait="t")
    panel = pairwise_panel(lab)
    a, b, tie, skip, undo = panel.children[2].children
    a.click(); b.click(); tie.click(); skip.click()
    assert lab.progress() == (4, 12)
    undo.click()
    assert lab.progress() == (3, 12)
    assert len(lab.preference_pairs()) == 2


def test_scripted_rater_uses_the_same_path_and_shows_position_bias(tmp_path):
    def score(prompt, texts):
        return [1.0 if t.startswith("good") else 0.0 for t in texts]

    fair = PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="fair", trait="t")
    assert scripted_pairwise_rater(fair, score, noise=0.0) == 12
    assert all(p["chosen"].startswith("good") for p in fair.preference_pairs())

    def left_loving(prompt, texts):
        return [score(prompt, texts)[0] + 5.0, score(prompt, texts)[1]]

    biased = PairwiseLabeler(ITEMS, tmp_path / "l.jsonl", rater="biased", trait="t")
    scripted_pairwise_rater(biased, left_loving)
    assert left_win_rate(biased.labels()) == 1.0
    assert len((tmp_path / "l.jsonl").read_text().splitlines()) == 24
