"""The style service stays bounded under abuse: oversized, half-sent, NaN and surrogate bodies,
a flood past the queue cap, timeouts and disconnects, bad flags, and broken adapters."""
import asyncio
import json
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
import torch
from fastapi import HTTPException
from safetensors.torch import load_file, save_file
from serving_support import open_router, random_adapters, serve

from helpers.serving.router import AdapterError, StyleRouter
from helpers.serving.service import _wait, create_app, main

STYLES = ("news_brief", "social_ad")
WIDTH = 32


@pytest.fixture(scope="module")
def adapters_root(tmp_path_factory):
    return random_adapters(tmp_path_factory, STYLES, seed=5)


@pytest.fixture(scope="module")
def router(adapters_root):
    with open_router(adapters_root, max_prompt_tokens=WIDTH, default_max_new_tokens=8, max_batch_size=2,
                     max_queue=3) as router:
        yield router


@pytest.fixture(scope="module")
def url(router):
    app = create_app(router, max_body_bytes=4_000, body_timeout_s=1.0, request_timeout_s=60)
    with serve(app) as base:
        yield base


def post_raw(url, body: str | bytes):
    return httpx.post(f"{url}/generate", content=body, headers={"content-type": "application/json"}, timeout=60)


@pytest.mark.parametrize("body, words", [
    ('{"style": NaN, "prompt": "hi"}', ["style"]),
    ('{"style": "news_brief", "prompt": "hi", "max_new_tokens": Infinity}', ["max_new_tokens"]),
    ('{"style": "news_brief", "prompt": "\\ud800"}', ["prompt", "unicode"]),  # a lone surrogate
    ('{"style": "\\ud800", "prompt": "hi"}', ["unknown style", "available styles"]),
    ('{"style": "news_brief", "prompt": "' + "x" * 600 + '"}', ["prompt", "at most 512 characters"]),
])
def test_malformed_bodies_get_a_4xx_that_does_not_echo_them(url, body, words):
    response = post_raw(url, body)
    assert 400 <= response.status_code < 500, response.text
    assert all(word in response.text for word in words), response.text
    assert "x" * 100 not in response.text and "input" not in response.json().get("detail", [{}])[0]


def test_an_oversized_body_is_refused_before_it_is_read(url):
    response = post_raw(url, json.dumps({"style": "news_brief", "prompt": "y" * 1_000_000}))
    assert response.status_code == 413 and "over 4000 bytes" in response.text
    assert len(response.content) < 200


def test_a_half_sent_body_times_out_with_408(url):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200\r\n\r\n{\"style\": ")
        start = time.monotonic()
        answer = b""
        while chunk := sock.recv(4096):  # until the server closes the connection
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 408") and "did not arrive within 1 s" in answer
    assert time.monotonic() - start < 5


def test_a_flood_past_the_queue_cap_gets_429_and_nothing_hangs(url):
    def one(k):
        start = time.monotonic()
        response = httpx.post(f"{url}/generate", json={"style": STYLES[k % 2], "prompt": f"flood {k}"}, timeout=60)
        return response.status_code, time.monotonic() - start

    rss_before = rss_bytes()
    with ThreadPoolExecutor(16) as pool:  # 40 requests from 16 clients: over 10x the queue cap of 3
        results = list(pool.map(one, range(40)))
    codes = [code for code, _ in results]
    assert set(codes) <= {200, 429} and codes.count(429) > 0 and codes.count(200) > 0
    assert max(seconds for _, seconds in results) < 60
    after = httpx.post(f"{url}/generate", json={"style": "news_brief", "prompt": "still there?"}, timeout=60)
    assert after.status_code == 200
    assert rss_bytes() < 1.5 * rss_before


