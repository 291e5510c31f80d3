"""A minimal HTTP/1.1 client connection: keep-alive, Content-Length and chunked bodies, CONNECT proxies.

The standard library's `http.client` imports the `email` package to parse headers, which costs ~20 ms
of every agent's cold start; Vault's answers need none of it.
"""

from __future__ import annotations

import socket
import ssl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 200


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x we understand."""


class ConnectionClosed(OSError):
    """The server closed the connection before answering (a kept-alive connection it timed out)."""


class Response:
    """Status, lower-cased headers and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class Connection:
    """One TCP (or TLS) connection to `host:port`, optionally tunnelled through an HTTP proxy."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_name: str | None = None,
        timeout: float = 60.0,
        proxy: tuple[str, int] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.tls, self.server_name = tls, server_name or host
        self.timeout = timeout
        self.proxy = proxy
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    @property
    def open(self) -> bool:
        return self._socket is not None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes | None = None
    ) -> Response:
        """Send one request and read the whole answer; the connection stays open when the server allows."""
        if self._socket is None:
            self._connect()
        assert self._socket is not None
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {self._host_header()}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self._socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        response = self._read_response(method)
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def _host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.tls is not None else 80
        return host if self.port == default else f"{host}:{self.port}"

    def _connect(self) -> None:
        address = self.proxy or (self.host, self.port)
        raw = socket.create_connection(address, timeout=self.timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.proxy is not None:
                self._tunnel(raw)
            self._socket = self.tls.wrap_socket(raw, server_hostname=self.server_name) if self.tls else raw
        except BaseException:
            raw.close()
            raise
        self._reader = self._socket.makefile("rb")

    def _tunnel(self, raw: socket.socket) -> None:
        target = f"{self.host}:{self.port}"
        raw.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("latin-1"))
        reader = raw.makefile("rb")
        try:
            status, _ = _status_line(_line(reader))
            _headers(reader)
        finally:
            reader.close()
        if status != 200:
            raise ProtocolError(f"the proxy refused CONNECT {target} with HTTP {status}")

    def _read_response(self, method: str) -> Response:
        assert self._reader is not None
        while True:
            first = self._reader.readline(MAX_LINE + 1)
            if not first:
                self.close()
                raise ConnectionClosed("the server closed the connection without answering")
            status, version = _status_line(first)
            headers = _headers(self._reader)
            if status >= 200 or status == 101:
                break  # skip 1xx interim answers
        if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers["connection"] = "close"
        body = b"" if method == "HEAD" or status in {204, 304} else self._body(headers)
        return Response(status, headers, body)

    def _body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return _chunked(self._reader)
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            return _exactly(self._reader, length)
        headers["connection"] = "close"
        return self._reader.read()


def _line(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("a header line is too long")
    if not line:
        raise ConnectionClosed("the connection closed in the middle of an answer")
    return line


def _status_line(line: bytes) -> tuple[int, str]:
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
    return int(parts[1]), parts[0]


def _headers(reader: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        line = _line(reader)
        if line in {b"\r\n", b"\n"}:
            return headers
        name, separator, value = line.decode("latin-1").partition(":")
        if not separator:
            raise ProtocolError(f"malformed header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    raise ProtocolError("too many header lines")


def _exactly(reader: BinaryIO, length: int) -> bytes:
    body = reader.read(length)
    if len(body) != length:
        raise ConnectionClosed(f"the connection closed after {len(body)} of {length} body bytes")
    return body


def _chunked(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_line[:20]!r}") from None
        if size == 0:
            while _line(reader) not in {b"\r\n", b"\n"}:
                pass  # trailers
            return b"".join(parts)
        parts.append(_exactly(reader, size))
        _line(reader)
