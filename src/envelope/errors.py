"""The one error hierarchy of Envelope, and its OpenAI wire shape.

    EnvelopeError                      any failure a client may see
    ├── ClientError (4xx)              the request is at fault
    │   ├── InvalidRequest      400    malformed body, wrong types, bad header values
    │   ├── BodyTooLarge        413
    │   ├── AuthenticationFailed 401   missing, unknown or revoked key
    │   ├── PermissionDenied    403    a tenant key on an admin endpoint, a route not allowed
    │   ├── NotFound            404    unknown model, route or object
    │   ├── MethodNotAllowed    405
    │   ├── BudgetExceeded      400    the envelope cannot be met (input cap, cost ceiling)
    │   ├── RateLimited         429    a rate, concurrency, capacity or budget limit (Retry-After)
    │   └── ClientClosed        499    the client went away mid-answer (ledger only)
    ├── Unavailable         503    Envelope's own shared store is away and the policy refuses
    └── UpstreamError (5xx)            the model side is at fault
        ├── UpstreamFailed      502    5xx, refused connection, malformed answer
        ├── UpstreamTimeout     504    the latency budget ran out
        └── UpstreamUnavailable 503    no deployment could be started or reached

Adapters translate vendor exceptions into these at their edge; `http/errors.py` maps
them to responses in one place. Every error body has OpenAI's shape:
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import msgspec


class ErrorDetail(msgspec.Struct, omit_defaults=False):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


class EnvelopeError(Exception):
    """Base of every error Envelope reports to a client."""

    status: int = 500
    type: str = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.headers = headers or {}

    def body(self) -> ErrorBody:
        return ErrorBody(ErrorDetail(self.message, self.type, self.param, self.code))

    def encode(self) -> bytes:
        return msgspec.json.encode(self.body())


class ClientError(EnvelopeError):
    status = 400
    type = "invalid_request_error"


class InvalidRequest(ClientError):
    status = 400


class BodyTooLarge(ClientError):
    status = 413
    default_code = "request_too_large"


class AuthenticationFailed(ClientError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(ClientError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFound(ClientError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(ClientError):
    status = 405
    default_code = "method_not_allowed"


class BudgetExceeded(ClientError):
    status = 400
    default_code = "envelope_budget_exceeded"


class RateLimited(ClientError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class Unavailable(EnvelopeError):
    status = 503
    type = "service_unavailable"
    default_code = "admission_unavailable"


class ClientClosed(ClientError):
    """Never sent (nobody is listening); it marks an abandoned request in the ledger."""

    status = 499
    default_code = "client_closed_request"


class UpstreamError(EnvelopeError):
    status = 502
    type = "upstream_error"
    retryable: bool = True


class UpstreamFailed(UpstreamError):
    status = 502
    default_code = "upstream_failed"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"


class UpstreamUnavailable(UpstreamError):
    status = 503
    default_code = "upstream_unavailable"


class UpstreamRejected(UpstreamError):
    """The upstream answered 4xx: the request itself is bad for that model; not retried."""

    status = 400
    type = "invalid_request_error"
    default_code = "upstream_rejected"
    retryable = False
