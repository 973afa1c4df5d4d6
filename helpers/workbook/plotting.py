"""Plots shared by the lessons; each returns the matplotlib Figure and can save it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.metrics import abtest


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


# --- lesson 2: raters ---------------------------------------------------------------------------

def plot_rating_distributions(ratings, traits: list[str], save_to=None):
    """Lesson 2: each rater's score distribution (1-5) per trait, one panel per trait
    (``ratings``: a frame with ``rater``, ``trait`` and ``score`` columns)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(traits), figsize=(5 * len(traits), 3.2), squeeze=False)
    for ax, trait in zip(axes[0], traits):
        counts = (ratings[ratings.trait == trait].groupby(["rater", "score"]).size()
                  .unstack(fill_value=0).reindex(columns=range(1, 6), fill_value=0))
        counts.T.plot.bar(ax=ax, width=0.8, rot=0, legend=False)
        ax.set_title(f"{trait}: score distribution per rater")
        ax.set_xlabel("score")
        ax.set_ylabel("ratings")
    axes[0][-1].legend(title="rater", bbox_to_anchor=(1.02, 1), loc="upper left")  # outside: it hides no bar
    return _finish(fig, save_to)


def plot_rater_drift(offsets: dict, trait: str, window: int = 12, save_to=None):
    """Lesson 2: each rater's offset from the consensus along the labelling order, as a rolling
    mean of ``window`` items (``offsets``: rater -> Series indexed by item position); drift shows as a trend."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    for name, offset in offsets.items():
        ax.plot(offset.sort_index().rolling(window, min_periods=4).mean(), label=name)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("item order")
    ax.set_ylabel("offset vs consensus")
    ax.set_title(f"{trait}: rolling offset ({window} items) — drift shows as a trend")
    ax.legend()
    return _finish(fig, save_to)


def plot_agreement_matrix(table, title: str, save_to=None):
    """Lesson 2: a rater-by-rater agreement table (e.g. weighted kappa) as a heat map with its values."""
    import matplotlib.pyplot as plt

    values = table.values.astype(float)
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    image = ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table.index)), table.index)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white")
    ax.set_title(title)
    fig.colorbar(image)
    return _finish(fig, save_to)


def plot_position_bias(left_win_rates: dict[str, float], save_to=None):
    """Lesson 2: how often each rater picked the reply shown on the left (0.5: no position bias)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.bar(list(left_win_rates), list(left_win_rates.values()))
    ax.set_xlabel("rater")
    ax.axhline(0.5, color="grey", ls="--")
    ax.set_ylim(0, 1)
    ax.set_ylabel("left-hand reply wins")
    ax.set_title("position bias per rater")
    return _finish(fig, save_to)


# --- lesson 4: PPO runs ----------------------------------------------------------------------------

def plot_ppo_runs(runs: dict, title: str, target_kl: float | None = None, save_to=None):
    """Lesson 4: reward, KL per reply, entropy and reply length of PPO runs against the step, one
    panel per quantity (``runs``: name -> the trainer's history frame); a 3-step rolling mean.
    ``target_kl`` draws the adaptive controller's target on the KL panel."""
    import matplotlib.pyplot as plt

    keys = [("reward", "reward (standardised)"), ("kl", "KL to SFT (nats/reply)"), ("entropy", "entropy (nats/token)"),
            ("length", "reply length (tokens)")]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3))
    for ax, (key, label) in zip(axes, keys):
        for name, frame in runs.items():
            ax.plot(frame["step"], frame[key].rolling(3, min_periods=1).mean(), label=name)
        ax.set_title(label)
        ax.set_xlabel("PPO step")
        ax.set_ylabel(label.split(" (")[-1].rstrip(")") if "(" in label else label)
    if target_kl is not None:
        axes[1].axhline(target_kl, ls="--", color="grey", lw=1)
    axes[0].legend()
    fig.suptitle(title)
    return _finish(fig, save_to)


# --- lesson 6: style adapters and the A/B test -------------------------------------------------------

def plot_style_adapter_training(runs: dict, save_to=None):
    """Lesson 6: each style adapter's SFT loss, then its DPO reward margin and loss, against the step
    (``runs``: style -> an object with ``sft_log`` and ``dpo_log``, Trainer log histories)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    for name, run in runs.items():
        sft = [(r["step"], r["loss"]) for r in run.sft_log if "loss" in r]
        dpo = [(r["step"], r["rewards/margins"]) for r in run.dpo_log if "rewards/margins" in r]
        dpo_loss = [(r["step"], r["loss"]) for r in run.dpo_log if "loss" in r]
        if sft:
            axes[0].plot(*zip(*sft), label=name)
        if dpo:
            axes[1].plot(*zip(*dpo), label=name)
            axes[2].plot(*zip(*dpo_loss), label=name)
    for ax, title in zip(axes, ["SFT warm start: loss (reply tokens)", "DPO: reward margin (chosen - rejected)",
                                "DPO: loss (+ SFT term where the profile adds one)"]):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        else:  # a profile without a DPO stage (P.style.dpo_epochs = 0)
            ax.text(0.5, 0.5, "no DPO stage on this profile", ha="center", va="center", transform=ax.transAxes)
    return _finish(fig, save_to)


def plot_confusions(tables: dict, n_texts: int, save_to=None):
    """Lesson 6: confusion tables (requested x classified style, counts), one panel each; the colour
    scale runs to ``n_texts``, the most a cell can hold."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5.5 * len(tables), 3.6), squeeze=False)
    for ax, (title, table) in zip(axes[0], tables.items()):
        ax.imshow(table.values, cmap="Blues", vmin=0, vmax=n_texts)
        ax.set_xticks(range(table.shape[1]), table.columns, rotation=20)
        ax.set_yticks(range(table.shape[0]), table.index)
        for (i, j), v in np.ndenumerate(table.values):
            ax.text(j, i, int(v), ha="center", va="center", color="white" if v > n_texts / 2 else "black")
        ax.set_xlabel("classified style")
        ax.set_ylabel("requested style")
        ax.set_title(title)
    return _finish(fig, save_to)


