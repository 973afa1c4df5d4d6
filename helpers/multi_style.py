"""Lesson 6 (multi-style LoRA adapters): one set of facts, several writing styles, one adapter per style.

* the data: fact sheets (``data/styles/``) with the same facts written as a news brief, a feature
  story, a social ad and a plain generic text;
* the prompt: one neutral prompt per sheet, the SAME for every style, because in lesson 6 the
  LoRA adapter, not the prompt, chooses the style;
* TRL rows: SFT ``messages`` and DPO ``prompt``/``chosen``/``rejected`` per style;
* a 3-way style classifier (MiniLM embeddings + multinomial logistic regression) that says which
  style a text is in, and a confusion table to read its verdicts;
* one style's LoRA adapter: an SFT warm start, then DPO, in the same adapter
  (:func:`train_style_adapter`, :func:`save_style_adapter`).

The style router that serves the adapters lives in :mod:`helpers.serving.router`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from helpers.core import models
from helpers.core.checkpoints import save_model
from helpers.core.data import load_style_sheets
from helpers.core.paths import cache_dir
from helpers.core.profiles import Profile
from helpers.core.seeding import set_seed
from helpers.core.trl_configs import quiet_trainer
from helpers.dpo import dpo_config
from helpers.metrics.style import embed
from helpers.serving.router import GENERIC  # the base model, no adapter
from helpers.sft import sft_config

STYLES = ("news_brief", "feature_story", "social_ad")
INSTRUCTION = "Write a short piece using these facts."
# The tiny model sees at most 128 tokens (prompt + response). All of a sheet's facts take 34-69
# tiny-model tokens on their own, so the prompt keeps the first facts that fit in 120 characters
# (always at least one): 35-64 tokens with the chat template, about half the window, and the
# first facts are the ones every style text leads with (who, what, where, when).
PROMPT_FACT_CHARS = 120

__all__ = ["STYLES", "GENERIC", "INSTRUCTION", "PROMPT_FACT_CHARS",
           "load_style_sheets", "prompt_facts", "style_prompt", "user_turn", "sft_rows",
           "preference_rows", "StyleClassifier", "style_classifier", "style_probabilities",
           "confusion", "style_accuracy", "REFERENCES", "StyleAdapterRun", "drop_reference_copy",
           "train_style_adapter", "save_style_adapter"]


# --- prompts and TRL rows ---------------------------------------------------------------------

def prompt_facts(sheet: dict, max_chars: int | None = PROMPT_FACT_CHARS) -> list[str]:
    """The facts that go into the prompt: in order, as many as fit in ``max_chars`` (joined by
    spaces), and always the first. ``max_chars=None`` keeps every fact (for models with room)."""
    facts = list(sheet["facts"])
    if max_chars is None:
        return facts
    kept = facts[:1]
    for fact in facts[1:]:
        if len(" ".join(kept + [fact])) > max_chars:
            break
        kept.append(fact)
    return kept


def style_prompt(sheet: dict, max_chars: int | None = PROMPT_FACT_CHARS) -> str:
    """The user prompt for a fact sheet: the facts as a short list, then a neutral instruction.

    It never names a style: every style's adapter gets the very same prompt. Short on purpose
    (see ``PROMPT_FACT_CHARS``): the style texts mention all facts, the prompt only the first
    ones, so content is measured against the reference texts rather than the prompt.
    """
    return "\n".join(f"- {fact}" for fact in prompt_facts(sheet, max_chars)) + "\n" + INSTRUCTION


def user_turn(prompt: str) -> list[dict]:
    """A prompt as a one-message conversation, ready for a chat template."""
    return [{"role": "user", "content": prompt}]


def _check_style(style: str, allowed: tuple[str, ...]) -> None:
    if style not in allowed:
        raise ValueError(f"unknown style {style!r}; choose one of {list(allowed)}")


def sft_rows(sheets: list[dict], style: str, max_chars: int | None = PROMPT_FACT_CHARS) -> list[dict]:
    """TRL conversational SFT rows: ``{"messages": [user prompt, assistant text in `style`]}``."""
    _check_style(style, STYLES + (GENERIC,))
    return [{"messages": user_turn(style_prompt(s, max_chars)) + [{"role": "assistant", "content": s[style]}]}
            for s in sheets]


def preference_rows(sheets: list[dict], style: str, max_chars: int | None = PROMPT_FACT_CHARS,
                    with_metadata: bool = False) -> list[dict]:
    """TRL conversational preference rows for one style's DPO adapter.

    Per sheet three pairs: chosen = the sheet's text in ``style``, rejected = its text in each of
    the other two styles and the generic text (same facts, so only style separates them).

    All three fields are conversational: ``prompt`` is ``[{"role": "user", ...}]``, ``chosen`` and
    ``rejected`` are ``[{"role": "assistant", ...}]``. TRL decides per row whether a dataset is
    conversational and then applies the tokenizer's chat template to all three, so mixing a
    conversational prompt with plain-string answers would break. ``with_metadata`` adds ``id``,
    ``style`` and ``rejected_style`` (leave it off for the trainer; keep it for analysis).
    """
    _check_style(style, STYLES)
    rows = []
    for sheet in sheets:
        prompt = user_turn(style_prompt(sheet, max_chars))
        for other in [s for s in STYLES if s != style] + [GENERIC]:
            row = {"prompt": prompt,
                   "chosen": [{"role": "assistant", "content": sheet[style]}],
                   "rejected": [{"role": "assistant", "content": sheet[other]}]}
            if with_metadata:
                row.update(id=sheet["id"], style=style, rejected_style=other)
            rows.append(row)
    return rows


# --- the style classifier ---------------------------------------------------------------------

class StyleClassifier:
    """Which of ``STYLES`` a text is written in: multinomial logistic regression on MiniLM embeddings.

    A linear read-out of a frozen sentence encoder, like ``helpers.metrics.style.TraitScorer`` but with one
    weight vector per style; ``proba`` is the softmax over the styles (columns in ``classes`` order).
    """

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes=STYLES):
        self.coef = np.asarray(coef, dtype=np.float64)            # (n_classes, 384)
        self.intercept = np.asarray(intercept, dtype=np.float64)  # (n_classes,)
        self.classes = tuple(str(c) for c in classes)

    @classmethod
    def fit(cls, texts: list[str], labels: list[str], C: float = 4.0) -> "StyleClassifier":
        """Train on texts and their style labels (every label must be one of ``STYLES``)."""
        from sklearn.linear_model import LogisticRegression

        unknown = sorted(set(labels) - set(STYLES))
        if unknown:
            raise ValueError(f"labels {unknown} are not styles; expected {list(STYLES)}")
        missing = [s for s in STYLES if s not in labels]
        if missing:
            raise ValueError(f"no training texts for {missing}")
        clf = LogisticRegression(C=C, max_iter=2000)  # lbfgs: multinomial for 3 classes
        clf.fit(embed(list(texts)), np.asarray(labels))
        order = [list(clf.classes_).index(s) for s in STYLES]  # columns in STYLES order
        return cls(clf.coef_[order], clf.intercept_[order], STYLES)

    def proba(self, texts: list[str]) -> np.ndarray:
        """P(style | text): one row per text, one column per style (``STYLES`` order); rows sum to 1."""
        if not len(texts):
            return np.zeros((0, len(self.classes)))
        logits = embed(list(texts)) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)  # numerically safe softmax
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)

    def predict(self, texts: list[str]) -> list[str]:
        """The most probable style of each text."""
        return [self.classes[i] for i in self.proba(texts).argmax(axis=1)]

    def save(self, path: str | Path) -> None:
        np.savez(path, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes))

    @classmethod
    def load(cls, path: str | Path) -> "StyleClassifier":
        data = np.load(path)
        return cls(data["coef"], data["intercept"], tuple(data["classes"].tolist()))


def style_training_data(sheets: list[dict] | None = None) -> tuple[list[str], list[str]]:
    """(texts, labels): every sheet's three style texts (default: the train split; never generic)."""
    sheets = load_style_sheets("train") if sheets is None else sheets
    texts, labels = [], []
    for sheet in sheets:
        for style in STYLES:
            texts.append(sheet[style])
            labels.append(style)
    return texts, labels


