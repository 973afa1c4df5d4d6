"""LLM judges (helpers.judge): rubric prompts, the local backend on the tiny model, the OpenAI
backend against real servers on 127.0.0.1 (the workbook's style service, which has no logprobs,
and a small server that returns the tiny model's logprobs), and the profile's real judge."""
import pickle
import secrets
import time
import uuid

import numpy as np
import openai
import pytest
from serving_support import random_adapters, serve

from helpers import get_profile
from helpers.core import models
from helpers.judge import (
    PAIR_OPTIONS,
    POLITENESS,
    SCALE,
    Backend,
    ChoiceJudge,
    LocalBackend,
    OpenAIBackend,
    PairwiseJudge,
    PointwiseJudge,
    Rubric,
    judge_model_path,
    load_judge,
    parse_option,
)
from helpers.metrics.judge_eval import consistent
from helpers.serving.service import create_app, load_router

REPLIES = ["Thank you so much for your help, I really appreciate it.", "Fix it now.",
           "Could you please send me the file when you have a moment?", "Whatever."]
PROMPT = "A customer asks for the invoice again."
WORDS = ("I", "My", "Hey")  # the tiny model's likeliest first words: options its greedy reply can name


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = models.load_base(get_profile("tiny"))
    return LocalBackend(model, tokenizer, batch_size=4)


def conversations():
    return ([POLITENESS.pointwise_messages(None, r) for r in REPLIES[:2]]
            + [POLITENESS.pointwise_messages(PROMPT, REPLIES[2])]
            + [POLITENESS.pairwise_messages(PROMPT, REPLIES[0], REPLIES[1]),
               POLITENESS.pairwise_messages(None, REPLIES[3], REPLIES[2])])


# --- rubric prompts and parsing -------------------------------------------------------------

def test_rubric_prompts_name_the_scale_and_the_answer_format():
    pointwise = POLITENESS.pointwise_messages(PROMPT, REPLIES[0])
    assert [m["role"] for m in pointwise] == ["system", "user"]
    text = pointwise[1]["content"]
    assert "1 = very impolite" in text and "5 = very polite" in text and PROMPT in text and REPLIES[0] in text
    assert text.endswith("Answer with one digit from 1 to 5.")
    alone = POLITENESS.pointwise_messages(None, REPLIES[0])[1]["content"]
    assert "Request:" not in alone and "Text:\n" in alone
    pairwise = POLITENESS.pairwise_messages(None, "first", "second")[1]["content"]
    assert pairwise.index("Reply A:\nfirst") < pairwise.index("Reply B:\nsecond")
    assert pairwise.endswith("Answer A or B.")
    with pytest.raises(ValueError, match="5 anchors"):
        Rubric("x", "y", ("a", "b"))


@pytest.mark.parametrize("text, expected", [
    ("B", "B"), (" B.", "B"), ("**A**", "A"), ("(A) because", "A"), ("4/5", "4"), ("3", "3"),
    ("Answer: B", None), ("Both", None), ("45", None), ("", None), (None, None), ("I think", None)])
def test_parse_option(text, expected):
    assert parse_option(text, PAIR_OPTIONS + SCALE) == expected


def test_the_judges_system_prompt_replaces_smollm2s_default():
    tokenizer = models.load_tokenizer(judge_model_path(get_profile("small")))
    text = tokenizer.apply_chat_template(POLITENESS.pointwise_messages(None, "Hi"), tokenize=False,
                                         add_generation_prompt=True)
    assert POLITENESS.system in text and "SmolLM" not in text
    assert text.endswith("<|im_start|>assistant\n")


# --- the local backend on the tiny model ----------------------------------------------------

def test_local_probabilities_are_distributions_over_the_options(tiny):
    for options in (SCALE, PAIR_OPTIONS, WORDS):
        for found in tiny.option_probabilities_batch(conversations(), options):
            assert list(found) == list(options) and sum(found.values()) == pytest.approx(1)
            assert all(0 <= p <= 1 for p in found.values())
    assert tiny.option_token_ids(PAIR_OPTIONS) == [tiny.option_token_ids(["A"])[0], tiny.option_token_ids(["B"])[0]]
    assert len(tiny.option_token_ids(["A"])[0]) == 2  # "A" and " A" are both single tokens here
    mass = tiny.option_mass(conversations(), SCALE)
    assert ((0 < mass) & (mass < 1)).all()


