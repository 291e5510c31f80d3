"""The kubelet's HTTPS client to the lab API server (bearer token file, CA file); satisfies `ApiReader`."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

JSON = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer; `status` is the HTTP code, `body` the decoded Status (or text)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Gone(ApiError):
    """410: the watch's resourceVersion is too old; re-list."""


class ApiClient:
    """One kept-alive connection per thread; the token file is re-read on every request (rotation)."""

    def __init__(self, server: str, ca_file: Path, token_file: Path, timeout: float = 30) -> None:
        parts = urlsplit(server)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 443
        self.token_file = token_file
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self._local = threading.local()

    def _connection(self, timeout: float | None) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def _headers(self, content_type: str) -> dict[str, str]:
        token = self.token_file.read_text().strip()
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": content_type,
            "Accept": "application/json",
        }

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connection(self.timeout)
            try:
                conn.request(method, path, body=data, headers=self._headers(content_type))
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
                continue
            answer: Any = json.loads(raw) if raw.startswith((b"{", b"[")) else raw.decode(errors="replace")
            if response.status == 410:
                raise Gone(response.status, answer)
            if response.status >= 300:
                raise ApiError(response.status, answer)
            return answer
        raise AssertionError("unreachable")

    # --- ApiReader ---

    def get_json(self, path: str) -> JSON | None:
        try:
            return dict(self.request("GET", path))
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    def post_json(self, path: str, body: JSON) -> JSON:
        return dict(self.request("POST", path, body))

    # --- writes ---

    def patch_json(self, path: str, body: JSON, kind: str = "merge") -> JSON:
        content_type = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
        }
        return dict(self.request("PATCH", path, body, content_type[kind]))

    def put_json(self, path: str, body: JSON) -> JSON:
        return dict(self.request("PUT", path, body))

    def delete(self, path: str, body: JSON | None = None) -> Any:
        return self.request("DELETE", path, body)

    # --- list and watch ---

    def list(self, path: str, field_selector: str = "") -> JSON:
        query = f"?fieldSelector={quote(field_selector)}" if field_selector else ""
        return dict(self.request("GET", path + query))

    def watch(
        self, path: str, resource_version: str, field_selector: str = "", timeout: int = 300
    ) -> Iterator[JSON]:
        """Watch events from `resource_version`; raises `Gone` on 410 (an ERROR event with code 410 too)."""
        query = f"?watch=true&allowWatchBookmarks=true&resourceVersion={resource_version}"
        query += f"&timeoutSeconds={timeout}"
        if field_selector:
            query += f"&fieldSelector={quote(field_selector)}"
        conn = self._connection(timeout + 30)
        try:
            conn.request("GET", path + query, headers=self._headers("application/json"))
            response = conn.getresponse()
            if response.status >= 300:
                raw = response.read()
                answer: Any = json.loads(raw) if raw.startswith(b"{") else raw.decode(errors="replace")
                raise (Gone if response.status == 410 else ApiError)(response.status, answer)
            for line in response:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR" and obj.get("code") == 410:
                    raise Gone(410, obj)
                yield event
        finally:
            conn.close()
