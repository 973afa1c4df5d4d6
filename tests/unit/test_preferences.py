import numpy as np
import pytest

from helpers.preferences import left_win_rate, likert_to_pairs, majority_vote, rater_leniency, to_preference_dataset

ITEMS = [{"item_id": "a", "prompt": "P", "response": "warm fix"},
         {"item_id": "b", "prompt": "P", "response": "curt"},
         {"item_id": "c", "prompt": "P", "response": "ok"},
         {"item_id": "d", "prompt": "Q", "response": "only one for Q"}]


def ratings(scores):
    return [{"item_id": i, "rater": r, "trait": "empathy", "score": s} for (i, r), s in scores.items()]


def test_likert_to_pairs_margin_and_ties():
    rows = ratings({("a", "r1"): 5, ("a", "r2"): 4, ("b", "r1"): 1, ("b", "r2"): 2,
                    ("c", "r1"): 4, ("c", "r2"): 4, ("d", "r1"): 3})
    pairs = likert_to_pairs(ITEMS, rows, "empathy", min_margin=1.0)
    got = {(p["chosen"], p["rejected"], p["margin"]) for p in pairs}
    # a (4.5) vs c (4.0) is a tie under the margin; Q has one response, so no pair
    assert got == {("warm fix", "curt", 3.0), ("ok", "curt", 2.5)}
    assert all(p["prompt"] == "P" for p in pairs)


def test_majority_vote():
    labels = [{"item_id": "x", "winner": "a"}, {"item_id": "x", "winner": "a"}, {"item_id": "x", "winner": "b"},
              {"item_id": "y", "winner": "a"}, {"item_id": "y", "winner": "b"},
              {"item_id": "z", "winner": "tie"}, {"item_id": "z", "winner": "tie"}, {"item_id": "z", "winner": "b"}]
    assert majority_vote(labels) == {"x": "a", "y": "tie", "z": "tie"}


def test_left_win_rate():
    labels = [{"left": "a", "winner": "a"}, {"left": "b", "winner": "b"}, {"left": "a", "winner": "b"},
              {"left": "a", "winner": "tie"}]
    assert left_win_rate(labels) == pytest.approx(2 / 3)


def test_rater_leniency():
    rows = ratings({("a", "r1"): 3, ("a", "r2"): 4, ("b", "r1"): 2, ("b", "r2"): 3})
    assert rater_leniency(rows, "empathy") == {"r1": -1.0, "r2": 1.0}


def test_dataset_has_trl_columns():
    ds = to_preference_dataset([{"prompt": "p", "chosen": "c", "rejected": "r", "margin": 1.0}])
    assert {"prompt", "chosen", "rejected", "margin"} <= set(ds.column_names)
    with pytest.raises(ValueError):
        to_preference_dataset([])


def test_a_rater_who_favours_the_left_side_is_flagged_and_a_fair_one_is_not():
    import random

    from helpers.preferences import position_bias_p_value, position_biased

    rng = random.Random(0)

    def labels(p_left):
        out = []
        for i in range(60):
            left = rng.choice("ab")
            winner = left if rng.random() < p_left else ("b" if left == "a" else "a")
            out.append({"item_id": str(i), "left": left, "winner": winner})
        return out

    fair, biased = labels(0.5), labels(0.9)
    assert position_bias_p_value(biased) < 1e-4 < position_bias_p_value(fair)
    assert position_biased({"fair": fair, "biased": biased, "all_ties": [{"left": "a", "winner": "tie"}]}) == ["biased"]


def test_leniency_corrected_spread_removes_a_constant_offset():
    from helpers.preferences import leniency_corrected_spread

    # r2 is one point more lenient everywhere: after the correction the items are uncontested,
    # except the last one, where r2 disagrees for real
    scores = {"i1": (2, 3), "i2": (4, 5), "i3": (3, 4), "i4": (4, 2)}
    ratings = [{"item_id": i, "rater": r, "trait": "t", "score": s}
               for i, pair in scores.items() for r, s in zip(("r1", "r2"), pair)]
    spread = leniency_corrected_spread(ratings, "t")
    assert spread["i1"] == pytest.approx(spread["i2"]) == pytest.approx(spread["i3"])
    assert spread["i4"] == pytest.approx(2.5) and spread["i1"] == pytest.approx(0.5)  # raw spreads 2 and 1


def test_likert_as_pairwise_gives_each_raters_implied_verdict():
    from helpers.preferences import likert_as_pairwise

    items = [{"item_id": "x", "prompt": "p"}, {"item_id": "y", "prompt": "p"}, {"item_id": "z", "prompt": "q"}]
    ratings = [{"item_id": i, "rater": r, "trait": "t", "score": s}
               for r, i, s in [("r1", "x", 5), ("r1", "y", 2), ("r2", "x", 3), ("r2", "y", 3),
                               ("r3", "x", 1), ("r3", "y", 4), ("r1", "z", 4), ("r4", "x", 2)]]
    verdicts = likert_as_pairwise(items, ratings, "t")
    assert verdicts.shape == (4, 1)  # one pair (x, y); z has no partner
    np.testing.assert_array_equal(verdicts[:3, 0], [0, 2, 1])
    assert np.isnan(verdicts[3, 0])  # r4 scored x only


def test_agreement_with_reference_counts_decided_pairs_only():
    from helpers.preferences import agreement_with_reference

    result = agreement_with_reference({"p1": "a", "p2": "b", "p3": "tie", "p4": "a"},
                                      {"p1": "a", "p2": "a", "p3": "a", "p4": "a"})
    assert (result["decided"], result["wrong"]) == (3, 1)
    assert result["rate"] == pytest.approx(2 / 3)
    assert result["ci_low"] < 2 / 3 < result["ci_high"] < 1
    with pytest.raises(ValueError, match="no decided pair"):
        agreement_with_reference({"p1": "tie"}, {"p1": "a"})