def test_local_options_must_be_single_distinct_tokens(tiny):
    with pytest.raises(ValueError, match="not a single token"):
        tiny.option_token_ids(["Answer"])
    with pytest.raises(ValueError, match="share the token"):
        tiny.option_token_ids(["A", " A"])


def test_batched_equals_one_by_one(tiny):
    batched = tiny.next_token_logprobs(conversations())  # different lengths: left padding inside a batch
    alone = LocalBackend(tiny.model, tiny.tokenizer, batch_size=1).next_token_logprobs(conversations())
    assert batched.shape == alone.shape and np.allclose(batched.numpy(), alone.numpy(), atol=1e-4)
    assert tiny.option_probabilities_batch([], SCALE) == []


def test_a_prompt_longer_than_the_model_takes_is_refused(tiny):
    with pytest.raises(ValueError, match="the model takes 512"):
        tiny.next_token_logits([POLITENESS.pointwise_messages(None, "word " * 600)])


def test_pointwise_score_is_the_expected_digit(tiny):
    judge = PointwiseJudge(tiny, POLITENESS)
    distributions = judge.distribution(None, REPLIES)
    scores = judge.score(None, REPLIES)
    assert [sorted(d) for d in distributions] == [[1, 2, 3, 4, 5]] * len(REPLIES)
    assert scores == pytest.approx([sum(k * p for k, p in d.items()) for d in distributions])
    assert ((1 <= scores) & (scores <= 5)).all()
    assert judge.score([PROMPT] * 2, REPLIES[:2]) == pytest.approx(judge.score(PROMPT, REPLIES[:2]))
    with pytest.raises(ValueError, match="3 values for 2 rows"):
        judge.score([PROMPT] * 3, REPLIES[:2])


def test_both_orders_swaps_the_second_answer_back(tiny):
    judge = PairwiseJudge(tiny, POLITENESS)
    a, b = REPLIES[:2], REPLIES[2:]
    verdicts = judge.both_orders_many(PROMPT, a, b)
    # one batch of both orders against two batches of one order each: padding differs, so the float
    # sums differ in the sixth decimal (seen in CI: 0.3144702 against 0.3144706); a missing swap is off by ~0.4
    assert verdicts.p_ab == pytest.approx(judge.prob_first_better_many(PROMPT, a, b), abs=1e-5)
    assert verdicts.p_ba == pytest.approx(1 - judge.prob_first_better_many(PROMPT, b, a), abs=1e-5)
    assert verdicts.mean == pytest.approx((verdicts.p_ab + verdicts.p_ba) / 2)
    assert verdicts.consistent.tolist() == consistent(verdicts.p_ab, verdicts.p_ba).tolist()
    one = judge.both_orders(PROMPT, a[1], b[1])
    # a single pair against the same pair in a batch of two: the padding differs again
    assert one.p_ab == pytest.approx(verdicts.p_ab[1], abs=1e-5) and one.p_ba == pytest.approx(verdicts.p_ba[1], abs=1e-5)
    assert one.winner == ("tie" if not one.consistent else "a" if one.p_ab > 0.5 else "b")
    assert judge.prob_first_better(PROMPT, a[0], b[0]) == pytest.approx(verdicts.p_ab[0], abs=1e-5)


class FirstListed(Backend):
    """A judge that answers by position only: most of its probability on whatever is listed first."""

    def option_probabilities_batch(self, conversations, options):
        return [{o: (0.8 if i == 0 else 0.2 / (len(options) - 1)) for i, o in enumerate(options)} for _ in conversations]


class ReadsTheText(Backend):
    """A judge that answers by content: the letter of the option whose keyword is in the text."""

    def option_probabilities_batch(self, conversations, options):
        found = []
        for messages in conversations:
            user = messages[-1]["content"]
            listed = [line.split(" = ", 1) for line in user.split("\n\n")[1].splitlines()]
            text = user.split("Text:\n", 1)[1]
            hit = [letter for letter, description in listed if description.split()[0] in text]
            found.append(None if not hit else {o: float(o == hit[0]) for o in options})
        return found


CHOICES = {"news": "dateline and attribution", "ad": "hashtags and emoji", "feature": "scene and quotes"}


def test_choice_rotations_cancel_a_pure_position_bias():
    probabilities = ChoiceJudge(FirstListed(), "Which style?", CHOICES).probabilities(["any text", "another"])
    assert probabilities == pytest.approx(np.full((2, 3), 1 / 3))


