"""The HTTP layer: OpenAI's /v1/models and /v1/chat/completions over a ModelPool.

Every error leaves in OpenAI's shape ({"error": {"message", "type", "param", "code"}}) with
the status OpenAI would use, so client libraries raise their usual exception types.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import AsyncIterator, Callable, Iterator

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..generation import GenerationSettings
from . import schemas
from .models import Generation, ModelPool, PromptTooLong, UnknownModel
from .monitor import RequestLog, RequestRecord


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, schemas.error_body(message, kind, code, param)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body, status_code=error.status)


def create_api(pool: ModelPool, log: RequestLog, api_key: str | None = None, defaults: GenerationSettings | None = None) -> FastAPI:
    defaults = defaults or GenerationSettings()
    app = FastAPI(title="assistant", summary="OpenAI-compatible chat API for tuned assistants")
    app.state.pool = pool

    def require_key(authorization: str | None = Header(default=None)) -> None:
        """A dependency, not a middleware: Starlette's BaseHTTPMiddleware hides client
        disconnects from streaming responses, which must stop generating when one leaves."""
        if not api_key:
            return
        token = authorization[7:] if authorization and authorization.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):
            log.write(RequestRecord(request_id=f"req-{uuid.uuid4().hex[:12]}", model=None, stream=False,
                                    status=401, error="invalid_api_key"))
            raise ApiError(401, "Incorrect API key provided (expected 'Authorization: Bearer KEY').",
                           code="invalid_api_key")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = [str(p) for p in first.get("loc", ()) if p != "body"]
        param = ".".join(where) or None
        if first.get("type") == "json_invalid":  # loc holds the character offset
            message, param = f"the request body is not valid JSON (at character {param})", None
        else:
            message = f"{param or 'body'}: {first.get('msg', 'invalid value')}"
        log.write(RequestRecord(request_id=f"req-{uuid.uuid4().hex[:12]}", model=None, stream=False, status=400,
                                error="invalid_request"))
        return error_response(ApiError(400, message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error_response(ApiError(exc.status_code, str(exc.detail), code=f"http_{exc.status_code}"))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "models": list(pool.served)}

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    @v1.get("/models")
    def list_models() -> dict:
        return {"object": "list", "data": [schemas.model_entry(m.name, m.created, m.description) for m in pool.served.values()]}

    @v1.get("/models/{name}")
    def get_model(name: str):
        try:
            served = pool.get(name)
        except UnknownModel:
            return error_response(unknown_model(name))
        return schemas.model_entry(served.name, served.created, served.description)

    @v1.post("/chat/completions")
    def chat_completions(body: schemas.ChatCompletionRequest):
        record = RequestRecord(request_id=schemas.completion_id(), model=body.model, stream=body.stream)
        try:
            generation = start_generation(pool, body, defaults, record)
        except ApiError as error:
            record.status, record.error = error.status, error.body["error"]["code"]
            log.write(record)
            return error_response(error)
        if body.stream:
            return StreamingResponse(stream_response(generation, body, record, log), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return whole_reply(generation, body, record, log)

    app.include_router(v1)
    return app


def unknown_model(name: str) -> ApiError:
    return ApiError(404, f"The model '{name}' does not exist; GET /v1/models lists the served ones.",
                    code="model_not_found", param="model")


def start_generation(pool: ModelPool, body: schemas.ChatCompletionRequest, defaults: GenerationSettings,
                     record: RequestRecord) -> Generation:
    try:
        served = pool.get(body.model)
    except UnknownModel:
        raise unknown_model(body.model) from None
    prompt_ids = pool.prompt_ids(served, [m.as_chat_turn() for m in body.messages])
    record.prompt_tokens = len(prompt_ids)
    try:
        budget = pool.new_token_budget(len(prompt_ids), body.token_limit(), defaults.max_new_tokens)
    except PromptTooLong as exc:
        raise ApiError(400, str(exc), code="context_length_exceeded", param="messages") from None
    settings = GenerationSettings(
        max_new_tokens=budget,
        temperature=defaults.temperature if body.temperature is None else body.temperature,
        top_p=defaults.top_p if body.top_p is None else body.top_p,
        repetition_penalty=defaults.repetition_penalty,
        seed=body.seed,
    )
    return Generation(pool, served, prompt_ids, settings, body.stop_list())


def finish(record: RequestRecord, generation: Generation, log: RequestLog) -> None:
    record.completion_tokens = generation.completion_tokens
    record.finish_reason = generation.finish_reason
    record.queue_ms = generation.queue_ms
    record.batch = generation.batch_size or None
    log.write(record)


def whole_reply(generation: Generation, body: schemas.ChatCompletionRequest, record: RequestRecord, log: RequestLog):
    try:
        pieces = []
        for piece in generation:
            record.first_token()
            pieces.append(piece)
    except Exception as exc:  # a failure inside generate(): answer 500 in OpenAI's shape
        record.status, record.error = 500, type(exc).__name__
        log.write(record)
        return error_response(ApiError(500, f"generation failed: {exc}", kind="server_error", code="generation_failed"))
    finish(record, generation, log)
    return schemas.completion(record.request_id, body.model, "".join(pieces), generation.finish_reason,
                              record.prompt_tokens, generation.completion_tokens)


def sse(payload: dict | str) -> str:
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)}\n\n"


def stream_events(generation: Generation, body: schemas.ChatCompletionRequest, record: RequestRecord,
                  before_last: Callable[[], None]) -> Iterator[str]:
    """Server-sent events in OpenAI's order: a role delta, content deltas, a delta with the
    finish reason, the usage chunk if asked for, then [DONE]. `before_last` runs just before
    the last event (the error event or [DONE]) is handed out, so the request is logged by the
    time a client has its whole reply."""
    cid, model = record.request_id, body.model
    yield sse(schemas.chunk(cid, model, {"role": "assistant", "content": ""}))
    try:
        for piece in generation:
            record.first_token()
            yield sse(schemas.chunk(cid, model, {"content": piece}))
    except Exception as exc:  # headers are already sent: report the failure as an error event
        record.status, record.error = 500, type(exc).__name__
        before_last()
        yield sse(schemas.error_body(f"generation failed: {exc}", "server_error", "generation_failed"))
        return
    yield sse(schemas.chunk(cid, model, {}, generation.finish_reason))
    if body.wants_usage_chunk():
        yield sse(schemas.chunk(cid, model, {}, usage_=schemas.usage(record.prompt_tokens, generation.completion_tokens)))
    before_last()
    yield sse("[DONE]")


async def stream_response(generation: Generation, body: schemas.ChatCompletionRequest, record: RequestRecord,
                          log: RequestLog) -> AsyncIterator[str]:
    """The events, each produced in a worker thread. A client that disconnects cancels this
    generator (Starlette watches the connection); the generation is then stopped at once, so
    the model goes to the next request instead of finishing a reply nobody reads."""
    logged = False

    def log_it() -> None:
        nonlocal logged
        finish(record, generation, log)
        logged = True

    events = stream_events(generation, body, record, before_last=log_it)
    try:
        while (event := await run_in_threadpool(next, events, None)) is not None:
            yield event
    finally:
        if not logged:
            generation.close()
            record.status, record.error = 499, "client_disconnected"
            finish(record, generation, log)
