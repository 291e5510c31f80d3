"""Server settings, filled from the command line or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VERSION = "1.17.5"
BUILD_DATE = "2024-08-30T15:54:57Z"
DEFAULT_SA_TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
DEFAULT_SA_CA_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")


@dataclass(frozen=True)
class RegistrationConfig:
    """Kubernetes service registration: which pod to label, and the API server to label it through."""

    pod_name: str
    namespace: str
    api_url: str
    retry_interval: float = 5.0


@dataclass
class ServerConfig:
    """Everything the lab Vault server can be told at start-up.

    `local_sa_token_file` and `local_ca_cert_file` are where the Kubernetes auth method looks for the server's
    own service-account token and cluster CA (inside a pod: the projected token volume); service
    registration uses the same two files.

    With `ha`, `data_dir` is the storage every node shares; `api_addr` is where the others reach this node
    (empty: its own URL) and `ca_cert` what it trusts when it forwards a request to the active node.
    """

    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    data_dir: Path | None = None
    root_token: str | None = None
    auto_unseal: bool = False
    unseal_key_file: Path | None = None
    local_sa_token_file: Path = DEFAULT_SA_TOKEN_FILE
    local_ca_cert_file: Path = DEFAULT_SA_CA_FILE
    local_token_reload_seconds: float = 60.0
    local_ca_reload_seconds: float = 3600.0
    sweep_interval: float = 1.0
    dev_secret_mount: bool = True
    outbound_timeout: float = 10.0
    version: str = VERSION
    ha: bool = False
    api_addr: str = ""
    cluster_addr: str = ""
    ca_cert: Path | None = None
    ha_poll_interval: float = 0.1
    step_down_wait: float = 10.0
    registration: RegistrationConfig | None = None

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None