def test_choice_judge_maps_letters_back_to_labels_in_every_rotation():
    judge = ChoiceJudge(ReadsTheText(), "Which style?", CHOICES)
    texts = ["a scene at dawn", "with hashtags #sale", "a dateline: LONDON", "nothing at all"]
    assert judge.predict(texts) == ["feature", "ad", "news", None]
    assert np.isnan(judge.probabilities(texts)[3]).all()
    with pytest.raises(ValueError, match="2 to 26 options"):
        ChoiceJudge(ReadsTheText(), "?", {"only": "one"})


def test_choice_judge_on_a_real_backend_gives_distributions(tiny):
    probabilities = ChoiceJudge(tiny, "Which style is this text written in?", CHOICES).probabilities(REPLIES[:2])
    assert probabilities.shape == (2, 3) and probabilities.sum(1) == pytest.approx([1, 1])


# --- the OpenAI backend: the workbook's style service (no logprobs) -------------------------

def greedy_reply_option(local: LocalBackend, messages, options, repetition_penalty: float):
    """The option the service's one-token greedy reply names, predicted locally: the same chat
    template, the raw logits, the service's repetition penalty (on the prompt's tokens and the pad
    token it pads with), the argmax decoded as the service decodes it."""
    import torch
    from transformers import RepetitionPenaltyLogitsProcessor

    prompt_ids = local.tokenizer(local.render(messages), add_special_tokens=False)["input_ids"]
    seen = torch.tensor([prompt_ids + [local.tokenizer.pad_token_id]])
    logits = RepetitionPenaltyLogitsProcessor(repetition_penalty)(seen, local.next_token_logits([messages]))[0]
    top = logits.topk(2).values
    assert top[0] - top[1] > 1e-3, "a near-tie: padding may flip the service's greedy token"
    text = local.tokenizer.decode([int(logits.argmax())], skip_special_tokens=True).strip()
    return parse_option(text, options)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    # the tiny profile's lesson-6 settings (its repetition penalty included), with room for a rubric
    router = load_router(random_adapters(tmp_path_factory, ("news_brief",), seed=5), "tiny",
                         max_prompt_tokens=320, max_new_tokens_limit=16, default_max_new_tokens=8)
    with serve(create_app(router)) as base:
        yield router, f"{base}/v1"
    router.close()


def test_the_service_answers_as_the_local_model_predicts(service, tiny, monkeypatch):
    router, base_url = service
    assert router.generate_kwargs["repetition_penalty"] == get_profile("tiny").style.repetition_penalty != 1.0
    monkeypatch.delenv("STYLE_JUDGE_TEST_KEY", raising=False)
    backend = OpenAIBackend(base_url, "generic", api_key_env="STYLE_JUDGE_TEST_KEY", max_concurrency=4)
    named = 0
    for options in (PAIR_OPTIONS, SCALE, WORDS):
        found = backend.option_probabilities_batch(conversations(), options)
        assert backend.source == "text" and backend.logprobs is False  # the service refused logprobs once
        for messages, probabilities in zip(conversations(), found):
            option = greedy_reply_option(tiny, messages, options, router.generate_kwargs["repetition_penalty"])
            assert probabilities == (None if option is None else {o: float(o == option) for o in options})
            named += option is not None
    assert 0 < named < 3 * len(conversations())  # both branches seen: an option named, and none


def test_judges_over_the_service_count_no_answer_as_nan(service):
    backend = OpenAIBackend(service[1], "generic", api_key_env="STYLE_JUDGE_TEST_KEY", logprobs=False)
    assert np.isnan(PointwiseJudge(backend, POLITENESS).score(None, REPLIES[:2])).all()  # the tiny model says "I"
    assert np.isnan(PairwiseJudge(backend, POLITENESS).both_orders_many(None, REPLIES[:1], REPLIES[1:2]).mean).all()


