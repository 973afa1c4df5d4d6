"""The style router: adapters loaded once, every request served by its own adapter, batch or not."""
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from peft import PeftModel
from serving_support import N, PROMPTS, STYLES, WIDTH

from helpers import get_profile
from helpers.core import models
from helpers.serving.random_adapters import make_random_adapters
from helpers.serving.router import (
    BASE_ADAPTER,
    GENERIC,
    PromptTooLongError,
    RouterError,
    StyleRequest,
    StyleRouter,
    UnknownStyleError,
    adapter_folders,
    fixed_layout,
    rounds,
)



@pytest.fixture(scope="module")
def base_path():
    return models.base_model_path(get_profile("tiny"))


@pytest.fixture(scope="module")
def folders(base_path, tmp_path_factory):
    return make_random_adapters(base_path, tmp_path_factory.mktemp("adapters"), STYLES, seed=11)


@pytest.fixture(scope="module")
def base_loads():
    return []


@pytest.fixture(scope="module")
def router(base_path, folders, base_loads):
    real = models.load_causal_lm
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "load_causal_lm", lambda *a, **k: base_loads.append(a) or real(*a, **k))
        router = StyleRouter.from_dirs(base_path, folders, max_prompt_tokens=WIDTH, default_max_new_tokens=N)
    yield router
    router.close()


@pytest.fixture(scope="module")
def solo(router):
    """Every (style, prompt) served alone: the replies every other path must reproduce."""
    return {(s, p): router.generate([StyleRequest(s, p)])[0] for s in router.styles for p in PROMPTS}


def test_base_and_each_adapter_loaded_once(router, base_loads):
    assert len(base_loads) == 1
    assert router.styles == [*STYLES, GENERIC]
    assert list(router.model.peft_config) == list(STYLES)
    lora_layers = [m for m in router.model.modules() if hasattr(m, "lora_A") and len(m.lora_A)]
    assert lora_layers and all(list(m.lora_A) == list(STYLES) for m in lora_layers)


def test_the_styles_reply_differently(solo):
    # without this, a misrouted request could go unnoticed in the tests below
    for prompt in PROMPTS:
        replies = [solo[(s, prompt)] for s in [*STYLES, GENERIC]]
        assert len(set(replies)) == len(replies), (prompt, replies)


def test_mixed_batch_equals_each_request_served_alone(router, solo):
    requests = [StyleRequest(s, p) for s, p in solo]
    random.Random(0).shuffle(requests)
    assert len({r.style for r in requests[:router.max_batch_size]}) == 4  # every style in the first batch
    replies = router.generate(requests)
    wrong = [(r, got) for r, got in zip(requests, replies) if got != solo[(r.style, r.prompt)]]
    assert not wrong


def test_requests_with_different_lengths_in_one_call(router, solo):
    requests = [StyleRequest(s, p, 6 if i % 2 else None) for i, (s, p) in enumerate(solo) if i % 5 == 0]
    expected = [router.generate([r])[0] for r in requests]
    assert router.generate(requests) == expected
    assert all(got == solo[(r.style, r.prompt)] for r, got in zip(requests, expected) if r.max_new_tokens is None)


def test_each_style_uses_its_own_adapter(router, solo, base_path, folders):
    # a router that swapped adapters would still agree with itself; a model holding one adapter cannot
    profile = get_profile("tiny")
    for style in STYLES:
        single = PeftModel.from_pretrained(models.load_causal_lm(base_path, profile), str(folders[style]),
                                           adapter_name=style)
        alone = StyleRouter(single, router.tokenizer, max_prompt_tokens=WIDTH, default_max_new_tokens=N)
        assert alone.generate([StyleRequest(style, p) for p in PROMPTS]) == [solo[(style, p)] for p in PROMPTS]


class ScoreRecorder:
    """A logits processor that keeps the scores of every decoding step."""

    def __init__(self):
        self.steps = []

    def __call__(self, input_ids, scores):
        self.steps.append(scores.clone())
        return scores


def test_batch_mates_do_not_change_a_single_bit(router):
    # the router's shape policy (fixed width, >= 4 rows per adapter): without it the logits of a
    # request differ in the last bits with its batch mates, and greedy replies can flip at near-ties
    from transformers import LogitsProcessorList

    requests = [StyleRequest(s, p) for s, p in zip([*STYLES, GENERIC, "social_ad"], PROMPTS[4:9])]
    recorder = ScoreRecorder()
    probe = StyleRouter(router.model, router.tokenizer, max_prompt_tokens=WIDTH, default_max_new_tokens=4,
                        logits_processor=LogitsProcessorList([recorder]))
    names = [BASE_ADAPTER if r.style == GENERIC else r.style for r in requests]
    together_at = fixed_layout(names, probe.layout)[2]  # where each request sits in the fixed batch
    for row, request in enumerate(requests):
        probe.generate([request])
        alone, recorder.steps = recorder.steps, []
        alone_at = fixed_layout([names[row]], probe.layout)[2][0]
        probe.generate(requests)
        together, recorder.steps = recorder.steps, []
        assert all(a[alone_at].equal(t[together_at[row]]) for a, t in zip(alone, together)), request


