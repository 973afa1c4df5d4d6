"""Lesson 8 (multi-objective alignment): Pareto fronts, their hypervolume, and rewarded soups.

Two objectives in tension (say friendliness and professionalism) have no single best policy, only a
**Pareto front**: the policies no other policy beats on both. A method that trades them off (a
weighted reward sum swept over weights, a mix of two adapters, a constrained objective) is judged by
the front it reaches and by its **hypervolume**, the area the front dominates above a reference
point (larger is better; it rewards both reach and spread).

**Rewarded soups** (Ramé et al. 2023) skip retraining per trade-off: train one LoRA adapter per
objective from the same base, then interpolate. For LoRA, interpolating the weights of two
fine-tunes of one base, ``(1 - w) * (W0 + B1 A1) + w * (W0 + B2 A2)``, is ``W0 + (1 - w) B1 A1 +
w B2 A2``, which PEFT's ``add_weighted_adapter(..., combination_type="cat")`` builds exactly (it
stacks the scaled factors, so the rank is the sum of both).
"""
from __future__ import annotations

import numpy as np

from helpers.core import data, models
from helpers.core.seeding import set_seed, subsample
from helpers.core.trl_configs import quiet_trainer
from helpers.sft import sft_config
from helpers.workbook.upstream import load_sft_policy


def pareto_front(points, maximise=(True, True)) -> np.ndarray:
    """Indices of the non-dominated rows of an ``(n, 2)`` array, ordered by the first objective.

    A point is dominated if another is at least as good on both objectives and better on one;
    ``maximise`` says, per objective, whether larger is better. Exact duplicates are kept once.
    """
    p = _oriented(points, maximise)
    order = np.lexsort((-p[:, 1], -p[:, 0]))  # best first objective first; ties: best second first
    front, best_second = [], -np.inf
    for i in order:
        if p[i, 1] > best_second:
            front.append(i)
            best_second = p[i, 1]
    return np.array(sorted(front, key=lambda i: p[i, 0]), dtype=int)


def hypervolume(points, reference, maximise=(True, True)) -> float:
    """The area dominated by the points' Pareto front and bounded by ``reference`` (a point worse
    than every point of interest on both objectives, e.g. the worse of the two starting scores).
    Points not better than the reference on both objectives add nothing."""
    p = _oriented(points, maximise)
    ref = _oriented(np.asarray(reference, dtype=float)[None], maximise)[0]
    p = p[(p[:, 0] > ref[0]) & (p[:, 1] > ref[1])]
    if len(p) == 0:
        return 0.0
    front = p[pareto_front(p)]          # ascending in the first objective, so descending in the second
    widths = np.diff(np.concatenate([[ref[0]], front[:, 0]]))
    return float(np.sum(widths * (front[:, 1] - ref[1])))


def _oriented(points, maximise) -> np.ndarray:
    p = np.asarray(points, dtype=float)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"need an (n, 2) array of two objectives, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("objective values must be finite")
    return p * np.where(np.asarray(maximise, dtype=bool), 1.0, -1.0)


