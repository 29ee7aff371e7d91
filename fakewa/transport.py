"""An httpx transport that sends Graph API requests to the local fake instead of Meta."""

from __future__ import annotations

import httpx

GRAPH_HOSTS = frozenset({"graph.facebook.com", "lookaside.fbsbx.com"})


class RedirectTransport(httpx.AsyncBaseTransport):
    """Rewrite https://graph.facebook.com/... to the fake's http://127.0.0.1:PORT/...

    pywa sets ``session.base_url`` to Meta's host itself, so the redirect has to happen
    below it; other URLs (e.g. the fake's own media links) pass through unchanged.
    """

    def __init__(self, root_url: str) -> None:
        self._root = httpx.URL(root_url)
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, to the fake when it is aimed at Meta."""
        if request.url.host in GRAPH_HOSTS:
            request.url = request.url.copy_with(
                scheme=self._root.scheme, host=self._root.host, port=self._root.port
            )
            request.headers["Host"] = f"{self._root.host}:{self._root.port}"
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._inner.aclose()
