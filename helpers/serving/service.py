"""An HTTP service in front of a :class:`helpers.serving.router.StyleRouter` (lesson 6).

    python -m helpers.serving.service --adapters artifacts/06_multi_style_lora/adapters

The OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions`` (one model per style) are in
:mod:`helpers.serving.openai_api`. ``GET /styles`` lists the styles; ``POST /generate`` with ``{"style": ..., "prompt": ...}``
(optionally ``max_new_tokens``) returns the reply. Concurrent requests are gathered into mixed
micro-batches by the router's single worker; the endpoint only waits for its future, so the
event loop keeps accepting requests while the model works.

Bounded under abuse: a body over ``max_body_bytes`` is refused with 413 before it is read whole,
a body that stops arriving gets 408 after ``body_timeout_s``, a prompt over the router's character
limit is refused before tokenising (which runs off the event loop), a full queue answers 429, a
request still waiting after ``request_timeout_s`` is cancelled with 504, a request whose client
went away is cancelled, and validation errors (422) never echo the input back.
"""
# no `from __future__ import annotations`: FastAPI must resolve the body model defined in create_app
import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from helpers.core.profiles import get_profile
from helpers.serving import openai_api
from helpers.serving.router import (
    PromptTooLongError,
    QueueFullError,
    RouterError,
    StyleRequest,
    StyleRouter,
    UnknownStyleError,
    adapter_folders,
    router_settings,
)
from helpers.workbook.quiet import quiet_libraries

NOTEBOOK = "notebooks/06_multi_style_lora.ipynb"
DEFAULT_ADAPTERS = "artifacts/06_multi_style_lora/adapters"


class Reply(BaseModel):
    """A served request: the style, the reply, and the time from arrival to reply."""

    style: str
    reply: str
    seconds: float


class BodyLimit:
    """ASGI middleware: reads the body first, with a size limit (413, by Content-Length or as it
    arrives) and a time limit for each part (408), then hands it on to the app."""

    def __init__(self, app, max_bytes: int, timeout_s: float):
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await _refuse(send, 413, f"the request body is over {self.max_bytes} bytes")
        body, more = b"", True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except asyncio.TimeoutError:
                return await _refuse(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await _refuse(send, 413, f"the request body is over {self.max_bytes} bytes")
        handed = False

        async def replay():
            nonlocal handed
            if handed:
                return await receive()  # what comes after the body: the client's disconnect
            handed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _refuse(send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


def _validation_errors(err: RequestValidationError) -> list[dict]:
    """FastAPI's validation errors without the echoed input (which may be huge, or NaN that
    JSON cannot encode: the default handler then fails with a 500)."""
    return [{"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", ""))[:300],
             "type": str(e.get("type", ""))} for e in err.errors()[:20]]


def create_app(router, max_body_bytes: int = 64_000, body_timeout_s: float = 10.0,
               request_timeout_s: float = 120.0) -> FastAPI:
    """The FastAPI app serving ``router``; the caller keeps ownership (and closes the router).

    See the module docstring for the limits; the router holds the prompt and queue limits.
    """
    for name, value in (("max_body_bytes", max_body_bytes), ("body_timeout_s", body_timeout_s),
                        ("request_timeout_s", request_timeout_s)):
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")

    class GenerateRequest(BaseModel):
        """The body of ``POST /generate``; unknown fields are refused."""

        model_config = ConfigDict(extra="forbid")
        style: str = Field(description=f"one of: {', '.join(router.styles)}")
        prompt: str = Field(min_length=1, max_length=router.max_prompt_chars,
                            description=f"the user message, at most {router.max_prompt_tokens} tokens with the "
                                        f"chat template (and {router.max_prompt_chars} characters)")
        max_new_tokens: int | None = Field(default=None, ge=1, le=router.max_new_tokens_limit)

    app = FastAPI(title="Style router", description="One base model, one LoRA adapter per style.")
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, timeout_s=body_timeout_s)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        errors = _validation_errors(err)
        if request.url.path.startswith("/v1/"):  # OpenAI's format: 400 and one message
            first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
            param = ".".join(first["loc"][1:]) or None
            return openai_api.error_response(openai_api.OpenAIError(400, f"{param}: {first['msg']}", param=param))
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)  # also the router's own 404/405
    async def refused(request: Request, err: StarletteHTTPException):
        if request.url.path.startswith("/v1/"):
            return openai_api.error_response(err)
        return JSONResponse({"detail": err.detail}, status_code=err.status_code, headers=err.headers)

    openai_api.add_openai_routes(app, router, lambda future, request: _wait(future, request, request_timeout_s))

    @app.get("/styles")
    def styles() -> dict:
        """The available styles (``generic`` is the base model) and the request limits."""
        return {"styles": router.styles, "max_prompt_tokens": router.max_prompt_tokens,
                "max_new_tokens_limit": router.max_new_tokens_limit,
                "default_max_new_tokens": router.default_max_new_tokens}

    @app.post("/generate", response_model=Reply)
    async def generate(body: GenerateRequest, request: Request) -> Reply:
        """Reply to one request in its style; 422 (unknown style, bad field), 413 (prompt or body
        too long), 429 (queue full), 504 (timed out)."""
        start = time.perf_counter()
        try:  # tokenising (to check the length) runs in a thread, off the event loop
            future = await asyncio.to_thread(router.submit, StyleRequest(body.style, body.prompt, body.max_new_tokens))
        except UnknownStyleError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        except PromptTooLongError as err:
            raise HTTPException(status_code=413, detail=str(err)) from None
        except QueueFullError as err:
            raise HTTPException(status_code=429, detail=str(err), headers={"Retry-After": "1"}) from None
        except RouterError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        reply = await _wait(future, request, request_timeout_s)
        return Reply(style=body.style, reply=reply, seconds=round(time.perf_counter() - start, 4))

    return app


