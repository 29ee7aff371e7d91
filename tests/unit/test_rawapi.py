"""handlers.telegram.rawapi: whole requests in one write, answers parsed, closed connections
told apart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from handlers.telegram.rawapi import Answer, NoAnswer, NotSent, RawBotApi

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Serve], Awaitable[str]]]:
    """Start a loopback server with the given connection handler; yields its base URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Serve) -> str:
        srv = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(srv)
        port = srv.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/bot123:ABC"

    yield start
    for srv in servers:
        srv.close()
        await srv.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    body = await reader.readexactly(int(headers["content-length"]))
    return lines[0], headers, body


def response(body: dict[str, object], status: int = 200, *, chunked: bool = False) -> bytes:
    data = json.dumps(body).encode()
    if chunked:
        middle = len(data) // 2
        payload = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n"
                           for part in (data[:middle], data[middle:])) + b"0\r\n\r\n"
        return (f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + payload)
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data


async def test_a_request_and_its_answers(server: Callable[[Serve], Awaitable[str]]) -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []
    answers = [response({"ok": True, "result": {"message_id": 7}}),
               response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                         "parameters": {"retry_after": 3}}, 429, chunked=True),
               response({"ok": False, "error_code": 403, "description": "Forbidden"}, 403)]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            seen.append(await read_request(reader))
            writer.write(answer)
            await writer.drain()
        writer.close()

    api = RawBotApi(await server(handler))
    assert api.host_header.startswith("127.0.0.1:")
    connection = await api.connect()
    request = api.request("sendMessage", {"chat_id": 42, "text": "Halo ✓"})
    connection.write(request)
    assert await connection.answer() == Answer(True, result={"message_id": 7})
    connection.write(api.request("sendPhoto", {"chat_id": 42, "photo": "AgAD"}))
    assert await connection.answer() == Answer(False, 429, "Too Many Requests", 3.0)
    connection.write(api.request("sendMessage", {"chat_id": 43, "text": "x"}))
    assert (await connection.answer()).error_code == 403
    connection.close()

    line, headers, body = seen[0]
    assert line == "POST /bot123:ABC/sendMessage HTTP/1.1"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"chat_id": 42, "text": "Halo ✓"}
    assert seen[1][0] == "POST /bot123:ABC/sendPhoto HTTP/1.1"


async def test_a_closed_idle_connection_is_not_sent_a_cut_answer_is_unknown(
    server: Callable[[Serve], Awaitable[str]],
) -> None:
    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(response({"ok": True, "result": True}))
        await writer.drain()
        writer.close()  # keep-alive ends: the next request on it is never read

    api = RawBotApi(await server(one_then_close))
    connection = await api.connect()
    connection.write(api.request("sendMessage", {"chat_id": 1, "text": "a"}))
    assert (await connection.answer()).ok
    await asyncio.sleep(0.05)
    with pytest.raises(NotSent):  # the closing is seen before writing
        connection.write(api.request("sendMessage", {"chat_id": 1, "text": "b"}))
    assert not connection.fresh

    async def read_then_hang_up(reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\"")
        await writer.drain()
        writer.close()

    api = RawBotApi(await server(read_then_hang_up))
    connection = await api.connect()
    connection.write(api.request("sendMessage", {"chat_id": 1, "text": "c"}))
    with pytest.raises(NoAnswer):  # it was read: maybe delivered
        await connection.answer()


async def test_cannot_connect_is_not_sent() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    with pytest.raises(NotSent):
        await RawBotApi(f"http://127.0.0.1:{port}/bot1:A").connect()


def test_proxies_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    api = RawBotApi("https://api.telegram.org/bot1:A")
    assert (api.tls, api.port, api.host_header, api.path) == (
        True, 443, "api.telegram.org", "/bot1:A")
    assert api.usable()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.local:3128")
    assert not api.usable()
    monkeypatch.setenv("NO_PROXY", "api.telegram.org")
    assert api.usable()
    with pytest.raises(ValueError):
        RawBotApi("ftp://example.org/bot")
