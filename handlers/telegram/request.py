"""A lean `BaseRequest` for PTB: all Bot API traffic on the project's keep-alive client.

Why: PTB's default `HTTPXRequest` costs about 1 ms of CPU per call, several times what
the call itself needs, and a KIM-Bot update makes one or two calls. This one builds the
whole request in memory (a JSON body, or multipart for uploads) and sends it on a pooled
keep-alive connection from `rawapi`. PTB keeps the rest: JSON parsing and the mapping of
Telegram's answers to `RetryAfter`, `BadRequest`, `Forbidden` … (`BaseRequest.post`).

Transport failures are mapped like `HTTPXRequest` does: timeouts to `TimedOut`, others to
`NetworkError`; when the request certainly did not leave, the message says "*not* sent"
(as PTB's pool timeout does), so the delivery loop may retry it without doubt. HTTP
proxies are not supported here: `lean_request` falls back to `HTTPXRequest` behind one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from handlers.telegram.rawapi import NoAnswer, NotSent, Pool, http_request, origin_of, proxied

LOST = "no answer"  # NetworkError messages that start with this: the request may have arrived
NOT_SENT = "Request was *not* sent to Telegram"

_DEFAULT = BaseRequest.DEFAULT_NONE


class LeanRequest(BaseRequest):
    """PTB's `BaseRequest` on pooled keep-alive HTTP/1.1 connections (see the module doc)."""

    def __init__(self, connection_pool_size: int = 256, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0,
                 media_write_timeout: float | None = 20.0) -> None:
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._pool = Pool(connection_pool_size)
        self._headers = [f"User-Agent: {self.USER_AGENT}", "Accept: */*"]

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to do: connections are opened on first use."""

    async def shutdown(self) -> None:
        """Close the idle connections (those in use close when their call ends)."""
        self._pool.close()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = _DEFAULT, write_timeout: Any = _DEFAULT,
                         connect_timeout: Any = _DEFAULT,
                         pool_timeout: Any = _DEFAULT) -> tuple[int, bytes]:
        """Send one request; its status code and body."""
        origin, target, host = origin_of(url)
        uploads = request_data is not None and request_data.contains_files
        headers, body = self._headers, b""
        if request_data is not None and uploads:
            content_type, body = _multipart(request_data)
            headers = [*headers, f"Content-Type: {content_type}"]
        elif request_data is not None and (parameters := request_data.parameters):
            # One JSON body: a fraction of the CPU of form encoding (which quotes every byte
            # of the text and JSON-encodes each keyboard on its own first).
            body = json.dumps(parameters, ensure_ascii=False, separators=(",", ":")).encode()
            headers = [*headers, "Content-Type: application/json"]
        if write_timeout is _DEFAULT:
            write_timeout = self._media_write_timeout if uploads else self._write_timeout
        try:
            return await self._pool.exchange(
                origin, http_request(method, target, host, headers, body),
                read_s=self._read_timeout if read_timeout is _DEFAULT else read_timeout,
                write_s=write_timeout,
                connect_s=self._connect_timeout if connect_timeout is _DEFAULT
                else connect_timeout,
                pool_s=self._pool_timeout if pool_timeout is _DEFAULT else pool_timeout)
        except NotSent as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise TimedOut(f"Timed out ({exc}). {NOT_SENT}.") from exc
            raise NetworkError(f"{exc}. {NOT_SENT}.") from exc
        except NoAnswer as exc:
            if isinstance(exc.__cause__, TimeoutError):
                raise TimedOut(f"Timed out waiting for the answer ({LOST})") from exc
            raise NetworkError(f"{LOST}: {exc}") from exc


def json_data(parameters: dict[str, Any]) -> RequestData:
    """Parameters that are JSON already (no files), as PTB's request layer takes them: what a
    reply sends without PTB's objects (`handlers.telegram.outbound.call`)."""
    # RequestParameter is what PTB builds for each parameter itself (its module is internal).
    return RequestData([RequestParameter(name, value, None)
                        for name, value in parameters.items()])


def _multipart(data: RequestData) -> tuple[str, bytes]:
    """Content type and body of a multipart/form-data upload: parameters, then files."""
    boundary = uuid.uuid4().hex
    dash = f"--{boundary}\r\n".encode()
    parts: list[bytes] = []
    for name, value in data.json_parameters.items():
        parts += [dash, f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode(),
                  value.encode(), b"\r\n"]
    for name, (filename, content, mimetype) in data.multipart_data.items():
        payload = content if isinstance(content, bytes) else bytes(content.read())
        parts += [dash,
                  (f'Content-Disposition: form-data; name="{_quote(name)}"; '
                   f'filename="{_quote(filename or name)}"\r\n'
                   f"Content-Type: {mimetype or 'application/octet-stream'}\r\n\r\n").encode(),
                  payload, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


def _quote(value: str) -> str:
    """A field or file name safe inside the quotes of a Content-Disposition header."""
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace(
        "\n", "%0A")


def lean_request(base_url: str, connection_pool_size: int) -> BaseRequest:
    """`LeanRequest`, or PTB's `HTTPXRequest` when a proxy applies to `base_url`."""
    if proxied(base_url):
        return HTTPXRequest(connection_pool_size=connection_pool_size)
    return LeanRequest(connection_pool_size)
