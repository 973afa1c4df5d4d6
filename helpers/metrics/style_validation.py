"""Validating the trait scorers against human ratings: held-out Spearman, cross-genre and
cross-community transfer, human-human agreement, and calibration bins (for a plot).

Used by ``tests/unit/test_scorer_validation.py`` and by ``scripts/validate_scorers.py``, which prints the
figures quoted in ``data/README.md``.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np

from helpers.core.data import (
    DATA_DIR,
    load_formal_emails,
    load_formality_sentences,
    load_graded_formality,
    load_likert,
    load_politeness,
    load_preferences,
)
from helpers.metrics import facts, style


def spearman(a, b) -> float:
    """Spearman's rank correlation (ties averaged)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def mean_ratings(rows: list[dict]) -> np.ndarray:
    """Mean of each row's ``ratings``."""
    return np.array([np.mean(r["ratings"]) for r in rows])


def rater_adjusted_means(rows: list[dict]) -> np.ndarray:
    """Each row's mean rating after removing every rater's leniency (their mean minus the grand mean).

    The raters of a crowd-sourced set each rate many items, so a lenient rater lifts all of theirs;
    removing it leaves a cleaner training target on the same 1-25 scale.
    """
    by_rater = defaultdict(list)
    for row in rows:
        for rater, rating in zip(row["raters"], row["ratings"]):
            by_rater[rater].append(rating)
    grand = np.mean([x for values in by_rater.values() for x in values])
    offset = {rater: np.mean(values) - grand for rater, values in by_rater.items()}
    return np.array([np.mean([rating - offset[rater] for rater, rating in zip(r["raters"], r["ratings"])])
                     for r in rows])


def leave_one_rater_out(rows: list[dict]) -> float:
    """Human-human agreement: Spearman of one rater's rating with the mean of the other four, over the
    items, averaged over the five rating slots."""
    ratings = np.array([r["ratings"] for r in rows], dtype=np.float64)
    k = ratings.shape[1]
    return float(np.mean([spearman(ratings[:, j], np.delete(ratings, j, axis=1).mean(1)) for j in range(k)]))


Fit = Callable[[list[str], np.ndarray, np.ndarray], object]  # (texts, targets, embeddings) -> scorer


def held_out_spearman(texts: list[str], targets, truth, embeddings: np.ndarray, test_mask, fit: Fit) -> float:
    """Fit on the rows outside ``test_mask`` (against ``targets``), score the rows inside it, and
    return Spearman against ``truth`` there."""
    texts, test_mask = list(texts), np.asarray(test_mask, dtype=bool)
    train = np.flatnonzero(~test_mask)
    test = np.flatnonzero(test_mask)
    scorer = fit([texts[i] for i in train], np.asarray(targets)[train], embeddings[train])
    predicted = scorer.predict([texts[i] for i in test], embeddings[test])
    return spearman(predicted, np.asarray(truth)[test])


def cross_group_spearman(texts: list[str], targets, truth, groups: list[str], embeddings: np.ndarray,
                         held_out: dict[str, set[str]], fit: Fit) -> dict[str, float]:
    """For each named set of groups (genres, communities): train on all other groups, test on it."""
    groups = np.asarray(groups)
    return {name: held_out_spearman(texts, targets, truth, embeddings, np.isin(groups, sorted(members)), fit)
            for name, members in held_out.items()}


def calibration_bins(predicted, ratings, bins: int = 6) -> list[dict]:
    """Predicted score vs mean human rating in equal-count bins of the prediction:
    ``[{"predicted": mean score, "rating": mean rating, "n": rows}, ...]``."""
    predicted, ratings = np.asarray(predicted, dtype=np.float64), np.asarray(ratings, dtype=np.float64)
    order = np.argsort(predicted, kind="stable")
    return [{"predicted": float(predicted[idx].mean()), "rating": float(ratings[idx].mean()), "n": int(len(idx))}
            for idx in np.array_split(order, bins) if len(idx)]


def plot_calibration(predicted, ratings, ax=None, bins: int = 6, label: str | None = None,
                     rating_range: tuple[float, float] | None = None):
    """Calibration plot: mean human rating per bin of the predicted score. Returns the axes.

    With ``rating_range`` = (low, high) the diagonal of a perfectly calibrated scorer is drawn.
    """
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(4, 4))[1]
    table = calibration_bins(predicted, ratings, bins)
    ax.plot([b["predicted"] for b in table], [b["rating"] for b in table], "o-", label=label)
    if rating_range:
        low, high = rating_range
        ax.plot([0, 1], [low, high], ":", color="grey", label="calibrated")
    ax.set_xlabel("predicted score")
    ax.set_ylabel("mean human rating")
    if label or rating_range:
        ax.legend()
    return ax


