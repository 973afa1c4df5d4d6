"""The facts of a customer email that a reply should get right, and their recall in a reply.

A fact is an order or reference number ("SB-4402", "#12345"), a money amount ("$72", "£15.50"), a
date ("the 12th", "3 March", "Friday"), the requested action (refund, replace, cancel, reschedule,
... as keyword families) or the item (approximated by the email's content words that the reference
reply repeats). Only the facts that the reference reply repeats count: those are the ones the
ideal reply needs.
"""
from __future__ import annotations

import re

ID = re.compile(r"(?<![\w-])(?:#\s?\d{3,}|[A-Z]{1,6}-?\d{3,}(?:-\d+)?|\d{5,})(?![\w-])")
MONEY = re.compile(r"([$£€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?|(\d+(?:\.\d{1,2})?)\s?(dollars|pounds|euros|usd|gbp|eur)\b",
                   re.I)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
DATE_PATTERNS = (
    re.compile(MONTH + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b", re.I),             # March 3(rd)
    re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + MONTH + r"\b", re.I),  # 3(rd) (of) March
    re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b", re.I),                   # the 12th
    re.compile(r"(?<![\d.$£€])\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b"),            # 12/03(/2025)
    re.compile(r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I),
)

# The requested action, as families of keywords (matched at the start of a word, so "refund"
# also matches "refunded").
ACTIONS = {
    "refund": ("refund", "reimburs", "money back", "repay"),
    "replace": ("replac", "exchang", "resend", "re-send", "send another", "new one"),
    "cancel": ("cancel",),
    "reschedule": ("reschedul", "rebook", "re-book", "new appointment", "new date", "new time", "move the appointment"),
    "return": ("return", "send it back", "send back", "sent back"),
    "repair": ("repair", "fix"),
    "credit": ("credit", "voucher", "gift card", "compensat", "discount"),
    "deliver": ("deliver", "dispatch", "ship", "courier", "tracking"),
    "access": ("password", "reset", "unlock", "log in", "login", "locked", "access"),
    "address": ("address",),
    "invoice": ("invoice", "receipt", "vat"),
    "price_match": ("price match", "price-match", "match the price", "cheaper"),
    "points": ("points", "loyalty"),
    "data": ("delete my data", "personal data", "erase", "gdpr", "data"),
    "warranty": ("warrant", "guarantee"),
}

STOPWORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
each few for from further had hadn't has hasn't have haven't having he her here hers herself him himself
his how i i'd i'll i'm i've if in into is isn't it it's its itself just let's me more most my myself no
nor not now of off on once only or other ought our ours ourselves out over own same she should shouldn't
so some such than that that's the their theirs them themselves then there there's these they this those
through to too under until up very was wasn't we we're were weren't what when where which while who whom
why will with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves also
get got still yet already really just like one two three four five six seven eight nine ten
hi hello hey dear thanks thank please kind regards best sincerely customer team support care sir madam
ms mr mrs order orders help could would need want know let tell said say asked ask told email message
day days week weeks today tomorrow yesterday time back since ago via way thing things able make made
see sent send look use used going come came take took give gave keep put try tried went new just yes
""".split())

WORD = re.compile(r"[a-z][a-z'-]+")


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s", "ed", "ing"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def ids(text: str) -> set[str]:
    """Order and reference numbers, upper-cased, without '#' and spaces."""
    return {re.sub(r"[#\s]", "", m).upper() for m in ID.findall(text)}


def amounts(text: str) -> set[tuple[str, float]]:
    """Money amounts as (currency, value): "$72" and "$72.00" are the same amount."""
    found = set()
    for symbol, whole, cents, number, word in MONEY.findall(text):
        if symbol:
            found.add((symbol, float(whole.replace(",", "") + "." + (cents or "0"))))
        else:
            currency = {"dollars": "$", "usd": "$", "pounds": "£", "gbp": "£", "euros": "€", "eur": "€"}[word.lower()]
            found.add((currency, float(number)))
    return found


def dates(text: str) -> set[str]:
    """Dates, normalised: "mar-3", "day-12" (an ordinal alone), "12/3", weekday names."""
    found = set()
    for m in DATE_PATTERNS[0].finditer(text):
        found.add(f"{m.group(1)[:3].lower()}-{int(m.group(2))}")
    for m in DATE_PATTERNS[1].finditer(text):
        found.add(f"{m.group(2)[:3].lower()}-{int(m.group(1))}")
    days_with_month = {int(d.split("-")[1]) for d in found}
    for m in DATE_PATTERNS[2].finditer(text):
        if int(m.group(1)) not in days_with_month:
            found.add(f"day-{int(m.group(1))}")
    for m in DATE_PATTERNS[3].finditer(text):
        found.add(f"{int(m.group(1))}/{int(m.group(2))}")
    found |= {m.group(1).lower() for m in DATE_PATTERNS[4].finditer(text)}
    return found


def actions(text: str) -> set[str]:
    """Families of :data:`ACTIONS` named in the text."""
    lower = text.lower()
    return {family for family, keys in ACTIONS.items()
            if any(re.search(r"\b" + re.escape(k), lower) for k in keys)}


def content_words(text: str) -> set[str]:
    """Stemmed content words (no stop words, no figures), for the item approximation."""
    return {_stem(w.strip("'-")) for w in WORD.findall(text.lower())
            if w not in STOPWORDS and len(w.strip("'-")) >= 3}


def _reply_mentions(value, extractor, reply: str) -> bool:
    return value in extractor(reply)


def relevant_facts(email: str, reference: str) -> dict:
    """The email's facts that the reference reply repeats: ``ids``, ``amounts``, ``dates``,
    ``actions`` (sets) and ``item_words`` (the shared content words that are not action keywords)."""
    action_words = {_stem(k) for keys in ACTIONS.values() for k in keys if " " not in k}
    shared = content_words(email) & content_words(reference)
    return {
        "ids": ids(email) & ids(reference),
        "amounts": amounts(email) & amounts(reference),
        "dates": dates(email) & dates(reference),
        "actions": actions(email) & actions(reference),
        "item_words": {w for w in shared if not any(w.startswith(a) for a in action_words)},
    }


def fact_credits(reply: str, facts: dict) -> list[float]:
    """One credit in [0, 1] per fact: 1 when the reply states it. The item counts as one fact whose
    credit is the share of its words that the reply uses."""
    credits = [float(v in ids(reply)) for v in sorted(facts["ids"])]
    credits += [float(v in amounts(reply)) for v in sorted(facts["amounts"])]
    credits += [float(v in dates(reply)) for v in sorted(facts["dates"])]
    credits += [float(v in actions(reply)) for v in sorted(facts["actions"])]
    if facts["item_words"]:
        words = content_words(reply)
        credits.append(len(facts["item_words"] & words) / len(facts["item_words"]))
    return credits


def recall(reply: str, email: str, reference: str) -> float:
    """Share of the reference-relevant facts of ``email`` that ``reply`` contains (1.0 when there are none)."""
    credits = fact_credits(reply, relevant_facts(email, reference))
    return float(sum(credits) / len(credits)) if credits else 1.0
