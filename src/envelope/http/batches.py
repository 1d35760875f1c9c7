"""The batch API's routes (OpenAI-compatible), for any key; each tenant sees only its own.

POST   /v1/files                    multipart: file (JSONL), purpose=batch → file object
GET    /v1/files[?purpose=]         list
GET    /v1/files/{id}               file object
GET    /v1/files/{id}/content       the file's bytes (input, output or error JSONL)
DELETE /v1/files/{id}
POST   /v1/batches                  {input_file_id, endpoint, completion_window, metadata?} → batch object
GET    /v1/batches[?after=&limit=]  list, newest first
GET    /v1/batches/{id}
POST   /v1/batches/{id}/cancel
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from envelope.batch.batches import Batches
from envelope.batch.objects import batch_object, file_object
from envelope.bootstrap import Gateway
from envelope.errors import BodyTooLarge, InvalidRequest
from envelope.http.responses import json_response
from envelope.keys import KeyRecord
from envelope.pipeline.context import RequestContext
from envelope.wire import convert, decode_object

MAX_PAGE = 100


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True):
    input_file_id: str
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = None


async def _caller(request: Request, *, bind_route: bool = False) -> tuple[Batches, KeyRecord]:
    gateway: Gateway = request.app.state.gateway
    ctx = RequestContext("batch-api", "chat", request.headers, b"")
    if bind_route:  # the route and feature the batch's requests will run on must exist and be allowed
        await gateway.authenticate.run(ctx)
        assert ctx.key is not None
        key = ctx.key
    else:
        key = await gateway.authenticate.key_of(ctx)
    assert gateway.batches is not None
    return gateway.batches, key


def _listing(objects: list[dict[str, Any]], request: Request) -> Response:
    after = request.query_params.get("after")
    raw_limit = request.query_params.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE}.", param="limit")
    ids = [o["id"] for o in objects]
    start = ids.index(after) + 1 if after in ids else 0
    shown = objects[start : start + int(raw_limit)]
    return json_response({
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": start + len(shown) < len(objects),
    })  # fmt: skip


async def upload_file(request: Request) -> Response:
    batches, key = await _caller(request)
    gateway: Gateway = request.app.state.gateway
    limit = gateway.config.gateway.batch.max_file_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + 64 * 1024:  # room for the multipart framing
        raise BodyTooLarge(f"The upload is {declared} bytes; the file limit is {limit}.")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Upload the file as multipart/form-data with fields 'file' and 'purpose'.")
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:
        raise InvalidRequest(f"Malformed multipart body: {exc.detail}", code="invalid_multipart") from exc
    try:
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest("The form has no file in field 'file'.", param="file")
        if not isinstance(purpose, str):
            raise InvalidRequest("The form has no 'purpose'.", param="purpose")
        content = await upload.read(limit + 1)
        record = await batches.upload(key, filename=upload.filename or "", purpose=purpose, content=content)
    finally:
        await form.close()
    return json_response(file_object(record))


async def list_files(request: Request) -> Response:
    batches, key = await _caller(request)
    records = await batches.files(key, request.query_params.get("purpose"))
    return _listing([file_object(r) for r in records], request)


async def get_file(request: Request) -> Response:
    batches, key = await _caller(request)
    return json_response(file_object(await batches.file(key, request.path_params["file_id"])))


async def file_content(request: Request) -> Response:
    batches, key = await _caller(request)
    content = await batches.content(key, request.path_params["file_id"])
    return Response(content, media_type="application/jsonl")


async def delete_file(request: Request) -> Response:
    batches, key = await _caller(request)
    file_id = request.path_params["file_id"]
    await batches.delete(key, file_id)
    return json_response({"id": file_id, "object": "file", "deleted": True})


async def create_batch(request: Request) -> Response:
    batches, key = await _caller(request, bind_route=True)
    ask: BatchRequest = convert(decode_object(await request.body()), BatchRequest)
    record = await batches.create(
        key,
        input_file_id=ask.input_file_id,
        endpoint=ask.endpoint,
        completion_window=ask.completion_window,
        metadata=ask.metadata,
        headers=request.headers,
    )
    return json_response(batch_object(record))


async def list_batches(request: Request) -> Response:
    batches, key = await _caller(request)
    records = await batches.batches(key)
    return _listing([batch_object(r) for r in records], request)


async def get_batch(request: Request) -> Response:
    batches, key = await _caller(request)
    return json_response(batch_object(await batches.batch(key, request.path_params["batch_id"])))


async def cancel_batch(request: Request) -> Response:
    batches, key = await _caller(request)
    return json_response(batch_object(await batches.cancel(key, request.path_params["batch_id"])))


routes = [
    Route("/v1/files", upload_file, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/{file_id}", get_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
    Route("/v1/batches", create_batch, methods=["POST"]),
    Route("/v1/batches", list_batches, methods=["GET"]),
    Route("/v1/batches/{batch_id}", get_batch, methods=["GET"]),
    Route("/v1/batches/{batch_id}/cancel", cancel_batch, methods=["POST"]),
]
