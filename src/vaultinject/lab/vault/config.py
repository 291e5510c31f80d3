"""Server settings, filled from the command line or by tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VERSION = "1.17.5"
BUILD_DATE = "2024-08-30T15:54:57Z"
DEFAULT_SA_TOKEN_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
DEFAULT_SA_CA_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")


@dataclass
class ServerConfig:
    """Everything the lab Vault server can be told at start-up.

    `local_sa_token_file` and `local_ca_cert_file` are where the Kubernetes auth method looks for the server's
    own service-account token and cluster CA (inside a pod: the projected token volume).
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

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None and self.tls_key is not None
