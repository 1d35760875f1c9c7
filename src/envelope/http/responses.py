"""JSON answers of the routes that are not the proxy's (admin API, batch API, dashboards)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pydantic import BaseModel
from starlette.responses import Response


def json_response(value: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """`value` as JSON (dataclasses, msgspec structs and config documents included)."""
    body = msgspec.json.encode(value, enc_hook=_plain)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _plain(value: object) -> object:
    """Config documents inside reports are written as their fields."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise NotImplementedError(f"cannot encode {type(value).__name__}")
