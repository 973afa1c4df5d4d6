"""Lesson 9: critique → revise a draft reply against one principle of the style constitution (AI
feedback), screen the revisions, and turn the kept ones into preference pairs (RLAIF).

The reviser sees the principle's worked example (a reply that breaks it, and its revision) as one
demonstration turn: a 135M-parameter model follows a shown edit far better than a described one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from helpers.core.generation import generate
from helpers.judge import Rubric
from helpers.metrics import facts

CRITIC_SYSTEM = ("You review customer-support replies for Larkmoor against one principle of its style "
                 "constitution. Answer in one or two sentences.")
REVISER_SYSTEM = ("You rewrite customer-support replies for Larkmoor so that they follow one principle of its "
                  "style constitution. Keep every fact, name and number of the reply. Answer with the "
                  "rewritten reply only.")

# lesson 7's judge, asked about the constitution as a whole (its principles in brief)
CONSTITUTION = Rubric(
    "fit with Larkmoor's style constitution",
    "How well the support reply follows Larkmoor's style: it acknowledges the customer's problem before the "
    "fix, is warm but never casual, uses the customer's details, apologises once and specifically, blames "
    "no one, gives a concrete next step in plain words, and promises nothing the policy forbids.",
    ("breaks the style: cold, rude, casual or off-topic", "follows one or two principles; generic or curt",
     "adequate: polite and on topic, but misses several principles",
     "good: acknowledges the problem, warm, specific, a clear next step",
     "exemplary: follows every principle, specific to this customer"))


@dataclass(frozen=True)
class Revision:
    """One pass of AI feedback: the customer's message, the draft, the principle applied (its id),
    the model's critique and its revision."""

    prompt: str
    draft: str
    principle: str
    critique: str
    revision: str


def sample_principles(constitution: list[dict], n: int, seed: int) -> list[dict]:
    """One principle per draft, drawn uniformly with replacement (Bai et al. 2022 sample one per pass)."""
    rng = np.random.default_rng(seed)
    return [constitution[i] for i in rng.integers(len(constitution), size=n)]


def critique_messages(principle: dict, prompt: str, draft: str) -> list[dict]:
    """The conversation that asks for a critique of ``draft`` against ``principle``."""
    body = (f"Principle: {principle['principle']}\n\nCustomer's message:\n{prompt}\n\nReply:\n{draft}\n\n"
            f"{principle['critique_request']} If the reply already follows the principle, say so.")
    return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": body}]


def _revision_request(principle: dict, draft: str, prompt: str | None = None, critique: str | None = None) -> str:
    parts = [f"Principle: {principle['principle']}"]
    if prompt:
        parts.append(f"Customer's message:\n{prompt}")
    parts.append(f"Reply:\n{draft}")
    if critique:
        parts.append(f"Review:\n{critique}")
    parts.append(principle["revision_request"])
    return "\n\n".join(parts)


def revision_messages(principle: dict, prompt: str, draft: str, critique: str | None = None) -> list[dict]:
    """The conversation that asks for a revision: the principle's worked example as a demonstration
    turn, then this draft with the customer's message (some revisions need its facts) and the critique."""
    return [{"role": "system", "content": REVISER_SYSTEM},
            {"role": "user", "content": _revision_request(principle, principle["violation"])},
            {"role": "assistant", "content": principle["revision"]},
            {"role": "user", "content": _revision_request(principle, draft, prompt, critique)}]


_PREAMBLE = re.compile(r"\A\s*(?:(?:sure|certainly|of course)[,!.]?\s*)?(?:here(?: is|'s)\s+)?(?:(?:the|a|my)\s+)?"
                       r"(?:rewritten|revised|new)\s+(?:reply|version|response|email|text)\b[^\n]{0,30}?:[ \t]*\n", re.I)


# a small reviser often goes on to echo its instructions ("Review: ...", "Rewrite the reply ...")
_ECHO = re.compile(r"^\s*(?:(?:review|critique|principle|reply|customer's message)\s*:|rewrite the\b)", re.I | re.M)


