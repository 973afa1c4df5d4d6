"""OpenAI-compatible endpoints for the style service (lesson 6): one ``model`` per style.

``GET /v1/models`` lists the styles (``generic`` is the base model); ``POST /v1/chat/completions``
answers in the style named by ``model``, so the official ``openai`` client, LangChain or an eval
harness can call the router, the way vLLM serves LoRA adapters as model names
(``vllm serve BASE --enable-lora --lora-modules news_brief=PATH ...``).

Supported: ``messages``, ``max_tokens`` (or ``max_completion_tokens``), ``temperature`` (omitted
or 0: greedy and batch-invariant, served in mixed batches; above 0: sampled on its own, seeded by
``seed``), ``stop`` and ``stream``. A streamed reply is generated in its batch like any other and
then sent as server-sent-event chunks, so it equals the non-streamed reply. Errors use OpenAI's
format: ``{"error": {"message", "type", "param", "code"}}``.
"""
# no `from __future__ import annotations`: FastAPI must resolve the body models defined below
import asyncio
import json
import time
import uuid
from typing import Literal

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from helpers.serving.router import PromptTooLongError, QueueFullError, RouterError, StyleRequest


class OpenAIError(HTTPException):
    """An error sent in OpenAI's format."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)
        self.param, self.code = param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind = {401: "authentication_error", 404: "invalid_request_error", 429: "rate_limit_error"}.get(
        status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(err: HTTPException) -> JSONResponse:
    body = error_body(err.status_code, str(err.detail), getattr(err, "param", None), getattr(err, "code", None))
    return JSONResponse(body, status_code=err.status_code, headers=err.headers)


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """The text up to the first stop sequence (not included), and whether one was found."""
    hits = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[:min(hits)], True) if hits else (text, False)


def chunks_of(text: str) -> list[str]:
    """Word-sized pieces (each with its leading whitespace) that join back to ``text``."""
    pieces, start = [], 0
    for i in range(1, len(text) + 1):
        if i == len(text) or (text[i].isspace() and not text[i - 1].isspace()):
            pieces.append(text[start:i])
            start = i
    return pieces


def add_openai_routes(app, router, wait) -> None:
    """Add ``/v1/models`` and ``/v1/chat/completions`` over ``router``; ``wait(future, request)``
    waits for a reply (with the service's timeout and cancellation)."""

    class Message(BaseModel):
        model_config = ConfigDict(extra="ignore")  # e.g. "name", which clients may send
        role: Literal["system", "user", "assistant"]
        content: str = Field(max_length=router.max_prompt_chars)

    class ChatCompletionRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        model: str = Field(description=f"a style: one of {', '.join(router.styles)}")
        messages: list[Message] = Field(min_length=1, max_length=32)
        max_tokens: int | None = Field(default=None, ge=1, le=router.max_new_tokens_limit)
        max_completion_tokens: int | None = Field(default=None, ge=1, le=router.max_new_tokens_limit)
        temperature: float | None = Field(default=None, ge=0, le=2)
        seed: int | None = None
        stop: str | list[str] | None = None
        stream: bool = False
        n: int = Field(default=1, ge=1, le=1, description="one choice per request")
        user: str | None = None

    @app.get("/v1/models")
    def list_models() -> dict:
        """One model per style; ``generic`` is the base model without an adapter."""
        return {"object": "list", "data": [{"id": style, "object": "model", "created": 0, "owned_by": "style-workbook"}
                                           for style in router.styles]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        if body.model not in router.styles:
            raise OpenAIError(404, f"The model {body.model!r} does not exist; available: {', '.join(router.styles)}",
                              param="model", code="model_not_found")
        stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
        if len(stop) > 4 or any(not s for s in stop):
            raise OpenAIError(400, "stop takes at most 4 non-empty strings", param="stop")
        limit = body.max_completion_tokens or body.max_tokens or router.default_max_new_tokens
        messages = [{"role": m.role, "content": m.content} for m in body.messages]
        style_request = StyleRequest(body.model, messages, limit, body.temperature, body.seed)
        try:
            future = await asyncio.to_thread(router.submit, style_request)
        except PromptTooLongError as err:
            raise OpenAIError(400, str(err), param="messages", code="context_length_exceeded") from None
        except QueueFullError as err:
            raise OpenAIError(429, str(err), headers={"Retry-After": "1"}) from None
        except RouterError as err:
            raise OpenAIError(400, str(err)) from None
        reply = await wait(future, request)
        text, stopped = cut_at_stop(reply, stop)
        completion_tokens = router.count_tokens(reply)
        finish = "stop" if stopped or completion_tokens < limit else "length"
        usage = {"prompt_tokens": router.prompt_tokens(messages), "completion_tokens": router.count_tokens(text)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": body.model,
                "system_fingerprint": None}
        if not body.stream:
            return {**head, "object": "chat.completion", "usage": usage,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": finish, "logprobs": None}]}

        def events():
            def chunk(delta, finish_reason=None):
                payload = {**head, "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
                return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
            yield chunk({"role": "assistant", "content": ""})
            for piece in chunks_of(text):
                yield chunk({"content": piece})
            yield chunk({}, finish)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
