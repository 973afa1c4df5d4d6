"""Lesson 9's label selection, scripted rater, pair reward model and labelling rounds."""
import json

import numpy as np
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


WARM = ["I'm so sorry your parcel went missing before the wedding; I've sent a replacement today.",
        "That sounds really stressful, and I'm sorry. I've refunded the charge and emailed the receipt.",
        "I completely understand how worrying this is. The engineer will call you tomorrow at 9.",
        "I'm sorry the kettle leaked on your counter. A new one is on its way, free of charge."]
CURT = ["Replacement sent.", "Charge refunded. Receipt emailed.", "Engineer calls tomorrow 9am.", "New kettle dispatched."]


def test_the_pair_reward_model_learns_a_preference_and_is_symmetric():
    model = active_labels.PairRewardModel.fit(WARM[:3], CURT[:3])
    assert model.accuracy(WARM[3:], CURT[3:]) == 1.0  # a held-out pair
    margins = model.margins(WARM, CURT)
    assert np.allclose(margins, -model.margins(CURT, WARM)) and (margins > 0).all()
    with pytest.raises(ValueError, match="one rejected reply per chosen"):
        active_labels.PairRewardModel.fit(WARM, CURT[:2])


def pool(n=12):
    return [{"id": f"p{i}", "prompt": f"complaint {i}", "chosen": WARM[i % 4] + f" (case {i})",
             "rejected": CURT[i % 4] + f" Case {i}."} for i in range(n)]


def test_pair_items_hide_the_chosen_side_and_remember_it():
    items, prefers = active_labels.pair_items(pool(), seed=0)
    sides = [prefers(item) for item in items]
    assert set(sides) == {"a", "b"}  # both sides occur
    for row, item, side in zip(pool(), items, sides):
        assert item[f"response_{side}"] == row["chosen"] and item["item_id"] == row["id"]


def test_rounds_label_through_the_labeller_and_resume_without_asking_again(tmp_path):
    items, prefers = active_labels.pair_items(pool(), seed=0)
    store = tmp_path / "labels.jsonl"

    def run(strategy):
        rater = active_labels.ScriptedRater(prefers, seed=0)
        history = active_labels.run_rounds(strategy, items, rater, store, lambda m: {"n": 1}, seed_labels=4,
                                           per_round=2, rounds=2, seed=0)
        return rater, history

    _, history = run("active")
    assert [row["labels"] for row in history] == [4, 6, 8] and [row["round"] for row in history] == [0, 1, 2]
    lines = store.read_text().splitlines()
    assert len(lines) == 8  # one label event per pair asked
    labeled = labeling.PairwiseLabeler(items, store, "scripted", "constitution").preference_pairs()
    assert all(p["chosen"].startswith(tuple(WARM)) for p in labeled)  # a rater without slips
    # round 1's picks are the pairs round 0's model is least sure of
    margins = history[0]["model"].margins([i["response_a"] for i in items], [i["response_b"] for i in items])
    first = {json.loads(line)["item_id"] for line in lines[:4]}
    unlabelled = [i for i, item in enumerate(items) if item["item_id"] not in first]
    expected = sorted(unlabelled, key=lambda i: abs(margins[i]))[:2]
    assert {json.loads(line)["item_id"] for line in lines[4:6]} == {items[i]["item_id"] for i in expected}
    run("active")  # the same run again: every pair it picks is already labelled
    assert len(store.read_text().splitlines()) == 8


def test_label_efficiency_reads_pandas_columns_like_lists():
    import pandas as pd

    curves = pd.DataFrame({"labels": [8, 16, 24], "active": [0.7, 0.85, 0.9], "random": [0.7, 0.8, 0.85]},
                          index=[5, 6, 7])  # an index that is not 0..n-1
    assert active_labels.label_efficiency(curves["labels"], curves["active"], curves["labels"], curves["random"]) == 1.5
