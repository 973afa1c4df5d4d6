"""helpers.metrics.policy_eval: one sampled reply per prompt, measured as lessons 4 and 5 measure a policy."""
import numpy as np
import pytest

from helpers import get_profile
from helpers.core import models
from helpers.metrics import policy_eval

PROMPTS = ["My parcel never arrived and I need it for Friday.", "You charged me twice for one order.",
           "The kettle I bought leaks from the base.", "Can I change the delivery address of my order?"]
REFERENCES = ["I am sorry about the delay. I have sent a replacement today.", "I have refunded the second charge.",
              "I am sorry the kettle leaks; a replacement is on its way.", "Yes, I have changed the address for you."]


class Length:
    """A stand-in reward model / judge: the reply's length in words."""

    def score(self, prompts, replies):
        assert len(prompts) == len(replies)
        return [float(len(r.split())) for r in replies]


@pytest.fixture(scope="module")
def tiny():
    return models.load_base(get_profile("tiny"))


def test_a_policy_against_itself_has_no_kl_and_its_scores_are_the_scorers(tiny):
    model, tok = tiny
    measured = policy_eval.evaluate_policy(model, tok, PROMPTS, REFERENCES, Length(), Length(), reference_model=model,
                                           max_new_tokens=12, seed=3)
    assert len(measured["replies"]) == len(PROMPTS)
    words = np.mean([len(r.split()) for r in measured["replies"]])
    assert measured["reward"] == measured["judge"] == pytest.approx(words) == pytest.approx(measured["words"])
    assert measured["kl"] == pytest.approx(0, abs=1e-4)
    assert 0 <= measured["hack_rate"] <= 1 and 0 <= measured["distinct_2"] <= 1
    assert measured["perplexity_ref"] > 1 and {"empathy", "content_sim"} <= set(measured)


def test_the_same_seed_samples_the_same_replies_and_triad_false_skips_the_triad(tiny):
    model, tok = tiny
    kwargs = dict(reference_model=model, max_new_tokens=12, seed=5, triad=False)
    first = policy_eval.evaluate_policy(model, tok, PROMPTS, REFERENCES, Length(), Length(), **kwargs)
    second = policy_eval.evaluate_policy(model, tok, PROMPTS, REFERENCES, Length(), Length(), **kwargs)
    assert first["replies"] == second["replies"]
    assert "perplexity_ref" not in first and "empathy" not in first


def test_evaluate_as_profiled_uses_the_profiles_reply_length_and_reference(tiny):
    model, tok = tiny
    P = get_profile("tiny").with_overrides(rl={"max_new_tokens": 6})
    measured = policy_eval.evaluate_as_profiled(model, tok, PROMPTS, REFERENCES, Length(), Length(), P, model, seed=2,
                                                triad=False)
    direct = policy_eval.evaluate_policy(model, tok, PROMPTS, REFERENCES, Length(), Length(), reference_model=model,
                                         max_new_tokens=6, temperature=P.rl.temperature, seed=3,
                                         batch_size=P.gen_batch_size, triad=False)
    assert measured["replies"] == direct["replies"] and measured["kl"] == pytest.approx(0, abs=1e-4)


def test_the_gain_verdict_draws_a_conclusion_only_where_an_interval_supports_it():
    from helpers.metrics.judge_eval import Estimate
    from helpers.metrics.policy_eval import gain_verdict

    gap_below, gap_spans = Estimate(-1.0, -1.5, -0.5), Estimate(-0.1, -0.4, 0.2)
    assert gain_verdict(Estimate(0.0, -0.3, 0.3), gap_below).startswith("over-optimised")
    assert gain_verdict(Estimate(-0.6, -0.9, -0.3), gap_below).startswith("over-optimised")
    assert gain_verdict(Estimate(0.5, 0.2, 0.8), gap_below).startswith("partly over-optimised")
    assert gain_verdict(Estimate(0.5, 0.2, 0.8), gap_spans) == "the judge confirms the gain"
    assert gain_verdict(Estimate(-0.5, -0.8, -0.2), gap_spans) == "the judge sees a loss"
    assert gain_verdict(Estimate(0.1, -0.2, 0.4), gap_spans, "the independent judge") == \
        "the independent judge sees no gain distinguishable from 0"