def test_generic_is_the_plain_base_model(router, solo, base_path):
    plain = StyleRouter(models.load_causal_lm(base_path, get_profile("tiny")), router.tokenizer,
                        max_prompt_tokens=WIDTH, default_max_new_tokens=N)
    assert plain.styles == [GENERIC]
    assert plain.generate([(GENERIC, p) for p in PROMPTS]) == [solo[(GENERIC, p)] for p in PROMPTS]


def test_unknown_style_names_the_available_ones(router):
    with pytest.raises(UnknownStyleError) as err:
        router.generate([StyleRequest("news_brief", "hi"), StyleRequest("sonnet", "hi")])
    assert isinstance(err.value, ValueError) and "sonnet" in str(err.value)
    assert all(style in str(err.value) for style in router.styles)


def test_over_long_prompt_is_refused(router):
    assert router.prompt_tokens("hi") < WIDTH
    with pytest.raises(PromptTooLongError, match=f"limit is {WIDTH}"):
        router.generate([StyleRequest("social_ad", "very " * 100)])


@pytest.mark.parametrize("n", [0, 10_000, 2.5])
def test_out_of_range_max_new_tokens_is_refused(router, n):
    with pytest.raises(RouterError, match="max_new_tokens"):
        router.validate(StyleRequest("social_ad", "hi", n))


def test_malformed_request_is_refused(router):
    with pytest.raises(RouterError, match="style"):
        router.validate({"prompt": "hi"})


def test_a_bad_request_never_reaches_the_model(router, monkeypatch):
    calls = []
    monkeypatch.setattr(router, "_generate_rows", lambda *a, **k: calls.append(a))
    with pytest.raises(UnknownStyleError):
        router.generate([StyleRequest("news_brief", "hi"), StyleRequest("nope", "hi")])
    with pytest.raises(PromptTooLongError):
        router.submit(StyleRequest("news_brief", "word " * 200))
    assert calls == []


def test_concurrent_submits_are_batched_and_routed(router, solo):
    requests = [StyleRequest(s, p) for s, p in solo]
    random.Random(1).shuffle(requests)
    before = router.batch_sizes.copy()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda r: router.generate_one(r.style, r.prompt, timeout=60), requests))
    assert replies == [solo[(r.style, r.prompt)] for r in requests]
    batches = router.batch_sizes - before
    assert max(batches) > 1  # the worker really served mixed micro-batches
    assert router._worker.is_alive()  # and keeps serving


def test_close_stops_the_worker(router, solo):
    other = StyleRouter(router.model, router.tokenizer, max_prompt_tokens=WIDTH, default_max_new_tokens=N)
    assert other.generate_one("feature_story", PROMPTS[0], timeout=60) == solo[("feature_story", PROMPTS[0])]
    other.close()
    assert not other._worker.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        other.submit(StyleRequest("feature_story", PROMPTS[0]))


def test_fixed_layout_gives_every_call_the_same_shape():
    layout = ["a", "b", "c", "__base__"]
    for names in (["a"], ["b", "a", "__base__", "c", "c"], ["c", "c", "c", "c"]):
        rows, row_names, position = fixed_layout(names, layout, rows_per_group=4)
        assert row_names == [n for n in layout for _ in range(4)]  # the same for every call
        assert [rows[p] for p in position] == list(range(len(names)))  # each request at its own row
        assert all(row_names[p] == n for p, n in zip(position, names))  # ... in its adapter's group
    with pytest.raises(ValueError, match="at most 4"):
        fixed_layout(["a"] * 5, layout, rows_per_group=4)
    with pytest.raises(ValueError, match="not in the layout"):
        fixed_layout(["z"], layout)


def test_rounds_split_large_groups():
    assert rounds(["a", "a", "b", "a"], 2) == [[0, 1, 2], [3]]


def test_adapter_folders_skip_kept_copies_and_other_folders(tmp_path):
    for name in ["news_brief", "news_brief.previous-1", "social_ad", "plots"]:
        (tmp_path / name).mkdir()
        if name != "plots":
            (tmp_path / name / "adapter_config.json").write_text("{}")
    assert list(adapter_folders(tmp_path)) == ["news_brief", "social_ad"]