def add_soup(model, adapters: tuple[str, str], weight: float, name: str | None = None) -> str:
    """Add the rewarded soup ``(1 - weight) * adapters[0] + weight * adapters[1]`` to a PEFT model
    as a new adapter and make it active; returns its name. ``weight`` lies in [0, 1]; the two
    adapters must be LoRA adapters of the same base. The originals are kept unchanged."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight!r}")
    first, second = adapters
    missing = [a for a in adapters if a not in model.peft_config]
    if missing:
        raise ValueError(f"no adapter named {missing} (the model has {sorted(model.peft_config)})")
    name = name or f"soup_{first}_{second}_{round(100 * weight):03d}"  # no "." in a PEFT adapter name
    if name in model.peft_config:
        raise ValueError(f"an adapter named {name!r} already exists: pick another name or delete it first")
    model.add_weighted_adapter([first, second], [1.0 - weight, weight], name, combination_type="cat")
    model.set_adapter(name)
    return name


# --- best-of-n: trading the objectives off at inference time, on one pool of samples -----------

def _pool(first, second) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"need two (samples, prompts) arrays of one shape, got {a.shape} and {b.shape}")
    return a, b


def _picked(scores: np.ndarray, choice: np.ndarray) -> np.ndarray:
    return scores[choice, np.arange(scores.shape[1])]


def weighted_choice(first, second, weight: float) -> np.ndarray:
    """Per prompt, the sample maximising ``(1 - weight) * first + weight * second``: best-of-n under
    a weighted reward sum. ``first``/``second``: ``(samples, prompts)`` scores on comparable scales."""
    a, b = _pool(first, second)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], got {weight!r}")
    return np.argmax((1.0 - weight) * a + weight * b, axis=0)


def constrained_choice(first, second, threshold: float, iterations: int = 60):
    """Maximise the mean of ``first`` subject to the mean of ``second`` being at least ``threshold``,
    through its Lagrangian: each prompt takes the sample maximising ``first + lam * second``, and
    the multiplier ``lam >= 0`` is the smallest that makes the picks feasible. The picks' mean of
    ``second`` never falls as ``lam`` grows, so ``lam`` is found by bisection (the dual has one
    variable). Returns ``(choice, lam, met)``; if no ``lam`` is feasible (``threshold`` above the
    best reachable mean), the most professional picks and ``met`` False."""
    a, b = _pool(first, second)

    def picks(lam):
        return np.argmax(a + lam * b, axis=0)

    def feasible(lam):
        return _picked(b, picks(lam)).mean() >= threshold

    if feasible(0.0):
        return picks(0.0), 0.0, True
    high = 1.0
    while not feasible(high) and high < 1e6:
        high *= 2
    if not feasible(high):
        return np.argmax(b, axis=0), float(high), False
    low = 0.0
    for _ in range(iterations):
        mid = (low + high) / 2
        low, high = (low, mid) if feasible(mid) else (mid, high)
    return picks(high), float(high), True


def mean_point(first, second, choice) -> tuple[float, float]:
    """The two objectives' means over prompts for one pick per prompt."""
    a, b = _pool(first, second)
    return float(_picked(a, choice).mean()), float(_picked(b, choice).mean())


def self_similarity(embeddings) -> float:
    """Mean cosine similarity between the replies to *different* prompts (one reply each): near 1
    when every reply reads the same whatever was asked ("style collapse")."""
    e = np.asarray(embeddings, dtype=float)
    if len(e) < 2:
        raise ValueError("need replies to at least two prompts")
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sims = e @ e.T
    return float((sims.sum() - np.trace(sims)) / (len(e) * (len(e) - 1)))


# --- the two objectives' adapters (lesson 8's soups) -------------------------------------------

OBJECTIVE_SOURCES = {
    "warm": "the chosen (empathetic) replies of data/empathy_pairs",
    "professional": "the formal replies of data/formal_emails",
}


def objective_rows(objective: str, n: int, seed: int) -> list[dict]:
    """``n`` SFT rows (``messages``) that teach one objective: warm replies from the empathy pairs'
    chosen side, or formal ones from lesson 1's emails; a seeded sample of the training split."""

    if objective == "warm":
        rows = [{"messages": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["chosen"]}]}
                for r in data.load_empathy_pairs("train")]
    elif objective == "professional":
        rows = [{"messages": r["messages"]} for r in data.load_formal_emails("train")]
    else:
        raise ValueError(f"unknown objective {objective!r}; choose one of {list(OBJECTIVE_SOURCES)}")
    if n > len(rows):
        raise ValueError(f"{n} rows asked for {objective!r}, but its source has {len(rows)}")
    return subsample(rows, n, seed)


def train_objective_adapter(objective: str, sft_path, profile, output_dir, seed: int):
    """A LoRA adapter for one objective, trained by SFT on top of lesson 1's model (same rows,
    steps and rate for either objective, from the profile's ``mo_*`` fields). Returns the trainer;
    ``trainer.model`` is the PEFT model with the adapter as ``"default"``."""
    from datasets import Dataset
    from trl import SFTTrainer

    set_seed(seed)
    model, tokenizer = load_sft_policy(sft_path, profile)
    args = sft_config(profile, output_dir, seed, num_train_epochs=profile.mo.adapter_epochs,
                      learning_rate=profile.mo.adapter_learning_rate)
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=Dataset.from_list(objective_rows(objective, profile.mo.adapter_rows, seed)),
                         peft_config=models.lora_config(profile, always=True))
    quiet_trainer(trainer).train()
    trainer.model.eval()
    return trainer


def load_two_adapters(sft_path, adapters: dict, profile):
    """Lesson 1's model with both saved objective adapters loaded under their names
    (``{"warm": path, "professional": path}``), ready for :func:`add_soup`."""
    from peft import PeftModel

    (first, first_path), (second, second_path) = adapters.items()
    model, tokenizer = load_sft_policy(sft_path, profile)
    model = PeftModel.from_pretrained(model, str(first_path), adapter_name=first)
    model.load_adapter(str(second_path), adapter_name=second)
    model.eval()
    return model, tokenizer

