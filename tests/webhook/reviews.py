"""AdmissionReviews and pods for webhook tests, and a driver that calls the ASGI app with no network."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from vaultinject.webhook import WebhookApp


def admission_review(
    obj: Any,
    uid: str = "uid-1",
    namespace: Any = "shop",
    api_version: str = "admission.k8s.io/v1",
    **request: Any,
) -> dict[str, Any]:
    body = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": namespace,
        "operation": "CREATE",
        "object": obj,
        **request,
    }
    return {"apiVersion": api_version, "kind": "AdmissionReview", "request": body}


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    app: WebhookApp,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    chunks: int = 1,
) -> Answer:
    """One request through the ASGI interface, the body split into `chunks` messages."""
    headers = [(b"content-type", content_type.encode())] if content_type is not None else []
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    head = {key.decode(): value.decode() for key, value in start["headers"]}
    return Answer(start["status"], head, b"".join(m.get("body", b"") for m in bodies))


def mutate(app: WebhookApp, review: Any) -> Answer:
    return call(app, "POST", "/mutate", json.dumps(review).encode())
