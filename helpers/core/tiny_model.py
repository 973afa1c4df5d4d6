"""The tiny offline base model: built, never downloaded.

A byte-level BPE tokenizer is trained on the workbook's own text, and a ~2M-parameter
Llama-style causal LM is pretrained on a mixed-style corpus derived from ``data/`` (casual and
formal registers, support chats, stories, ads) for about a minute on two CPU cores. The build
is deterministic and cached under ``cache_dir()/tiny_base/<hash of corpus + config>``, so every
notebook and test reuses it.

Held-out splits are never part of the corpus, and neither are the formal replies of the SFT
set: lesson 1's fine-tuning data is new to the model, as it would be for a real base model.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.core.paths import DATA_DIR, cache_dir

EOS, PAD = "<|endoftext|>", "<|pad|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]

# Turns end on the eos token so generation stops early; {% generation %} marks the assistant's
# tokens for TRL's assistant_only_loss.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|endoftext|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|endoftext|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyConfig:
    """Size and training budget of the tiny base model."""

    vocab_size: int = 4096
    hidden_size: int = 192
    intermediate_size: int = 512
    num_layers: int = 4
    num_heads: int = 6
    num_kv_heads: int = 2
    block_size: int = 128
    batch_size: int = 16
    steps: int = 235  # about 80 s on two CPU cores, inside the 90 s budget
    learning_rate: float = 3e-3
    warmup_steps: int = 12
    seed: int = 1234
    build_version: int = 1  # bump to invalidate every cached build


# --- corpus --------------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _chat(user: str, reply: str) -> str:
    return f"<|user|>\n{user}{EOS}\n<|assistant|>\n{reply}{EOS}\n"


def build_corpus(data_dir: Path = DATA_DIR) -> list[str]:
    """Documents of the pretraining corpus, in a fixed order (training splits only)."""
    docs = []
    for row in _read_jsonl(data_dir / "formal_emails" / "train.jsonl"):
        docs.append(_chat(row["messages"][0]["content"], row["casual_reply"]))
    for row in _read_jsonl(data_dir / "empathy_pairs" / "train.jsonl"):
        docs.append(_chat(row["prompt"], row["chosen"]))
        docs.append(_chat(row["prompt"], row["rejected"]))
    for row in _read_jsonl(data_dir / "likert" / "items.jsonl"):
        docs.append(_chat(row["prompt"], row["response"]))
    for row in _read_jsonl(data_dir / "formality" / "sentences.jsonl"):
        docs.append(row["text"] + EOS)
    for row in _read_jsonl(data_dir / "styles" / "train.jsonl"):
        for style in ("news_brief", "feature_story", "social_ad", "generic"):
            docs.append(row[style] + EOS)
    if not docs:
        raise FileNotFoundError(f"no corpus files found under {data_dir}")
    return docs


def build_key(docs: list[str], config: TinyConfig) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    digest.update(CHAT_TEMPLATE.encode())
    for doc in docs:
        digest.update(doc.encode())
    return digest.hexdigest()[:16]


# --- tokenizer and model -------------------------------------------------------------------

def train_tokenizer(docs: list[str], vocab_size: int):
    """A byte-level BPE tokenizer with the workbook's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(docs, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=PAD,
                                        bos_token=None, additional_special_tokens=ROLE_TOKENS)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    tokenizer.model_max_length = 512
    return tokenizer


def make_model(tokenizer, config: TinyConfig):
    """A randomly initialised Llama-style model (grouped-query attention, tied embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(model_config)


def pretrain(model, token_ids: list[int], config: TinyConfig, log_every: int = 10) -> list[dict]:
    """Next-token pretraining on random windows of the corpus: a plain, readable loop."""
    import torch

    data = torch.tensor(token_ids, dtype=torch.long)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.1,
                                  betas=(0.9, 0.95))

    def lr_at(step):
        if step < config.warmup_steps:
            return config.learning_rate * (step + 1) / config.warmup_steps
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
        return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    model.train()
    history = []
    for step in range(config.steps):
        starts = torch.randint(0, len(data) - config.block_size, (config.batch_size,), generator=generator)
        batch = torch.stack([data[s:s + config.block_size] for s in starts])
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        loss = model(input_ids=batch, labels=batch).loss  # the model shifts labels by one itself
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % log_every == 0 or step == config.steps - 1:
            history.append({"step": step, "loss": round(loss.item(), 4), "lr": lr_at(step)})
    model.eval()
    return history


def build_tiny_base(config: TinyConfig = TinyConfig(), data_dir: Path = DATA_DIR, force: bool = False,
                    verbose: bool = True) -> Path:
    """Build (or reuse) the tiny base model and tokenizer; return the folder holding both."""
    import torch

    docs = build_corpus(data_dir)
    target = cache_dir() / "tiny_base" / build_key(docs, config)
    if target.exists() and not force:
        return target
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    tokenizer = train_tokenizer(docs, config.vocab_size)
    ids = [i for doc_ids in tokenizer(docs, add_special_tokens=False)["input_ids"] for i in doc_ids]
    model = make_model(tokenizer, config)
    history = pretrain(model, ids, config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bar in notebooks
    staging = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    seconds = time.perf_counter() - start
    info = {"config": asdict(config), "corpus_docs": len(docs), "corpus_tokens": len(ids),
            "parameters": sum(p.numel() for p in model.parameters()), "build_seconds": round(seconds, 1),
            "history": history}
    (staging / "build_info.json").write_text(json.dumps(info, indent=1))
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
    if verbose:
        print(f"built tiny base model in {seconds:.0f}s: {info['parameters']:,} parameters, "
              f"{len(ids):,} corpus tokens, loss {history[0]['loss']} -> {history[-1]['loss']}")
    return target


def build_info(path: Path) -> dict:
    """Size, corpus and pretraining curve of a built tiny model."""
    return json.loads((Path(path) / "build_info.json").read_text())
