"""The minimal HTTP/1.1 client against a raw socket server that answers in every legal way."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from vaultinject.vault.http import Connection, ConnectionClosed, ProtocolError

Handler = Callable[[socket.socket, bytes], bool]  # returns False to close the connection


@contextmanager
def raw_server(handler: Handler) -> Iterator[tuple[int, list[bytes]]]:
    """A server on 127.0.0.1 that passes each request's bytes to `handler`."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                keep = True
                while keep:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            keep = False
                            break
                        data += chunk
                    if not keep:
                        break
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    requests.append(head + b"\r\n\r\n" + rest)
                    keep = handler(conn, data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], requests
    finally:
        stop.set()
        thread.join()
        listener.close()


def answer(body: bytes, *, extra: str = "", keep: bool = True) -> Handler:
    def handle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body)
        return keep

    return handle


def test_content_length_answer_and_keep_alive_reuses_one_connection() -> None:
    with raw_server(answer(b'{"ok":true}')) as (port, requests):
        connection = Connection("127.0.0.1", port)
        for _ in range(3):
            response = connection.request("GET", "/v1/sys/health", {"X-Vault-Request": "true"})
            assert (response.status, response.body) == (200, b'{"ok":true}')
        connection.close()
    assert len(requests) == 3
    assert requests[0].startswith(b"GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-Vault-Request: true" in requests[0]


def test_chunked_answers_with_extensions_and_trailers() -> None:
    def handle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        return True

    with raw_server(handle) as (port, _):
        assert Connection("127.0.0.1", port).request("GET", "/", {}).body == b"hello world"


def test_a_body_is_sent_with_its_length() -> None:
    with raw_server(answer(b"", extra="")) as (port, requests):
        Connection("127.0.0.1", port).request(
            "PUT", "/v1/x", {"Content-Type": "application/json"}, b'{"a":1}'
        )
    assert requests[0].endswith(b'Content-Length: 7\r\n\r\n{"a":1}')


def test_connection_close_and_unframed_bodies_close_the_connection() -> None:
    def handle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close")
        return False

    with raw_server(handle) as (port, _):
        connection = Connection("127.0.0.1", port)
        assert connection.request("GET", "/", {}).body == b"until-close"
        assert not connection.open


def test_interim_100_answers_are_skipped_and_204_has_no_body() -> None:
    def handle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        return True

    with raw_server(handle) as (port, _):
        response = Connection("127.0.0.1", port).request("PUT", "/", {}, b"{}")
    assert (response.status, response.body) == (204, b"")


def test_a_server_that_closes_without_answering_raises_connection_closed() -> None:
    with raw_server(lambda _conn, _request: False) as (port, _), pytest.raises(ConnectionClosed):
        Connection("127.0.0.1", port).request("GET", "/", {})


@pytest.mark.parametrize(
    "garbage", [b"SMTP ready\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"]
)
def test_garbage_is_a_protocol_error(garbage: bytes) -> None:
    def handle(conn: socket.socket, _request: bytes) -> bool:
        conn.sendall(garbage)
        return False

    with raw_server(handle) as (port, _), pytest.raises(ProtocolError):
        Connection("127.0.0.1", port).request("GET", "/", {})


def test_connect_proxy_tunnels_to_the_target() -> None:
    with raw_server(answer(b"through")) as (target_port, target_requests):

        def proxy(conn: socket.socket, request: bytes) -> bool:
            assert request.startswith(f"CONNECT 127.0.0.1:{target_port} HTTP/1.1".encode())
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            upstream = socket.create_connection(("127.0.0.1", target_port))
            data = conn.recv(65536)
            upstream.sendall(data)
            conn.sendall(upstream.recv(65536))
            upstream.close()
            return False

        with raw_server(proxy) as (proxy_port, _):
            connection = Connection("127.0.0.1", target_port, proxy=("127.0.0.1", proxy_port))
            assert connection.request("GET", "/v1/x", {}).body == b"through"
    assert target_requests[0].startswith(b"GET /v1/x HTTP/1.1")
