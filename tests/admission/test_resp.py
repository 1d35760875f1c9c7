"""The lean RESP client: parsing, pipelining, NOSCRIPT recovery, and failures that
must become StoreUnavailable quickly (refused connect, silent server, dropped link)."""

from __future__ import annotations

import asyncio
import time

import pytest

from envelope.admission.ports import StoreUnavailable
from envelope.admission.resp import Address, RedisReplyError, RespClient, encode, parse

REDIS = "redis://127.0.0.1:6379/0"
ECHO = "return {tonumber(ARGV[1]) + 1, ARGV[2], KEYS[1]}"


def test_encode_and_parse_round_trip() -> None:
    assert encode(("SET", "k", 1.5)) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n"
    buffer = bytearray(b"*4\r\n:1\r\n$3\r\nabc\r\n$-1\r\n*1\r\n+OK\r\n-ERR no\r\n")
    value, offset = parse(buffer, 0)  # type: ignore[misc]
    assert value == [1, b"abc", None, [b"OK"]]
    error, end = parse(buffer, offset)  # type: ignore[misc]
    assert isinstance(error, RedisReplyError) and end == len(buffer)
    assert parse(bytearray(b"$5\r\nab"), 0) is None  # incomplete: wait for more


def test_address_parsing() -> None:
    a = Address.parse("redis://user:p%40ss@10.0.0.1:6380/3")
    assert (a.host, a.port, a.db, a.username, a.password) == ("10.0.0.1", 6380, 3, "user", "p@ss")
    with pytest.raises(ValueError):
        Address.parse("rediss://x")


async def test_pipelined_scripts_answer_in_order() -> None:
    client = RespClient(REDIS, timeout_s=2, scripts={"echo": ECHO})
    try:
        replies = await asyncio.gather(*[client.script("echo", ["k"], [i, f"v{i}"]) for i in range(300)])
        assert replies == [[i + 1, f"v{i}".encode(), b"k"] for i in range(300)]
    finally:
        await client.close()


async def test_a_flushed_script_is_loaded_again() -> None:
    client = RespClient(REDIS, timeout_s=2, scripts={"echo": ECHO})
    try:
        assert (await client.script("echo", ["k"], [1, "x"]))[0] == 2
        await client.call("SCRIPT", "FLUSH")
        assert (await client.script("echo", ["k"], [2, "x"]))[0] == 3
    finally:
        await client.close()


async def test_refused_connect_fails_then_fails_fast() -> None:
    client = RespClient("redis://127.0.0.1:1/0", timeout_s=1, scripts={}, retry_s=5)
    with pytest.raises(StoreUnavailable):
        await client.call("PING")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="moments ago"):
        await client.call("PING")
    assert time.monotonic() - started < 0.05


async def test_a_silent_server_times_out() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(f"redis://127.0.0.1:{port}/0", timeout_s=0.2, scripts={})
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await client.call("PING")
        assert time.monotonic() - started < 1.0
    finally:
        await client.close()
        server.close()


async def test_a_dropped_connection_fails_pending_calls_and_reconnects() -> None:
    client = RespClient(REDIS, timeout_s=2, scripts={})
    try:
        client_id = await client.call("CLIENT", "ID")
        pending = asyncio.ensure_future(client.call("BLPOP", "envelope-test-never", 5))
        await asyncio.sleep(0.05)
        killer = RespClient(REDIS, timeout_s=2, scripts={})
        assert await killer.call("CLIENT", "KILL", "ID", client_id) == 1
        await killer.close()
        with pytest.raises(StoreUnavailable):
            await pending
        assert await client.call("PING") == b"PONG"  # a fresh connection
    finally:
        await client.close()
