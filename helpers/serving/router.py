"""Serve several style adapters from one base model: the style router of lesson 6.

One base causal LM holds every style's LoRA adapter in a single ``PeftModel``. A request names a
style; ``generic`` is the base model without any adapter (PEFT's ``"__base__"``). Requests of
different styles share one batched ``generate`` call: each row gets its own adapter (PEFT's
``adapter_names=[...]``, applied to the router's contiguous row groups by
:mod:`helpers.serving.lora_batching`), so a mixed batch costs about as much as a single-style one.

Batch invariance. A reply must not depend on which other requests happened to share its batch,
yet floating-point kernels pick their algorithm by tensor shape: on CPU, a matrix product's last
bits change with the number of rows in some shapes (measured on MKL/AVX-512 without AMX, in the
decoding steps), and the attention kernel's result changes with the amount of left padding.
Greedy decoding turns a rare last-bit difference at a near-tie into a different reply. So the
router gives every batch the same shape, whoever is in it: every prompt is left-padded to the
same width (``max_prompt_tokens``), and every call has exactly ``rows_per_group`` rows for each
adapter it serves (the base model included), in a fixed order, filled with copies of a real row
whose results are thrown away (:func:`fixed_layout`). Rows never mix inside a layer, so a request
then computes the same bits alone and in any batch, on any machine load, by construction.
The price: a lone request costs a full batch; ``batch_invariant=False`` drops the fixed shapes.
"""
from __future__ import annotations

import copy
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from helpers.core import generation, models
from helpers.core.profiles import get_profile
from helpers.serving import lora_batching

GENERIC = "generic"
BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed batch
MAX_WAITS_PER_BATCH = 10  # the worker gathers one batch for at most this many max_wait_ms
ROWS_PER_GROUP = 4  # rows per adapter in every batch-invariant call (a matrix of 1 row takes another kernel)
_STOP = object()


class RouterError(ValueError):
    """A request the router cannot serve; raised before any generation starts."""


class UnknownStyleError(RouterError):
    """The request names a style the router has no adapter for."""


class PromptTooLongError(RouterError):
    """The chat-formatted prompt has more tokens than the router's ``max_prompt_tokens``."""


class QueueFullError(RouterError):
    """``max_queue`` requests are already waiting: try again later (HTTP 429)."""


class AdapterError(ValueError):
    """A saved adapter that must not be served: non-finite weights, missing or unexpected
    tensors, or an adapter trained on another base model."""


CHARS_PER_TOKEN_LIMIT = 16  # a prompt longer than 16 characters per allowed token is refused before tokenising


def router_settings(profile) -> dict:
    """The router's settings from a profile (lesson 6's notebook and the service both use them,
    so they answer alike)."""
    return {"max_prompt_tokens": profile.style.max_prompt_tokens, "default_max_new_tokens": profile.style.max_new_tokens,
            "repetition_penalty": profile.style.repetition_penalty}


def _prompt_texts(prompt) -> list[str]:
    """The texts of a prompt: the string itself, or each message's content (checked)."""
    if isinstance(prompt, str):
        return [prompt]
    if not isinstance(prompt, (list, tuple)) or not prompt:
        raise RouterError("the prompt must be a string or a non-empty list of chat messages")
    for i, message in enumerate(prompt):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant") \
                or not isinstance(message.get("content"), str):
            raise RouterError(f"message {i} must be {{'role': 'system'|'user'|'assistant', 'content': str}}")
    return [m["content"] for m in prompt]


