"""The webhook admission chain: calls every matching mutating (then validating) webhook over verified TLS
with an AdmissionReview v1, applies returned JSON patches, and reports failures as the API server does
(k8s.io/apiserver/pkg/admission/plugin/webhook)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from vaultinject.lab.kube import defaults, patching
from vaultinject.lab.kube.model import AdmissionRequest
from vaultinject.lab.kube.selectors import LabelSelector, SelectorError
from vaultinject.lab.kube.status import ApiError, bad_request, internal
from vaultinject.lab.kube.store import Store

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_MUTATING = "mutatingwebhookconfigurations.admissionregistration.k8s.io"
_VALIDATING = "validatingwebhookconfigurations.admissionregistration.k8s.io"
_NEVER_ADMITTED = {_MUTATING, _VALIDATING}
ServiceResolver = Callable[[str, str, int], tuple[str, int]]


class CallFailed(Exception):
    """The webhook could not be called or answered nonsense; `failurePolicy` decides what happens."""


class ResolveError(Exception):
    pass


# --- matching ---


def _listed(values: list[str] | None, wanted: str) -> bool:
    return values is not None and ("*" in values or wanted in values)


def _rule_matches(rule: JSON, request: AdmissionRequest) -> bool:
    rt = request.rt
    if not _listed(rule.get("operations"), request.operation):
        return False
    if not _listed(rule.get("apiGroups"), rt.group) or not _listed(rule.get("apiVersions"), rt.version):
        return False
    scope = rule.get("scope") or "*"
    if (scope == "Namespaced" and not rt.namespaced) or (scope == "Cluster" and rt.namespaced):
        return False
    combined = f"{rt.plural}/{request.subresource}" if request.subresource else rt.plural
    for resource in rule.get("resources") or []:
        if resource in {"*/*", combined}:
            return True
        if resource == "*" and not request.subresource:
            return True
        head, _, tail = resource.partition("/")
        if tail and (head in {"*", rt.plural}) and tail in {"*", request.subresource}:
            return True
    return False


def _labels(obj: JSON | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


class WebhookAdmission:
    """Admission through the registered Mutating- and ValidatingWebhookConfigurations."""

    def __init__(self, store: Store, resolver: ServiceResolver | None = None) -> None:
        self.store = store
        self.resolver = resolver or self.resolve_service
        self._pool = _ConnectionPool()

    def close(self) -> None:
        self._pool.close()

    def admit(self, request: AdmissionRequest) -> JSON | None:
        if request.rt.storage_key in _NEVER_ADMITTED:
            return request.obj
        obj = request.obj
        for storage, mutating in ((_MUTATING, True), (_VALIDATING, False)):
            for config in self.store.list_objects(storage)[0]:
                for webhook in config.get("webhooks") or []:
                    if self._matches(webhook, request, obj):
                        obj = self._call_with_policy(webhook, request, obj, mutating)
        return obj

    def _matches(self, webhook: JSON, request: AdmissionRequest, obj: JSON | None) -> bool:
        if not any(_rule_matches(rule, request) for rule in webhook.get("rules") or []):
            return False
        try:
            namespace_selector = LabelSelector.from_json(webhook.get("namespaceSelector"))
            object_selector = LabelSelector.from_json(webhook.get("objectSelector"))
        except SelectorError:
            return False
        if request.rt.plural == "namespaces":
            if not namespace_selector.matches(_labels(obj or request.old)):
                return False
        elif request.rt.namespaced:
            namespace = self.store.get("namespaces", "", request.namespace)
            if not namespace_selector.matches(_labels(namespace)):
                return False
        return object_selector.matches(_labels(obj)) or (
            request.old is not None and object_selector.matches(_labels(request.old))
        )

    def _call_with_policy(
        self, webhook: JSON, request: AdmissionRequest, obj: JSON | None, mutating: bool
    ) -> JSON | None:
        name = webhook.get("name", "")
        if request.op.dry_run and webhook.get("sideEffects") not in {"None", "NoneOnDryRun"}:
            raise bad_request(f'admission webhook "{name}" does not support dry run')
        try:
            response = self._call(webhook, request, obj)
        except CallFailed as error:
            message = f'failed calling webhook "{name}": {error}'
            if webhook.get("failurePolicy") == "Ignore":
                log.warning("Failed calling webhook, failing open %s: %s", name, message)
                return obj
            raise internal(message) from None
        request.op.warnings.extend(str(w) for w in response.get("warnings") or [])
        if not response.get("allowed"):
            raise denial(name, response.get("status") or {})
        if mutating and response.get("patch") is not None and obj is not None:
            # The API server decodes a patched object with its scheme, which defaults it again
            # (mutating/dispatcher.go): fields a webhook adds get their defaults too.
            patched = _apply_patch(response["patch"], obj)
            defaults.apply_defaults(request.rt.storage_key, patched)
            return patched
        return obj

    def _review(self, request: AdmissionRequest, obj: JSON | None) -> JSON:
        rt = request.rt
        kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        resource = {"group": rt.group, "version": rt.version, "resource": rt.plural}
        return {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": str(uuid.uuid4()),
                "kind": kind,
                "resource": resource,
                "subResource": request.subresource,
                "requestKind": kind,
                "requestResource": resource,
                "requestSubResource": request.subresource,
                "name": request.name,
                "namespace": request.namespace,
                "operation": request.operation,
                "userInfo": request.op.user.to_json(),
                "object": obj,
                "oldObject": request.old,
                "dryRun": request.op.dry_run,
                "options": request.options,
            },
        }

    def _call(self, webhook: JSON, request: AdmissionRequest, obj: JSON | None) -> JSON:
        timeout = int(webhook.get("timeoutSeconds") or 10)
        target = self._target(webhook.get("clientConfig") or {}, timeout)
        review = self._review(request, obj)
        body = json.dumps(review, separators=(",", ":")).encode()
        status, payload = self._pool.post(target, body, timeout)
        if status != 200:
            raise CallFailed(f"failed to call webhook: {_http_error(status, payload)}")
        return _check_response(payload, review["request"]["uid"])

    def _target(self, client: JSON, timeout: int) -> _Target:
        ca_pem = _ca_bundle(client.get("caBundle"))
        if client.get("url"):
            url = str(client["url"])
            parts = urlsplit(url)
            shown = f"{url}{'&' if parts.query else '?'}timeout={timeout}s"
            host, port = parts.hostname or "", parts.port or 443
            path = parts.path or "/"
            path = f"{path}?{parts.query}&timeout={timeout}s" if parts.query else f"{path}?timeout={timeout}s"
            return _Target(host, port, host, path, ca_pem, shown)
        service = client.get("service") or {}
        namespace, name = service.get("namespace", ""), service.get("name", "")
        port = int(service.get("port") or 443)
        path = service.get("path") or "/"
        server_name = f"{name}.{namespace}.svc"
        shown = f"https://{server_name}:{port}{path}?timeout={timeout}s"
        try:
            address, target_port = self.resolver(namespace, name, port)
        except ResolveError as error:
            raise CallFailed(f'failed to call webhook: Post "{shown}": {error}') from None
        return _Target(address, target_port, server_name, f"{path}?timeout={timeout}s", ca_pem, shown)

    def resolve_service(self, namespace: str, name: str, port: int) -> tuple[str, int]:
        """Where a webhook Service is reachable: its Endpoints, else a loopback clusterIP and targetPort."""
        service = self.store.get("services", namespace, name)
        if service is None:
            raise ResolveError(f'service "{name}" not found')
        spec = service.get("spec") or {}
        service_port = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
        if service_port is None:
            raise ResolveError(f'service "{name}" does not have a port {port}')
        endpoint = self._endpoint(namespace, name, service_port)
        if endpoint is not None:
            return endpoint
        target = service_port.get("targetPort", port)
        cluster_ip = str(spec.get("clusterIP") or "")
        if isinstance(target, int) and _loopback(cluster_ip):
            return cluster_ip, target
        raise ResolveError(f'no endpoints available for service "{name}"')

    def _endpoint(self, namespace: str, name: str, service_port: JSON) -> tuple[str, int] | None:
        endpoints = self.store.get("endpoints", namespace, name)
        for subset in (endpoints or {}).get("subsets") or []:
            addresses = subset.get("addresses") or []
            ports = subset.get("ports") or []
            chosen = next(
                (p for p in ports if p.get("name", "") == service_port.get("name", "")),
                ports[0] if len(ports) == 1 else None,
            )
            if addresses and chosen is not None:
                return str(addresses[0]["ip"]), int(chosen["port"])
        return None


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def denial(name: str, status: JSON) -> ApiError:
    """statuserror.ToStatusErr: the webhook's status, forced to a failure code with the standard prefix."""
    denied = f'admission webhook "{name}" denied the request'
    code = int(status.get("code") or 0)
    code = code if code >= 400 else 400
    if status.get("message"):
        message = f"{denied}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied}: {status['reason']}"
    else:
        message = f"{denied} without explanation"
    return ApiError(code, str(status.get("reason") or ""), message, status.get("details"))