def rss_bytes() -> int:
    """This process's resident memory (the server runs in it)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class FakeRequest:
    def __init__(self, gone: bool):
        self.gone = gone

    async def is_disconnected(self):
        return self.gone


@pytest.mark.parametrize("gone, status", [(True, 499), (False, 504)])
def test_a_request_is_cancelled_when_its_client_leaves_or_it_times_out(gone, status):
    future = Future()  # never answered, as if still queued
    with pytest.raises(HTTPException) as err:
        asyncio.run(_wait(future, FakeRequest(gone), timeout_s=0.3))
    assert err.value.status_code == status and future.cancelled()


@pytest.mark.parametrize("flag, value", [("--max-batch-size", "0"), ("--max-wait-ms", "-1"), ("--port", "70000"),
                                         ("--max-queue", "zero"), ("--max-prompt-tokens", "0")])
def test_bad_flags_stop_the_server_before_it_starts(capsys, flag, value):
    with pytest.raises(SystemExit) as exit_:
        main([flag, value])
    assert exit_.value.code == 2 and flag in capsys.readouterr().err


def test_a_router_with_no_batch_room_is_refused(adapters_root):
    with pytest.raises(ValueError, match="max_batch_size must be an integer of at least 1"):
        StyleRouter.from_folder(adapters_root, max_batch_size=0)


def broken_copy(adapters_root, tmp_path, change):
    import shutil

    for style in STYLES:
        shutil.copytree(adapters_root / style, tmp_path / style)
    weights = tmp_path / STYLES[0] / "adapter_model.safetensors"
    tensors = load_file(str(weights))
    change(tensors, tmp_path / STYLES[0])
    save_file(tensors, str(weights))
    return tmp_path


def test_an_adapter_with_nan_weights_is_refused(adapters_root, tmp_path):
    def poison(tensors, _folder):
        name = sorted(tensors)[0]
        tensors[name] = torch.full_like(tensors[name], float("nan"))

    with pytest.raises(AdapterError, match="NaN or infinite.*retrain"):
        StyleRouter.from_folder(broken_copy(adapters_root, tmp_path, poison))


def test_an_adapter_missing_tensors_is_refused(adapters_root, tmp_path):
    def drop_half(tensors, _folder):
        for name in sorted(tensors)[::2]:
            del tensors[name]

    with pytest.raises(AdapterError, match="tensors missing"):
        StyleRouter.from_folder(broken_copy(adapters_root, tmp_path, drop_half))


def test_an_adapter_of_another_base_model_is_refused(adapters_root, tmp_path):
    def other_base(_tensors, folder):
        config = json.loads((folder / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = "HuggingFaceTB/SmolLM2-1.7B-Instruct"
        (folder / "adapter_config.json").write_text(json.dumps(config))

    with pytest.raises(AdapterError, match="trained on base model 'HuggingFaceTB/SmolLM2-1.7B-Instruct'"):
        StyleRouter.from_folder(broken_copy(adapters_root, tmp_path, other_base))


def test_a_request_whose_client_left_is_never_generated(url, router, monkeypatch):
    import threading

    served, submitted, release = [], [], threading.Event()
    original, original_submit = router._generate_valid, router.submit

    def slow(requests):
        served.extend(r.prompt for r in requests)
        release.wait(10)  # the first batch holds the worker while the second request waits in the queue
        return original(requests)

    def submit(request):
        submitted.append(request.prompt)
        return original_submit(request)

    monkeypatch.setattr(router, "_generate_valid", slow)
    monkeypatch.setattr(router, "submit", submit)
    first = threading.Thread(target=lambda: httpx.post(f"{url}/generate", json={"style": "news_brief", "prompt": "first"},
                                                       timeout=60))
    first.start()
    time.sleep(0.5)
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"style": "social_ad", "prompt": "left before its turn"}).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        time.sleep(0.5)  # queued behind the first request; then the client hangs up
    time.sleep(1.0)  # the service notices within its 0.2 s poll and cancels the queued future
    release.set()
    first.join(30)
    monkeypatch.undo()
    after = httpx.post(f"{url}/generate", json={"style": "news_brief", "prompt": "after"}, timeout=60)
    assert after.status_code == 200
    assert submitted[:2] == ["first", "left before its turn"]  # it was queued ...
    assert "first" in served and "left before its turn" not in served  # ... and dropped, not generated