def test_the_api_key_is_never_shown(service, monkeypatch):
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("STYLE_JUDGE_TEST_KEY", key)
    backend = OpenAIBackend(service[1], "generic", api_key_env="STYLE_JUDGE_TEST_KEY")
    judge = PointwiseJudge(backend, POLITENESS)
    for shown in (repr(backend), str(backend), repr(judge), str(vars(judge)), f"{backend}"):
        assert key not in shown
    assert "STYLE_JUDGE_TEST_KEY" in repr(backend)
    with pytest.raises(TypeError, match="API key"):
        pickle.dumps(backend)
    judge.score(None, REPLIES[:1])  # works with the key set
    monkeypatch.delenv("STYLE_JUDGE_TEST_KEY")
    with pytest.raises(RuntimeError, match="STYLE_JUDGE_TEST_KEY"):
        OpenAIBackend(None, "gpt-4o-mini", api_key_env="STYLE_JUDGE_TEST_KEY")


def test_errors_other_than_missing_logprobs_reach_the_caller(service):
    insisting = OpenAIBackend(service[1], "generic", api_key_env="STYLE_JUDGE_TEST_KEY", logprobs=True, max_retries=0)
    with pytest.raises(openai.BadRequestError, match="logprobs"):  # asked for logprobs: no silent text fallback
        insisting.option_probabilities(conversations()[0], PAIR_OPTIONS)
    unknown = OpenAIBackend(service[1], "sonnet", api_key_env="STYLE_JUDGE_TEST_KEY", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        unknown.option_probabilities(conversations()[0], PAIR_OPTIONS)


# --- the OpenAI backend: a server that returns logprobs -------------------------------------

def logprobs_app(local: LocalBackend, name: str = "tiny-judge"):
    """An OpenAI-format ``/v1/chat/completions`` that returns the local model's one greedy token
    and its ``top_logprobs`` as vLLM does (token text, logprob, bytes)."""
    from fastapi import FastAPI

    app = FastAPI()

    def entry(token_id: int, logprob: float) -> dict:
        token = local.tokenizer.decode([token_id])
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    @app.post("/v1/chat/completions")
    def complete(body: dict) -> dict:
        logprobs = local.next_token_logprobs([body["messages"]])[0]
        values, ids = logprobs.topk(max(1, body.get("top_logprobs") or 0))
        chosen = entry(int(ids[0]), float(values[0]))
        content = [{**chosen, "top_logprobs": [entry(int(i), float(v)) for v, i in zip(values, ids)]}]
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
                "model": name, "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
                "choices": [{"index": 0, "finish_reason": "length",
                             "message": {"role": "assistant", "content": chosen["token"]},
                             "logprobs": {"content": content} if body.get("logprobs") else None}]}

    return app


def test_logprobs_from_a_server_equal_the_local_probabilities(tiny):
    with serve(logprobs_app(tiny)) as base:
        backend = OpenAIBackend(f"{base}/v1", "tiny-judge", api_key_env="STYLE_JUDGE_TEST_KEY")
        found = backend.option_probabilities_batch(conversations(), WORDS)
        assert backend.source == "logprobs" and backend.logprobs is None
        for remote, local in zip(found, tiny.option_probabilities_batch(conversations(), WORDS)):
            assert remote == pytest.approx(local, abs=1e-4)  # "I" and " I" are both in the top 20 here
        # the digits are far below the tiny model's top 20 tokens: no usable answer, not a guess
        assert backend.option_probabilities_batch(conversations(), SCALE) == [None] * len(conversations())


# --- the profile's judge --------------------------------------------------------------------

def test_every_profile_names_its_judge():
    small = judge_model_path(get_profile("small"))
    assert judge_model_path(get_profile("tiny")) == small == models.base_model_path(get_profile("small"))
    assert judge_model_path(get_profile("colab")) == "HuggingFaceTB/SmolLM2-1.7B-Instruct"
    assert judge_model_path(get_profile("gpu")) == "Qwen/Qwen2.5-7B-Instruct"


def test_the_real_judge_gives_valid_probabilities():
    backend = load_judge(get_profile("tiny"))  # SmolLM2-135M-Instruct, the same model as on `small`
    assert backend.model.num_parameters() > 100e6 and backend.tokenizer.eos_token == "<|im_end|>"
    distributions = PointwiseJudge(backend, POLITENESS).distribution(None, REPLIES[:2])
    for d in distributions:
        assert sorted(d) == [1, 2, 3, 4, 5] and sum(d.values()) == pytest.approx(1)
    verdict = PairwiseJudge(backend, POLITENESS).both_orders(None, REPLIES[0], REPLIES[1])
    assert 0 <= verdict.p_ab <= 1 and 0 <= verdict.p_ba <= 1
