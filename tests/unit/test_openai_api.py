"""The style service through the official `openai` client: every style as a model, 0 misrouted
replies under concurrent load, streaming equal to non-streaming, OpenAI-format errors, and the
profile's generation settings shared with lesson 6."""
import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from serving_support import PROMPTS as ROUTED_PROMPTS
from serving_support import STYLES, open_router, random_adapters, replies_alone, serve

from helpers import get_profile
from helpers.serving.openai_api import chunks_of, cut_at_stop
from helpers.serving.router import GENERIC, router_settings
from helpers.serving.service import create_app, load_router

PROMPTS = [*ROUTED_PROMPTS[:4], *ROUTED_PROMPTS[8:10]]
N = 12


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    root = random_adapters(tmp_path_factory, STYLES, seed=21)
    with open_router(root, lambda folder, **kw: load_router(folder, "tiny", **kw), default_max_new_tokens=N) as router:
        yield router


@pytest.fixture(scope="module")
def expected(router):
    return replies_alone(router, PROMPTS)


@pytest.fixture(scope="module")
def client(router, expected):
    with serve(create_app(router)) as base:
        yield openai.OpenAI(base_url=f"{base}/v1", api_key="not-needed", max_retries=0, timeout=120)


def ask(client, style, prompt, **kw):
    return client.chat.completions.create(model=style, messages=[{"role": "user", "content": prompt}], **kw)


def test_every_style_is_a_model(client, router):
    assert [m.id for m in client.models.list()] == router.styles == [*sorted(STYLES), GENERIC]


def test_each_style_answers_as_its_adapter_does_alone(client, expected):
    for style in [*STYLES, GENERIC]:
        answer = ask(client, style, PROMPTS[0])
        assert answer.model == style and answer.choices[0].message.content == expected[(style, PROMPTS[0])]
        assert answer.usage.completion_tokens <= N and answer.choices[0].finish_reason in ("stop", "length")


def test_concurrent_load_is_never_misrouted(client, expected):
    jobs = [(s, p) for s in [*STYLES, GENERIC] for p in PROMPTS] * 13  # 312 requests
    random.Random(1).shuffle(jobs)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: ask(client, *job).choices[0].message.content, jobs))
    assert len(answers) >= 300
    assert [job for job, answer in zip(jobs, answers) if answer != expected[job]] == []


def test_a_streamed_reply_equals_the_plain_one(client, expected):
    stream = ask(client, "social_ad", PROMPTS[2], stream=True)
    pieces, finish = [], None
    for chunk in stream:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    assert "".join(pieces) == expected[("social_ad", PROMPTS[2])] and len(pieces) > 2 and finish


def test_stop_and_max_tokens(client, expected):
    full = expected[("news_brief", PROMPTS[1])]
    word = full.split()[2]
    answer = ask(client, "news_brief", PROMPTS[1], stop=[word])
    assert answer.choices[0].message.content == full[:full.find(word)]
    assert answer.choices[0].finish_reason == "stop"
    short = ask(client, "news_brief", PROMPTS[1], max_tokens=3)
    assert short.usage.completion_tokens <= 3 and short.choices[0].finish_reason == "length"


def test_sampling_is_seeded(client):
    first = ask(client, "feature_story", PROMPTS[3], temperature=1.0, seed=7).choices[0].message.content
    again = ask(client, "feature_story", PROMPTS[3], temperature=1.0, seed=7).choices[0].message.content
    other = {ask(client, "feature_story", PROMPTS[3], temperature=1.0, seed=s).choices[0].message.content
             for s in range(8, 12)}
    assert first == again and len(other | {first}) > 1


@pytest.mark.parametrize("call, status, words", [
    (lambda c: ask(c, "sonnet", "hi"), 404, ["sonnet", "news_brief", "generic"]),
    (lambda c: ask(c, "news_brief", "very " * 150), 400, ["tokens long", "the limit is 64"]),
    (lambda c: ask(c, "news_brief", "very " * 400), 400, ["messages.0.content", "at most 1024 characters"]),
    (lambda c: ask(c, "news_brief", "hi", max_tokens=100_000), 400, ["max_tokens"]),
    (lambda c: c.chat.completions.create(model="news_brief", messages=[{"role": "robot", "content": "hi"}]), 400,
     ["messages.0.role"]),
    (lambda c: ask(c, "news_brief", "hi", n=3), 400, ["n"]),
])
def test_errors_come_in_openai_format(client, call, status, words):
    with pytest.raises(openai.APIStatusError) as err:
        call(client)
    assert err.value.status_code == status
    message = err.value.body["message"]
    assert all(word in message for word in words), message
    assert ask(client, "news_brief", PROMPTS[0]).choices[0].message.content  # still serving


def test_the_service_uses_the_profile_settings_of_lesson_6(router):
    settings = router_settings(get_profile("tiny"))
    assert router.max_prompt_tokens == settings["max_prompt_tokens"]
    assert router.generate_kwargs["repetition_penalty"] == settings["repetition_penalty"] != 1.0


def test_stop_and_chunk_helpers():
    assert cut_at_stop("Dear Ann, thanks. Best", ["Best", "thanks"]) == ("Dear Ann, ", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert "".join(chunks_of("  Hello  wide world\n")) == "  Hello  wide world\n"
    assert chunks_of("a b") == ["a", " b"]


def test_unknown_paths_answer_in_openai_format(client):
    response = httpx.get(str(client.base_url).rstrip("/") + "/nothing")
    assert response.status_code == 404 and response.json()["error"]["type"] == "invalid_request_error"
