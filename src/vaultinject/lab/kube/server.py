"""The HTTPS server: TLS with the lab CA, HTTP/1.1 keep-alive, chunked watch streams, authentication and
authorization in front of the REST handlers, and the wiring of every component (`KubeServer`)."""

from __future__ import annotations

import base64
import email.utils
import logging
import secrets
import select
import socket
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from vaultinject.lab import httpbody, tls
from vaultinject.lab.controllers import manager
from vaultinject.lab.controllers.base import Context
from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.httphandler import EveryMethodHandler
from vaultinject.lab.kube import bootstrap, routing
from vaultinject.lab.kube.admission import ServiceResolver, WebhookAdmission
from vaultinject.lab.kube.auth import Authenticator
from vaultinject.lab.kube.clock import Clock
from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.controllers import NamespaceDefaults, TokenSecrets
from vaultinject.lab.kube.gc import GarbageCollector
from vaultinject.lab.kube.handlers import Api, Request, Response, error_response
from vaultinject.lab.kube.impersonation import impersonate
from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.rbac import Attributes, Authorizer
from vaultinject.lab.kube.status import ApiError, internal
from vaultinject.lab.kube.store import Store
from vaultinject.lab.kube.tokens import SigningKey, TokenService
from vaultinject.lab.kubelet.simulated import SimulatedNodes
from vaultinject.lab.network import ipam
from vaultinject.lab.network.proxy import ServiceProxy

log = logging.getLogger(__name__)
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_MAX_BODY = 3 * 1024 * 1024
_SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    ipam.KUBERNETES_SERVICE_IP,
)


@dataclass
class ServerConfig:
    """How to run the lab API server. `data_dir` holds the PKI, the admin token, state.db and pod logs."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    issuer: str = DEFAULT_ISSUER
    api_audiences: list[str] = field(default_factory=list)
    bookmark_interval: float = 10.0
    watch_history: int = 5000
    reap_pods: bool = True
    extend_token_expiration: bool = True
    clock: Clock = field(default_factory=Clock)
    service_resolver: ServiceResolver | None = None
    controllers: tuple[str, ...] | None = ()
    """Which lab controllers to run: () none (the API server alone), None all of them."""
    controller_settings: ControllerSettings = field(default_factory=ControllerSettings)
    default_not_ready_toleration_seconds: int = 300
    default_unreachable_toleration_seconds: int = 300
    simulated_nodes: int = 0
    """Nodes with no processes behind them (kwok-style, `lab/kubelet/simulated.py`)."""
    service_proxy: bool = False
    """Run the Service proxy (ClusterIP:port listeners in 127.96.0.0/16) in this process."""


def _load_or_create_ca(pki: Path) -> tls.CertificateAuthority:
    cert, key = pki / "ca.crt", pki / "ca.key"
    if cert.exists() and key.exists():
        return tls.CertificateAuthority.load(cert.read_bytes(), key.read_bytes())
    ca = tls.CertificateAuthority.create("vaultinject lab kubernetes CA")
    ca.pair.write(pki, "ca")
    return ca


def _load_or_create_token(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_hex(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


def node_token_file(data_dir: Path, name: str) -> Path:
    """Node `name`'s bearer token at `<data_dir>/pki/nodes/<name>.token` (0600), created when missing.

    It authenticates as `system:node:<name>` in group `system:nodes`; a server loads these files at start,
    so a launcher may create them before the server runs."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"invalid node name {name!r}")
    directory = data_dir / "pki" / "nodes"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{name}.token"
    _load_or_create_token(path)
    return path


