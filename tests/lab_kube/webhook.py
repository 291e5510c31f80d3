"""A small real HTTPS admission webhook for tests: answers AdmissionReviews with a function of the request."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vaultinject.lab import tls

Review = dict[str, Any]
Answer = Callable[[Review], dict[str, Any]]


def allow(review: Review) -> dict[str, Any]:
    del review
    return {"allowed": True}


def constant(response: dict[str, Any]) -> Answer:
    """Answer every review with the same response fields."""

    def answer(review: Review) -> dict[str, Any]:
        del review
        return dict(response)

    return answer


def add_label(key: str, value: str) -> Answer:
    """Answer with a JSON patch that adds one label (creating the labels map if needed)."""

    def answer(review: Review) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels")
        op = {"op": "add", "path": f"/metadata/labels/{key.replace('/', '~1')}", "value": value}
        patch = [op] if labels else [{"op": "add", "path": "/metadata/labels", "value": {key: value}}]
        return {"allowed": True, "patch": patch}

    return answer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that gave up (the timeout test) leaves a broken pipe behind; that is expected."""


class Webhook:
    """Serves on 127.0.0.1 with a certificate for `hosts` from its own CA; records every review."""

    def __init__(
        self, answer: Answer = allow, hosts: tuple[str, ...] = ("127.0.0.1",), delay: float = 0.0
    ) -> None:
        self.ca = tls.CertificateAuthority.create("test webhook CA")
        self.pair = self.ca.issue(list(hosts))
        self.answer = answer
        self.delay = delay
        self.reviews: list[Review] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def ca_bundle(self) -> str:
        return base64.b64encode(self.ca.cert_pem).decode()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str = "/mutate") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def start(self, directory: Any) -> None:
        cert, key = self.pair.write(directory, "webhook")
        context = tls.server_context(cert, key)
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with webhook._lock:
                    webhook.reviews.append({**review, "path": self.path})
                if webhook.delay:
                    time.sleep(webhook.delay)
                response = {"uid": review["request"]["uid"], **webhook.answer(review)}
                if isinstance(response.get("patch"), list):
                    response["patch"] = base64.b64encode(json.dumps(response["patch"]).encode()).decode()
                    response.setdefault("patchType", "JSONPatch")
                body = json.dumps(
                    {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def running_webhook(directory: Any, answer: Answer = allow, **kwargs: Any) -> Iterator[Webhook]:
    webhook = Webhook(answer, **kwargs)
    webhook.start(directory)
    try:
        yield webhook
    finally:
        webhook.stop()


def configuration(name: str, client_config: dict[str, Any], **webhook: Any) -> dict[str, Any]:
    """A MutatingWebhookConfiguration with one webhook for pod CREATE (override any field)."""
    hook = {
        "name": f"{name}.lab.vaultinject.io",
        "clientConfig": client_config,
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Fail",
        **webhook,
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [hook],
    }
