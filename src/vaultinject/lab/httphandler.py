"""The lab servers' request loop: http.server's, except that every method reaches the server's dispatch,
so an unknown verb gets the server's own error envelope rather than the standard library's 501 page."""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

MAX_REQUEST_LINE = 65536  # http.server's own limit


class EveryMethodHandler(BaseHTTPRequestHandler):
    """Subclasses implement `_dispatch` (any method) and `send_error` (in their envelope)."""

    def handle_one_request(self) -> None:
        self.command, self.requestline = "", ""
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if self.parse_request():
            self._dispatch()

    def _dispatch(self) -> None:
        raise NotImplementedError
