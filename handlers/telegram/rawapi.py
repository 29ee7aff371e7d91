"""A minimal Bot API client for broadcast sends: the request leaves in one synchronous write.

Why not PTB's `Bot` (httpx) here: the broadcaster must commit "this delivery is being
sent" before its request leaves, and nothing may happen in between, or a process killed
in that gap leaves a recipient marked as served who never was (see `bot.delivery`).
httpx writes headers and body in separate awaited steps, so other tasks run between
the commit and the last byte, and the gap is milliseconds. Here the whole request is
built first and handed to the socket with one `transport.write()` right after the
commit, in the same event-loop step: the gap is microseconds.

Keep-alive HTTP/1.1 connections, one request at a time on each (the Telegram channel in
`handlers.telegram.delivery` keeps a small pool, one per send in flight); JSON bodies
(file ids, not uploads); TLS for https. Everything else stays with PTB. `usable()` is
False behind an HTTP proxy (not supported here): broadcasts then go through PTB.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 30.0
IDLE_REUSE_S = 20.0  # an idle connection older than this is replaced, not reused
USER_AGENT = "KIM-Bot broadcaster"


class NotSent(Exception):
    """The request certainly did not reach the server (connect failed, closed before)."""


class NoAnswer(Exception):
    """The request left but no complete answer came: it may have been delivered."""


@dataclass(frozen=True)
class Answer:
    """Telegram's answer: ok, or an error code with description and retry_after."""

    ok: bool
    error_code: int = 0
    description: str = ""
    retry_after: float | None = None
    result: Any = None


def _answer(status: int, body: bytes) -> Answer:
    try:
        data = json.loads(body)
    except ValueError:
        return Answer(False, status, f"unreadable answer ({status})")
    if not isinstance(data, dict):
        return Answer(False, status, f"unreadable answer ({status})")
    if data.get("ok"):
        return Answer(True, result=data.get("result"))
    parameters = data.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return Answer(False, int(data.get("error_code") or status),
                  str(data.get("description") or ""),
                  float(retry_after) if retry_after is not None else None)


class Connection:
    """One keep-alive connection; `write` is synchronous, `answer` reads the response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.monotonic()
        self.requests = 0

    @property
    def fresh(self) -> bool:
        return (not self.writer.transport.is_closing() and not self.reader.at_eof()
                and time.monotonic() - self.last_used < IDLE_REUSE_S)

    def write(self, request: bytes) -> None:
        """Hand the whole request to the socket now (no await). NotSent if it cannot."""
        if self.writer.transport.is_closing() or self.reader.at_eof():
            self.close()
            raise NotSent("connection closed")
        self.writer.write(request)
        self.requests += 1

    async def answer(self) -> Answer:
        """The response to the request written last."""
        reused = self.requests > 1
        try:
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        except asyncio.IncompleteReadError as exc:
            self.close()
            if not exc.partial and reused:
                # An idle keep-alive connection the server had already closed: it read
                # nothing of ours (a server that processed a request answers it).
                raise NotSent("connection closed by the server") from exc
            raise NoAnswer("connection closed before the answer") from exc
        except (TimeoutError, OSError, asyncio.LimitOverrunError) as exc:
            self.close()
            raise NoAnswer(f"no answer: {exc!r}") from exc
        try:
            status, headers = _head(head)
            body = await asyncio.wait_for(self._body(headers), READ_TIMEOUT_S)
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise NoAnswer(f"incomplete answer: {exc!r}") from exc
        self.last_used = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return _answer(status, body)

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(chunk[:-2])
            return b"".join(chunks)
        return await self.reader.readexactly(int(headers.get("content-length", "0")))

    def close(self) -> None:
        if not self.writer.transport.is_closing():
            self.writer.close()


def _head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class RawBotApi:
    """Builds Bot API requests for `base_url` (PTB's `bot.base_url`: …/bot<token>)."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"unsupported Bot API URL: {url.scheme}://{url.hostname}")
        self.tls = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.tls else 80)
        self.path = url.path.rstrip("/")
        default_port = self.port == (443 if self.tls else 80)
        self.host_header = self.host if default_port else f"{self.host}:{self.port}"
        self._ssl = ssl.create_default_context() if self.tls else None

    def usable(self) -> bool:
        """False when an HTTP proxy is configured for this host (PTB handles proxies)."""
        proxies = urllib.request.getproxies_environment()
        wanted = proxies.get("https" if self.tls else "http") or proxies.get("all")
        if not wanted:
            return True
        no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
        return self.host in {h.strip() for h in no_proxy.split(",")} or no_proxy == "*"

    async def connect(self) -> Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=self._ssl,
                                        server_hostname=self.host if self.tls else None),
                CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            raise NotSent(f"cannot connect: {exc!r}") from exc
        return Connection(reader, writer)

    def request(self, method: str, params: dict[str, Any]) -> bytes:
        """The complete HTTP request (headers and JSON body) for one API call."""
        body = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        head = (f"POST {self.path}/{method} HTTP/1.1\r\n"
                f"Host: {self.host_header}\r\n"
                f"User-Agent: {USER_AGENT}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                "Connection: keep-alive\r\n\r\n")
        return head.encode("latin-1") + body