def check_adapter_file(folder: str | Path, base_path: str | Path | None = None) -> dict:
    """The adapter's tensors, after checking that they are finite and that its config names this base.

    The base check compares folder or hub names (the last path component), so a moved cache is
    fine but an adapter of another model is not.
    """
    import json

    import torch
    from safetensors.torch import load_file

    folder = Path(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    trained_on = config.get("base_model_name_or_path")
    if base_path is not None and trained_on and Path(str(trained_on)).name != Path(str(base_path)).name:
        raise AdapterError(f"{folder}: trained on base model {trained_on!r}, but the router's base is "
                           f"{str(base_path)!r}; serve it with that base (--base) or retrain it")
    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        raise AdapterError(f"{folder}: no adapter_model.safetensors (an interrupted save?); save the adapter again")
    tensors = load_file(str(weights))
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise AdapterError(f"{weights}: {len(bad)} tensors hold NaN or infinite values (first: {bad[0]}); "
                           "the training run diverged: retrain with a lower learning rate")
    return tensors


def check_adapter_keys(model, style: str, saved: dict, folder: str | Path) -> None:
    """The adapter ``style`` as loaded into ``model`` has exactly the tensors its file holds."""
    expected = {k.replace(f".{style}.", ".") for k in model.state_dict()
                if ("lora_" in k) and f".{style}." in k}
    missing, unexpected = sorted(expected - set(saved)), sorted(set(saved) - expected)
    if missing or unexpected:
        raise AdapterError(f"{folder}: {len(missing)} tensors missing (first: {missing[:1]}), {len(unexpected)} "
                           f"unexpected (first: {unexpected[:1]}) for this base model; save the adapter again")


@dataclass(frozen=True)
class StyleRequest:
    """One request: a style name, a user prompt (or a list of chat messages), and optionally its
    own reply length. ``temperature`` > 0 samples (seeded by ``seed``) instead of greedy decoding:
    such a request is served on its own, not in a batch-invariant batch."""

    style: str
    prompt: str | list
    max_new_tokens: int | None = None
    temperature: float | None = None
    seed: int | None = None

    @property
    def sampled(self) -> bool:
        return bool(self.temperature)

    @classmethod
    def of(cls, request) -> "StyleRequest":
        """Accept a ``StyleRequest``, a dict with ``style`` and ``prompt``, or a (style, prompt) pair."""
        if isinstance(request, cls):
            return request
        if isinstance(request, dict):
            return cls(**request)
        return cls(*request)


class _FixedWidthTokenizer:
    """The tokenizer, except that every call pads to exactly ``width`` tokens (left padding)."""

    def __init__(self, tokenizer, width: int):
        self._tokenizer = tokenizer
        self._width = width

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)

    def __call__(self, texts, **kwargs):
        kwargs.update(padding="max_length", max_length=self._width)
        return self._tokenizer(texts, **kwargs)


def fixed_layout(adapter_names: list[str], layout: list[str], rows_per_group: int = ROWS_PER_GROUP):
    """Rows of one fixed-shape batch: ``(row indices, adapter per row, position of each request)``.

    Every adapter of ``layout`` gets exactly ``rows_per_group`` rows, in ``layout``'s order: its
    requests first, then copies of a request (results discarded). At most ``rows_per_group``
    requests per adapter (:func:`generate_batch_invariant` splits larger batches into rounds).
    """
    rows, names, position = [], [], {}
    for name in layout:
        group = [i for i, n in enumerate(adapter_names) if n == name]
        if len(group) > rows_per_group:
            raise ValueError(f"{len(group)} requests for {name!r}; at most {rows_per_group} per call")
        for i in group:
            position[i] = len(rows) + group.index(i)
        rows += group + [group[0] if group else 0] * (rows_per_group - len(group))
        names += [name] * rows_per_group
    missing = set(adapter_names) - set(layout)
    if missing:
        raise ValueError(f"adapters {sorted(missing)} are not in the layout {layout}")
    return rows, names, [position[i] for i in range(len(adapter_names))]


def rounds(adapter_names: list[str], rows_per_group: int) -> list[list[int]]:
    """Split requests into rounds with at most ``rows_per_group`` requests per adapter each."""
    taken: Counter = Counter()
    result: list[list[int]] = []
    for i, name in enumerate(adapter_names):
        k = taken[name] // rows_per_group
        taken[name] += 1
        if k == len(result):
            result.append([])
        result[k].append(i)
    return result


