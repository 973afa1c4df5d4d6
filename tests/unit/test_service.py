"""The style service over HTTP: a load test of mixed styles from concurrent clients, then bad requests."""
import random
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from serving_support import N, PROMPTS, STYLES, WIDTH, open_router, random_adapters, replies_alone, serve

from helpers.serving.router import GENERIC
from helpers.serving.service import create_app, load_router, main

CLIENTS = 8
REQUESTS = 320


@pytest.fixture(scope="module")
def adapters_root(tmp_path_factory):
    return random_adapters(tmp_path_factory, STYLES, seed=21)


@pytest.fixture(scope="module")
def router(adapters_root):
    with open_router(adapters_root, max_prompt_tokens=WIDTH, default_max_new_tokens=N) as router:
        yield router


@pytest.fixture(scope="module")
def expected(router):
    """The reply to every distinct (style, prompt), each served alone, before the server starts."""
    return replies_alone(router, PROMPTS)


@pytest.fixture(scope="module")
def url(router, expected):
    with serve(create_app(router)) as base:
        yield base


def test_styles_are_listed(url, router):
    response = httpx.get(f"{url}/styles")
    assert response.status_code == 200
    assert response.json()["styles"] == router.styles
    assert sorted(router.styles) == sorted([*STYLES, GENERIC])


def test_concurrent_mixed_load_is_never_misrouted(url, router, expected):
    styles = [*STYLES, GENERIC]
    for prompt in PROMPTS:  # so that a misrouted request gives a wrong reply
        assert len({expected[(s, prompt)] for s in styles}) == len(styles), prompt
    pairs = [(s, p) for p in PROMPTS for s in styles]
    jobs = (pairs * (REQUESTS // len(pairs) + 1))[:REQUESTS]
    random.Random(0).shuffle(jobs)  # every client sends every style, in no particular order

    def client(mine):
        with httpx.Client(base_url=url, timeout=120) as http:
            return [(style, prompt, http.post("/generate", json={"style": style, "prompt": prompt}))
                    for style, prompt in mine]

    before = router.batch_sizes.copy()
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for chunk in pool.map(client, [jobs[k::CLIENTS] for k in range(CLIENTS)]) for r in chunk]
    seconds = time.perf_counter() - start
    batches = router.batch_sizes - before
    print(f"{REQUESTS} requests from {CLIENTS} clients in {seconds:.1f} s ({REQUESTS / seconds:.1f} req/s), "
          f"micro-batch sizes {dict(sorted(batches.items()))}")

    assert len(results) == REQUESTS
    assert [r for r in results if r[2].status_code >= 500] == []
    assert {r[2].status_code for r in results} == {200}
    misrouted = [(s, p, r.json()) for s, p, r in results
                 if r.json()["style"] != s or r.json()["reply"] != expected[(s, p)]]
    assert misrouted == []
    assert sum(batches.values()) < REQUESTS / 2  # requests really were served together, in mixed batches


@pytest.mark.parametrize("body, status, words", [
    ({"prompt": "hi"}, 422, ["style", "Field required"]),
    ({"style": "news_brief"}, 422, ["prompt", "Field required"]),
    ({"style": "sonnet", "prompt": "hi"}, 422, ["sonnet", *STYLES, GENERIC]),
    ({"style": "social_ad", "prompt": "very " * 200}, 413, [f"limit is {WIDTH}"]),
    ({"style": "social_ad", "prompt": "hi", "max_new_tokens": 100_000}, 422, ["max_new_tokens"]),
    ({"style": "social_ad", "prompt": "hi", "temperature": 2}, 422, ["temperature", "Extra inputs"]),
    ('{"style": "news_brief", "prompt": ', 422, ["JSON decode error"]),
])
def test_bad_requests_get_a_helpful_4xx_and_the_service_keeps_serving(url, expected, body, status, words):
    with httpx.Client(base_url=url, timeout=60) as http:
        if isinstance(body, str):
            response = http.post("/generate", content=body, headers={"content-type": "application/json"})
        else:
            response = http.post("/generate", json=body)
        assert response.status_code == status, response.text
        assert all(word in response.text for word in words), response.text
        good = http.post("/generate", json={"style": "feature_story", "prompt": PROMPTS[3]})
    assert good.status_code == 200
    assert good.json()["reply"] == expected[("feature_story", PROMPTS[3])]


def test_missing_adapters_folder_names_the_notebook(tmp_path):
    with pytest.raises(SystemExit, match="notebooks/06_multi_style_lora.ipynb"):
        main(["--adapters", str(tmp_path / "adapters")])


def test_load_router_reads_one_adapter_per_subfolder(adapters_root):
    router = load_router(adapters_root, "tiny")
    assert router.styles == sorted(STYLES) + [GENERIC]
