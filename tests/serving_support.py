"""Shared by the router and service tests: the styles and prompts they route, random style
adapters on the tiny base, the replies each request gets alone, and serving an ASGI app on
127.0.0.1 (a free port, held from the start)."""
import socket
import threading
import time
from contextlib import contextmanager

import uvicorn

STYLES = ("news_brief", "feature_story", "social_ad")
# mixed lengths, one very short: prompts are left-padded to one width in every batch
PROMPTS = ["Write a news brief about the bakery opening.", "Tell me about the new park.",
           "Announce our summer sale!", "A feature about a local fisherman.", "hi",
           "Describe the library's new reading room in a few lines please.", "The council approved a budget.",
           "Sell our running shoes.", "Storm closes the harbour.", "Meet the baker.",
           "Concert tickets on sale now", "Explain the school's new lunch menu."]
N = 16  # new tokens per reply: enough to tell the styles apart, short enough for a unit test
WIDTH = 64  # max_prompt_tokens


@contextmanager
def serve(app):
    """Run ``app`` with uvicorn in a thread; yield its base URL; shut it down afterwards."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # so no other process can take the port between choosing and serving
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        assert not thread.is_alive(), "the server did not shut down"


def random_adapters(tmp_path_factory, styles, seed: int):
    """A folder with one untrained random LoRA adapter per style on the tiny base."""
    from helpers import get_profile
    from helpers.core import models
    from helpers.serving.random_adapters import make_random_adapters

    root = tmp_path_factory.mktemp("adapters")
    make_random_adapters(models.base_model_path(get_profile("tiny")), root, styles, seed=seed)
    return root


@contextmanager
def open_router(root, load=None, **settings):
    """A router over the adapters in ``root`` (``load``: ``StyleRouter.from_folder`` unless given,
    e.g. ``helpers.serving.service.load_router``), closed afterwards."""
    from helpers.serving.router import StyleRouter

    router = (load or StyleRouter.from_folder)(root, **settings)
    try:
        yield router
    finally:
        router.close()


def replies_alone(router, prompts) -> dict:
    """The reply to every (style, prompt), each served alone: what a routed reply must equal."""
    from helpers.serving.router import StyleRequest

    return {(s, p): router.generate([StyleRequest(s, p)])[0] for s in router.styles for p in prompts}
