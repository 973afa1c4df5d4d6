"""Plots shared by the lessons; each returns the matplotlib Figure and can save it."""
from __future__ import annotations

from pathlib import Path


def _finish(fig, save_to):
    fig.tight_layout()
    if save_to is not None:
        Path(save_to).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(save_to, dpi=110)
    return fig


def plot_training_curves(log_history: list[dict], keys=("loss",), title: str = "training", save_to=None):
    """One panel per logged key against the step (e.g. a Trainer's ``state.log_history``)."""
    import matplotlib.pyplot as plt

    keys = [k for k in keys if any(k in row for row in log_history)]
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.2 * max(1, len(keys)), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        points = [(row.get("step", i), row[key]) for i, row in enumerate(log_history) if key in row]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".")
        ax.set_xlabel("step")
        ax.set_title(f"{title}: {key}")
        ax.grid(alpha=0.3)
    return _finish(fig, save_to)


def plot_online_rl_curves(curves: dict, title: str = "", save_to=None):
    """Lesson 4: reward, per-token KL, entropy and reply length of several online RL runs against
    the generated tokens so far, one panel per quantity, one line per run (frames from
    ``helpers.online_rl.ppo_curve`` / ``trl_curve``); each curve is a 3-step rolling mean."""
    import matplotlib.pyplot as plt

    panels = [("reward", "reward (standardised)"), ("kl_per_token", "KL to SFT (nats per token)"),
              ("entropy", "entropy (nats per token)"), ("length", "reply length (tokens)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 3))
    for ax, (key, label) in zip(axes, panels):
        for name, frame in curves.items():
            ax.plot(frame["tokens"] / 1000, frame[key].rolling(3, min_periods=1).mean(), label=name)
        ax.set_title(label)
        ax.set_xlabel("generated tokens (thousands)")
    axes[0].legend()
    if title:
        fig.suptitle(title)
    return _finish(fig, save_to)


def plot_before_after(metrics: dict[str, tuple[float, float]], labels=("base", "fine-tuned"),
                      title: str = "", save_to=None):
    """Grouped bars of each metric before and after (``{metric: (before, after)}``)."""
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(metrics)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.2))
    for offset, label, index in ((-0.2, labels[0], 0), (0.2, labels[1], 1)):
        ax.bar(x + offset, [metrics[n][index] for n in names], width=0.4, label=label)
    ax.set_xticks(x, names)
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _finish(fig, save_to)


def plot_score_histograms(groups: dict[str, list[float]], title: str = "", xlabel: str = "score", save_to=None):
    """Overlaid histograms of a score for several groups (e.g. base vs fine-tuned formality)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in groups.items():
        ax.hist(values, bins=12, range=(0, 1), alpha=0.55, label=name)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.legend()
    return _finish(fig, save_to)


def write_samples(path, title: str, rows: list[dict]) -> Path:
    """Write a few sample texts as Markdown (the workbook report shows them under the notebook's records)."""
    lines = [f"### {title}", ""]
    for n, row in enumerate(rows, 1):
        lines += [f"**Sample {n}**", ""]
        for column, text in row.items():
            quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in str(text).splitlines())
            lines += [f"*{column}:*", "", quoted, ""]
    Path(path).write_text("\n".join(lines), encoding="utf-8")
    return Path(path)
