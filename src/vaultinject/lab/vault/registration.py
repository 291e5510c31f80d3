"""Kubernetes service registration: the server labels its own pod with its state, as Vault's
`service_registration "kubernetes"` does (vault:serviceregistration/kubernetes; cluster-fidelity 6.4).

At start the pod gets `vault-active=false`, `vault-initialized=false`, `vault-sealed=true`,
`vault-perf-standby=false` and `vault-version`: one `add /metadata/labels` when the pod has no labels,
otherwise one `replace /metadata/labels/<key>` per label (the API server accepts `replace` of a key that
does not exist yet). Then each change of state is one PATCH of one label. A failed patch is kept (the latest
value per label) and retried, with every other kept one, in one PATCH every `retry_interval` seconds.

The bearer token and the CA are the service account's (`--local-sa-token-file`, `--local-ca-cert-file`), read
afresh for every request, so a rotated projected token is picked up; the API server is
`https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, as for every in-cluster client.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vaultinject.lab.vault.auth.tokenreview import KubeClient, KubeEndpoint, ReviewError
from vaultinject.lab.vault.config import RegistrationConfig
from vaultinject.lab.vault.durations import rfc3339

ACTIVE = "vault-active"
INITIALIZED = "vault-initialized"
SEALED = "vault-sealed"
PERF_STANDBY = "vault-perf-standby"
VERSION = "vault-version"
JSON_PATCH = "application/json-patch+json"
NAMESPACE_MISSING = 'namespace must be provided via "VAULT_K8S_NAMESPACE" or the "namespace" config parameter'
POD_NAME_MISSING = 'pod name must be provided via "VAULT_K8S_POD_NAME" or the "pod_name" config parameter'
NOT_IN_CLUSTER = (
    "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
    "must be defined"
)
# The core's events and the labels each one sets (vault:vault/{core,ha,init}.go).
EVENT_LABELS: dict[str, tuple[tuple[str, str], ...]] = {
    "initialized": ((INITIALIZED, "true"),),
    "unsealed": ((SEALED, "false"), (INITIALIZED, "true")),
    "sealed": ((SEALED, "true"),),
    "active": ((ACTIVE, "true"),),
    "standby": ((ACTIVE, "false"),),
}
LogSink = Callable[[dict[str, Any]], None]
_LABEL_VALUE_OUTSIDE = re.compile(r"[^A-Za-z0-9._-]")


class RegistrationError(Exception):
    """A label update failed; the message never contains the token."""


def registration_from_environment(
    env: Mapping[str, str], *, enabled: bool, pod_name: str | None, namespace: str | None
) -> RegistrationConfig | None:
    """The registration settings: on when `enabled`, or when both `VAULT_K8S_POD_NAME` and
    `VAULT_K8S_NAMESPACE` are set; flags win over the environment. ValueError names what is missing."""
    pod = pod_name or env.get("VAULT_K8S_POD_NAME", "")
    space = namespace or env.get("VAULT_K8S_NAMESPACE", "")
    if not enabled and not (pod and space):
        return None
    if not space:
        raise ValueError(NAMESPACE_MISSING)
    if not pod:
        raise ValueError(POD_NAME_MISSING)
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ValueError(NOT_IN_CLUSTER)
    shown = f"[{host}]" if ":" in host else host
    return RegistrationConfig(pod_name=pod, namespace=space, api_url=f"https://{shown}:{port}")


def label_value(text: str) -> str:
    """A label value as Vault writes it: characters outside `[A-Za-z0-9._-]` become `-`."""
    return _LABEL_VALUE_OUTSIDE.sub("-", text)


def label_pointer(label: str) -> str:
    """The JSON pointer to one label (`~` and `/` escaped as RFC 6901 says)."""
    return "/metadata/labels/" + label.replace("~", "~0").replace("/", "~1")


class PodLabeler:
    """Keeps this server's pod labels in step with its state, from a thread of its own."""

    def __init__(
        self,
        config: RegistrationConfig,
        *,
        version: str,
        token_file: Path,
        ca_file: Path,
        timeout: float,
        log: LogSink,
    ) -> None:
        self.config = config
        self.token_file = token_file
        self.ca_file = ca_file
        self.log = log
        self.client = KubeClient(timeout)
        self.initial = {
            VERSION: label_value(version),
            ACTIVE: "false",
            SEALED: "true",
            PERF_STANDBY: "false",
            INITIALIZED: "false",
        }
        self._queue: list[tuple[str, str]] = []
        self._retry: dict[str, str] = {}
        self._changed = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def pod_path(self) -> str:
        return f"/api/v1/namespaces/{self.config.namespace}/pods/{self.config.pod_name}"

    def on_event(self, event: str) -> None:
        """A core event (`unsealed`, `active`, ...): queue the labels it changes."""
        for label, value in EVENT_LABELS.get(event, ()):
            self.notify(label, value)

    def notify(self, label: str, value: str) -> None:
        with self._changed:
            self._queue.append((label, value))
            self._changed.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vault-k8s-labels", daemon=True)
        self._thread.start()

    def stop(self, drain_timeout: float = 3.0) -> None:
        """Send what is queued (for at most `drain_timeout` seconds), then stop."""
        with self._changed:
            self._changed.wait_for(lambda: not self._queue and not self._busy, drain_timeout)
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=drain_timeout)
        self.client.close()

    def _run(self) -> None:
        initial_set = self._attempt("set initial state", self._set_initial_state)
        next_retry = time.monotonic() + self.config.retry_interval
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._stopping or bool(self._queue), max(0.0, next_retry - time.monotonic())
                )
                if self._stopping:
                    return
                batch, self._queue = self._queue, []
                self._busy = True
            try:
                for label, value in batch:
                    self._send_one(label, value, initial_set)
                if time.monotonic() >= next_retry:
                    next_retry = time.monotonic() + self.config.retry_interval
                    if not initial_set:
                        initial_set = self._attempt("set initial state", self._set_initial_state)
                    if initial_set and self._retry:
                        self._send_retries()
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _send_one(self, label: str, value: str, initial_set: bool) -> None:
        # Before the initial state is set, a change waits for it (a late initial state would undo it).
        sent = initial_set and self._attempt(
            f"update state for {label}", lambda: self._patch([_replace(label, value)])
        )
        if sent:
            self._retry.pop(label, None)
        else:
            self._retry[label] = value

    def _send_retries(self) -> None:
        operations = [_replace(label, value) for label, value in self._retry.items()]
        if self._attempt("update state", lambda: self._patch(operations)):
            self._retry.clear()

    def _attempt(self, what: str, action: Callable[[], None]) -> bool:
        try:
            action()
        except RegistrationError as error:
            self.log(
                {
                    "time": rfc3339(time.time()),
                    "level": "warn",
                    "msg": f"unable to {what} due to {error}, will retry",
                }
            )
            return False
        return True

    def _set_initial_state(self) -> None:
        status, body = self._request("GET", self.pod_path)
        if status != 200:
            raise RegistrationError(_status_error("GET", self.pod_path, status, body))
        try:
            metadata = json.loads(body).get("metadata")
        except (ValueError, AttributeError):
            raise RegistrationError(
                f"the pod {self.config.namespace}/{self.config.pod_name} is not JSON"
            ) from None
        if not isinstance(metadata, dict):
            raise RegistrationError(f"no pod metadata on {self.config.namespace}/{self.config.pod_name}")
        if metadata.get("labels") is None:
            operations = [
                {"op": "add", "path": "/metadata/labels", "value": dict(sorted(self.initial.items()))}
            ]
        else:
            operations = [_replace(label, value) for label, value in self.initial.items()]
        self._patch(operations)

    def _patch(self, operations: list[dict[str, Any]]) -> None:
        status, body = self._request("PATCH", self.pod_path, operations, JSON_PATCH)
        if not 200 <= status < 300:
            raise RegistrationError(_status_error("PATCH", self.pod_path, status, body))

    def _request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """One request; on 401/403 the token file is read again and, if the token changed, the request
        is sent once more (as Vault's client does)."""
        token = self._token()
        status, answer = self._send(token, method, path, body, content_type)
        if status in (401, 403):
            fresh = self._token()
            if fresh != token:
                status, answer = self._send(fresh, method, path, body, content_type)
        return status, answer

    def _send(self, token: str, method: str, path: str, body: Any, content_type: str) -> tuple[int, bytes]:
        endpoint = KubeEndpoint(host=self.config.api_url, ca_pem=self._ca_pem(), bearer=token)
        try:
            return self.client.request(endpoint, method, path, body, content_type=content_type)
        except ReviewError as error:
            raise RegistrationError(str(error)) from None

    def _token(self) -> str:
        try:
            return self.token_file.read_text().strip()
        except OSError as error:
            raise RegistrationError(
                f"cannot read the service-account token {self.token_file}: {error.strerror}"
            ) from None

    def _ca_pem(self) -> str:
        try:
            return self.ca_file.read_text()
        except OSError:
            return ""


def _replace(label: str, value: str) -> dict[str, Any]:
    return {"op": "replace", "path": label_pointer(label), "value": value}


def _status_error(method: str, path: str, status: int, body: bytes) -> str:
    message = ""
    try:
        document = json.loads(body)
        if isinstance(document, dict):
            message = str(document.get("message", ""))
    except ValueError:
        message = body.decode(errors="replace")[:200]
    return f"{method} {path}: status {status}" + (f": {message}" if message else "")