async def _wait(future, request: Request, timeout_s: float) -> str:
    """The future's reply; cancelled (never generated, if still queued) when the client goes away
    or ``timeout_s`` passes."""
    waiting = asyncio.wrap_future(future)
    deadline = time.monotonic() + timeout_s
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        if done:
            return waiting.result()
        if await request.is_disconnected():
            future.cancel()
            raise HTTPException(status_code=499, detail="the client closed the connection")
        if time.monotonic() > deadline:
            future.cancel()
            raise HTTPException(status_code=504, detail=f"no reply within {timeout_s:g} s; the request was cancelled")


def load_router(adapters: str | Path, profile_name: str = "tiny", base: str | None = None, **router_kwargs):
    """The router for the adapters under ``adapters/<style>/``, with the profile's settings (those
    lesson 6 uses, :func:`helpers.serving.router.router_settings`) unless ``router_kwargs`` override them;
    a missing folder names the notebook to run."""

    folder = Path(adapters)
    if not folder.is_dir() or not adapter_folders(folder):
        raise SystemExit(f"no style adapters in {folder}: run {NOTEBOOK} first (it saves one adapter per "
                         f"style under <artifacts_dir>/06_multi_style_lora/adapters/)")
    profile = get_profile(profile_name)
    settings = {**router_settings(profile), **{k: v for k, v in router_kwargs.items() if v is not None}}
    return StyleRouter.from_folder(folder, base_path=base, profile=profile, **settings)


def _at_least(low, kind, high=None):
    """An argparse type: ``kind`` from ``low`` to ``high``, or a usage error that says so."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value >= low or (high is not None and value > high):
            limit = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {limit}, got {text}")
        return value
    return parse


def main(argv: list[str] | None = None) -> None:
    """Command line: load the adapters and serve them with uvicorn until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m helpers.serving.service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapters", default=DEFAULT_ADAPTERS, help="folder with one adapter folder per style")
    parser.add_argument("--profile", default="tiny", help="profile whose base model the adapters were trained on")
    parser.add_argument("--base", help="base model folder or hub name (default: the profile's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_at_least(1, int, 65535), default=8000)
    parser.add_argument("--max-batch-size", type=_at_least(1, int), default=32)
    parser.add_argument("--max-wait-ms", type=_at_least(0, float), default=20.0,
                        help="how long the worker waits for the next request to batch with those it has")
    parser.add_argument("--no-batch-invariance", dest="batch_invariant", action="store_false",
                        help="pad to the longest prompt, no filler rows: faster, but a reply may differ "
                             "with its batch mates (a near-tie in greedy decoding)")
    parser.add_argument("--max-prompt-tokens", type=_at_least(1, int), help="default: the profile's (lesson 6's)")
    parser.add_argument("--repetition-penalty", type=_at_least(1, float), help="default: the profile's (lesson 6's)")
    parser.add_argument("--max-queue", type=_at_least(1, int), default=256, help="waiting requests before 429")
    parser.add_argument("--request-timeout", type=_at_least(1, float), default=120.0, help="seconds before 504")
    parser.add_argument("--max-body-bytes", type=_at_least(100, int), default=64_000)
    args = parser.parse_args(argv)

    quiet_libraries()
    router = load_router(args.adapters, args.profile, args.base, max_batch_size=args.max_batch_size,
                         max_wait_ms=args.max_wait_ms, max_prompt_tokens=args.max_prompt_tokens,
                         repetition_penalty=args.repetition_penalty, max_queue=args.max_queue,
                         batch_invariant=args.batch_invariant)
    print(f"serving styles {', '.join(router.styles)} on http://{args.host}:{args.port}", file=sys.stderr)
    try:
        uvicorn.run(create_app(router, max_body_bytes=args.max_body_bytes, request_timeout_s=args.request_timeout),
                    host=args.host, port=args.port)
    finally:
        router.close()


if __name__ == "__main__":
    main()
