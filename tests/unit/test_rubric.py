"""Lesson 1's rubric (helpers.metrics.style.reply_rubric) and the fact extraction behind ``correct``."""
import re

import numpy as np
import pytest

from helpers.core import data
from helpers.metrics import facts, style


@pytest.fixture(scope="module")
def emails():
    rows = data.load_formal_emails("test")
    return ([r["messages"][0]["content"] for r in rows], [r["messages"][1]["content"] for r in rows],
            [r["casual_reply"] for r in rows])


@pytest.fixture(scope="module")
def rubrics(emails):
    email, reference, casual = emails
    return {"reference": style.reply_rubric(reference, email, reference),
            "greeting": style.reply_rubric(["Dear Customer"] * len(email), email, reference),
            "casual": style.reply_rubric(casual, email, reference)}


def test_rubric_keys_and_range(rubrics):
    for rows in rubrics.values():
        assert len(rows) == 40
        for row in rows:
            assert set(row) == {"formal", "polite", "concise", "correct", "overall"}
            assert all(0.0 <= v <= 1.0 for v in row.values())


def test_reference_replies_score_well(rubrics):
    overall = [r["overall"] for r in rubrics["reference"]]
    assert np.mean(overall) >= 0.6, np.mean(overall)


def test_greeting_only_reply_scores_low_everywhere(rubrics):
    greeting, reference = rubrics["greeting"], rubrics["reference"]
    assert max(r["overall"] for r in greeting) <= 0.2
    assert all(ref["overall"] > g["overall"] for ref, g in zip(reference, greeting))


def test_casual_reply_is_less_formal_than_the_reference(rubrics):
    pairs = list(zip(rubrics["casual"], rubrics["reference"]))
    assert sum(c["formal"] < r["formal"] for c, r in pairs) >= 38
    assert np.mean([r["formal"] - c["formal"] for c, r in pairs]) >= 0.1


def test_wrong_order_number_lowers_correctness(emails):
    email, reference, _ = emails
    with_ids = [(e, r) for e, r in zip(email, reference) if facts.ids(e) & facts.ids(r)]
    assert len(with_ids) >= 20
    for e, r in with_ids:
        wrong = r
        for order in facts.ids(e) & facts.ids(r):
            wrong = re.sub(re.escape(order), "ZZ-99999", wrong, flags=re.I)
        right, bad = style.fact_recall([r, wrong], [e, e], [r, r])
        assert bad < right, (e, wrong)


def test_concision_band():
    assert style.concision(50, 50) == 1.0 and style.concision(25, 50) == 1.0 and style.concision(75, 50) == 1.0
    assert style.concision(2, 50) < 0.01 and style.concision(150, 50) == pytest.approx(0.25)
    assert style.concision(12, 48) == pytest.approx(0.25)


def test_rubric_rejects_mismatched_lists():
    with pytest.raises(ValueError):
        style.reply_rubric(["a"], ["b", "c"], ["d"])


EMAIL = ("Hi, I was charged £15.50 twice for order #12345 on 3 March. Please refund the duplicate charge "
         "for the blue kettle. Thanks, Ann")
REFERENCE = ("Dear Ann,\n\nThank you for your message. I have refunded the duplicate charge of £15.50 for order "
             "12345 (3 March, blue kettle) to your card.\n\nKind regards,\nSupport")


def test_fact_extractors():
    assert facts.ids("order SB-4402 and #12345, ref 987654") == {"SB-4402", "12345", "987654"}
    assert facts.amounts("$72 or $72.00, £15.50, 30 euros") == {("$", 72.0), ("£", 15.5), ("€", 30.0)}
    assert facts.dates("on 3 March, March 4th, the 12th, Friday, 12/03") >= {"mar-3", "mar-4", "day-12", "friday", "12/3"}
    assert facts.dates("a $3.20 fee") == set()
    assert facts.actions("Please refund me or send a replacement") == {"refund", "replace"}
    assert facts.ids("See you at 10:30.") == set() and facts.amounts("three apples") == set()


def test_relevant_facts_and_recall():
    found = facts.relevant_facts(EMAIL, REFERENCE)
    assert found["ids"] == {"12345"} and found["amounts"] == {("£", 15.5)} and found["dates"] == {"mar-3"}
    assert "refund" in found["actions"] and {"kettle", "blue"} <= found["item_words"]
    assert facts.recall(REFERENCE, EMAIL, REFERENCE) == 1.0
    assert facts.recall("Dear Customer", EMAIL, REFERENCE) == 0.0
    partial = facts.recall("We refunded £15.50 for order 12345.", EMAIL, REFERENCE)
    assert 0.3 < partial < 1.0
    assert facts.recall("We refunded £15.50 for order 54321.", EMAIL, REFERENCE) < partial
