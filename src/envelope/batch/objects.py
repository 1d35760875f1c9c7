"""OpenAI's wire shapes for the batch API: file and batch objects, and the lines of a
batch's output and error files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from envelope.batch.records import BatchItem, BatchRecord, FileRecord, ItemStatus

_TIMES = (
    "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
    "cancelling_at", "cancelled_at",
)  # fmt: skip
# Why an item that never ran ends in the error file.
_UNRUN: dict[ItemStatus, tuple[str, str]] = {
    "cancelled": ("batch_cancelled", "The batch was cancelled before this request ran."),
    "expired": ("batch_expired", "The batch expired before this request ran."),
    "pending": ("batch_expired", "The batch ended before this request ran."),
}


def file_object(record: FileRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": int(record.created_at),
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "expires_at": None,
    }


def batch_object(record: BatchRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "object": "batch",
        "endpoint": record.endpoint,
        "errors": None,
        "input_file_id": record.input_file_id,
        "completion_window": record.completion_window,
        "status": record.status,
        "output_file_id": record.output_file_id,
        "error_file_id": record.error_file_id,
        "request_counts": {"total": record.total, "completed": record.completed, "failed": record.failed},
        "metadata": msgspec.json.decode(record.metadata) if record.metadata else None,
    }
    for name in _TIMES:
        value = getattr(record, name)
        out[name] = None if value is None else int(value)
    if record.errors:
        out["errors"] = {"object": "list", "data": msgspec.json.decode(record.errors)}
    return out


def result_files(items: Sequence[BatchItem], *, batch_id: str) -> tuple[bytes, bytes]:
    """The output file (answered items) and the error file (failed and unrun items), JSONL in line order."""
    output: list[bytes] = []
    errors: list[bytes] = []
    for item in items:
        line: dict[str, Any] = {"id": f"batch_req_{batch_id}_{item.index}", "custom_id": item.custom_id}
        if item.status == "done":
            line["response"] = _response(item)
            line["error"] = None
            output.append(msgspec.json.encode(line))
        elif item.status == "failed":
            body = _decoded(item.response)
            detail = body.get("error", {}) if isinstance(body, dict) else {}
            line["response"] = _response(item)
            line["error"] = {"code": detail.get("code"), "message": detail.get("message", "The request failed.")}
            errors.append(msgspec.json.encode(line))
        else:
            code, message = _UNRUN[item.status]
            line["response"] = None
            line["error"] = {"code": code, "message": message}
            errors.append(msgspec.json.encode(line))
    return _jsonl(output), _jsonl(errors)


def _response(item: BatchItem) -> dict[str, Any]:
    return {"status_code": item.status_code, "request_id": item.request_id, "body": _decoded(item.response)}


def _decoded(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return {"raw": text}


def _jsonl(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)
