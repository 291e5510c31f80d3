"""The HTTP(S) listener: a threading server with keep-alive, TCP_NODELAY and single-write responses."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from vaultinject.lab import httpbody
from vaultinject.lab.httphandler import EveryMethodHandler
from vaultinject.lab.tls import client_context, server_context
from vaultinject.lab.vault.api import HttpRequest, HttpResponse, VaultAPI
from vaultinject.lab.vault.clock import Clock
from vaultinject.lab.vault.config import ServerConfig
from vaultinject.lab.vault.core import Core
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.forwarding import StandbyGate
from vaultinject.lab.vault.ha import LOCK_FILE, Advertisement, HALock, HANode, default_cluster_addr
from vaultinject.lab.vault.registration import PodLabeler
from vaultinject.lab.vault.store import MemoryStore, SqliteStore, Store

MAX_BODY = 32 * 1024 * 1024
LogSink = Callable[[dict[str, Any]], None]
App = Callable[[HttpRequest], HttpResponse]
# Deprecated token endpoints carry the token in the path; never log it.
_SECRET_IN_PATH = re.compile(r"^(/v1/auth/[^/]+/(?:lookup|renew|revoke|revoke-orphan))/.+$")


def stderr_log(event: dict[str, Any]) -> None:
    """Write one JSON line to stderr."""
    sys.stderr.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stderr.flush()


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App, tls: ssl.SSLContext | None, log: LogSink) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.tls = tls
        self.log = log

    def handle_error(self, _request: Any, client_address: Any) -> None:
        """A failed TLS handshake or a dropped connection: one log event, not a traceback on stderr."""
        error = sys.exc_info()[1]
        self.log(
            {
                "level": "warn",
                "msg": "connection failed",
                "remote": str(client_address[0]),
                "error": str(error),
            }
        )

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (a DNS lookup); the lab does not need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class _Handler(EveryMethodHandler):
    protocol_version = "HTTP/1.1"
    server: _Listener
    timeout = 120

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.tls is not None:
            self.request.settimeout(15)
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.server.tls is not None:
                with contextlib.suppress(OSError):
                    self.request.close()

    def handle(self) -> None:
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and headers, answered in Vault's error envelope."""
        del explain
        self.close_connection = True
        phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else ""
        self._write(HttpResponse(code, json.dumps({"errors": [message or phrase]}).encode()))

    def _dispatch(self) -> None:
        started = time.perf_counter()
        try:
            body = httpbody.read_body(self.rfile, self.headers, MAX_BODY)
        except httpbody.BodyError as error:
            self.close_connection = True
            message = "http: request body too large" if error.status == 413 else error.message
            response = HttpResponse(error.status, json.dumps({"errors": [message]}).encode())
            self._write(response)
            httpbody.discard_input(self.connection, self.rfile)
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = HttpRequest(self.command, self.path, headers, body, self.client_address[0])
            response = self.server.app(request)
            self._write(response)
        self.server.log(
            {
                "time": rfc3339(time.time()),
                "level": "info",
                "msg": "request",
                "method": self.command,
                "path": _loggable_path(self.path),
                "status": response.status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "remote": self.client_address[0],
                "request_id": response.request_id,
            }
        )

    def _write(self, response: HttpResponse) -> None:
        bodiless = self.command == "HEAD" or response.status in (204, 304)
        body = b"" if bodiless else response.body
        reason = (
            HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        )
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Date: {self.date_time_string()}",
            "Cache-Control: no-store",
        ]
        if response.content_type and response.status != 204:
            lines.append(f"Content-Type: {response.content_type}")
        if response.status not in (204, 304):
            lines.append(f"Content-Length: {len(response.body)}")
        lines.extend(f"{name}: {value}" for name, value in response.extra_headers)
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log; requests are logged as JSON lines instead."""


def _loggable_path(target: str) -> str:
    path = target.split("?", 1)[0]
    return _SECRET_IN_PATH.sub(r"\1/<redacted>", path)


class VaultServer:
    """A lab Vault server: the core, its storage, the HTTP listener and the expiry sweeper; with `ha`, its
    part in the HA cluster on the shared storage; with `registration`, the labeller of its pod."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None, log: LogSink | None = None) -> None:
        if config.ha and config.data_dir is None:
            raise ValueError("HA needs --data-dir: the storage every node of the cluster shares")
        self.config = config
        self.log = log or stderr_log
        store: Store = SqliteStore(config.data_dir / "vault.db") if config.data_dir else MemoryStore()
        self.core = Core(config, store, clock)
        self.core.log = self.log
        self.api = VaultAPI(self.core, on_error=lambda text: self.log({"level": "error", "msg": text}))
        self.app: App = self.api
        self.ha: HANode | None = None
        if config.ha and config.data_dir is not None:
            self.ha = HANode(self.core, HALock(config.data_dir / LOCK_FILE), self.log)
            peers = _peer_context(config.ca_cert) if config.ca_cert else None
            self.app = StandbyGate(self.api, self.ha, peers, config.outbound_timeout, self.log)
        self.labeler: PodLabeler | None = None
        if config.registration is not None:
            self.labeler = PodLabeler(
                config.registration,
                version=config.version,
                token_file=config.local_sa_token_file,
                ca_file=config.local_ca_cert_file,
                timeout=config.outbound_timeout,
                log=self.log,
            )
            self.core.listeners.append(self.labeler.on_event)
        self._listener: _Listener | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.url = ""

    def start(self) -> str:
        """Label the pod, open storage, bind the listener, start serving (and, with HA, standing by for
        the lock); returns the server URL."""
        if self.labeler is not None:
            self.labeler.start()
        self.core.open()
        tls = None
        if self.config.tls_cert is not None and self.config.tls_key is not None:
            tls = server_context(self.config.tls_cert, self.config.tls_key)
        self._listener = _Listener(
            (self.config.listen_host, self.config.listen_port), self.app, tls, self.log
        )
        host, port = self._listener.server_address[:2]
        scheme = "https" if tls is not None else "http"
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        self.url = f"{scheme}://{shown}:{port}"
        self.core.advertise_address = self.config.api_addr or self.url
        listener = self._listener
        self._spawn("vault-http", lambda: listener.serve_forever(poll_interval=0.05))
        self._spawn("vault-expiry", self._sweep)
        if self.ha is not None:
            api_addr = self.core.advertise_address
            cluster_addr = self.config.cluster_addr or default_cluster_addr(api_addr)
            self.ha.start(
                Advertisement(api_addr, cluster_addr),
                self.config.ha_poll_interval,
                self.config.step_down_wait,
            )
        return self.url

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _sweep(self) -> None:
        while not self._stopping.wait(self.config.sweep_interval):
            try:
                self.core.expire_due()
            except Exception as error:
                self.log({"level": "error", "msg": f"expiry sweep failed: {error!r}"})

    def stop(self) -> None:
        """Stop serving, leave active duty (HA), send the last pod labels and close storage."""
        self._stopping.set()
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.ha is not None:
            self.ha.stop()
        if self.labeler is not None:
            self.labeler.stop()
        self.core.close()

    def __enter__(self) -> VaultServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _peer_context(ca_file: Path) -> ssl.SSLContext:
    """How a standby trusts the active node: by the cluster's CA, not by name. Vault's cluster port
    trusts its own cluster certificates the same way; a StatefulSet's certificate names its Services,
    not the pod IPs nodes advertise as their api_addr."""
    context = client_context(ca_file=ca_file)
    context.check_hostname = False
    return context
