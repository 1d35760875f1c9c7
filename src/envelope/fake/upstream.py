"""A very fast OpenAI-compatible fake upstream, for benchmarks and fault injection.

It is written on a raw `asyncio.Protocol` (no web framework) so that it costs the
machine as little CPU as possible while a benchmark measures the gateway in front of
it: HTTP/1.1 keep-alive and pipelining, request bodies by `Content-Length` only,
streams sent with `Transfer-Encoding: chunked`, replies built from pre-encoded byte
templates.

Routes, each under an optional prefix that selects the behaviour (so a gateway
deployment's `base_url` picks it):

    POST {prefix}/v1/chat/completions    GET {prefix}/v1/models
    POST {prefix}/v1/embeddings

    prefix ""                             normal, answers at once
    /fault/status-{code}                  that status (e.g. 400, 429, 500, 503) with an
                                          OpenAI-shaped error body; any route
    /fault/hang                           never answers; closes when the client does
    /fault/delay-{ms}                     waits ms before answering (headers included)
    /fault/slow-first-token-{ms}          streams: headers at once, first chunk after ms;
                                          otherwise like delay-{ms}
    /fault/slow-stream-{ms}               streams: headers at once, then one event every
                                          ms (a long, live stream); otherwise like delay-{ms}
    /fault/cut                            streams: two content chunks, then the
                                          connection closes (no terminating chunk, no
                                          [DONE]); otherwise a Content-Length larger
                                          than the body, then close
    /fault/malformed                      200 with a body that is not JSON; streams:
                                          `data: {not json` then `data: [DONE]`
    /fault/no-usage                       streams carry no usage chunk even when
                                          stream_options.include_usage is true

Chat replies are deterministic: the content is n words `"word word ..."` with
n = min(max_completion_tokens or max_tokens or 16, 64); completion_tokens = n;
prompt_tokens = (characters of all message contents) // 4 + 1; finish_reason is
"length" when the caller's limit set n, else "stop". A stream splits the content
into min(20, len(content)) character slices of near-equal size, one event each (so
the default reply streams 20 content chunks): the first carries `delta.role`, the
last carries `finish_reason`; then, when `stream_options.include_usage` is set, a
chunk with `choices: []` and `usage`; then `data: [DONE]`. A normal stream is sent
in one write, one HTTP chunk per event.

Embeddings are unit vectors of dimension 8 derived from a hash of each input
(`encoding_format` "float" or "base64").
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import math
import signal
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

import msgspec

STREAM_CHUNKS: Final = 20
DEFAULT_REPLY_WORDS: Final = 16
MAX_REPLY_WORDS: Final = 64
EMBEDDING_DIM: Final = 8
MODELS: Final = ("fake-model", "fake-small", "fake-large")
MAX_HEAD_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_FAULT_CACHE_SIZE: Final = 256

FaultKind = Literal["status", "hang", "delay", "slow-first-token", "slow-stream", "cut", "malformed", "no-usage"]


@dataclass(frozen=True, slots=True)
class Fault:
    """A behaviour selected by the `/fault/{name}` path prefix."""

    kind: FaultKind
    status: int = 0
    delay_s: float = 0.0


def parse_fault(name: str) -> Fault | None:
    """The fault named by a path segment (`status-503`, `delay-250`, `hang`...), or None."""
    if name in ("hang", "cut", "malformed", "no-usage"):
        return Fault(name)  # type: ignore[arg-type]  # narrowed by the tuple above
    prefixes = (
        ("status-", "status"),
        ("delay-", "delay"),
        ("slow-first-token-", "slow-first-token"),
        ("slow-stream-", "slow-stream"),
    )
    for prefix, kind in prefixes:
        number = name.removeprefix(prefix)
        if number != name and number.isdigit():
            value = int(number)
            if kind == "status":
                return Fault("status", status=value) if 400 <= value <= 599 else None
            return Fault(kind, delay_s=value / 1000)  # type: ignore[arg-type]
    return None


# --- request shapes: only the fields the fake needs -----------------------------------


class _Part(msgspec.Struct):
    text: str | None = None


class _Message(msgspec.Struct):
    content: str | list[_Part] | None = None


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = False


class _ChatRequest(msgspec.Struct):
    model: str = ""
    messages: list[_Message] = []
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool | None = False
    stream_options: _StreamOptions | None = None


class _EmbeddingRequest(msgspec.Struct):
    input: str | list[str | int | list[int]] = ""
    model: str = ""
    encoding_format: str | None = "float"


_decode_chat: Final = msgspec.json.Decoder(_ChatRequest).decode
_decode_embedding: Final = msgspec.json.Decoder(_EmbeddingRequest).decode
_encode: Final = msgspec.json.encode


# --- pre-encoded replies ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """Everything about an n-word reply that does not depend on the request."""

    content_json: bytes
    stop_tails: tuple[bytes, ...]  # stream event tails, the last with finish_reason "stop"
    length_tails: tuple[bytes, ...]  # the same, ending with "length"


def _text(words: int) -> _Text:
    content = " ".join(["word"] * words)
    pieces = min(STREAM_CHUNKS, len(content))
    cuts = [i * len(content) // pieces for i in range(pieces + 1)]
    deltas = [_encode({"content": content[a:b]}) for a, b in itertools.pairwise(cuts)]
    deltas[0] = _encode({"role": "assistant", "content": content[: cuts[1]]})

    def tails(finish: bytes) -> tuple[bytes, ...]:
        reasons = [b"null"] * (len(deltas) - 1) + [finish]
        pairs = zip(deltas, reasons, strict=True)
        return tuple(b'%b,"logprobs":null,"finish_reason":%b}]}\n\n' % pair for pair in pairs)

    return _Text(_encode(content), tails(b'"stop"'), tails(b'"length"'))


_TEXTS: Final = tuple(_text(n) for n in range(1, MAX_REPLY_WORDS + 1))

_CHAT_BODY: Final = (
    b'{"id":"chatcmpl-%d","object":"chat.completion","created":%d,"model":%b,'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":%b,"refusal":null},'
    b'"logprobs":null,"finish_reason":"%b"}],'
    b'"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}'
)
_CHUNK_PREFIX: Final = (
    b'data: {"id":"chatcmpl-%d","object":"chat.completion.chunk","created":%d,"model":%b,"choices":[{"index":0,"delta":'
)
_USAGE_EVENT: Final = (
    b'data: {"id":"chatcmpl-%d","object":"chat.completion.chunk","created":%d,"model":%b,'
    b'"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}\n\n'
)
_DONE_EVENT: Final = b"data: [DONE]\n\n"
_MALFORMED_EVENTS: Final = (b"data: {not json\n\n", _DONE_EVENT)
_MALFORMED_BODY: Final = b'{"id": "chatcmpl-malformed", not json'
_MODELS_BODY: Final = _encode(
    {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "envelope-fake"} for m in MODELS],
    }
)
_REASONS: Final = MappingProxyType({
    200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
    413: b"Payload Too Large", 429: b"Too Many Requests", 431: b"Request Header Fields Too Large",
    500: b"Internal Server Error", 501: b"Not Implemented", 503: b"Service Unavailable",
})  # fmt: skip
_STREAM_HEAD: Final = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
)
_LAST_CHUNK: Final = b"0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class _Json:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class _Stream:
    events: Sequence[bytes]  # whole SSE events, `data: ...\n\n`


def _error(status: int, message: str) -> _Json:
    kind = "invalid_request_error" if status < 500 else "server_error"
    code = {404: "not_found", 429: "rate_limit_exceeded"}.get(status)
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return _Json(status, _encode(body))


def _json_response(reply: _Json, *, keep_alive: bool, extra_length: int = 0) -> bytes:
    reason = _REASONS.get(reply.status, b"Error")
    extra = b"retry-after: 1\r\n" if reply.status in (429, 503) else b""
    if not keep_alive:
        extra += b"connection: close\r\n"
    return b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%b\r\n%b" % (
        reply.status, reason, len(reply.body) + extra_length, extra, reply.body,
    )  # fmt: skip


def _chunks(events: Sequence[bytes]) -> bytes:
    return b"".join([b"%x\r\n%b\r\n" % (len(event), event) for event in events])


def _stream_head(keep_alive: bool) -> bytes:
    return _STREAM_HEAD + (b"\r\n" if keep_alive else b"connection: close\r\n\r\n")


# --- behaviour -------------------------------------------------------------------------


def _prompt_tokens(messages: list[_Message]) -> int:
    chars = 0
    for message in messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:
            chars += sum(len(part.text or "") for part in content)
    return chars // 4 + 1


def _embedding(item: str | list[int]) -> list[float]:
    data = item.encode() if isinstance(item, str) else struct.pack(f"<{len(item)}q", *item)
    raw = struct.unpack(f"<{EMBEDDING_DIM}h", hashlib.blake2b(data, digest_size=2 * EMBEDDING_DIM).digest())
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


class _App:
    """Per-server state: request ids and a small cache of parsed fault prefixes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._ids = itertools.count(1)
        self._faults: dict[bytes, Fault | None] = {}

    def fault(self, name: bytes) -> Fault | None:
        """The fault for a `/fault/{name}` segment, parsed once."""
        if name in self._faults:
            return self._faults[name]
        fault = parse_fault(name.decode("latin-1"))
        if len(self._faults) < _FAULT_CACHE_SIZE:
            self._faults[name] = fault
        return fault

    def respond(self, method: bytes, path: bytes, body: bytes, fault: Fault | None) -> _Json | _Stream:
        """The reply to one request, before any timing or connection fault is applied."""
        if fault is not None and fault.kind == "status":
            return _error(fault.status, f"injected fault: upstream answered {fault.status}")
        if path == b"/v1/chat/completions":
            return self._chat(body, fault) if method == b"POST" else _error(405, "use POST")
        if path == b"/v1/embeddings":
            return self._embeddings(body, fault) if method == b"POST" else _error(405, "use POST")
        if path == b"/v1/models":
            if method != b"GET":
                return _error(405, "use GET")
            return _Json(200, _MALFORMED_BODY if _is(fault, "malformed") else _MODELS_BODY)
        return _error(404, f"no route {path.decode('latin-1')}")

    def _chat(self, body: bytes, fault: Fault | None) -> _Json | _Stream:
        try:
            request = _decode_chat(body)
        except msgspec.DecodeError as exc:
            return _error(400, f"invalid request body: {exc}")
        limit = request.max_completion_tokens if request.max_completion_tokens is not None else request.max_tokens
        if limit is not None and limit < 1:
            return _error(400, "max_tokens must be at least 1")
        if _is(fault, "malformed"):
            return _Stream(_MALFORMED_EVENTS) if request.stream else _Json(200, _MALFORMED_BODY)
        words = min(DEFAULT_REPLY_WORDS if limit is None else limit, MAX_REPLY_WORDS)
        length = limit is not None and limit <= MAX_REPLY_WORDS
        prompt = _prompt_tokens(request.messages)
        rid, created, model = next(self._ids), int(time.time()), _encode(request.model)
        text = _TEXTS[words - 1]
        if not request.stream:
            finish = b"length" if length else b"stop"
            return _Json(
                200, _CHAT_BODY % (rid, created, model, text.content_json, finish, prompt, words, prompt + words)
            )
        prefix = _CHUNK_PREFIX % (rid, created, model)
        events = [prefix + tail for tail in (text.length_tails if length else text.stop_tails)]
        options = request.stream_options
        if options is not None and options.include_usage and not _is(fault, "no-usage"):
            events.append(_USAGE_EVENT % (rid, created, model, prompt, words, prompt + words))
        events.append(_DONE_EVENT)
        return _Stream(events)

    def _embeddings(self, body: bytes, fault: Fault | None) -> _Json:
        try:
            request = _decode_embedding(body)
        except msgspec.DecodeError as exc:
            return _error(400, f"invalid request body: {exc}")
        if _is(fault, "malformed"):
            return _Json(200, _MALFORMED_BODY)
        raw = request.input
        items: list[str | list[int]]
        if isinstance(raw, str):
            items = [raw]
        elif raw and all(isinstance(x, int) for x in raw):
            items = [[x for x in raw if isinstance(x, int)]]  # one input given as token ids
        else:
            items = [x for x in raw if not isinstance(x, int)]
        tokens = sum(len(x) // 4 + 1 if isinstance(x, str) else len(x) for x in items)
        as_base64 = request.encoding_format == "base64"
        data = []
        for index, item in enumerate(items):
            vector = _embedding(item)
            encoded: list[float] | str = (
                base64.b64encode(struct.pack(f"<{EMBEDDING_DIM}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return _Json(200, _encode({"object": "list", "data": data, "model": request.model, "usage": usage}))


def _is(fault: Fault | None, kind: FaultKind) -> bool:
    return fault is not None and fault.kind == kind


# --- HTTP/1.1 --------------------------------------------------------------------------


_Request = tuple[bytes, bytes, bytes, bool]  # method, target, body, keep-alive


def _header(fields: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (given as b"\\r\\nname:") in lower-cased header lines."""
    start = fields.find(name)
    if start < 0:
        return None
    start += len(name)
    end = fields.find(b"\r\n", start)
    return fields[start : end if end >= 0 else len(fields)].strip()


class _Connection(asyncio.Protocol):
    """One client connection: parses requests in order, answers each in turn."""

    def __init__(self, app: _App) -> None:
        self._app = app
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False  # a reply is pending (delay, hang) or the connection is closing
        self._timer: asyncio.TimerHandle | None = None
        self._continued = False  # "100 Continue" already sent for the pending request

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # always a stream transport here

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._drain()

    def _drain(self) -> None:
        while not self._busy and self._transport is not None:
            request = self._next_request()
            if request is None:
                return
            self._dispatch(request)

    def _next_request(self) -> _Request | None:
        buffer = self._buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES:
                self._reject(431, "request head too large")
            return None
        line_end = buffer.find(b"\r\n", 0, end + 2)
        fields = bytes(buffer[line_end:end]).lower()
        parts = bytes(buffer[:line_end]).split(b" ")
        length_text = _header(fields, b"\r\ncontent-length:")
        if len(parts) != 3 or (length_text is not None and not length_text.isdigit()):
            self._reject(400, "malformed request")
            return None
        if b"\r\ntransfer-encoding:" in fields:
            self._reject(501, "chunked request bodies are not supported")
            return None
        length = int(length_text) if length_text else 0
        if length > MAX_BODY_BYTES:
            self._reject(413, "request body too large")
            return None
        total = end + 4 + length
        if len(buffer) < total:
            if not self._continued and b"\r\nexpect: 100-continue" in fields and self._transport is not None:
                self._continued = True  # curl waits for this before sending a large body
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        self._continued = False
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        connection = _header(fields, b"\r\nconnection:") or b""
        keep_alive = b"close" not in connection if parts[2] == b"HTTP/1.1" else b"keep-alive" in connection
        return parts[0], parts[1], body, keep_alive

    def _dispatch(self, request: _Request) -> None:
        method, target, body, keep_alive = request
        path = target.partition(b"?")[0]
        fault = None
        if path.startswith(b"/fault/"):
            name, _, rest = path[7:].partition(b"/")
            fault = self._app.fault(name)
            if fault is None:
                self._write(_json_response(_error(404, "unknown fault"), keep_alive=keep_alive), keep_alive)
                return
            path = b"/" + rest
        if fault is not None and fault.kind == "hang":
            self._busy = True  # never answer; connection_lost cleans up
            return
        reply = self._app.respond(method, path, body, fault)
        if isinstance(reply, _Json):
            self._send_json(reply, fault, keep_alive)
        else:
            self._send_stream(reply, fault, keep_alive)

    def _send_json(self, reply: _Json, fault: Fault | None, keep_alive: bool) -> None:
        if fault is None or fault.kind in ("status", "malformed", "no-usage"):
            self._write(_json_response(reply, keep_alive=keep_alive), keep_alive)
        elif fault.kind == "cut":
            self._write(_json_response(reply, keep_alive=False, extra_length=64), False)
        else:  # delay, slow-first-token, slow-stream
            self._later(fault.delay_s, _json_response(reply, keep_alive=keep_alive), keep_alive)

    def _send_stream(self, reply: _Stream, fault: Fault | None, keep_alive: bool) -> None:
        head = _stream_head(keep_alive)
        kind = None if fault is None else fault.kind
        if kind == "cut":
            self._write(_stream_head(False) + _chunks(reply.events[:2]), False)
        elif kind == "delay":
            assert fault is not None
            self._later(fault.delay_s, head + _chunks(reply.events) + _LAST_CHUNK, keep_alive)
        elif kind == "slow-first-token":
            assert fault is not None and self._transport is not None
            self._transport.write(head)
            self._later(fault.delay_s, _chunks(reply.events) + _LAST_CHUNK, keep_alive)
        elif kind == "slow-stream":
            assert fault is not None and self._transport is not None
            self._transport.write(head)
            self._drip(list(reply.events), fault.delay_s, keep_alive)
        else:
            self._write(head + _chunks(reply.events) + _LAST_CHUNK, keep_alive)

    def _write(self, data: bytes, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        transport.write(data)
        if not keep_alive:
            self._busy = True
            transport.close()

    def _later(self, delay_s: float, data: bytes, keep_alive: bool) -> None:
        self._busy = True
        self._timer = self._app.loop.call_later(delay_s, self._resume, data, keep_alive)

    def _drip(self, events: list[bytes], delay_s: float, keep_alive: bool) -> None:
        """Send one event now and the rest one every `delay_s`, then end the stream."""
        if not events:
            self._resume(_LAST_CHUNK, keep_alive)
            return
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.write(_chunks(events[:1]))
        self._busy = True
        self._timer = self._app.loop.call_later(delay_s, self._drip, events[1:], delay_s, keep_alive)

    def _resume(self, data: bytes, keep_alive: bool) -> None:
        self._timer = None
        self._busy = False
        self._write(data, keep_alive)
        self._drain()

    def _reject(self, status: int, message: str) -> None:
        self._buffer.clear()
        self._write(_json_response(_error(status, message), keep_alive=False), False)


# --- entry points ----------------------------------------------------------------------


async def serve(host: str, port: int) -> asyncio.Server:
    """Start the fake upstream on host:port (0 picks a free port); already listening.

    The caller closes it (`server.close()`); close client connections first, since
    on Python 3.12+ `wait_closed()` waits for them.
    """
    loop = asyncio.get_running_loop()
    app = _App(loop)
    return await loop.create_server(lambda: _Connection(app), host, port, backlog=1024)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve_until_signalled(host: str, port: int) -> None:
    server = await serve(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {host}:{bound}", flush=True)
    try:
        await stop.wait()
    finally:
        server.close()


def run(host: str = "127.0.0.1", port: int = 8089) -> None:
    """Serve until SIGINT/SIGTERM, on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve_until_signalled(host, port))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: `python -m envelope.fake.upstream [--host H] [--port N]`."""
    parser = argparse.ArgumentParser(
        prog="python -m envelope.fake.upstream",
        description="A fast OpenAI-compatible fake upstream with fault injection by path prefix "
        "(/fault/{status-NNN|hang|delay-MS|slow-first-token-MS|slow-stream-MS|cut|malformed|no-usage}/v1/...).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port to bind; 0 picks a free one (default 8089)")
    args = parser.parse_args(argv)
    run(args.host, args.port)


if __name__ == "__main__":
    main()
