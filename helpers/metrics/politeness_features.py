"""Politeness strategies of Danescu-Niculescu-Mizil et al. (ACL 2013), as binary markers per text.

The paper's strategies (its Table 3), each a regular expression over the request: gratitude,
deference, greeting, positive and negative lexicon, apologising, "please" (and "please" as the
first word, which reads *less* polite), indirect "by the way", direct questions, direct starts
("so", "then", "and", "but"), counterfactual modals ("could you", "would you"), indicative modals
("can you", "will you"), a sentence-initial imperative verb (our addition), first/second person and their sentence-initial forms, hedges, and
factuality ("in fact", "actually"). The lexicons are short hand-picked lists, not the paper's
full ones.
"""
from __future__ import annotations

import re

import numpy as np

_I = re.I


def _words(*words: str) -> str:
    return r"\b(?:" + "|".join(words) + r")\b"


def _start(pattern: str) -> re.Pattern:
    """``pattern`` as the first word of the text or of a sentence."""
    return re.compile(r"(?:^|[.!?]\s+)\W*" + pattern, _I)


POSITIVE = ("good", "great", "nice", "excellent", "helpful", "interesting", "useful", "clear", "awesome",
            "perfect", "wonderful", "fantastic", "glad", "happy", "love", "like", "right", "correct",
            "fine", "welcome", "kind", "works", "worked", "better", "best", "cool", "neat", "elegant")
NEGATIVE = ("bad", "wrong", "stupid", "dumb", "useless", "terrible", "awful", "horrible", "broken",
            "fail", "fails", "failed", "problem", "issue", "error", "confusing", "confused", "unclear",
            "hard", "difficult", "impossible", "ridiculous", "silly", "annoying", "mess", "crap", "hate",
            "nonsense", "lazy", "worse", "worst", "ugly", "obviously", "clearly", "simply", "just",
            "idiot", "idiots", "idiotic", "moron", "pathetic", "incompetent", "garbage", "trash", "sucks",
            "wtf", "shut up", "loser", "clueless", "pointless", "waste")
HEDGES = ("think", "thought", "believe", "suggest", "guess", "maybe", "perhaps", "possibly", "probably",
          "might", "seems?", "seemed", "appears?", "apparently", "somewhat", "likely", "unlikely",
          "presumably", "suppose", "assume", "wonder(?:ing)?", "kind of", "sort of", "not sure",
          "a bit", "a little", "i feel")

STRATEGIES: dict[str, re.Pattern] = {
    "gratitude": re.compile(_words("thanks?", "thank you", "thanking", "appreciated?", "appreciate it", "grateful",
                                   "thx", "ty", "cheers"), _I),
    "deference": re.compile(_words("great question", "good question", "nice question", "interesting question",
                                   "good point", "great point", "nice work", "good work", "great work",
                                   "nice job", "good job", "great job", "well done", "great answer",
                                   "nice answer", "good answer", "excellent", "impressive"), _I),
    "greeting": _start(_words("hi", "hello", "hey", "good morning", "good afternoon", "good evening",
                              "greetings", "dear")),
    "positive_lexicon": re.compile(_words(*POSITIVE), _I),
    "negative_lexicon": re.compile(_words(*NEGATIVE), _I),
    "apologizing": re.compile(_words("sorry", "apologi[sz]e", "apologies", "excuse me", "forgive me",
                                     "pardon", "my bad", "my mistake", "i regret"), _I),
    "please": re.compile(r"(?<!^)(?<![.!?]\s)\bplease\b|\bplz\b|\bpls\b", _I),
    "please_start": _start(_words("please", "pls", "plz")),
    "indirect_btw": re.compile(_words("by the way", "btw", "incidentally"), _I),
    "direct_question": _start(_words("what", "why", "who", "how", "where", "when", "which")),
    "why_question": re.compile(_words("why"), _I),
    "direct_start": _start(_words("so", "then", "and", "but", "or")),
    "imperative_start": _start(_words("stop", "fix", "give", "tell", "read", "look", "do", "don't", "check", "try",
                                      "explain", "answer", "post", "show", "provide", "send", "go", "get", "use",
                                      "learn", "change", "remove", "add", "put", "make", "quit")),
    "counterfactual_modal": re.compile(_words("could you", "would you", "would it be possible",
                                              "would you mind", "might you", "could we", "would we",
                                              "i would appreciate", "i'd appreciate", "would be great",
                                              "would be nice", "would be helpful"), _I),
    "indicative_modal": re.compile(_words("can you", "will you", "can we", "can't you", "won't you"), _I),
    "first_person_start": _start(_words("i", "my", "i'm", "i've", "i'd", "i'll")),
    "first_person_plural": re.compile(_words("we", "our", "us", "ours", "let's"), _I),
    "first_person": re.compile(_words("i", "me", "my", "mine", "myself", "i'm", "i've", "i'd", "i'll"), _I),
    "second_person": re.compile(_words("you", "your", "yours", "yourself", "you're", "you've", "you'd", "u", "ur"), _I),
    "second_person_start": _start(_words("you", "your", "you're", "you've", "u", "ur")),
    "hedges": re.compile(_words(*HEDGES), _I),
    "factuality": re.compile(_words("in fact", "actually", "the point is", "the reality is", "the truth is",
                                    "in reality", "really", "honestly", "of course", "obviously"), _I),
    "subjunctive_or_conditional": re.compile(_words("if you", "if it", "if that", "if possible", "if so"), _I),
    "question_mark": re.compile(r"\?"),
    "exclamation": re.compile(r"!"),
    "shouting_punct": re.compile(r"[!?]{2,}"),
}
STRATEGY_NAMES = tuple(STRATEGIES)
FEATURE_VERSION = 2  # bump when a strategy changes: cached scorers are keyed by it


def strategy_markers(text: str) -> dict[str, int]:
    """1 for each strategy the text uses, 0 otherwise (``question_mark`` counts questions, capped at 3)."""
    text = text or ""
    markers = {name: int(bool(pattern.search(text))) for name, pattern in STRATEGIES.items()}
    markers["question_mark"] = min(3, text.count("?"))
    return markers


def politeness_features(texts: list[str]) -> np.ndarray:
    """One row of :data:`STRATEGY_NAMES` markers per text (float64)."""
    rows = [list(strategy_markers(t).values()) for t in texts]
    return np.array(rows, dtype=np.float64).reshape(len(texts), len(STRATEGY_NAMES))
