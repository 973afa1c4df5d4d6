"""Lesson 9's critique → revise helpers: the conversations, the cleaning, the screen and the pairs."""
import pytest

from helpers import constitution
from helpers.core import data

CONSTITUTION = data.load_constitution()
ACKNOWLEDGE = next(p for p in CONSTITUTION if p["id"] == "p-01")
CUSTOMER = "My parasol (order LM-27364) never came on the Saturday I paid £6.99 for. I want that money back."
DRAFT = ("Dear Mr Adeyemi,\n\nI have refunded the £6.99 charge on order LM-27364; it reaches you by Friday.\n\n"
         "Kind regards,\nBethan")


def revision(text, draft=DRAFT):
    return constitution.Revision(CUSTOMER, draft, "p-01", "It gives the fix first.", text)


def test_the_reviser_is_shown_the_principles_worked_example_then_this_draft():
    messages = constitution.revision_messages(ACKNOWLEDGE, CUSTOMER, DRAFT, "It gives the fix first.")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert ACKNOWLEDGE["violation"] in messages[1]["content"] and messages[2]["content"] == ACKNOWLEDGE["revision"]
    last = messages[3]["content"]
    for part in (ACKNOWLEDGE["principle"], CUSTOMER, DRAFT, "It gives the fix first.", ACKNOWLEDGE["revision_request"]):
        assert part in last
    assert CUSTOMER not in messages[1]["content"]  # the demonstration is not about this customer


def test_the_critic_sees_the_principle_the_customer_and_the_draft():
    messages = constitution.critique_messages(ACKNOWLEDGE, CUSTOMER, DRAFT)
    assert [m["role"] for m in messages] == ["system", "user"]
    for part in (ACKNOWLEDGE["principle"], ACKNOWLEDGE["critique_request"], CUSTOMER, DRAFT):
        assert part in messages[1]["content"]


@pytest.mark.parametrize("raw", ["Here is the rewritten reply:\nDear Mr Adeyemi,\n\nSorry.",
                                 "Sure! Here's the revised version:\nDear Mr Adeyemi,\n\nSorry.",
                                 "Revised reply:\n\"Dear Mr Adeyemi,\n\nSorry.\"",
                                 "  Dear Mr Adeyemi,\n\nSorry.  "])
def test_a_preamble_and_quotes_are_dropped(raw):
    assert constitution.clean_revision(raw) == "Dear Mr Adeyemi,\n\nSorry."


def test_a_reply_that_only_mentions_something_new_is_kept_whole():
    text = "Dear Ms Shaw,\n\nYour new tracking number is below:\nLM-55120\n\nKind regards"
    assert constitution.clean_revision(text) == text


def test_kept_facts_counts_order_numbers_amounts_and_dates():
    assert constitution.kept_facts(DRAFT, DRAFT) == 1.0
    assert constitution.kept_facts(DRAFT, "Dear Mr Adeyemi, sorry about order LM-27364; refund by Friday.") == pytest.approx(2 / 3)
    assert constitution.kept_facts("Dear Sam, thank you for writing.", "Hello.") == 1.0  # nothing to keep


def test_the_screen_reports_the_first_reason_a_revision_fails():
    better = "Dear Mr Adeyemi,\n\nI am sorry your parasol did not arrive. " + DRAFT.split("\n\n", 1)[1]
    cases = [(revision(DRAFT), 0.0, 1.0, "unchanged"),
             (revision(better.replace("£6.99 ", "")), 0.0, 1.0, "lost a fact"),
             (revision("Sorry. LM-27364, £6.99, Friday."), 0.0, 1.0, "too short"),
             (revision(better), 0.5, 0.4, "scored no higher"),
             (revision(better), 0.0, 1.0, None)]
    screened = constitution.screen([c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases])
    assert [reason for _, reason in screened.dropped] == [c[3] for c in cases[:-1]]
    assert screened.kept == [cases[-1][0]] and screened.kept_share == pytest.approx(0.2)
    with pytest.raises(ValueError, match="one draft score"):
        constitution.screen([revision(better)], [0.0], [])


def test_pairs_choose_the_revision_over_its_draft():
    pair, = constitution.preference_pairs([revision("Dear Mr Adeyemi,\n\nI am sorry. The rest.")])
    assert pair == {"prompt": CUSTOMER, "chosen": "Dear Mr Adeyemi,\n\nI am sorry. The rest.", "rejected": DRAFT,
                    "principle": "p-01"}


