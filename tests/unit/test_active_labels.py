"""Lesson 9's label selection and scripted rater."""
import pytest

from helpers import active_labels, labeling

ITEMS = [{"item_id": f"p{i}", "prompt": f"complaint {i}", "response_a": f"warm reply {i}", "response_b": f"curt reply {i}"}
         for i in range(6)]


def test_active_selection_asks_about_the_least_certain_pairs_first():
    margins = [2.0, -0.1, 0.5, 0.1, -3.0, 0.0]
    assert active_labels.pick_pairs("active", margins, 3) == [5, 1, 3]  # |0.1| tie: the lower index first
    assert active_labels.pick_pairs("active", margins, 2, exclude=[5, 1]) == [3, 2]


def test_random_selection_is_seeded_and_skips_what_is_labelled():
    margins = list(range(20))
    first = active_labels.pick_pairs("random", margins, 5, seed=1, exclude=[0, 1])
    assert first == active_labels.pick_pairs("random", margins, 5, seed=1, exclude=[0, 1])
    assert first != active_labels.pick_pairs("random", margins, 5, seed=2, exclude=[0, 1])
    assert not {0, 1} & set(first) and len(set(first)) == 5


@pytest.mark.parametrize("strategy, k, match", [("greedy", 1, "strategy"), ("active", 7, "6 of 6"), ("random", 0, "0 pairs")])
def test_bad_requests_are_refused(strategy, k, match):
    with pytest.raises(ValueError, match=match):
        active_labels.pick_pairs(strategy, [0.0] * 6, k)


def test_the_scripted_rater_labels_through_the_labeller_on_the_side_shown(tmp_path):
    labeler = labeling.PairwiseLabeler(ITEMS, tmp_path / "labels.jsonl", rater="script", trait="empathy")
    rater = active_labels.ScriptedRater(lambda item: "a")
    assert rater.label(labeler, n=4) == 4 and labeler.progress() == (4, 6)
    assert {e["left"] for e in labeler.labels()} == {"a", "b"}  # both sides were on the left at least once
    assert rater.label(labeler) == 2 and labeler.current() is None  # resumes where it stopped
    pairs = labeler.preference_pairs()
    assert [p["chosen"] for p in pairs] == [item["response_a"] for item in ITEMS]
    reloaded = labeling.PairwiseLabeler(ITEMS, tmp_path / "labels.jsonl", rater="script", trait="empathy")
    assert reloaded.preference_pairs() == pairs  # the labels are in the file, not in the rater


def test_a_rater_who_always_slips_picks_the_other_side(tmp_path):
    labeler = labeling.PairwiseLabeler(ITEMS, tmp_path / "labels.jsonl", rater="script", trait="empathy")
    active_labels.ScriptedRater(lambda item: "a", error_rate=1.0).label(labeler)
    assert all(p["chosen"].startswith("curt") for p in labeler.preference_pairs())
    with pytest.raises(ValueError, match="error_rate"):
        active_labels.ScriptedRater(lambda item: "a", error_rate=1.5)


def test_label_efficiency_compares_labels_to_random_selections_final_accuracy():
    random_curve = ([0, 10, 20, 30], [0.60, 0.66, 0.70, 0.72])
    active_curve = ([0, 10, 20, 30], [0.60, 0.73, 0.75, 0.76])
    assert active_labels.labels_to_reach(*active_curve, 0.72) == 10
    assert active_labels.label_efficiency(*active_curve, *random_curve) == pytest.approx(3.0)
    assert active_labels.label_efficiency(*random_curve, *active_curve) == 0.0  # never reaches 0.76
    assert active_labels.labels_to_reach(*random_curve, 0.9) is None
