"""Lesson 1's scorecard (helpers.sft): per-reply measures, their means, and paired gains with intervals."""
import numpy as np
import pytest

from helpers import sft
from helpers.core import data

ROWS = data.load_formal_emails("test")[:8]
EMAILS = [r["messages"][0]["content"] for r in ROWS]
REFERENCES = [r["messages"][1]["content"] for r in ROWS]
CASUAL = [r["casual_reply"] for r in ROWS]


def test_the_scorecards_means_are_the_means_of_the_per_reply_scores():
    means = sft.evaluate_replies(REFERENCES, EMAILS, REFERENCES, finished=[True] * len(ROWS))
    per_reply = sft.per_reply_scores(REFERENCES, EMAILS, REFERENCES)
    for name, values in per_reply.items():
        assert len(values) == len(ROWS)
        assert means[name] == pytest.approx(values.mean()), name
    assert means["stopped_share"] == 1.0


def test_paired_gains_find_what_the_reference_replies_add_over_a_casual_reply():
    gains = sft.paired_gains(CASUAL, REFERENCES, EMAILS, REFERENCES, seed=0)
    for name, estimate in gains.items():
        assert estimate.low <= estimate.value <= estimate.high, name
    # the reference replies repeat the customer's facts and are formal; the casual ones are not
    assert gains["fact_recall"].low > 0
    assert gains["formality"].low > 0
    # the same replies on both sides: no gain, a zero-width interval
    same = sft.paired_gains(REFERENCES, REFERENCES, EMAILS, REFERENCES, seed=0)
    assert all(np.isclose(e.value, 0) and np.isclose(e.low, 0) and np.isclose(e.high, 0) for e in same.values())


def test_the_gains_are_deterministic_for_a_seed():
    first = sft.paired_gains(CASUAL, REFERENCES, EMAILS, REFERENCES, seed=3)
    assert first == sft.paired_gains(CASUAL, REFERENCES, EMAILS, REFERENCES, seed=3)