def cached_classifier(texts: list[str], labels: list[str], name: str = "styles") -> StyleClassifier:
    """Train a StyleClassifier once per (name, data) and cache it on disk."""
    key = hashlib.sha256(json.dumps([name, list(texts), list(labels)]).encode()).hexdigest()[:16]
    path = cache_dir() / "scorers" / f"{name}-{key}.npz"
    if path.exists():
        return StyleClassifier.load(path)
    classifier = StyleClassifier.fit(texts, labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    classifier.save(path)
    return classifier


@lru_cache(maxsize=1)
def style_classifier() -> StyleClassifier:
    """The workbook's style classifier, trained on the train sheets' style texts (cached)."""
    return cached_classifier(*style_training_data())


def style_probabilities(texts: list[str], style: str) -> list[float]:
    """P(``style`` | text) for each text under the workbook's classifier, e.g. a channel's "fit"."""
    _check_style(style, STYLES)
    return style_classifier().proba(list(texts))[:, STYLES.index(style)].tolist()


# --- reading the verdicts ---------------------------------------------------------------------

def _check_pairs(requested: list[str], predicted: list[str]) -> None:
    if len(requested) != len(predicted):
        raise ValueError(f"{len(requested)} requested styles but {len(predicted)} predictions")
    if not len(requested):
        raise ValueError("no texts to compare")


def confusion(requested: list[str], predicted: list[str]):
    """Counts as a pandas DataFrame: rows = style asked for, columns = style the classifier saw.

    Columns always include every style in ``STYLES`` (a style never predicted shows as a column
    of zeros); rows are the requested styles present (``STYLES`` first, then e.g. ``generic``).
    """
    import pandas as pd

    _check_pairs(requested, predicted)
    rows = [s for s in STYLES if s in requested] + sorted(set(requested) - set(STYLES))
    cols = list(STYLES) + sorted(set(predicted) - set(STYLES))
    table = pd.crosstab(pd.Series(list(requested), name="requested"), pd.Series(list(predicted), name="predicted"))
    return table.reindex(index=rows, columns=cols, fill_value=0)


def style_accuracy(requested: list[str], predicted: list[str]) -> float:
    """Share of texts whose predicted style is the requested one."""
    _check_pairs(requested, predicted)
    return float(np.mean([r == p for r, p in zip(requested, predicted)]))


# --- one style's adapter: SFT warm start, then DPO ------------------------------------------
# Train one style's LoRA adapter for lesson 6: an SFT warm start, then DPO, in the same adapter.
#
# Why two stages. DPO only compares two texts the policy could write: it raises the chosen text's
# log-probability relative to the rejected one's. On a small base model that has never written a
# news brief in answer to a prompt, both texts are about equally unlikely and DPO's push is weak
# and slow. A short supervised (SFT) pass on the style's own texts first teaches the adapter to
# *write* the style; DPO then sharpens it against the same facts written in the other styles
# (``helpers.multi_style.preference_rows``: chosen = this style, rejected = each other style and the
# generic text), i.e. it learns what separates this style from its neighbours.
#
# The reference of the DPO stage. TRL 1.16's ``DPOTrainer``, given a ``PeftModel`` that already has
# an adapter, copies that adapter into a frozen ``"ref"`` adapter and uses it as the reference (the
# SFT model, as in the DPO paper). ``reference="base"`` (the default) removes that copy before
# training, so the reference is the adapter switched off, i.e. the base model, the same reference
# ``helpers.dpo.implicit_rewards`` and the router's ``generic`` style use. ``reference="sft"`` keeps
# TRL's behaviour and removes the copy after training. Either way the returned model holds one
# adapter, which is what gets saved. (Without the SFT stage the reference is always the base.)
# On ``tiny`` the base reference gave the same style accuracy as the SFT reference or better, with
# higher content similarity.
#
# Every style's adapter starts from the same base weights, is trained on its own, and is saved on
# its own (``save_style_adapter``) as ``<adapters>/<style>/``: the layout
# ``helpers.serving.router.StyleRouter.from_folder`` and ``python -m helpers.serving.service`` load.

REFERENCES = ("base", "sft")


@dataclass
class StyleAdapterRun:
    """What ``train_style_adapter`` returns: the trained ``PeftModel`` (one adapter, ``"default"``),
    its tokenizer, and the two stages' logs (``Trainer.state.log_history``)."""

    style: str
    model: object
    tokenizer: object
    sft_log: list[dict] = field(default_factory=list)
    dpo_log: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _check_adapter_style(style: str) -> None:

    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; an adapter is trained for one of {list(STYLES)}")


def drop_reference_copy(model) -> bool:
    """Remove the frozen ``"ref"`` adapter TRL's DPOTrainer adds to a ``PeftModel`` (see the module
    docstring); the reference is then the base model (adapter disabled). True if one was removed."""
    if "ref" not in getattr(model, "peft_config", {}):
        return False
    model.delete_adapter("ref")
    model.set_adapter("default")
    return True


def train_style_adapter(style: str, sheets: list[dict], profile: Profile, output_dir: str | Path, seed: int,
                        base_path: str | Path | None = None, reference: str = "base",
                        sft_epochs: float | None = None, dpo_epochs: float | None = None,
                        sft_overrides: dict | None = None, dpo_overrides: dict | None = None) -> StyleAdapterRun:
    """Train the LoRA adapter of ``style`` on the profile's base model: SFT warm start, then DPO.

    ``sheets``: fact sheets (``helpers.multi_style.load_style_sheets``); the SFT rows are their texts in
    ``style``, the DPO pairs put that text against the other styles' and the generic text.
    The LoRA shape comes from ``helpers.core.models.lora_config(profile, always=True)``; learning
    rates, epochs and beta from the profile's ``style_*`` fields. ``sft_epochs=0`` skips the warm
    start (a fresh adapter, trained by DPO alone); ``dpo_epochs=0`` skips DPO. With
    ``profile.style.dpo_sft_weight > 0`` the DPO loss gets an SFT term on the chosen text with that
    weight (``loss_type=["sigmoid", "sft"]``, "RPO"): plain DPO can widen the chosen-rejected gap by
    making both texts unlikely, and a tiny model takes that shortcut into gibberish. ``*_overrides``
    go to the TRL configs. ``output_dir`` holds the trainers' scratch files only; save the adapter
    with ``save_style_adapter``.
    """
    _check_adapter_style(style)
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; choose one of {list(REFERENCES)}")
    if not sheets:
        raise ValueError("no fact sheets to train on")
    sft_epochs = profile.style.sft_epochs if sft_epochs is None else sft_epochs
    dpo_epochs = profile.style.dpo_epochs if dpo_epochs is None else dpo_epochs
    if sft_epochs <= 0 and dpo_epochs <= 0:
        raise ValueError("nothing to train: sft_epochs and dpo_epochs are both 0")

    import time

    from datasets import Dataset
    from trl import DPOTrainer, SFTTrainer

    start = time.perf_counter()
    output_dir = Path(output_dir)
    base_path = base_path or models.base_model_path(profile)
    tokenizer = models.load_tokenizer(base_path)
    set_seed(seed)
    model = models.load_causal_lm(base_path, profile)
    lora = models.lora_config(profile, always=True)
    run = StyleAdapterRun(style, model, tokenizer)

    if sft_epochs > 0:
        settings = dict(num_train_epochs=sft_epochs, learning_rate=profile.style.sft_learning_rate,
                        max_length=profile.style.max_length)
        settings.update(sft_overrides or {})
        trainer = SFTTrainer(model=model, args=sft_config(profile, output_dir / "sft", seed, **settings),
                             train_dataset=Dataset.from_list(sft_rows(sheets, style)), processing_class=tokenizer,
                             peft_config=lora)
        quiet_trainer(trainer).train()
        model, lora = trainer.model, None  # DPO continues this adapter
        run.sft_log = trainer.state.log_history

    if dpo_epochs > 0:
        set_seed(seed)
        settings = dict(num_train_epochs=dpo_epochs, learning_rate=profile.style.dpo_learning_rate,
                        max_length=profile.style.max_length)
        if profile.style.dpo_sft_weight > 0:  # RPO: DPO + an SFT term on the chosen text
            settings.update(loss_type=["sigmoid", "sft"], loss_weights=[1.0, profile.style.dpo_sft_weight])
        settings.update(dpo_overrides or {})
        trainer = DPOTrainer(model=model, args=dpo_config(profile, output_dir / "dpo", seed, profile.style.dpo_beta,
                                                          **settings),
                             train_dataset=Dataset.from_list(preference_rows(sheets, style)),
                             processing_class=tokenizer, peft_config=lora)
        if reference == "base":
            drop_reference_copy(trainer.model)
        quiet_trainer(trainer).train()
        model = trainer.model
        drop_reference_copy(model)  # reference="sft": the frozen copy is not part of the style's adapter
        run.dpo_log = trainer.state.log_history

    model.eval()
    run.model, run.seconds = model, time.perf_counter() - start
    return run


def save_style_adapter(run: StyleAdapterRun, adapters_dir: str | Path, overwrite: bool = False) -> Path:
    """Save the adapter (and tokenizer) to ``adapters_dir/<style>/``; an earlier one is kept aside
    as ``<style>.previous-<n>`` unless ``overwrite`` (``helpers.core.checkpoints.save_model``)."""

    extra = [name for name in run.model.peft_config if name != "default"]
    if extra:
        raise ValueError(f"the model holds more adapters than the style's own: {extra}")
    return save_model(run.model, run.tokenizer, Path(adapters_dir) / run.style, overwrite=overwrite)