def clean_revision(text: str, critique: str | None = None) -> str:
    """The revision without a preamble line ("Here is the rewritten reply:"), wrapping quotes, or
    what follows once it starts echoing its instructions or the critique it was given."""
    text = _PREAMBLE.sub("", text, count=1)
    echo = _ECHO.search(text)
    if echo:
        text = text[:echo.start()]
    head = (critique or "").strip()[:60]
    if len(head) >= 20 and head in text:
        text = text[:text.index(head)]
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def critique_and_revise(model, tokenizer, prompts: list[str], drafts: list[str], principles: list[dict],
                        critique_tokens: int = 64, revision_tokens: int = 160, batch_size: int = 8) -> list[Revision]:
    """Critique each draft against its principle, then revise it given that critique (greedy, so
    the same model gives the same revisions)."""
    if not len(prompts) == len(drafts) == len(principles):
        raise ValueError(f"need one prompt, draft and principle each: got {len(prompts)}, {len(drafts)}, {len(principles)}")
    critiques = generate(model, tokenizer, [critique_messages(p, q, d) for p, q, d in zip(principles, prompts, drafts)],
                         max_new_tokens=critique_tokens, batch_size=batch_size)
    revised = generate(model, tokenizer,
                       [revision_messages(p, q, d, c) for p, q, d, c in zip(principles, prompts, drafts, critiques)],
                       max_new_tokens=revision_tokens, batch_size=batch_size)
    return [Revision(q, d, p["id"], c, clean_revision(r, c))
            for q, d, p, c, r in zip(prompts, drafts, principles, critiques, revised)]


def kept_facts(draft: str, revision: str) -> float:
    """Share of the draft's order numbers, amounts and dates that the revision still states (1.0
    when the draft has none): a revision must not lose what the customer needs to know."""
    pairs = [(extract(draft), extract(revision)) for extract in (facts.ids, facts.amounts, facts.dates)]
    wanted = sum(len(before) for before, _ in pairs)
    return 1.0 if not wanted else sum(len(before & after) for before, after in pairs) / wanted


def copied_example(revision: Revision, example: dict) -> bool:
    """True where the revision repeats what only the principle's worked example says (its order
    number, greeting line or sign-off line): a small reviser shown a demonstration often returns it."""
    source = f"{revision.prompt}\n{revision.draft}"
    lines = [line.strip() for line in example["revision"].strip().splitlines()]
    copied_ids = (facts.ids(revision.revision) & facts.ids(example["revision"])) - facts.ids(source)
    copied_lines = [line for line in (lines[0], lines[-1]) if line and line in revision.revision and line not in source]
    return bool(copied_ids or copied_lines)


@dataclass(frozen=True)
class Screened:
    """The revisions that passed, and for each that did not, why (``dropped``: (revision, reason))."""

    kept: list
    dropped: list

    @property
    def kept_share(self) -> float:
        return len(self.kept) / max(1, len(self.kept) + len(self.dropped))


def screen(revisions: list[Revision], draft_scores, revision_scores, min_gain: float = 0.0,
           min_kept_facts: float = 1.0, min_length_ratio: float = 0.5, examples: list[dict] | None = None,
           similarities=None, min_similarity: float = 0.35) -> Screened:
    """Keep a revision only if it changed the draft, did not copy its principle's worked example
    (checked where ``examples``, the constitution's rows, are given), still answers this customer
    (checked where ``similarities`` are given: MiniLM cosines of each revision to the customer's
    message; replies to a message score 0.36 or more in 95% of lesson 3's held-out pairs, replies
    to another message 0.33 or less), kept the draft's facts and at least ``min_length_ratio`` of
    its length, and scored more than ``min_gain`` above it (any score: the judge, a scorer).
    Reasons are checked in that order; the first that fails is reported."""
    if not len(revisions) == len(draft_scores) == len(revision_scores):
        raise ValueError("need one draft score and one revision score per revision")
    similarities = [1.0] * len(revisions) if similarities is None else list(similarities)
    if len(similarities) != len(revisions):
        raise ValueError("need one similarity per revision")
    by_id = {row["id"]: row for row in examples or []}
    kept, dropped = [], []
    for r, before, after, similarity in zip(revisions, draft_scores, revision_scores, similarities):
        if r.revision.strip() == r.draft.strip():
            reason = "unchanged"
        elif r.principle in by_id and copied_example(r, by_id[r.principle]):
            reason = "copied the example"
        elif similarity < min_similarity:
            reason = "changed the subject"
        elif kept_facts(r.draft, r.revision) < min_kept_facts:
            reason = "lost a fact"
        elif len(r.revision) < min_length_ratio * len(r.draft):
            reason = "too short"
        elif after - before <= min_gain:
            reason = "scored no higher"
        else:
            kept.append(r)
            continue
        dropped.append((r, reason))
    return Screened(kept, dropped)


def preference_pairs(revisions: list[Revision]) -> list[dict]:
    """TRL's preference format: the revision chosen over the draft it came from."""
    return [{"prompt": r.prompt, "chosen": r.revision, "rejected": r.draft, "principle": r.principle}
            for r in revisions]
