"""The typed, validated injection spec that annotations parse into."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from vaultinject.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

VAULT_PREFIX = "vault.hashicorp.com/"
VAULTINJECT_PREFIX = "vaultinject.io/"

AGENT_STATE_PATH = "/home/vault"  # private in-memory state volume: token, leases, readiness markers
PODINFO_PATH = "/vault/podinfo"  # downward-API volume: the pod's own annotations
PODINFO_ANNOTATIONS_FILE = PODINFO_PATH + "/annotations"
TLS_SECRET_PATH = "/vault/tls"
EXTRA_SECRET_PATH = "/vault/custom"
AGENT_TOKEN_MOUNT_PATH = "/var/run/secrets/vault.hashicorp.com/serviceaccount"
STARTED_FILE = AGENT_STATE_PATH + "/.vaultinject-started"  # exists once every file has been rendered
READY_FILE = AGENT_STATE_PATH + "/.vaultinject-ready"  # exists while every secret is present and valid
RESERVED_AGENT_PATHS = (
    AGENT_STATE_PATH,
    PODINFO_PATH,
    TLS_SECRET_PATH,
    EXTRA_SECRET_PATH,
    AGENT_TOKEN_MOUNT_PATH,
)

DEFAULT_TEMPLATES = {
    "map": '{{ with secret "%s" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}',
    "json": '{{ with secret "%s" }}{{ .Data | toJSON }}\n{{ end }}',
}
"""Upstream's default templates (`agent-inject-default-template`), `%s` being the secret's Vault path."""


def vault_key(suffix: str) -> str:
    """The full `vault.hashicorp.com/<suffix>` annotation name."""
    return VAULT_PREFIX + suffix


def frozen_mapping(mapping: Mapping[str, T] | None = None) -> Mapping[str, T]:
    """A read-only copy of `mapping`."""
    return MappingProxyType(dict(mapping or {}))


EMPTY: Mapping[str, str] = frozen_mapping()


class Mode(enum.StrEnum):
    """How the agent is injected."""

    NATIVE = "native"  # one `vault-agent` init container with restartPolicy Always, gated by a startup probe
    CLASSIC = "classic"  # `vault-agent-init` init container plus a `vault-agent` sidecar
    INIT_ONLY = "init-only"  # `vault-agent-init` alone (Jobs, or `agent-pre-populate-only`)


class SpecError(ValueError):
    """An annotation that cannot be accepted: names the annotation and says what a valid value looks like.

    When several annotations are wrong, the first is raised and `errors` holds all of them.
    """

    def __init__(self, annotation: str, message: str) -> None:
        super().__init__(f"{annotation}: {message}")
        self.annotation = annotation
        self.message = message
        self.errors: tuple[SpecError, ...] = (self,)


class SecretSpec(Record):
    """One rendered file: where its template comes from and where it is written."""

    name: str  # the file name: the annotation suffix, lower-cased unless case is preserved
    key: str  # the annotation suffix as written; per-secret annotations are looked up with it
    vault_path: str | None  # agent-inject-secret-<key>
    template: str | None  # agent-inject-template-<key>: inline template text
    template_file: str | None  # agent-inject-template-file-<key>: used only without an inline template
    default_template: str  # "map" or "json": used when there is neither
    mount_path: str  # the directory of the volume the file is written to
    destination: str  # absolute path of the file
    perms: int | None = None  # agent-inject-perms-<key>; None means 0644 as upstream
    command: str | None = None  # agent-inject-command-<key>: run after a render that changed the file
    left_delim: str = "{{"
    right_delim: str = "}}"
    error_on_missing_key: bool = False

    @property
    def template_annotation(self) -> str:
        """The annotation the template text comes from, for error messages."""
        if self.template is not None:
            return vault_key(f"agent-inject-template-{self.key}")
        if self.template_file is not None:
            return vault_key(f"agent-inject-template-file-{self.key}")
        return vault_key(f"agent-inject-secret-{self.key}")

    def contents(self) -> str | None:
        """The template text to render; None when it comes from `template_file` at run time."""
        if self.template is not None:
            return self.template
        if self.template_file is not None:
            return None
        return DEFAULT_TEMPLATES[self.default_template] % (self.vault_path or "")


class VaultConnection(Record):
    """How the agent reaches Vault."""

    address: str
    ca_cert: str | None = None  # ca-cert: a CA file path
    ca_path: str | None = None  # ca-key: despite its name upstream emits it as ca_path (a directory)
    ca_cert_bytes: str | None = None  # injector-wide CA bundle (VAULTINJECT_VAULT_CACERT_BYTES)
    client_cert: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    tls_skip_verify: bool = False
    tls_secret: str | None = None  # a Secret mounted at /vault/tls
    proxy_address: str | None = None
    client_max_retries: int | None = None
    client_timeout: float | None = None  # seconds


class AuthSpec(Record):
    """How the agent logs in."""

    type: str  # kubernetes, jwt or approle
    path: str  # the mount, e.g. auth/kubernetes
    role: str | None
    config: Mapping[str, str] = EMPTY  # auth-config-*, "-" turned into "_"
    token_path: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    vault_namespace: str | None = None
    min_backoff: float | None = None  # seconds
    max_backoff: float | None = None
    exit_on_err: bool = False


class SecuritySpec(Record):
    """The agents' security context."""

    set_security_context: bool = True
    run_as_user: int = 100
    run_as_group: int = 1000
    run_as_same_user: bool = False