def generate_batch_invariant(model, tokenizer, prompts: list, width: int | None,
                             adapter_names: list[str] | None = None, layout: list[str] | None = None,
                             max_new_tokens: int = 64, rows_per_group: int | None = ROWS_PER_GROUP,
                             **generate_kwargs) -> list[str]:
    """Greedy ``helpers.core.generation.generate`` in batches whose shapes do not depend on the batch mates.

    Every prompt is left-padded to ``width`` tokens and every call has the rows of
    :func:`fixed_layout` for ``layout`` (all adapters the model serves, ``BASE_ADAPTER`` included;
    by default the adapters named in ``adapter_names``). Without ``adapter_names`` the model has no
    adapters and there is one group. ``width=None, rows_per_group=None`` is the plain batched call
    (padding to the longest prompt, no filler rows).
    """
    if not prompts:
        return []
    names = list(adapter_names or [BASE_ADAPTER] * len(prompts))
    if width is not None:
        tokenizer = _FixedWidthTokenizer(tokenizer, width)
    if rows_per_group is None:
        order = sorted(range(len(prompts)), key=lambda i: names.index(names[i]))  # each adapter's rows together
        extra = {"adapter_names": [names[i] for i in order]} if adapter_names is not None else {}
        out = generation.generate(model, tokenizer, [prompts[i] for i in order], max_new_tokens=max_new_tokens,
                                  batch_size=len(prompts), do_sample=False, **extra, **generate_kwargs)
        position = {i: k for k, i in enumerate(order)}
        return [out[position[i]] for i in range(len(prompts))]
    layout = list(layout or dict.fromkeys(names))
    replies: list[str | None] = [None] * len(prompts)
    for chunk in rounds(names, rows_per_group):
        rows, row_names, position = fixed_layout([names[i] for i in chunk], layout, rows_per_group)
        extra = {"adapter_names": row_names} if adapter_names is not None else {}
        out = generation.generate(model, tokenizer, [prompts[chunk[r]] for r in rows], max_new_tokens=max_new_tokens,
                                  batch_size=len(rows), do_sample=False, **extra, **generate_kwargs)
        for k, i in enumerate(chunk):
            replies[i] = out[position[k]]
    return replies


def adapter_folders(root: str | Path) -> dict[str, Path]:
    """``{style: folder}`` for each subfolder of ``root`` that holds a saved adapter.

    Folders kept aside by ``helpers.core.checkpoints.save_model`` (``<style>.previous-<n>``) and its
    hidden staging folders are skipped.
    """
    root = Path(root)
    return {d.name: d for d in sorted(root.iterdir())
            if d.is_dir() and "." not in d.name and (d / "adapter_config.json").exists()}


