"""Container probes as the kubelet's prober runs them: the exec, httpGet and tcpSocket handlers with their
Go-worded failures, and one worker thread per probe applying the timing fields and thresholds
(`k8s:pkg/kubelet/prober/worker.go`)."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vaultinject.lab.kubelet.runtime import Container, ExecTimeout, StartError

JSON = dict[str, Any]
KINDS = ("startup", "readiness", "liveness")


@dataclass(frozen=True)
class Result:
    ok: bool
    output: str = ""


def _port(value: Any, container: JSON) -> int:
    """An int port, or a named one looked up in the container's ports (kubelet's `resolveContainerPort`)."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port["containerPort"])
    raise ValueError(f"couldn't find port: {text} in {container.get('name', '')}")


def _exec(handler: JSON, process: Container, timeout: float) -> Result:
    argv = [str(a) for a in handler.get("command") or []]
    try:
        code, output = process.exec(argv, timeout)
    except ExecTimeout:
        return Result(False, f"command {' '.join(argv)!r} timed out".replace("'", '"'))
    except StartError as error:
        return Result(False, error.message)
    return Result(code == 0, output.decode(errors="replace"))  # the kubelet reports the output alone


def _dial_error(address: str, error: OSError) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return f"dial tcp {address}: i/o timeout"
    reason = {111: "connection refused", 113: "no route to host", 101: "network is unreachable"}.get(
        error.errno or 0, (error.strerror or str(error)).lower()
    )
    return f"dial tcp {address}: connect: {reason}"


def http_get(handler: JSON, container: JSON, pod_ip: str, timeout: float) -> Result:
    """One HTTP GET as the prober does it: 200-399 succeeds; HTTPS is not verified."""
    host = str(handler.get("host") or pod_ip)
    port = _port(handler.get("port"), container)
    scheme = str(handler.get("scheme") or "HTTP").lower()
    path = str(handler.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for header in handler.get("httpHeaders") or []:
        headers[str(header.get("name"))] = str(header.get("value", ""))
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read(10 * 1024).decode(errors="replace")
    except TimeoutError:
        deadline = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        return Result(False, f'Get "{url}": {deadline}')
    except OSError as error:
        return Result(False, f'Get "{url}": {_dial_error(f"{host}:{port}", error)}')
    except http.client.HTTPException as error:
        return Result(False, f'Get "{url}": {error}')
    finally:
        conn.close()
    if 200 <= response.status < 400:
        return Result(True, body)
    return Result(False, f"HTTP probe failed with statuscode: {response.status}")


def tcp_socket(handler: JSON, container: JSON, pod_ip: str, timeout: float) -> Result:
    host = str(handler.get("host") or pod_ip)
    port = _port(handler.get("port"), container)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return Result(True)
    except OSError as error:
        return Result(False, _dial_error(f"{host}:{port}", error))


def run_handler(handler: JSON, spec: JSON, process: Container, pod_ip: str, timeout: float) -> Result:
    """Run one probe or hook handler (`exec`, `httpGet`, `tcpSocket`) against a running container."""
    try:
        if "exec" in handler:
            return _exec(handler["exec"], process, timeout)
        if "httpGet" in handler:
            return http_get(handler["httpGet"], spec, pod_ip, timeout)
        if "tcpSocket" in handler:
            return tcp_socket(handler["tcpSocket"], spec, pod_ip, timeout)
    except ValueError as error:
        return Result(False, str(error))
    if "grpc" in handler:
        return Result(False, "grpc probes are not supported by the lab's kubelet")
    return Result(False, "missing probe handler")


def initial_result(kind: str) -> bool:
    """Before its first verdict a liveness probe counts as passing, the others as failing."""
    return kind == "liveness"


class ProbeWorker(threading.Thread):
    """Probes one container periodically; calls `on_result(kind, ok)` whenever the verdict (after
    the thresholds) changes, and `on_failure(kind, output)` after every failed attempt."""

    def __init__(
        self,
        kind: str,
        probe: JSON,
        spec: JSON,
        process: Container,
        pod_ip: str,
        *,
        on_result: Callable[[str, bool], None],
        on_failure: Callable[[str, str], None],
    ) -> None:
        super().__init__(daemon=True, name=f"probe-{kind}-{spec.get('name', '')}")
        self.kind = kind
        self.probe = probe
        self.spec = spec
        self.process = process
        self.pod_ip = pod_ip
        self.on_result = on_result
        self.on_failure = on_failure
        self.result = initial_result(kind)
        self._stop = threading.Event()

    def _number(self, name: str, default: int, minimum: int) -> int:
        value = self.probe.get(name)
        return max(minimum, int(value)) if isinstance(value, int) else default

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        period = self._number("periodSeconds", 10, 1)
        timeout = self._number("timeoutSeconds", 1, 1)
        success_needed = 1 if self.kind != "readiness" else self._number("successThreshold", 1, 1)
        failure_needed = self._number("failureThreshold", 3, 1)
        delay = self._number("initialDelaySeconds", 0, 0)
        start = self.process.started_at
        if self._stop.wait(max(0.0, start + delay - time.time())):
            return
        last: bool | None = None
        streak = 0
        while not self._stop.is_set() and self.process.poll() is None:
            outcome = run_handler(self.probe, self.spec, self.process, self.pod_ip, timeout)
            if self._stop.is_set():
                return
            streak = streak + 1 if outcome.ok == last else 1
            last = outcome.ok
            if not outcome.ok:
                self.on_failure(self.kind, outcome.output)
            needed = success_needed if outcome.ok else failure_needed
            failed_startup = self.kind == "startup" and not outcome.ok
            if streak >= needed and (outcome.ok != self.result or failed_startup):
                self.result = outcome.ok
                self.on_result(self.kind, outcome.ok)
            if self.kind == "startup" and self.result:
                return  # a passed startup probe is never run again for this container
            if not outcome.ok and streak >= failure_needed and self.kind != "readiness":
                return  # the container is being restarted; a new worker probes the next one
            self._stop.wait(period)
