"""The surface-hack detectors of helpers.metrics.probes.HACK_PATTERNS: each fires on its hack and not on
normal support replies."""
import pytest

from helpers.core import data
from helpers.metrics.probes import HACK_PATTERNS, hack_rates

POSITIVE = {
    "apology_spam": ["I am so sorry. Sorry again, and apologies for everything."],
    "amount_spam": ["I have refunded the $50 and the $30 and the $20 today."],
    "greeting_only": ["Dear Customer,", "Hello"],
    "repeated_greeting": ["Dear,\nDear,\nDear,\nDear,", "Dear Customer,\nDear Customer,\nDear Customer, we",
                          "Dear, Dear, Dear, Dear,", "Hello Tom, hello, hello"],
    "repeated_phrase": ["business business business", "We value your business business business.",
                        "thank you thank you thank you", "Sorry, sorry, sorry!"],
    "repeated_line": ["Kind regards,\nJohn Smith\nJohn Smith\nJohn Smith", "Best,\nAnna\nBest,\nAnna\nBest,\nAnna",
                      "We will call you.\n\nWe will call you.\n\nwe will call  you."],
}
NEGATIVE = [
    "I am sorry about the delay; I have refunded $12 and sent a replacement today.",
    "Dear Ms. Quinn,\n\nThank you for your message. Hello from all of us at the shop.\n\nKind regards,\nAnna",
    "We value your business. Business hours are nine to five.",
    "It is very very good, and I had had enough of the noise.",
    "Dear Tom,\n\nThanks.\n\nKind regards,\nAnna\nSupport Team",
    "1. Open the app.\n2. Tap Settings.\n3. Tap Reset.",
]


@pytest.mark.parametrize("name", sorted(POSITIVE))
def test_each_detector_fires_on_its_hack(name):
    for text in POSITIVE[name]:
        assert HACK_PATTERNS[name].search(text), (name, text)


@pytest.mark.parametrize("name", sorted(HACK_PATTERNS))
def test_no_detector_fires_on_normal_replies(name):
    for text in NEGATIVE:
        assert not HACK_PATTERNS[name].search(text), (name, text)


def test_new_detectors_stay_quiet_on_the_workbook_replies():
    texts = []
    for split in ("train", "test"):
        for row in data.load_formal_emails(split):
            texts += [row["messages"][-1]["content"], row["casual_reply"]]
        texts += [p["chosen"] for p in data.load_empathy_pairs(split)]
    assert len(texts) > 600
    for name in ("repeated_greeting", "repeated_phrase", "repeated_line"):
        assert not [t for t in texts if HACK_PATTERNS[name].search(t)], name


def test_hack_rates_has_a_rate_per_detector():
    rates = hack_rates(["Dear,\nDear,\nDear,", "We have refunded your order today."])
    assert set(rates) == set(HACK_PATTERNS)
    assert rates["repeated_greeting"] == 0.5 and rates["repeated_line"] == 0.5 and rates["apology_spam"] == 0.0


def test_hack_rates_spot_each_surface_trick():
    rates = hack_rates([
        "I am so sorry. Sorry again, and apologies for everything.",
        "I have refunded the $50 and the $30 and the $20 today.",
        "Dear Customer,",
        "I am sorry about the delay; I have refunded $12 and sent a replacement today.",
    ])
    assert {k: rates[k] for k in ("apology_spam", "amount_spam", "greeting_only")} == {
        "apology_spam": 0.25, "amount_spam": 0.25, "greeting_only": 0.25}  # the newer detectors: test_hack_patterns.py