class Resources(Record):
    """Agent container resources; an absent key means no request or limit."""

    requests: Mapping[str, str] = EMPTY
    limits: Mapping[str, str] = EMPTY


class CacheSpec(Record):
    """Vault Agent's cache annotations. Classic mode always shares the init container's state."""

    enable: bool = False
    use_auto_auth_token: str = "true"
    listener_port: int = 8200
    exit_on_err: bool = False


class TemplateConfig(Record):
    """Rendering behaviour shared by every template."""

    exit_on_retry_failure: bool = True
    static_secret_render_interval: float | None = None  # seconds; None: the agent's default (5 min)
    max_connections_per_host: int = 0
    lease_renewal_threshold: float | None = None  # fraction of the lease; None: the agent's default


class InjectionSpec(Record):
    """Everything the injector and the agent need to know, parsed and validated once."""

    mode: Mode
    image: str
    vault: VaultConnection
    auth: AuthSpec
    secrets: tuple[SecretSpec, ...] = ()
    secret_volume_path: str = "/vault/secrets"
    pre_populate: bool = True  # classic mode only: False injects the sidecar alone
    init_first: bool = False
    inject_containers: tuple[str, ...] | None = None  # None: every app container
    inject_token: bool = False
    security: SecuritySpec = SecuritySpec()
    resources: Resources = Resources()
    share_process_namespace: bool | None = None
    copy_volume_mounts: str | None = None
    extra_secret: str | None = None
    service_account_token_volume: str | None = None
    token_audience: str | None = None  # audience of the projected token the injector adds when needed
    agent_json_patch: tuple[Mapping[str, object], ...] = ()
    init_json_patch: tuple[Mapping[str, object], ...] = ()
    cache: CacheSpec = CacheSpec()
    enable_quit: bool = False
    revoke_on_shutdown: bool = False
    revoke_grace: int = 5
    template_config: TemplateConfig = TemplateConfig()
    telemetry: Mapping[str, object] = EMPTY
    disable_idle_connections: tuple[str, ...] = ()
    disable_keep_alives: tuple[str, ...] = ()
    go_max_procs: str | None = None
    log_level: str = "info"
    log_format: str = "standard"
    not_ready_after: float = 30.0  # seconds a render may fail before the agent reports NotReady
    warnings: tuple[str, ...] = ()

    @property
    def token_file(self) -> str:
        """Where `agent-inject-token` writes the Vault token for the app."""
        return self.secret_volume_path.rstrip("/") + "/token"
