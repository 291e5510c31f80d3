"""The webhook's ASGI application: `/mutate`, `/healthz`, `/readyz`, `/metrics`."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from vaultinject.spec import Settings
from vaultinject.webhook.metrics import Metrics
from vaultinject.webhook.review import BadReview, Decision, VerdictCache, denial, review

log = logging.getLogger("vaultinject.webhook")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Readiness = Callable[[], tuple[bool, str]]
DecisionLog = Callable[[str, dict[str, Any]], None]  # a decision's message and its fields

MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit; an AdmissionReview is smaller
# A decision's work grows with its input (annotations, templates), and one of a body this small takes
# milliseconds at worst: it runs on the event loop. Larger ones run on the pool, under the deadline.
INLINE_BODY = 64 * 1024
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


class Reply(Exception):
    """An HTTP error answer: status and a one-line message."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


class WebhookApp:
    """Answers AdmissionReviews with `review()`; each decision is counted, timed and logged once.

    A small review (nearly all of them) is decided on the event loop: handing it to a thread would triple
    its cost. A large one runs on a small thread pool, so one that overruns `deadline` is answered (refused,
    so the pod is retried rather than started without its secrets) before the API server gives up.
    Small reviews share a `VerdictCache`: the replicas of one ReplicaSet are decided once.
    """

    def __init__(
        self,
        settings: Settings,
        readiness: Readiness = lambda: (True, "ready"),
        metrics: Metrics | None = None,
        *,
        deadline: float = 8.0,
        workers: int = 4,
        decision_log: DecisionLog | None = None,
    ) -> None:
        self.settings = settings
        self.readiness = readiness
        self.metrics = metrics or Metrics()
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="review")
        self._cache = VerdictCache()  # used on the event loop only
        self._log_decision = decision_log or _log_decision

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, content_type, body = await self._route(scope, receive)
            await _respond(send, status, content_type, body)
        except Reply as reply:
            await _respond(send, reply.status, TEXT, (reply.message + "\n").encode(), reply.headers)

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
        path, method = scope["path"], scope["method"]
        if path == "/mutate":
            _allow(method, "POST")
            return 200, JSON, await self._mutate(scope, receive)
        if path in {"/healthz", "/readyz", "/metrics"}:
            _allow(method, "GET", "HEAD")
        if path == "/healthz":
            return 200, TEXT, b"ok\n"
        if path == "/readyz":
            ready, why = self.readiness()
            return (200 if ready else 503), TEXT, (why + "\n").encode()
        if path == "/metrics":
            return 200, self.metrics.content_type.encode(), self.metrics.render()
        raise Reply(404, f"no such path {path}; the webhook serves POST /mutate")

    async def _mutate(self, scope: Scope, receive: Receive) -> bytes:
        started = time.perf_counter()
        content_type = _header(scope, b"content-type").split(b";")[0].strip().lower()
        if content_type != JSON:
            self.metrics.reviews.labels("error").inc()
            raise Reply(415, "Content-Type must be application/json")
        body = await _read_body(scope, receive)
        try:
            decision = await self._decide(body)
        except BadReview as error:
            self.metrics.reviews.labels("error").inc()
            raise Reply(400, f"not an AdmissionReview for a pod: {error}") from None
        except TimeoutError:
            return self._refuse(body, "timeout", f"vaultinject could not decide within {self.deadline:g}s")
        except Exception as error:  # a bug of ours: refuse this pod, keep serving the others
            log.error("internal error deciding a review: %s at %s", type(error).__name__, _place(error))
            return self._refuse(body, "error", "vaultinject had an internal error deciding on this pod")
        self._account(decision, time.perf_counter() - started)
        return decision.body

    async def _decide(self, body: bytes) -> Decision:
        if len(body) <= INLINE_BODY:
            return review(body, self.settings, self._cache)
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            loop.run_in_executor(self._pool, review, body, self.settings), self.deadline
        )

    def _refuse(self, body: bytes, result: str, why: str) -> bytes:
        """Refuse the pod (it is retried, never started without its secrets) when no decision was made."""
        self.metrics.reviews.labels(result).inc()
        if result == "timeout":
            log.error("review took longer than %gs: refused", self.deadline)
        answer = denial(body, f"{why}; the pod was not admitted: retry, and report it if it persists")
        if answer is None:
            raise Reply(400, "not an AdmissionReview for a pod")
        return answer

    def _account(self, decision: Decision, seconds: float) -> None:
        self.metrics.decided(decision.result, decision.namespace, decision.mode, decision.rejected, seconds)
        message = f"{decision.result} {decision.namespace}/{decision.pod}"
        self._log_decision(message, _log_fields(decision, seconds))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _log_decision(message: str, fields: dict[str, Any]) -> None:
    log.info("%s", message, extra={"decision": fields})


def _place(error: BaseException) -> str:
    """Where an exception was raised (file and line): its message may quote pod data, so it is not logged."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"


def _log_fields(decision: Decision, seconds: float) -> dict[str, Any]:
    """What a decision's log line says: never an annotation's value, which may hold a template or a secret."""
    fields: dict[str, Any] = {
        "uid": decision.uid,
        "namespace": decision.namespace,
        "pod": decision.pod,
        "result": decision.result,
        "reason": decision.reason,
        "ms": round(seconds * 1000, 3),
    }
    if decision.mode:
        fields["mode"] = decision.mode
    if decision.rejected:
        fields["annotations"] = list(decision.rejected)
    if decision.dry_run:
        fields["dry_run"] = True
    return fields


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise Reply(405, f"method {method} is not allowed here; use {' or '.join(allowed)}",
                    ((b"allow", ", ".join(allowed).encode()),))  # fmt: skip


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key == name), b"")


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Reply(413, f"the body is larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Reply(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise Reply(413, f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    if not size:
        raise Reply(400, "the body is empty; POST an AdmissionReview")
    return b"".join(chunks)


async def _respond(
    send: Send, status: int, content_type: bytes, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    head = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