def plot_lift_intervals(lifts: dict, naive: dict, labels: dict, planned_lift: float, save_to=None):
    """Lesson 6: each channel's relative click-through lift with its interval over texts (cluster)
    and the naive one that treats impressions as independent (``lifts``/``naive``: style -> a
    result with ``relative``, ``relative_ci_low``, ``relative_ci_high``; ``labels``: style -> axis label)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for i, name in enumerate(lifts):
        for offset, r, label, color in ((0.12, lifts[name], "over texts (cluster t)", "C0"),
                                        (-0.12, naive[name], "naive (impressions independent)", "C1")):
            ax.errorbar(r.relative, i + offset, xerr=[[r.relative - r.relative_ci_low], [r.relative_ci_high - r.relative]],
                        fmt="o", capsize=4, color=color, label=label if i == 0 else None)
    ax.axvline(0, color="red", lw=1)
    ax.axvline(planned_lift, color="grey", ls="--", lw=1, label="planned minimum lift")
    ax.set_yticks(range(len(lifts)), [labels[n] for n in lifts])
    ax.set_xlabel("relative lift in click-through rate (95% CI)")
    ax.set_ylim(-0.5, len(lifts) + 0.6)
    ax.legend(loc="upper right", fontsize=7)
    return _finish(fig, save_to)


def plot_peeking(peek, save_to=None):
    """Lesson 6: the false-alarm rate of A/A tests stopped at the first p < 0.05 against the number
    of impressions seen (``peek``: ``helpers.metrics.abtest.peeking_simulation``'s result)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(peek.looks, peek.cumulative_fpr, label="stop at the first p < 0.05 (peeking)")
    ax.axhline(peek.fpr_single_look, color="green", ls="--", label="one look at the planned size")
    ax.axhline(peek.alpha, color="grey", lw=1, label="alpha = 0.05")
    ax.set_xlabel("impressions per arm so far")
    ax.set_ylabel("share of A/A tests 'significant'")
    ax.set_title("false alarms when peeking at an A/A test")
    ax.legend()
    return _finish(fig, save_to)


def plot_ab_power(plan, texts_per_arm: int, min_lift: float, save_to=None):
    """Lesson 6: the A/B test's power for a ``min_lift`` relative lift, per channel, against the
    impressions per text (left; dotted: as if impressions were independent; dot: the plan) and
    against the number of texts per arm (right). ``plan``: one row per style with the columns
    ``control CTR (expected)``, ``ICC (planned)``, ``per text (used)`` and ``power with <n> texts``."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    per_text_grid = np.unique(np.geomspace(10, 100_000, 60).astype(int))
    texts_grid = np.arange(2, 201)
    for name in plan.index:
        rate, icc, used = plan.loc[name, "control CTR (expected)"], plan.loc[name, "ICC (planned)"], plan.loc[name, "per text (used)"]
        line, = axes[0].plot(per_text_grid, [abtest.power_clustered(rate, min_lift, texts_per_arm, m, icc, relative=True)
                                             for m in per_text_grid], label=name)
        axes[0].plot(per_text_grid, [abtest.power(rate, min_lift, texts_per_arm * m, relative=True) for m in per_text_grid],
                     ls=":", color=line.get_color())
        axes[0].plot(used, plan.loc[name, f"power with {texts_per_arm} texts"], "o", color=line.get_color())  # the plan
        axes[1].plot(texts_grid, [abtest.power_clustered(rate, min_lift, k, used, icc, relative=True) for k in texts_grid],
                     label=name)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("impressions per text")
    axes[0].set_title(f"{texts_per_arm} texts per arm (dotted: if impressions were independent; dot: the plan)",
                      fontsize=10)
    axes[1].axvline(texts_per_arm, color="grey", lw=1)
    axes[1].set_xlabel("texts per arm (at the impressions per text used)")
    axes[1].set_title("more texts", fontsize=10)
    for ax in axes:
        ax.axhline(0.9, color="grey", ls="--", lw=1)
        ax.set_ylabel(f"power, {min_lift:.0%} relative lift")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
    return _finish(fig, save_to)