def _ca_bundle(value: Any) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value), validate=True)
    except binascii.Error:
        raise CallFailed("failed to call webhook: illegal base64 data in caBundle") from None


def _http_error(status: int, payload: bytes) -> str:
    if status == 404:
        return "the server could not find the requested resource"
    text = payload.decode(errors="replace").strip()
    return f'an error on the server ("{text}") has prevented the request from succeeding'


def _check_response(payload: bytes, uid: str) -> JSON:
    try:
        review = json.loads(payload)
    except ValueError as error:
        raise CallFailed(f"received invalid webhook response: {error}") from None
    if not isinstance(review, dict):
        raise CallFailed("received invalid webhook response: the response is not an object")
    api_version, kind = review.get("apiVersion", ""), review.get("kind", "")
    if api_version != "admission.k8s.io/v1" or kind != "AdmissionReview":
        raise CallFailed(
            "received invalid webhook response: expected webhook response of admission.k8s.io/v1, "
            f"Kind=AdmissionReview, got {api_version}, Kind={kind}"
        )
    response = review.get("response")
    if not isinstance(response, dict):
        raise CallFailed("received invalid webhook response: webhook response was absent")
    if response.get("uid") != uid:
        raise CallFailed(
            "received invalid webhook response: "
            f'expected response.uid="{uid}", got "{response.get("uid", "")}"'
        )
    if response.get("patch") is not None and response.get("patchType") != "JSONPatch":
        if not response.get("patchType"):
            raise CallFailed(
                "received invalid webhook response: "
                "webhook returned response.patch but not response.patchType"
            )
        raise CallFailed(
            "received invalid webhook response: "
            f'webhook returned invalid response.patchType of "{response["patchType"]}"'
        )
    return response