class StyleRouter:
    """Route requests to style adapters on one base model, batching mixed styles together.

    Two ways to serve:
    * ``generate(requests)`` runs the given requests now, in the caller's thread, as mixed batches.
    * ``submit(request) -> Future`` / ``generate_one(style, prompt)`` put a request on a queue. A
      single worker thread takes what has queued up (up to ``max_batch_size`` requests; while the
      next one comes within ``max_wait_ms`` of the last, it waits for it, for at most
      ``MAX_WAITS_PER_BATCH`` × ``max_wait_ms`` in all) and serves it as one mixed batch. One worker, not a pool: the
      model is not thread-safe (PEFT routes rows to adapters through hooks it puts on the shared
      LoRA layers for the length of one ``generate`` call), and the speed comes from batching, not
      from parallel calls, which would only fight over the same cores. A server thread per client
      just waits on its future.

    Every request is validated when it arrives (``RouterError`` and subclasses), so a bad request
    is refused on its own and never reaches, or breaks, a batch.

    Settings worth knowing: ``max_prompt_tokens`` is also the width every prompt is padded to (see
    the module docstring), so every request pays for it: set it to the prompt budget you use.
    ``max_wait_ms`` defaults to 20 ms: with 5 ms, eight busy HTTP clients on the tiny model got
    every other micro-batch down to a single request (their next requests were still on the way),
    at about 70% of the throughput. A fixed 20 ms window from the first request still split 16
    clients into batches of 3–13 (each costing a full fixed-shape batch): 0.51× the router's direct
    throughput on `tiny`; waiting on the gap between arrivals fills the batches.
    """

    def __init__(self, model, tokenizer, max_prompt_tokens: int = 128, default_max_new_tokens: int = 64,
                 max_new_tokens_limit: int = 256, max_batch_size: int = 32, max_wait_ms: float = 20.0,
                 batch_invariant: bool = True, max_queue: int = 256, **generate_kwargs):
        """Wrap a ``PeftModel`` holding one adapter per style (named by the style) and its tokenizer.

        A plain model (no adapters) serves ``generic`` only. ``batch_invariant=False`` drops the
        fixed shapes (module docstring): cheaper for single requests and long ``max_prompt_tokens``,
        but a reply may then differ with its batch mates (rarely; a near-tie in greedy decoding).
        ``generate_kwargs`` go to every ``generate`` call (decoding is greedy; e.g.
        ``repetition_penalty`` is allowed). ``submit`` refuses a request with ``QueueFullError``
        while ``max_queue`` requests wait.
        """
        for name, value, low in (("max_prompt_tokens", max_prompt_tokens, 1), ("max_new_tokens_limit", max_new_tokens_limit, 1),
                                 ("max_batch_size", max_batch_size, 1), ("max_queue", max_queue, 1),
                                 ("default_max_new_tokens", default_max_new_tokens, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
        if default_max_new_tokens > max_new_tokens_limit:
            raise ValueError(f"default_max_new_tokens ({default_max_new_tokens}) exceeds max_new_tokens_limit "
                             f"({max_new_tokens_limit})")
        if not max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be 0 or more, got {max_wait_ms!r}")
        if tokenizer.padding_side != "left":
            raise ValueError("the router needs a left-padding tokenizer (helpers.core.models.load_tokenizer)")
        adapters = list(getattr(model, "peft_config", {}))
        if GENERIC in adapters or BASE_ADAPTER in adapters:
            raise ValueError(f"no adapter may be called {GENERIC!r} or {BASE_ADAPTER!r}")
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if limit and max_prompt_tokens + max_new_tokens_limit > limit:
            raise ValueError(f"max_prompt_tokens + max_new_tokens_limit must fit the model's {limit} positions")
        self.model, self.tokenizer = model, tokenizer
        self.adapters = adapters
        if adapters:
            lora_batching.install(model)  # mixed batches without PEFT's per-row bookkeeping
        self.max_prompt_tokens = max_prompt_tokens
        self.default_max_new_tokens = default_max_new_tokens
        self.max_new_tokens_limit = max_new_tokens_limit
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.max_queue = max_queue
        self.max_prompt_chars = CHARS_PER_TOKEN_LIMIT * max_prompt_tokens
        self.batch_invariant = batch_invariant
        self.generate_kwargs = generate_kwargs
        self.batch_sizes: Counter = Counter()  # requests per model batch -> how many such batches
        self._counter = copy.deepcopy(tokenizer)  # fast tokenizers must not be shared across threads
        self._counter_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._closed = False

    @classmethod
    def from_dirs(cls, base_path: str | Path, adapter_dirs: dict[str, str | Path], profile=None,
                  **kwargs) -> "StyleRouter":
        """Load the base model once and each style's adapter once, into one ``PeftModel``."""
        from peft import PeftModel

        if not adapter_dirs:
            raise ValueError("no adapters given")
        profile = profile or get_profile("tiny")
        (first, first_dir), *rest = adapter_dirs.items()
        saved = {style: check_adapter_file(folder, base_path) for style, folder in adapter_dirs.items()}
        model = PeftModel.from_pretrained(models.load_causal_lm(base_path, profile), str(first_dir),
                                          adapter_name=first)
        for style, folder in rest:
            model.load_adapter(str(folder), adapter_name=style)
        for style, folder in adapter_dirs.items():
            check_adapter_keys(model, style, saved[style], folder)
        model.eval()
        return cls(model, models.load_tokenizer(base_path), **kwargs)

    @classmethod
    def from_folder(cls, adapters_root: str | Path, base_path: str | Path | None = None, profile=None,
                    **kwargs) -> "StyleRouter":
        """A router for every adapter saved under ``adapters_root/<style>/`` (the profile's base by default)."""

        profile = profile or get_profile("tiny")
        folders = adapter_folders(adapters_root)
        if not folders:
            raise FileNotFoundError(f"no saved adapters (folders with adapter_config.json) in {adapters_root}")
        return cls.from_dirs(base_path or models.base_model_path(profile), folders, profile, **kwargs)

    @property
    def layout(self) -> list[str]:
        """The adapter groups of every batch-invariant call, in order (``BASE_ADAPTER`` last)."""
        return [*self.adapters, BASE_ADAPTER]

    @property
    def styles(self) -> list[str]:
        """The style names a request may use: every adapter, then ``generic`` (the base model)."""
        return [*self.adapters, GENERIC]

    def prompt_tokens(self, prompt: str) -> int:
        """Tokens of the chat-formatted prompt, counted exactly as generation tokenises it."""
        return self.count_tokens(generation.chat_texts(self._counter, [prompt])[0])

    def validate(self, request) -> StyleRequest:
        """The request as a ``StyleRequest``, or a ``RouterError`` saying what is wrong with it."""
        try:
            request = StyleRequest.of(request)
        except TypeError as err:
            raise RouterError(f"a request needs 'style' and 'prompt' ({err})") from None
        if request.style not in self.styles:
            raise UnknownStyleError(f"unknown style {request.style!r}; available styles: {', '.join(self.styles)}")
        texts = _prompt_texts(request.prompt)
        if sum(map(len, texts)) > self.max_prompt_chars:  # before tokenising: a huge prompt costs seconds
            raise PromptTooLongError(f"the prompt is {sum(map(len, texts))} characters long; the limit is "
                                     f"{self.max_prompt_chars} ({self.max_prompt_tokens} tokens)")
        try:
            for t in texts:
                t.encode("utf-8")
        except UnicodeEncodeError:
            raise RouterError("the prompt holds a lone surrogate (e.g. \\ud800), which is not text; "
                              "send it as valid UTF-8") from None
        t = request.temperature
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 2):
            raise RouterError(f"temperature must be a number from 0 to 2, got {t!r}")
        if request.seed is not None and (isinstance(request.seed, bool) or not isinstance(request.seed, int)):
            raise RouterError(f"seed must be an integer, got {request.seed!r}")
        n = request.max_new_tokens
        if n is not None and not (isinstance(n, int) and 1 <= n <= self.max_new_tokens_limit):
            raise RouterError(f"max_new_tokens must be an integer from 1 to {self.max_new_tokens_limit}, got {n!r}")
        tokens = self.prompt_tokens(request.prompt)
        if tokens > self.max_prompt_tokens:
            raise PromptTooLongError(f"the prompt is {tokens} tokens long with its chat template; "
                                     f"the limit is {self.max_prompt_tokens}")
        return request

    def generate(self, requests) -> list[str]:
        """Replies to the requests, in order; all are validated first, then served as mixed batches.

        Requests are served ``max_batch_size`` at a time; requests with different
        ``max_new_tokens`` go to separate ``generate`` calls.
        """
        return self._generate_valid([self.validate(r) for r in requests])

    def _generate_valid(self, requests: list[StyleRequest]) -> list[str]:
        """``generate`` for requests that passed ``validate``."""
        replies: list[str | None] = [None] * len(requests)
        for start in range(0, len(requests), self.max_batch_size):
            chunk = range(start, min(start + self.max_batch_size, len(requests)))
            by_length: dict[int, list[int]] = {}
            for i in chunk:
                by_length.setdefault(requests[i].max_new_tokens or self.default_max_new_tokens, []).append(i)
            for n, rows in by_length.items():
                for i, reply in zip(rows, self._generate_rows([requests[i] for i in rows], n)):
                    replies[i] = reply
            self.batch_sizes[len(chunk)] += 1
        return replies

    def _generate_rows(self, requests: list[StyleRequest], max_new_tokens: int) -> list[str]:
        """One batched generate call over validated greedy requests (holding the model lock);
        sampled requests are served one at a time, seeded."""
        if any(r.sampled for r in requests):  # the greedy ones still go as one batch
            greedy = [i for i, r in enumerate(requests) if not r.sampled]
            replies = dict(zip(greedy, self._generate_rows([requests[i] for i in greedy], max_new_tokens)))
            return [replies[i] if i in replies else self._generate_sampled(r, max_new_tokens)
                    for i, r in enumerate(requests)]
        names = [BASE_ADAPTER if r.style == GENERIC else r.style for r in requests]
        with self._model_lock:
            return generate_batch_invariant(
                self.model, self.tokenizer, [r.prompt for r in requests],
                self.max_prompt_tokens if self.batch_invariant else None,
                adapter_names=names if self.adapters else None, layout=self.layout,
                max_new_tokens=max_new_tokens, rows_per_group=ROWS_PER_GROUP if self.batch_invariant else None,
                **self.generate_kwargs)

    def _generate_sampled(self, request: StyleRequest, max_new_tokens: int) -> str:
        extra = {"adapter_names": [BASE_ADAPTER if request.style == GENERIC else request.style]} if self.adapters else {}
        settings = {k: v for k, v in self.generate_kwargs.items() if k not in ("do_sample", "temperature", "top_p")}
        with self._model_lock:
            return generation.generate(self.model, self.tokenizer, [request.prompt], max_new_tokens=max_new_tokens,
                                       batch_size=1, do_sample=True, temperature=request.temperature, top_p=1.0,
                                       seed=request.seed or 0, **extra, **settings)[0]

    def count_tokens(self, text: str) -> int:
        """Tokens of a reply (no special tokens), e.g. for usage figures."""
        with self._counter_lock:
            return len(self._counter(text, add_special_tokens=False)["input_ids"])

    def submit(self, request) -> Future:
        """Validate the request now (raising ``RouterError``) and queue it; the future gives the reply."""
        request = self.validate(request)
        future: Future = Future()
        with self._state_lock:  # the worker starts once; nothing is queued behind close()'s stop signal
            if self._closed:
                raise RuntimeError("the router is closed")
            if self._queue.qsize() >= self.max_queue:
                raise QueueFullError(f"{self.max_queue} requests are already waiting; try again shortly")
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="style-router", daemon=True)
                self._worker.start()
            self._queue.put((request, future))
        return future

    def generate_one(self, style: str, prompt: str, max_new_tokens: int | None = None,
                     timeout: float | None = None) -> str:
        """Submit one request and wait for its reply (thread-safe)."""
        return self.submit(StyleRequest(style, prompt, max_new_tokens)).result(timeout)

    def close(self) -> None:
        """Stop the worker after the requests already queued; later submits raise ``RuntimeError``."""
        with self._state_lock:
            self._closed = True
            worker = self._worker
            if worker is not None:
                self._queue.put(_STOP)
        if worker is not None:
            worker.join()

    def __enter__(self) -> "StyleRouter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _serve(self) -> None:
        """The worker loop: gather a micro-batch, serve it, repeat until told to stop."""
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            last_call = time.monotonic() + MAX_WAITS_PER_BATCH * self.max_wait_s
            while len(batch) < self.max_batch_size:
                # wait for the next request at most max_wait_s after the last one came, so a burst
                # of clients (each resending when its reply arrives) fills one batch, not several
                wait = min(self.max_wait_s, last_call - time.monotonic())
                try:
                    item = self._queue.get(timeout=max(0.0, wait))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._serve_batch(batch)

    def _serve_batch(self, batch: list[tuple[StyleRequest, Future]]) -> None:
        """Serve one micro-batch; an unexpected failure goes to its futures, not to the worker."""
        batch = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
        if not batch:
            return
        try:
            replies = self._generate_valid([r for r, _ in batch])
        except Exception as err:  # noqa: BLE001 - handed to the callers, the worker keeps serving
            for _, future in batch:
                future.set_exception(err)
            return
        for (_, future), reply in zip(batch, replies):
            future.set_result(reply)