# --- the figures of the datasheets ----------------------------------------------------------

# Held-out genre groups: each contributor's six genres (so also a held-out writer), and the four
# genres of the independent check (news, blogs, emails, Q&A answers).
FORMALITY_GENRE_GROUPS = {
    "drafter_A": {"sms", "legal", "encyclopedic", "academic", "email", "news_wire"},
    "drafter_B": {"forum_post", "qa_answer", "blog", "social_media", "chat", "product_review"},
    "drafter_C": {"support_reply", "government_notice", "speech_transcript", "workplace_chat",
                  "fiction_dialogue", "review_or_opinion"},
    "news_blog_email_qa": {"news_wire", "blog", "email", "qa_answer"},
}


def word_count(texts: list[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=np.float64)


def formality_report(graded: list[dict] | None = None) -> dict:
    """Spearman of the formality scorer (shipped settings) against the graded ratings:
    ``held_out`` (every fifth row of each genre, trained on the rest), ``cross_genre`` per
    held-out group, and the word-count baseline on the same rows (``*_words``)."""

    graded = load_graded_formality() if graded is None else graded
    texts = [r["text"] for r in graded]
    ratings = np.array([r["formality"] for r in graded])
    genres = [r["genre"] for r in graded]
    anchors = load_formality_sentences()
    anchor_texts = [r["text"] for r in anchors]
    anchor_ratings = np.array([style.BINARY_ANCHORS[r["label"]] for r in anchors])
    vectors, anchor_vectors = style.cached_embed(texts), style.cached_embed(anchor_texts)

    def fit(train_texts, train_ratings, train_vectors):
        return style.fit_formality(list(train_texts) + anchor_texts, np.r_[train_ratings, anchor_ratings],
                                   np.vstack([train_vectors, anchor_vectors]))

    position = {}
    test = np.zeros(len(graded), dtype=bool)
    for i, genre in enumerate(genres):
        position[genre] = position.get(genre, -1) + 1
        test[i] = position[genre] % 5 == 4
    words = word_count(texts)
    report = {"rows": len(graded), "held_out": held_out_spearman(texts, ratings, ratings, vectors, test, fit),
              "held_out_words": spearman(words[test], ratings[test]), "held_out_rows": int(test.sum())}
    report["cross_genre"] = cross_group_spearman(texts, ratings, ratings, genres, vectors,
                                                 FORMALITY_GENRE_GROUPS, fit)
    report["cross_genre_words"] = {name: spearman(words[np.isin(genres, sorted(g))], ratings[np.isin(genres, sorted(g))])
                                   for name, g in FORMALITY_GENRE_GROUPS.items()}
    return report


def politeness_report(rows: list[dict] | None = None) -> dict:
    """Spearman against the mean human rating: ``held_out`` (every fifth Stack Overflow request,
    trained on all other requests), the same for the embedding alone and the markers alone,
    ``cross_community`` (train on Stack Overflow, test on the 24 smaller communities, and the
    reverse), and ``human`` (leave-one-rater-out) on the same test rows."""
    from sklearn.linear_model import Ridge

    rows = load_politeness() if rows is None else rows
    texts, targets = style.politeness_training_data(rows)
    targets, truth = np.asarray(targets), mean_ratings(rows)
    vectors = style.cached_embed(texts)
    so = np.array([r["community"] == "Stack Overflow" for r in rows])
    test = so & (np.cumsum(so) % 5 == 0)

    def fit(train_texts, train_targets, train_vectors):
        return style.fit_politeness(train_texts, train_targets, train_vectors)

    def ridge_on(matrix, alpha):
        model = Ridge(alpha=alpha).fit(matrix[~test], targets[~test])
        return spearman(model.predict(matrix[test]), truth[test])

    markers = style.feature_block("politeness", texts)
    markers = (markers - markers.mean(0)) / np.where(markers.std(0) > 0, markers.std(0), 1.0)
    report = {"rows": len(rows), "held_out_rows": int(test.sum()),
              "held_out": held_out_spearman(texts, targets, truth, vectors, test, fit),
              "held_out_embedding_only": ridge_on(np.asarray(vectors, dtype=np.float64),
                                                  style.POLITENESS_SETTINGS["alpha"]),
              "held_out_markers_only": ridge_on(markers, style.POLITENESS_SETTINGS["alpha"]),
              "human_held_out": leave_one_rater_out([r for r, t in zip(rows, test) if t]),
              "human_all": leave_one_rater_out(rows),
              "cross_community": {
                  "stack_overflow->others": held_out_spearman(texts, targets, truth, vectors, ~so, fit),
                  "others->stack_overflow": held_out_spearman(texts, targets, truth, vectors, so, fit)},
              "human_others": leave_one_rater_out([r for r, s in zip(rows, so) if not s]),
              "human_stack_overflow": leave_one_rater_out([r for r, s in zip(rows, so) if s])}
    return report


def empathy_report() -> dict:
    """The empathy scorer against the (simulated) Likert empathy ratings of ``data/likert`` (mean over
    raters, Spearman) and its pairwise accuracy on the held-out empathy pairs."""

    items, ratings = load_likert()
    by_item = defaultdict(list)
    for r in ratings:
        if r["trait"] == "empathy":
            by_item[r["item_id"]].append(r["score"])
    rated = [i for i in items if i["item_id"] in by_item]
    scores = style.empathy_scores([i["response"] for i in rated])
    pairs = load_preferences(DATA_DIR / "empathy_pairs" / "test.jsonl")
    chosen = style.empathy_scores([p["chosen"] for p in pairs])
    rejected = style.empathy_scores([p["rejected"] for p in pairs])
    return {"likert_items": len(rated),
            "likert_spearman": spearman(scores, [np.mean(by_item[i["item_id"]]) for i in rated]),
            "pairs": len(pairs), "pair_accuracy": float(np.mean([c > r for c, r in zip(chosen, rejected)]))}


def rubric_report() -> dict:
    """Lesson 1's rubric on the 40 held-out emails: the reference replies, a greeting-only reply,
    the casual replies and the references with their order numbers replaced."""
    import re

    rows = load_formal_emails("test")
    emails = [r["messages"][0]["content"] for r in rows]
    references = [r["messages"][1]["content"] for r in rows]
    reference = style.reply_rubric(references, emails, references)
    greeting = style.reply_rubric(["Dear Customer"] * len(rows), emails, references)
    casual = style.reply_rubric([r["casual_reply"] for r in rows], emails, references)
    wrong = []
    for e, r in zip(emails, references):
        for order in facts.ids(e) & facts.ids(r):
            r = re.sub(re.escape(order), "ZZ-99999", r, flags=re.I)
        wrong.append(r)
    with_ids = [i for i, e in enumerate(emails) if facts.ids(e) & facts.ids(references[i])]
    wrong_correct = style.fact_recall([wrong[i] for i in with_ids], [emails[i] for i in with_ids],
                                      [references[i] for i in with_ids])

    def mean(table, key):
        return float(np.mean([row[key] for row in table]))

    return {"reference": {k: mean(reference, k) for k in reference[0]},
            "greeting_only": {k: mean(greeting, k) for k in greeting[0]},
            "greeting_only_max_overall": max(row["overall"] for row in greeting),
            "casual": {k: mean(casual, k) for k in casual[0]},
            "casual_less_formal": sum(c["formal"] < r["formal"] for c, r in zip(casual, reference)),
            "emails_with_order_ids": len(with_ids),
            "wrong_order_id_correct": float(np.mean(wrong_correct))}


def fluency_report(seed: int = 0) -> dict:
    """Median fixed-LM perplexity of the 40 held-out reference replies, of word salad made by
    shuffling their words, and of greeting and signature loops."""
    import random

    references = [r["messages"][1]["content"] for r in load_formal_emails("test")]
    rng = random.Random(seed)
    salad = [" ".join(rng.sample(t.split(), len(t.split()))) for t in references]
    loops = ["Dear,\nDear,\nDear,\nDear,", "Dear,\n" * 12, "Dear Customer,\nDear Customer,\nDear Customer,",
             "Kind regards,\nJohn\nJohn\nJohn\nJohn\nJohn"]
    fluent, shuffled, looped = (style.fluency_perplexity(x) for x in (references, salad, loops))
    return {"reference_median": float(np.median(fluent)), "reference_max": float(max(fluent)),
            "salad_median": float(np.median(shuffled)), "salad_min": float(min(shuffled)),
            "reference_beats_salad": sum(f < s for f, s in zip(fluent, shuffled)),
            "loops": [float(x) for x in looped]}
