"""A schema-driven fuzz of the style service (Schemathesis against its OpenAPI schema): whatever
the body, the answer is never a server error."""
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from helpers import get_profile
from helpers.core import models
from helpers.serving.random_adapters import make_random_adapters
from helpers.serving.router import StyleRouter
from helpers.serving.service import create_app


def _app():
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(prefix="fuzz-adapters-"))
    make_random_adapters(models.base_model_path(get_profile("tiny")), root, ("news_brief", "social_ad"), seed=9)
    router = StyleRouter.from_folder(root, max_prompt_tokens=32, default_max_new_tokens=4, max_new_tokens_limit=8,
                                     max_batch_size=4, max_queue=8)
    return create_app(router, max_body_bytes=8_000, request_timeout_s=30)


def test_no_request_gets_a_server_error():
    """Every operation of the schema, with requests Hypothesis draws from it (valid and not); the
    pytest plugin of Schemathesis does not load under pytest 9, so its strategies are driven here."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/styles", "/generate", "/v1/models", "/v1/chat/completions"}
    seen = set()
    runs = [(op, GenerationMode.POSITIVE) for op in operations]
    runs += [(op, GenerationMode.NEGATIVE) for op in operations if op.method.upper() == "POST"]  # GET has no input
    for operation, mode in runs:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case):
            response = case.call()
            seen.add(response.status_code)
            assert response.status_code < 500, (case.body, response.status_code, response.text[:300])
        call()
    assert {200, 400, 422} <= seen  # both well-formed and malformed requests were sent
