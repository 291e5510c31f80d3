"""A harness for tests and drills: start the lab API server (subprocess or in-process thread) and talk to it.

with running_kube(tmp_path) as kube:            # `python -m vaultinject.cli lab kube ...`, SIGTERM at exit
    kube.ensure_namespace("demo")
    pod = kube.create_pod("demo", "app-0", service_account="app")
    jwt = kube.mint_token("demo", "app", pod=pod, audiences=["vault"])

with in_process_kube(tmp_path) as kube:         # same API; `kube.server` exposes clock, store, cluster
    kube.server.clock.advance(3600)
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from vaultinject.lab.kube import logs
from vaultinject.lab.kube.cli import READY_PREFIX
from vaultinject.lab.kube.server import KubeServer, ServerConfig

JSON = dict[str, Any]
T = TypeVar("T")


class LabKubeError(Exception):
    """A non-2xx answer; `status` is the HTTP code and `body` the decoded Status (or text)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class LabKube:
    """A running lab API server: where it is, how to trust it, and helpers for common setup."""

    url: str
    kubeconfig: Path
    admin_token: str
    ca_file: Path
    data_dir: Path
    server: KubeServer | None = None  # in-process only: clock, store, cluster, authenticator
    process: subprocess.Popen[str] | None = None

    # --- raw HTTP ---

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _authorization(self, token: str | None) -> dict[str, str]:
        """The admin by default; an empty token means an anonymous request."""
        if token == "":
            return {}
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> tuple[int, Any]:
        """One HTTPS request as `token` (admin if None, anonymous if ""); returns (status, JSON or text)."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=self.ssl_context(), timeout=timeout
        )
        headers = {"Accept": "application/json", **self._authorization(token)}
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, payload, headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def watch(
        self, path: str, token: str | None = None, timeout: float = 30, accept: str = "application/json"
    ) -> Iterator[JSON]:
        """Stream a watch (`path` includes `?watch=true&...`), yielding each decoded event as it arrives."""
        parts = urlsplit(self.url)
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=self.ssl_context(), timeout=timeout
        )
        try:
            connection.request("GET", path, headers={"Accept": accept, **self._authorization(token)})
            response = connection.getresponse()
            if response.status != 200:
                raise LabKubeError(response.status, json.loads(response.read() or b"null"))
            while line := response.readline():
                if line.strip():
                    yield json.loads(line)
        finally:
            connection.close()

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """`request`, raising LabKubeError unless the answer is 2xx."""
        status, answer = self.request(method, path, body, **kwargs)
        if not 200 <= status < 300:
            raise LabKubeError(status, answer)
        return answer

    # --- setup helpers ---

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> JSON:
        status, answer = self.request(
            "POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels or {}}}
        )
        if status == 409:
            return dict(self.call("GET", f"/api/v1/namespaces/{name}"))
        if status != 201:
            raise LabKubeError(status, answer)
        return dict(answer)

    def ensure_service_account(self, namespace: str, name: str) -> JSON:
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
        status, answer = self.request("POST", path, {"metadata": {"name": name}})
        if status == 409:
            return dict(self.call("GET", f"{path}/{name}"))
        if status != 201:
            raise LabKubeError(status, answer)
        return dict(answer)

    def create_pod(
        self,
        namespace: str,
        name: str,
        *,
        service_account: str = "default",
        node_name: str | None = None,
        labels: dict[str, str] | None = None,
        containers: list[JSON] | None = None,
    ) -> JSON:
        """Create a pod (its service account too); the server's admission and defaults apply."""
        self.ensure_service_account(namespace, service_account)
        spec: JSON = {
            "serviceAccountName": service_account,
            "containers": containers or [{"name": "app", "image": "busybox"}],
        }
        if node_name:
            spec["nodeName"] = node_name
        body = {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}
        return dict(self.call("POST", f"/api/v1/namespaces/{namespace}/pods", body))

    def grant(self, cluster_role: str, namespace: str, service_account: str) -> None:
        """Bind `cluster_role` to a service account cluster-wide (e.g. `system:auth-delegator` for Vault)."""
        body = {
            "metadata": {"name": f"{cluster_role.replace(':', '-')}-{namespace}-{service_account}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
        }
        status, answer = self.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", body)
        if status not in (201, 409):
            raise LabKubeError(status, answer)

    def mint_token(
        self,
        namespace: str,
        service_account: str,
        pod: JSON | None = None,
        audiences: list[str] | None = None,
        expiration_seconds: int = 3600,
    ) -> str:
        """A TokenRequest token, bound to `pod` when given (as the kubelet projects it)."""
        spec: JSON = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = audiences
        if pod is not None:
            metadata = pod["metadata"]
            spec["boundObjectRef"] = {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": metadata["name"],
                "uid": metadata["uid"],
            }
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        answer = self.call(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token", body
        )
        return str(answer["status"]["token"])

    def review_token(
        self, token: str, audiences: list[str] | None = None, as_token: str | None = None
    ) -> JSON:
        """POST a TokenReview (as the admin, or as `as_token`) and return the response object."""
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": audiences or []},
        }
        return dict(self.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body, token=as_token))

    def write_pod_log(self, pod: JSON, container: str, line: str, restart_count: int = 0) -> None:
        """Append a log line where the `log` subresource reads it (what a kubelet would do)."""
        logs.append_line(self.data_dir / "pod-logs", pod, container, line, restart_count=restart_count)

    def env(self) -> dict[str, str]:
        """Environment for `kubectl` (KUBECONFIG and a private discovery cache)."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.data_dir / "kubectl-cache"),
        }

    def api_client(self) -> Any:
        """An official `kubernetes.client.ApiClient` for this server (the client is a test dependency)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))  # type: ignore[no-untyped-call]


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll until `predicate()` is truthy and return it; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


