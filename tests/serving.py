"""Serving an ASGI app on 127.0.0.1 for the service tests (a free port, held from the start)."""
import socket
import threading
import time
from contextlib import contextmanager

import uvicorn


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
