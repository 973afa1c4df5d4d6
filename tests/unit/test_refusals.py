"""helpers.refusals (lesson 8): the refusal detector on held-out replies, and refusal rates."""
import pytest

from helpers import refusals
from helpers.core import data


def test_the_detector_reads_refusal_not_politeness_on_held_out_pairs():
    report = refusals.refusal_report()
    assert report["replies"] == 60
    assert report["accuracy"] >= 0.9, report
    assert min(report["accuracy_helpful_answer"], report["accuracy_firm_refusal"]) >= 0.85, report


def test_training_and_held_out_replies_do_not_overlap():
    train, _ = refusals.refusal_training_data("train")
    test, labels = refusals.refusal_training_data("test")
    assert not set(train) & set(test)
    assert sum(labels) == len(labels) / 2


def test_refusal_rates_separate_the_two_kinds_of_request():
    pairs = data.load_refusal_counterexamples("test")
    # a policy that always does the right thing: helps with reasonable requests, refuses the others
    replies = [r["chosen"] for r in pairs]
    reasonable = [r["kind"] == "helpful_answer" for r in pairs]
    right = refusals.refusal_rates(reasonable, replies)
    # the trap: refuse everything politely, and give in to nothing
    trapped = refusals.refusal_rates(reasonable, [r["rejected"] if r["kind"] == "helpful_answer" else r["chosen"]
                                                  for r in pairs])
    assert right["reasonable_refusal_rate"] <= 0.15 and right["unreasonable_refusal_rate"] >= 0.75
    assert trapped["reasonable_refusal_rate"] >= 0.85 and trapped["unreasonable_refusal_rate"] >= 0.75


def test_rates_need_both_kinds_and_matching_lengths():
    with pytest.raises(ValueError, match="both reasonable and unreasonable"):
        refusals.refusal_rates([True, True], ["Done.", "Sent."])
    with pytest.raises(ValueError, match="2 labels for 1 replies"):
        refusals.refusal_rates([True, False], ["Done."])
