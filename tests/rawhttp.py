"""Raw HTTP/1.1 exchanges for hostile-input tests: exact bytes out, one parsed response back.

A dropped connection or a malformed response raises (http.client's errors), so a test that expects an
answer fails on either.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(
    method: str,
    target: str,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes = b"",
) -> bytes:
    """A request exactly as given: no header is added or fixed (not even Content-Length)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return head.encode("latin-1") + body


def chunked(*chunks: bytes) -> bytes:
    """A chunked body ending with the zero chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks if chunk) + b"0\r\n\r\n"


def exchange(
    address: tuple[str, int],
    data: bytes,
    *,
    context: ssl.SSLContext | None = None,
    timeout: float = 20,
    head: bool = False,
) -> Answer:
    """Send `data` on a fresh connection and read one response.

    The response is read while the request is still being written, as Go's client does: a server that
    answers early (413) and closes may reset the connection before a large body is fully sent.
    """
    raw = socket.create_connection(address, timeout=timeout)
    sock: socket.socket = context.wrap_socket(raw, server_hostname=address[0]) if context else raw
    if context is None:
        writer = threading.Thread(target=_send_ignoring_reset, args=(sock, data), daemon=True)
        writer.start()
    else:  # an SSL socket cannot be written and read from two threads at once
        sock.sendall(data)
    try:
        response = http.client.HTTPResponse(sock, method="HEAD" if head else None)
        response.begin()
        body = response.read()
        return Answer(
            response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, body
        )
    finally:
        sock.close()


def _send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server answered and closed: the reader gets the answer
        sock.sendall(data)


def number_token(token: str) -> tuple[str, str]:
    """A JSON number token spliced into `render_json` as written (`1e400`, `NaN`), not as a string."""
    return ("raw", token)


def render_json(value: Any) -> str:
    """JSON text of `value`, with every `number_token()` written out verbatim."""
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, list):
        return "[" + ",".join(render_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{render_json(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)