class KubeServer:
    """The lab Kubernetes API server, runnable in a thread (`start`/`stop`) or as `vaultinject lab kube`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.clock = config.clock
        data = config.data_dir
        pki = data / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        self.ca = _load_or_create_ca(pki)
        self.ca_file = pki / "ca.crt"
        hosts = list(dict.fromkeys([config.host, "127.0.0.1", *_SERVER_NAMES]))
        cert_file, key_file = self.ca.issue(hosts, common_name="kube-apiserver").write(pki, "apiserver")
        self.tls_context = tls.server_context(cert_file, key_file)
        self.tls_context.set_alpn_protocols(["http/1.1"])
        self.admin_token = _load_or_create_token(data / "admin-token")
        self.store = Store(data / "state.db", config.watch_history)
        self.admission = WebhookAdmission(self.store, config.service_resolver)
        self.cluster = Cluster(self.store, self.clock, admission=self.admission)
        self.cluster.default_toleration_seconds = (
            config.default_not_ready_toleration_seconds,
            config.default_unreachable_toleration_seconds,
        )
        audiences = config.api_audiences or [config.issuer]
        key = SigningKey.load_or_create(pki / "sa.key")
        self.tokens = TokenService(
            key,
            config.issuer,
            audiences,
            clock=self.clock,
            store=self.store,
            extend_expiration=config.extend_token_expiration,
        )
        self.authenticator = Authenticator(self.admin_token, self.tokens)
        self.node_tokens = pki / "nodes"
        for path in sorted(self.node_tokens.glob("*.token")):
            self._register_node_token(path.stem, path.read_text().strip())
        self.authorizer = Authorizer(self.store)
        self.log_root = data / "pod-logs"
        self.api = Api(
            self.cluster,
            self.tokens,
            self.authorizer,
            clock=self.clock,
            log_root=self.log_root,
            server_address=self._address,
            bookmark_interval=config.bookmark_interval,
        )
        self.namespace_defaults = NamespaceDefaults(self.cluster, self.ca.cert_pem)
        self.cluster.after_create += [
            self.namespace_defaults,
            TokenSecrets(self.cluster, self.tokens, self.ca.cert_pem),
        ]
        self.gc = GarbageCollector(self.cluster, config.reap_pods)
        context = Context(self.cluster, self.clock, config.controller_settings)
        self.controllers = manager.build(context, config.controllers)
        self.simulated: SimulatedNodes | None = None
        if config.simulated_nodes > 0:
            # Their kubelets renew leases often enough for whatever grace period the lab runs with.
            lease = min(40.0, config.controller_settings.node_monitor_grace_period)
            self.simulated = SimulatedNodes(
                self.cluster, self.clock, config.simulated_nodes, lease_duration=lease
            )
        self._http: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.proxy: ServiceProxy | None = None

    # --- lifecycle ---

    def start(self) -> None:
        """Bind, bootstrap the cluster state, and serve on a background thread."""
        self._http = _HTTPServer((self.config.host, self.config.port), self)
        bootstrap.bootstrap(self.cluster, self.port)
        for namespace in self.store.list_objects("namespaces")[0]:
            if not namespace["metadata"].get("deletionTimestamp"):
                self.namespace_defaults.ensure(namespace["metadata"]["name"])
        self.gc.start()
        if self.simulated is not None:
            self.simulated.start()
        self.controllers.start()
        if self.config.service_proxy:
            self.proxy = ServiceProxy(self.store, self.port)
            self.proxy.start()
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="lab-kube-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self.proxy is not None:
            self.proxy.stop()
        self.gc.stop()
        self.controllers.stop()
        if self.simulated is not None:
            self.simulated.stop()
        self.store.close()
        self.admission.close()

    def __enter__(self) -> KubeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._http is not None, "the server is not started"
        return int(self._http.server_address[1])

    def _address(self) -> str:
        return f"{self.config.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self._address()}"

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig with the cluster CA, the server URL and the admin token."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lab",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca.cert_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "lab-admin", "user": {"token": self.admin_token}}],
            "contexts": [
                {"name": "lab", "context": {"cluster": "lab", "user": "lab-admin", "namespace": "default"}}
            ],
            "current-context": "lab",
            "preferences": {},
        }

    # --- node credentials ---

    def node_token(self, name: str) -> Path:
        """The bearer-token file of node `name`, created on first use (see `node_token_file`)."""
        path = node_token_file(self.config.data_dir, name)
        self._register_node_token(name, path.read_text().strip())
        return path

    def _register_node_token(self, name: str, token: str) -> None:
        if token:
            user = UserInfo(f"system:node:{name}", "", ("system:nodes", "system:authenticated"))
            self.authenticator.register(token, user)

    def write_kubeconfig(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(self.kubeconfig(), sort_keys=False))

    # --- one request ---

    def serve(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Authenticate, authorize and handle one request; every failure becomes a Status response."""
        try:
            parts = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            user = self.authenticator.authenticate(headers.get("authorization"))
            user = impersonate(self.authorizer, user, headers)
            watch = query.get("watch", "").lower() in {"true", "1"}
            info = routing.parse(method, parts.path, watch)
            attributes = Attributes.of_request(user, info)
            allowed, _ = self.authorizer.authorize(attributes)
            if not allowed:
                raise self.authorizer.forbidden(attributes)
            return self.api.handle(Request(method, parts.path, query, headers, body, user), info)
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("unexpected error serving %s %s", method, target)
            return error_response(internal("an unexpected error occurred in the lab API server"))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], kube: KubeServer) -> None:
        self.kube = kube
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Do the TLS handshake here, in the connection's own thread, not in the accept loop."""
        request.settimeout(10)
        try:
            connection = self.kube.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.settimeout(None)
        try:
            _Handler(connection, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            connection.close()


def _body_error(error: httpbody.BodyError) -> ApiError:
    if error.status == 413:
        return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {_MAX_BODY}")
    return ApiError(400, "BadRequest", f"the request body cannot be read: {error.message}")


class _Handler(EveryMethodHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 600

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines and headers, answered with a Status like every other error."""
        del explain
        phrase = self.responses.get(code, ("",))[0]
        reason = "RequestEntityTooLarge" if code == 413 else "BadRequest" if code == 400 else ""
        self.close_connection = True
        self._send(error_response(ApiError(code, reason, message or phrase)))

    def _dispatch(self) -> None:
        try:
            body = httpbody.read_body(self.rfile, self.headers, _MAX_BODY)
        except httpbody.BodyError as error:
            self.close_connection = True
            self._send(error_response(_body_error(error)))
            httpbody.discard_input(self.connection, self.rfile)
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        response = self.server.kube.serve(self.command, self.path, headers, body)
        self._send(response)

    def _head(self, response: Response, extra: list[tuple[str, str]]) -> bytes:
        reason = self.responses.get(response.status, ("",))[0]
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Audit-Id: {uuid.uuid4()}",
            "Cache-Control: no-cache, private",
            f"Content-Type: {response.content_type}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            *(f"{k}: {v}" for k, v in [*response.headers, *extra]),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, response: Response) -> None:
        self.log_request(response.status)
        if response.stream is None:
            head = self._head(response, [("Content-Length", str(len(response.body)))])
            self.wfile.write(head + (b"" if self.command == "HEAD" else response.body))
            return
        self.wfile.write(self._head(response, [("Transfer-Encoding", "chunked")]))
        try:
            for chunk in response.stream:
                if not chunk:
                    if self._client_gone():
                        self.close_connection = True
                        return
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (OSError, ssl.SSLError):
            self.close_connection = True
        finally:
            close = getattr(response.stream, "close", None)
            if close is not None:
                close()

    def _client_gone(self) -> bool:
        """A streaming client sends nothing; anything readable means it closed (or broke) the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)