def _apply_patch(encoded: Any, obj: JSON) -> JSON:
    try:
        operations = json.loads(base64.b64decode(str(encoded)))
        patched = patching.json_patch(obj, operations)
    except (ValueError, binascii.Error, patching.PatchError, patching.MalformedPatch) as error:
        raise internal(str(error)) from None
    if not isinstance(patched, dict):
        raise internal("the webhook's patch did not produce an object")
    return patched


# --- HTTPS with connection reuse ---


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    server_name: str
    path: str
    ca_pem: bytes | None
    shown_url: str


class _Connection(http.client.HTTPSConnection):
    """An HTTPS connection to an address whose certificate is checked against another name (a Service)."""

    def __init__(self, target: _Target, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._server_name = target.server_name
        self._context_for_name = context

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context_for_name.wrap_socket(sock, server_hostname=self._server_name)


class _ConnectionPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int, str, str], list[_Connection]] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _context(self, ca_pem: bytes | None) -> ssl.SSLContext:
        key = hashlib.sha256(ca_pem or b"").hexdigest()
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = ssl.create_default_context()
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                if ca_pem:
                    try:
                        context = ssl.create_default_context(cadata=ca_pem.decode(errors="replace"))
                    except (ssl.SSLError, ValueError):
                        raise CallFailed(
                            "failed to call webhook: unable to load root certificates: "
                            "unable to parse bytes as PEM block"
                        ) from None
                self._contexts[key] = context
            return context

    def post(self, target: _Target, body: bytes, timeout: float) -> tuple[int, bytes]:
        key = (target.host, target.port, target.server_name, hashlib.sha256(target.ca_pem or b"").hexdigest())
        deadline = time.monotonic() + timeout
        for attempt in range(2):
            connection, reused = self._take(key, target, timeout)
            try:
                connection.timeout = max(deadline - time.monotonic(), 0.001)
                if connection.sock is not None:
                    connection.sock.settimeout(connection.timeout)
                connection.request(
                    "POST",
                    target.path,
                    body,
                    {"Content-Type": "application/json", "Accept": "application/json"},
                )
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                connection.close()
                if reused and attempt == 0:
                    continue
                raise CallFailed(
                    f'failed to call webhook: Post "{target.shown_url}": {_go_error(error, target)}'
                ) from None
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                raise CallFailed(
                    f'failed to call webhook: Post "{target.shown_url}": {_go_error(error, target)}'
                ) from None
            self._give_back(key, connection, response)
            return response.status, payload
        raise CallFailed(f'failed to call webhook: Post "{target.shown_url}": EOF')

    def _take(
        self, key: tuple[str, int, str, str], target: _Target, timeout: float
    ) -> tuple[_Connection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop(), True
        return _Connection(target, self._context(target.ca_pem), timeout), False

    def _give_back(
        self, key: tuple[str, int, str, str], connection: _Connection, response: http.client.HTTPResponse
    ) -> None:
        if response.will_close:
            connection.close()
            return
        with self._lock:
            self._idle.setdefault(key, []).append(connection)

    def close(self) -> None:
        with self._lock:
            for connections in self._idle.values():
                for connection in connections:
                    connection.close()
            self._idle.clear()


def _go_error(error: BaseException, target: _Target) -> str:
    """Python's network errors in Go's words, as the API server would print them."""
    if isinstance(error, ConnectionRefusedError):
        return f"dial tcp {target.host}:{target.port}: connect: connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "context deadline exceeded"
    if isinstance(error, ssl.SSLCertVerificationError):
        if error.verify_code == 62:
            return (
                f"tls: failed to verify certificate: x509: certificate is not valid for {target.server_name}"
            )
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if isinstance(error, socket.gaierror):
        return f"dial tcp: lookup {target.host}: no such host"
    if isinstance(error, http.client.RemoteDisconnected | ConnectionResetError):
        return "EOF"
    return str(error)
