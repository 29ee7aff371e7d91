"""Tests never reach the network: only loopback and unix sockets are allowed."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import NetworkBlocked, NetworkGuard


@pytest.fixture
def server() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener  # type: ignore[misc]
    listener.close()


@pytest.mark.parametrize(
    "address",
    [("203.0.113.7", 443), ("api.telegram.org", 443), ("8.8.8.8", 53)],
)
def test_outside_connections_are_refused(network_guard: NetworkGuard, address: tuple) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlocked, match="must not use the network"):
            sock.connect(address)
        with pytest.raises(NetworkBlocked):
            sock.connect_ex(address)
    with pytest.raises(NetworkBlocked):
        socket.create_connection(address, timeout=1)
    assert len(network_guard.blocked) == 3
    network_guard.blocked.clear()  # the refusal was the point of this test


def test_ipv6_outside_is_refused(network_guard: NetworkGuard) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("2001:db8::1", 443, 0, 0))
    network_guard.blocked.clear()


def test_loopback_is_allowed(server: socket.socket) -> None:
    port = server.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    with socket.create_connection(("localhost", port), timeout=5):
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) == 0


def test_unix_sockets_are_allowed(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