def test_principles_are_sampled_reproducibly():
    first = [p["id"] for p in constitution.sample_principles(CONSTITUTION, 40, seed=3)]
    assert first == [p["id"] for p in constitution.sample_principles(CONSTITUTION, 40, seed=3)]
    assert first != [p["id"] for p in constitution.sample_principles(CONSTITUTION, 40, seed=4)]
    assert len(set(first)) >= 8  # 40 draws from 12 principles cover most of them


@pytest.fixture(scope="module")
def tiny():
    from helpers import get_profile
    from helpers.core import models

    return models.load_base(get_profile("tiny"))


def test_critique_and_revise_runs_a_model_and_is_deterministic(tiny):
    model, tokenizer = tiny
    principles = CONSTITUTION[:3]
    drafts = [DRAFT, "Hello, we fixed it.", "Dear Ana, the refund is done."]
    args = (model, tokenizer, [CUSTOMER] * 3, drafts, principles)
    first = constitution.critique_and_revise(*args, critique_tokens=8, revision_tokens=12, batch_size=2)
    assert [r.principle for r in first] == [p["id"] for p in principles]
    assert [r.draft for r in first] == drafts and all(isinstance(r.revision, str) for r in first)
    assert first == constitution.critique_and_revise(*args, critique_tokens=8, revision_tokens=12, batch_size=2)
    with pytest.raises(ValueError, match="one prompt, draft and principle"):
        constitution.critique_and_revise(model, tokenizer, [CUSTOMER], drafts, principles)


def test_a_revision_that_returns_the_worked_example_is_dropped_as_a_copy():
    copied = revision(ACKNOWLEDGE["revision"])  # another customer's order, greeting and sign-off
    assert constitution.copied_example(copied, ACKNOWLEDGE)
    own = revision(DRAFT.replace("Dear Mr Adeyemi,\n\n", "Dear Mr Adeyemi,\n\nI am sorry the parasol did not arrive. "))
    assert not constitution.copied_example(own, ACKNOWLEDGE)  # same customer as the example: nothing is new
    screened = constitution.screen([copied, own], [0.1, 0.1], [0.9, 0.9], examples=CONSTITUTION)
    assert [reason for _, reason in screened.dropped] == ["copied the example"] and screened.kept == [own]
    # without the constitution's rows the copy is not checked
    assert len(constitution.screen([copied], [0.1], [0.9]).kept) == 1


def test_the_constitution_rubric_asks_the_judge_about_the_reply_to_this_customer():
    messages = constitution.CONSTITUTION.pointwise_messages(CUSTOMER, DRAFT)
    assert CUSTOMER in messages[1]["content"] and DRAFT in messages[1]["content"]
    assert "acknowledges the customer's problem" in messages[1]["content"]


def test_echoed_instructions_and_an_appended_critique_are_cut_off():
    reply = "Dear Customer,\n\nI am sorry the bag arrived torn. A new one is on its way.\n\nBest regards,\nAmira"
    critique = "The reply does not end with one clear way to reach us, such as a phone number."
    assert constitution.clean_revision(f"{reply}\n\n{critique}", critique) == reply
    assert constitution.clean_revision(f"{reply}\n\nReview:\nIt is fine.") == reply
    assert constitution.clean_revision(f"{reply}\n\nRewrite the reply in plain words.") == reply
    assert constitution.clean_revision(f"{reply}\n\nRewrite the closing so that it gives one way to reach us.") == reply
    # "reply" inside a sentence is not an echo
    assert constitution.clean_revision("Dear Ann,\n\nPlease reply: we will help.") == "Dear Ann,\n\nPlease reply: we will help."


def test_a_revision_about_something_else_is_dropped_where_similarities_are_given():
    off_topic = revision("This is a great example of how to handle customer service, and of what not to do.")
    on_topic = revision(DRAFT.replace("I have refunded", "I am sorry it never came. I have refunded"))
    screened = constitution.screen([off_topic, on_topic], [0.1, 0.1], [0.9, 0.9], similarities=[0.3, 0.95])
    assert [reason for _, reason in screened.dropped] == ["changed the subject"] and screened.kept == [on_topic]
    with pytest.raises(ValueError, match="one similarity per revision"):
        constitution.screen([on_topic], [0.1], [0.9], similarities=[0.3, 0.95])
