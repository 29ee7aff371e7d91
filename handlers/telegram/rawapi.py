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

`Pool` is the same client for ordinary requests: keep-alive connections per origin, for
PTB's requests (`handlers.telegram.request`) and WhatsApp's message posts
(`handlers.whatsapp.outbound.Graph`), at a fraction of httpx's CPU per request.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
import urllib.request
from collections import defaultdict
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
        return _answer(*await self.response(READ_TIMEOUT_S))

    async def response(self, limit_s: float | None) -> tuple[int, bytes]:
        """Status and body of the response to the request written last (`limit_s` per read)."""
        reused = self.requests > 1
        try:
            async with asyncio.timeout(limit_s):  # no task per read, unlike wait_for
                head = await self.reader.readuntil(b"\r\n\r\n")
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
            async with asyncio.timeout(limit_s):
                body = await self._body(headers)
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise NoAnswer(f"incomplete answer: {exc!r}") from exc
        self.last_used = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

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
        if "content-length" not in headers and headers.get("connection", "").lower() == "close":
            return await self.reader.read()  # the body ends with the connection
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


async def connect(host: str, port: int, tls: ssl.SSLContext | None,
                  limit_s: float | None) -> Connection:
    """A new connection to `host`; NotSent if none can be made within `limit_s`."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
            limit_s)
    except (TimeoutError, OSError) as exc:
        raise NotSent(f"cannot connect: {exc!r}") from exc
    return Connection(reader, writer)


Origin = tuple[str, str, int]  # scheme, host, port


def origin_of(url: str) -> tuple[Origin, str, str]:
    """(origin, request target, Host header) of an http(s) URL."""
    split = urlsplit(url)
    scheme = split.scheme or "http"
    if scheme not in ("http", "https") or not split.hostname:
        raise ValueError(f"unsupported URL: {scheme}://{split.hostname}")
    origin = (scheme, split.hostname, split.port or (443 if scheme == "https" else 80))
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return origin, target, split.netloc


def http_request(method: str, target: str, host: str, headers: list[str],
                 body: bytes = b"") -> bytes:
    """A whole HTTP/1.1 request; `headers` as "Name: value" lines."""
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers]
    if body or method != "GET":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


class Pool:
    """Keep-alive connections per origin, at most `size` requests in flight at once.

    `exchange` raises NotSent when the request certainly did not leave (no free slot in
    time, cannot connect) and NoAnswer when it may have; a timeout is the exception's
    `__cause__` (TimeoutError). A reused connection that the server had closed is retried
    once on a new one.
    """

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)
        self._idle: defaultdict[Origin, list[Connection]] = defaultdict(list)
        self._tls: ssl.SSLContext | None = None

    def close(self) -> None:
        """Close the idle connections (those in use close when their request ends)."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def exchange(self, origin: Origin, request: bytes, *, read_s: float | None,
                       write_s: float | None = None, connect_s: float | None = None,
                       pool_s: float | None = None) -> tuple[int, bytes]:
        """Send `request` to `origin`; the status and body of the answer."""
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), pool_s)
            except TimeoutError as exc:
                raise NotSent("no free connection") from exc
        else:
            await self._slots.acquire()
        try:
            try:
                return await self._once(origin, request, read_s, write_s, connect_s, True)
            except NotSent:  # a reused connection the server had closed: once more, anew
                return await self._once(origin, request, read_s, write_s, connect_s, False)
        finally:
            self._slots.release()

    async def _once(self, origin: Origin, request: bytes, read_s: float | None,
                    write_s: float | None, connect_s: float | None,
                    reuse: bool) -> tuple[int, bytes]:
        connection = await self._connection(origin, connect_s, reuse)
        done = False
        try:
            connection.write(request)
            if connection.writer.transport.get_write_buffer_size():  # e.g. a large upload
                try:
                    async with asyncio.timeout(write_s):
                        await connection.writer.drain()
                except (TimeoutError, OSError) as exc:
                    raise NoAnswer(f"write failed: {exc!r}") from exc
            answer = await connection.response(read_s)
            done = True
            return answer
        finally:
            if done and connection.fresh:
                self._idle[origin].append(connection)
            else:
                connection.close()

    async def _connection(self, origin: Origin, connect_s: float | None,
                          reuse: bool) -> Connection:
        idle = self._idle[origin]
        while reuse and idle:
            connection = idle.pop()
            if connection.fresh:
                return connection
            connection.close()
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        return await connect(host, port, tls, connect_s)  # a new one never says NotSent


def proxied(url: str) -> bool:
    """True when an HTTP proxy from the environment applies to `url`'s host."""
    split = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(split.scheme) or proxies.get("all")):
        return False
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    return not (no_proxy == "*" or split.hostname in {h.strip() for h in no_proxy.split(",")})


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
        return not proxied(f"{'https' if self.tls else 'http'}://{self.host}/")

    async def connect(self) -> Connection:
        return await connect(self.host, self.port, self._ssl, CONNECT_TIMEOUT_S)

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
