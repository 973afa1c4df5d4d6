"""Train one style's LoRA adapter for lesson 6: an SFT warm start, then DPO, in the same adapter.

Why two stages. DPO only compares two texts the policy could write: it raises the chosen text's
log-probability relative to the rejected one's. On a small base model that has never written a
news brief in answer to a prompt, both texts are about equally unlikely and DPO's push is weak
and slow. A short supervised (SFT) pass on the style's own texts first teaches the adapter to
*write* the style; DPO then sharpens it against the same facts written in the other styles
(``helpers.styles.preference_rows``: chosen = this style, rejected = each other style and the
generic text), i.e. it learns what separates this style from its neighbours.

The reference of the DPO stage. TRL 1.16's ``DPOTrainer``, given a ``PeftModel`` that already has
an adapter, copies that adapter into a frozen ``"ref"`` adapter and uses it as the reference (the
SFT model, as in the DPO paper). ``reference="base"`` (the default) removes that copy before
training, so the reference is the adapter switched off, i.e. the base model, the same reference
``helpers.dpo.implicit_rewards`` and the router's ``generic`` style use. ``reference="sft"`` keeps
TRL's behaviour and removes the copy after training. Either way the returned model holds one
adapter, which is what gets saved. (Without the SFT stage the reference is always the base.)
On ``tiny`` the base reference gave the same style accuracy as the SFT reference or better, with
higher content similarity.

Every style's adapter starts from the same base weights, is trained on its own, and is saved on
its own (``save_style_adapter``) as ``<adapters>/<style>/``: the layout
``helpers.router.StyleRouter.from_folder`` and ``python -m helpers.service`` load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .profiles import Profile

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


def _check_style(style: str) -> None:
    from .styles import STYLES

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

    ``sheets``: fact sheets (``helpers.styles.load_style_sheets``); the SFT rows are their texts in
    ``style``, the DPO pairs put that text against the other styles' and the generic text.
    The LoRA shape comes from ``helpers.models.lora_config(profile, always=True)``; learning
    rates, epochs and beta from the profile's ``style_*`` fields. ``sft_epochs=0`` skips the warm
    start (a fresh adapter, trained by DPO alone); ``dpo_epochs=0`` skips DPO. With
    ``profile.style_dpo_sft_weight > 0`` the DPO loss gets an SFT term on the chosen text with that
    weight (``loss_type=["sigmoid", "sft"]``, "RPO"): plain DPO can widen the chosen-rejected gap by
    making both texts unlikely, and a tiny model takes that shortcut into gibberish. ``*_overrides``
    go to the TRL configs. ``output_dir`` holds the trainers' scratch files only; save the adapter
    with ``save_style_adapter``.
    """
    _check_style(style)
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; choose one of {list(REFERENCES)}")
    if not sheets:
        raise ValueError("no fact sheets to train on")
    sft_epochs = profile.style_sft_epochs if sft_epochs is None else sft_epochs
    dpo_epochs = profile.style_dpo_epochs if dpo_epochs is None else dpo_epochs
    if sft_epochs <= 0 and dpo_epochs <= 0:
        raise ValueError("nothing to train: sft_epochs and dpo_epochs are both 0")

    import time

    from datasets import Dataset
    from trl import DPOTrainer, SFTTrainer

    from . import models
    from .dpo import dpo_config
    from .seeding import set_seed
    from .sft import sft_config
    from .styles import preference_rows, sft_rows
    from .trl_configs import quiet_trainer

    start = time.perf_counter()
    output_dir = Path(output_dir)
    base_path = base_path or models.base_model_path(profile)
    tokenizer = models.load_tokenizer(base_path)
    set_seed(seed)
    model = models.load_causal_lm(base_path, profile)
    lora = models.lora_config(profile, always=True)
    run = StyleAdapterRun(style, model, tokenizer)

    if sft_epochs > 0:
        settings = dict(num_train_epochs=sft_epochs, learning_rate=profile.style_sft_learning_rate,
                        max_length=profile.style_max_length)
        settings.update(sft_overrides or {})
        trainer = SFTTrainer(model=model, args=sft_config(profile, output_dir / "sft", seed, **settings),
                             train_dataset=Dataset.from_list(sft_rows(sheets, style)), processing_class=tokenizer,
                             peft_config=lora)
        quiet_trainer(trainer).train()
        model, lora = trainer.model, None  # DPO continues this adapter
        run.sft_log = trainer.state.log_history

    if dpo_epochs > 0:
        set_seed(seed)
        settings = dict(num_train_epochs=dpo_epochs, learning_rate=profile.style_dpo_learning_rate,
                        max_length=profile.style_max_length)
        if profile.style_dpo_sft_weight > 0:  # RPO: DPO + an SFT term on the chosen text
            settings.update(loss_type=["sigmoid", "sft"], loss_weights=[1.0, profile.style_dpo_sft_weight])
        settings.update(dpo_overrides or {})
        trainer = DPOTrainer(model=model, args=dpo_config(profile, output_dir / "dpo", seed, profile.style_dpo_beta,
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
    as ``<style>.previous-<n>`` unless ``overwrite`` (``helpers.checkpoints.save_model``)."""
    from .checkpoints import save_model

    extra = [name for name in run.model.peft_config if name != "default"]
    if extra:
        raise ValueError(f"the model holds more adapters than the style's own: {extra}")
    return save_model(run.model, run.tokenizer, Path(adapters_dir) / run.style, overwrite=overwrite)
