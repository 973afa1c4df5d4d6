"""An HTTP service in front of a :class:`helpers.router.StyleRouter` (lesson 6).

    python -m helpers.service --adapters artifacts/06_multi_style_lora/adapters

``GET /styles`` lists the styles; ``POST /generate`` with ``{"style": ..., "prompt": ...}``
(optionally ``max_new_tokens``) returns the reply. Concurrent requests are gathered into mixed
micro-batches by the router's single worker; the endpoint only waits for its future, so the
event loop keeps accepting requests while the model works.
"""
# no `from __future__ import annotations`: FastAPI must resolve the body model defined in create_app
import argparse
import asyncio
import sys
import time
from pathlib import Path

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .router import PromptTooLongError, RouterError, StyleRequest, UnknownStyleError

NOTEBOOK = "notebooks/06_multi_style_lora.ipynb"
DEFAULT_ADAPTERS = "artifacts/06_multi_style_lora/adapters"


class Reply(BaseModel):
    """A served request: the style, the reply, and the time from arrival to reply."""

    style: str
    reply: str
    seconds: float


def create_app(router) -> FastAPI:
    """The FastAPI app serving ``router``; the caller keeps ownership (and closes the router)."""

    class GenerateRequest(BaseModel):
        """The body of ``POST /generate``; unknown fields are refused."""

        model_config = ConfigDict(extra="forbid")
        style: str = Field(description=f"one of: {', '.join(router.styles)}")
        prompt: str = Field(min_length=1, description=f"the user message, at most {router.max_prompt_tokens} "
                                                      "tokens with the chat template")
        max_new_tokens: int | None = Field(default=None, ge=1, le=router.max_new_tokens_limit)

    app = FastAPI(title="Style router", description="One base model, one LoRA adapter per style.")

    @app.get("/styles")
    def styles() -> dict:
        """The available styles (``generic`` is the base model) and the request limits."""
        return {"styles": router.styles, "max_prompt_tokens": router.max_prompt_tokens,
                "max_new_tokens_limit": router.max_new_tokens_limit,
                "default_max_new_tokens": router.default_max_new_tokens}

    @app.post("/generate", response_model=Reply)
    async def generate(body: GenerateRequest) -> Reply:
        """Reply to one request in its style; 422 (unknown style), 413 (prompt too long)."""
        start = time.perf_counter()
        try:
            future = router.submit(StyleRequest(body.style, body.prompt, body.max_new_tokens))
        except UnknownStyleError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        except PromptTooLongError as err:
            raise HTTPException(status_code=413, detail=str(err)) from None
        except RouterError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        reply = await asyncio.wrap_future(future)
        return Reply(style=body.style, reply=reply, seconds=round(time.perf_counter() - start, 4))

    return app


def load_router(adapters: str | Path, profile_name: str = "tiny", base: str | None = None, **router_kwargs):
    """The router for the adapters under ``adapters/<style>/``; a missing folder names the notebook to run."""
    from . import get_profile
    from .router import StyleRouter, adapter_folders

    folder = Path(adapters)
    if not folder.is_dir() or not adapter_folders(folder):
        raise SystemExit(f"no style adapters in {folder}: run {NOTEBOOK} first (it saves one adapter per "
                         f"style under <artifacts_dir>/06_multi_style_lora/adapters/)")
    return StyleRouter.from_folder(folder, base_path=base, profile=get_profile(profile_name), **router_kwargs)


def main(argv: list[str] | None = None) -> None:
    """Command line: load the adapters and serve them with uvicorn until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m helpers.service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--adapters", default=DEFAULT_ADAPTERS, help="folder with one adapter folder per style")
    parser.add_argument("--profile", default="tiny", help="profile whose base model the adapters were trained on")
    parser.add_argument("--base", help="base model folder or hub name (default: the profile's)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=20.0,
                        help="how long the worker waits for more requests to batch with the first")
    parser.add_argument("--max-prompt-tokens", type=int, default=128)
    args = parser.parse_args(argv)

    from .trl_configs import quiet_libraries

    quiet_libraries()
    router = load_router(args.adapters, args.profile, args.base, max_batch_size=args.max_batch_size,
                         max_wait_ms=args.max_wait_ms, max_prompt_tokens=args.max_prompt_tokens)
    print(f"serving styles {', '.join(router.styles)} on http://{args.host}:{args.port}", file=sys.stderr)
    try:
        uvicorn.run(create_app(router), host=args.host, port=args.port)
    finally:
        router.close()


if __name__ == "__main__":
    main()
