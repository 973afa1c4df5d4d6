"""An empathy judge independent of lesson 3's reward model by construction (lessons 3 and 4).

Lesson 3's reward model is MiniLM fine-tuned with the Bradley–Terry loss on the empathy *pairs*
(plus counter-examples). A judge that detects over-optimisation must not share its blind spots, so
this one shares nothing with it:

* **data**: lesson 2's Likert ratings (``data/likert``: 132 replies to 72 complaints, none of them
  a complaint of the empathy pairs), the mean empathy rating of the four raters;
* **backbone**: the profile's judge LM (lesson 7: SmolLM2-135M-Instruct on the CPU profiles, a
  larger hub model on ``colab`` and ``gpu``), frozen; a reply's features are its hidden states
  averaged over its tokens, from the last layer and from the middle one;
* **method**: ridge regression of the mean rating on those features, its penalty chosen by
  cross-validation over complaints on the Likert data alone (no pairwise loss, no counter-examples).

It reads the reply only, not the complaint, so it cannot tell whether a reply answers *this*
customer: read it next to the reward model, not instead of it. Scores are on the raters' 1–5 scale.
The fitted coefficients are cached in ``.cache/scorers`` per judge model, precision and data.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from helpers.core.data import load_likert
from helpers.core.models import autocast, load_causal_lm, load_tokenizer
from helpers.core.paths import cache_dir
from helpers.judge import judge_model_path
from helpers.preferences import mean_scores

__all__ = ["ALPHAS", "likert_training_data", "shared_complaints", "reply_features", "fit_ridge",
           "choose_alpha", "LikertJudge", "load_likert_judge"]

ALPHAS = (10.0, 100.0, 1000.0, 10000.0)
FOLDS = 5
FEATURE_VERSION = "mean-last-middle-v1"


def likert_training_data() -> tuple[list[str], list[str], np.ndarray]:
    """(complaints, replies, mean empathy rating) of every Likert item with empathy ratings."""
    items, ratings = load_likert()
    mean = mean_scores(ratings, "empathy")
    rated = [item for item in items if item["item_id"] in mean]
    return ([item["prompt"] for item in rated], [item["response"] for item in rated],
            np.array([mean[item["item_id"]] for item in rated]))


def shared_complaints(judge_prompts, rm_rows) -> set[str]:
    """The complaints that the judge's training data and the reward model's rows have in common."""
    return set(judge_prompts) & {row["prompt"] for row in rm_rows}


def reply_features(model, tokenizer, replies: list[str], batch_size: int = 16, max_length: int = 256) -> np.ndarray:
    """Per reply: the mean over its tokens of the last layer's and the middle layer's hidden states."""
    import torch

    device = next(model.parameters()).device
    blocks = []
    for start in range(0, len(replies), batch_size):
        batch = tokenizer(list(replies[start:start + batch_size]), return_tensors="pt", padding=True,
                          truncation=True, max_length=max_length).to(device)
        with torch.no_grad(), autocast(model):
            hidden = model(**batch, output_hidden_states=True).hidden_states
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = [(layer.float() * mask).sum(1) / mask.sum(1) for layer in (hidden[-1], hidden[len(hidden) // 2])]
        blocks.append(torch.cat(pooled, dim=-1).cpu().numpy().astype(np.float64))
    return np.concatenate(blocks) if blocks else np.zeros((0, 0))


def fit_ridge(features: np.ndarray, targets: np.ndarray, alpha: float) -> dict:
    """Ridge regression on standardised features, in closed form: coefficients and the standardisation."""
    mean, scale = features.mean(0), features.std(0)
    scale[scale < 1e-9] = 1.0
    z = (features - mean) / scale
    coef = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (targets - targets.mean()))
    return {"coef": coef, "intercept": float(targets.mean()), "mean": mean, "scale": scale}


def _predict(fit: dict, features: np.ndarray) -> np.ndarray:
    return (features - fit["mean"]) / fit["scale"] @ fit["coef"] + fit["intercept"]


def choose_alpha(features: np.ndarray, targets: np.ndarray, groups, alphas=ALPHAS, folds: int = FOLDS
                 ) -> tuple[float, dict[float, float]]:
    """The penalty with the best cross-validated Spearman correlation, folds split by complaint
    (replies to one complaint are never on both sides); also every penalty's correlation."""
    from scipy.stats import spearmanr

    names = sorted(set(groups))
    fold_of = {name: i % folds for i, name in enumerate(names)}
    fold = np.array([fold_of[g] for g in groups])
    scores = {}
    for alpha in alphas:
        predicted = np.zeros(len(targets))
        for k in range(folds):
            fit = fit_ridge(features[fold != k], targets[fold != k], alpha)
            predicted[fold == k] = _predict(fit, features[fold == k])
        scores[alpha] = float(spearmanr(predicted, targets)[0])
    return max(alphas, key=lambda a: scores[a]), scores


@dataclass
class LikertJudge:
    """The fitted judge: a frozen LM for the features and a ridge regression on top."""

    model: object
    tokenizer: object
    fit: dict
    alpha: float
    cv_spearman: dict

    def score(self, prompts, replies) -> list[float]:
        """Predicted mean empathy rating (1–5) of each reply; ``prompts`` are ignored (the judge reads
        replies only) and accepted so that it is called like a reward model."""
        if len(prompts) != len(replies):
            raise ValueError(f"{len(prompts)} prompts for {len(replies)} replies")
        if not len(replies):
            return []
        return _predict(self.fit, reply_features(self.model, self.tokenizer, list(replies))).tolist()


def _cache_path(model_path: str, precision: str, prompts, replies, targets):
    key = hashlib.sha256(json.dumps([model_path, precision, FEATURE_VERSION, list(ALPHAS), FOLDS, list(prompts),
                                     list(replies), targets.tolist()]).encode()).hexdigest()[:16]
    return cache_dir() / "scorers" / f"likert_empathy_judge-{key}.npz"


def load_likert_judge(profile) -> LikertJudge:
    """The profile's independent empathy judge: fitted on first use (a few seconds after the
    features), then read from the cache."""
    path = judge_model_path(profile)
    model, tokenizer = load_causal_lm(path, profile), load_tokenizer(path)
    tokenizer.padding_side = "right"
    prompts, replies, targets = likert_training_data()
    cached = _cache_path(path, profile.precision, prompts, replies, targets)
    if cached.exists():
        d = np.load(cached)
        fit = {k: d[k] for k in ("coef", "mean", "scale")} | {"intercept": float(d["intercept"])}
        return LikertJudge(model, tokenizer, fit, float(d["alpha"]),
                           dict(zip(d["alphas"].tolist(), d["cv"].tolist())))
    features = reply_features(model, tokenizer, replies)
    alpha, cv = choose_alpha(features, targets, prompts)
    fit = fit_ridge(features, targets, alpha)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.stem + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **fit, alpha=alpha, alphas=np.array(list(cv)), cv=np.array(list(cv.values())))
    os.replace(tmp, cached)
    return LikertJudge(model, tokenizer, fit, alpha, cv)