@contextmanager
def in_process_kube(data_dir: Path | None = None, **config: Any) -> Iterator[LabKube]:
    """Run the server on a thread of this process; `config` overrides ServerConfig fields."""
    with _directory(data_dir) as directory:
        server = KubeServer(ServerConfig(data_dir=directory, **config))
        server.start()
        kubeconfig = directory / "kubeconfig"
        server.write_kubeconfig(kubeconfig)
        try:
            yield LabKube(server.url, kubeconfig, server.admin_token, server.ca_file, directory, server)
        finally:
            server.stop()


@contextmanager
def running_kube(
    data_dir: Path | None = None, extra_args: tuple[str, ...] = (), startup_timeout: float = 30.0
) -> Iterator[LabKube]:
    """Run `vaultinject lab kube` as a subprocess on a free port; stop it with SIGTERM.

    The server's log goes to `<data_dir>/lab-kube.log` (a pipe nobody reads could fill up and stall it)."""
    with _directory(data_dir) as directory:
        kubeconfig = directory / "kubeconfig"
        command = [
            sys.executable, "-m", "vaultinject.cli", "lab", "kube", "--listen", "127.0.0.1:0",
            "--data-dir", str(directory), "--kubeconfig-out", str(kubeconfig), *extra_args,
        ]  # fmt: skip
        log_path = directory / "lab-kube.log"
        with log_path.open("a") as log_file:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True)
        try:
            url = _ready_url(process, startup_timeout, log_path)
            token = (directory / "admin-token").read_text().strip()
            yield LabKube(url, kubeconfig, token, directory / "pki" / "ca.crt", directory, process=process)
        finally:
            _stop(process)


def _ready_url(process: subprocess.Popen[str], timeout: float, log_path: Path) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(READY_PREFIX):
            return line[len(READY_PREFIX) :].split()[0]
    _stop(process)
    raise RuntimeError(
        f"lab kube did not become ready (exit {process.returncode}): {log_path.read_text()[-2000:]}"
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def _directory(data_dir: Path | None) -> Iterator[Path]:
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        yield data_dir
        return
    with tempfile.TemporaryDirectory(prefix="lab-kube-") as temporary:
        yield Path(temporary)
