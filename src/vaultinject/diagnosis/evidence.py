"""Everything the rules read, as typed, frozen records that a gatherer fills from Vault's and the
Kubernetes API's JSON (each record has a `from_*` constructor for the answer it comes from).

Every observation says what was read (`source`, e.g. "GET /v1/sys/health") and when (`at`, epoch
seconds). When it could not be read, `error` says why (never a secret) and the fields it would have
filled stay None, so a rule can say "unknown" instead of guessing. An observation that is None in
`Evidence` was not gathered at all.

No record holds a token: the canary's JWT, Vault tokens and the stored reviewer token never enter here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultinject.spec import vault_key
from vaultinject.spec.values import parse_bool

INJECT_ANNOTATION = vault_key("agent-inject")
STATUS_ANNOTATION = vault_key("agent-inject-status")
INIT_AGENT = "vault-agent-init"  # upstream's names, kept by our injector
SIDECAR_AGENT = "vault-agent"
AGENT_CONTAINERS = (INIT_AGENT, SIDECAR_AGENT)
OUR_AGENT_COMMAND = ("vaultinject-agent",)  # the injector's AGENT_COMMAND (diagnosis may not import it)
QUEUED_REASONS = frozenset({"", "PodInitializing", "ContainerCreating"})  # waiting its turn, not failing

Json = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Observation:
    """What was read (`source`), when (`at`), and why it could not be read (`error`, None when it was)."""

    source: str
    at: float
    error: str | None = None

    @property
    def known(self) -> bool:
        return self.error is None


# -- Vault server -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VaultHealth(Observation):
    """`GET /v1/sys/health` (with `standbyok`): `error` is the network error when there was no answer.

    `status` is the HTTP status (200 active, 429 standby, 472/473 DR/performance standby, 501 not
    initialized, 503 sealed); the flags are Vault's fields, None when the answer lacked them."""

    address: str = ""
    status: int | None = None
    initialized: bool | None = None
    sealed: bool | None = None
    standby: bool | None = None
    version: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None and self.status is not None

    @classmethod
    def from_response(
        cls, status: int, body: Json | None, *, address: str, source: str, at: float
    ) -> VaultHealth:
        data = body or {}
        return cls(
            source=source,
            at=at,
            address=address,
            status=status,
            initialized=_bool(data.get("initialized")),
            sealed=_bool(data.get("sealed")),
            standby=_bool(data.get("standby")),
            version=_str(data.get("version")),
        )


@dataclass(frozen=True, kw_only=True)
class VaultLeader(Observation):
    """`GET /v1/sys/leader`: whether HA is on and which node is active (`leader_address`, "" for none)."""

    ha_enabled: bool | None = None
    is_self: bool | None = None
    leader_address: str | None = None

    @property
    def active_present(self) -> bool | None:
        if self.leader_address is None:
            return None
        return bool(self.leader_address) or bool(self.is_self)

    @classmethod
    def from_response(cls, body: Json, *, source: str, at: float) -> VaultLeader:
        return cls(
            source=source,
            at=at,
            ha_enabled=_bool(body.get("ha_enabled")),
            is_self=_bool(body.get("is_self")),
            leader_address=_str(body.get("leader_address")),
        )


@dataclass(frozen=True, kw_only=True)
class VaultPlacement(Observation):
    """Where Vault runs: `in_cluster` True/False (None: unknown), and what decided it (`reason`, e.g.
    "pods vault-0, vault-1 labelled app.kubernetes.io/name=vault in namespace vault")."""

    in_cluster: bool | None = None
    reason: str = ""
    service_account: str = "vault/vault"  # namespace/name of Vault's service account


# -- the Kubernetes auth method -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AuthMount(Observation):
    """`GET /v1/sys/auth`: whether `path` (e.g. "kubernetes") is enabled, and its method type."""

    path: str = "kubernetes"
    present: bool | None = None
    type: str | None = None

    @classmethod
    def from_mounts(cls, body: Json, *, path: str, source: str, at: float) -> AuthMount:
        """From sys/auth's answer (mounts at the top level or under `data`, keyed "kubernetes/")."""
        mounts = body.get("data") if isinstance(body.get("data"), Mapping) else body
        entry = mounts.get(f"{path.strip('/')}/") if isinstance(mounts, Mapping) else None
        if not isinstance(entry, Mapping):
            return cls(source=source, at=at, path=path, present=False)
        return cls(source=source, at=at, path=path, present=True, type=_str(entry.get("type")))


@dataclass(frozen=True, kw_only=True)
class AuthConfig(Observation):
    """`GET /v1/auth/<mount>/config` as Vault returns it. `written` is False for a 404 (never written).

    `token_reviewer_jwt_set` is None when this Vault does not report it (plugin < 0.18, Vault < 1.16);
    the stored JWT itself is never returned by Vault and never held here."""

    written: bool | None = None
    kubernetes_host: str | None = None
    kubernetes_ca_cert: str | None = None
    token_reviewer_jwt_set: bool | None = None
    issuer: str | None = None
    disable_iss_validation: bool | None = None
    disable_local_ca_jwt: bool | None = None

    @classmethod
    def from_response(cls, status: int, body: Json | None, *, source: str, at: float) -> AuthConfig:
        if status == 404:
            return cls(source=source, at=at, written=False)
        data = (body or {}).get("data") or {}
        return cls(
            source=source,
            at=at,
            written=True,
            kubernetes_host=_str(data.get("kubernetes_host")),
            kubernetes_ca_cert=_str(data.get("kubernetes_ca_cert")),
            token_reviewer_jwt_set=_bool(data.get("token_reviewer_jwt_set")),
            issuer=_str(data.get("issuer")),
            disable_iss_validation=_bool(data.get("disable_iss_validation")),
            disable_local_ca_jwt=_bool(data.get("disable_local_ca_jwt")),
        )


@dataclass(frozen=True, kw_only=True)
class ClusterIdentity(Observation):
    """The cluster as the gatherer sees it: its CA (PEM, e.g. ConfigMap kube-root-ca.crt), the service
    account issuer (`/.well-known/openid-configuration`) and the API server's audiences (the `aud` of a
    token minted without an audience)."""

    ca_pem: str | None = None
    issuer: str | None = None
    api_audiences: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class HostReach(Observation):
    """Whether Vault can reach `kubernetes_host` (`reachable` None: unknown), and what showed it."""

    host: str = ""
    reachable: bool | None = None
    detail: str = ""


# -- the canary login ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VaultAnswer(Observation):
    """Vault's answer to one login: the HTTP `status` and its `errors` texts, or `network_error` when
    there was no HTTP answer (connection refused, timeout, DNS, TLS). `error`: the login was not tried."""

    status: int | None = None
    errors: tuple[str, ...] = ()
    network_error: str | None = None

    @classmethod
    def from_response(cls, status: int, body: Json | None, *, source: str, at: float) -> VaultAnswer:
        errors = (body or {}).get("errors")
        texts = tuple(str(e) for e in errors) if isinstance(errors, list) else ()
        return cls(source=source, at=at, status=status, errors=texts)


@dataclass(frozen=True, kw_only=True)
class TokenReviewAnswer(Observation):
    """The API server's answer to a TokenReview of a token: the HTTP `status` (401 means the review's
    bearer was refused; `message` is then the Status message), and for a 2xx the review's
    `authenticated`, `review_error` (status.error), `audiences` and `username`."""

    status: int | None = None
    message: str = ""
    authenticated: bool | None = None
    review_error: str = ""
    audiences: tuple[str, ...] = ()
    username: str | None = None

    @property
    def client_token_valid(self) -> bool | None:
        """Whether the reviewed token is accepted (None: the review itself did not answer)."""
        if self.status is None or not 200 <= self.status < 300:
            return None
        return bool(self.authenticated) and not self.review_error

    @classmethod
    def from_response(cls, status: int, body: Json | None, *, source: str, at: float) -> TokenReviewAnswer:
        document = body or {}
        if not 200 <= status < 300:
            return cls(source=source, at=at, status=status, message=_str(document.get("message")) or "")
        review = document.get("status") or {}
        return cls(
            source=source,
            at=at,
            status=status,
            authenticated=_bool(review.get("authenticated")),
            review_error=_str(review.get("error")) or "",
            audiences=tuple(str(a) for a in review.get("audiences") or ()),
            username=_str((review.get("user") or {}).get("username")),
        )


@dataclass(frozen=True, kw_only=True)
class Canary:
    """A login with a dedicated service account whose Vault role has no policies, and the API server's
    TokenReview of the same token. `role_audience` is the role's `audience` ("" when unset), and
    `token_audiences` the token's `aud` claims (None when unknown)."""

    role: str
    login: VaultAnswer
    review: TokenReviewAnswer | None = None
    role_audience: str | None = None
    token_audiences: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class AuthDelegator(Observation):
    """A SubjectAccessReview: may `service_account` (namespace/name) create tokenreviews (what
    `system:auth-delegator` grants)? `allowed` None: unknown."""

    service_account: str = "vault/vault"
    allowed: bool | None = None
    reason: str = ""

    @classmethod
    def from_response(cls, body: Json, *, service_account: str, source: str, at: float) -> AuthDelegator:
        status = body.get("status") or {}
        return cls(
            source=source,
            at=at,
            service_account=service_account,
            allowed=bool(status.get("allowed")),
            reason=_str(status.get("reason")) or "",
        )


# -- pods ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """A pod's workload: its controller's kind and name (a ReplicaSet's Deployment when resolved)."""

    kind: str
    name: str


@dataclass(frozen=True, kw_only=True)
class AgentContainer:
    """One agent container's status. `kind`: "init" (classic vault-agent-init), "native" (an init
    container with restartPolicy Always) or "sidecar". `state`: waiting, running, terminated, or absent
    (no status yet); `since`: when that state began (epoch seconds); `started`: the native sidecar's
    startup probe passed."""

    name: str
    kind: str
    state: str = "absent"
    since: float | None = None
    reason: str = ""
    exit_code: int | None = None
    restart_count: int = 0
    started: bool | None = None
    ours: bool = False  # vaultinject's agent (its command), not another injector's container of that name

    @property
    def finished(self) -> bool:
        """Whether this agent let the app start: exited 0 (init), started (native), or a sidecar."""
        if self.kind == "init":
            return self.state == "terminated" and self.exit_code == 0
        if self.kind == "native":
            return bool(self.started)
        return True

    @property
    def failing(self) -> bool:
        """Whether it is failing rather than queued: waiting for a reason other than its turn to start."""
        return (
            self.crash_looping
            or self.state == "terminated"
            or (self.state == "waiting" and self.reason not in QUEUED_REASONS)
        )

    @property
    def crash_looping(self) -> bool:
        return self.reason == "CrashLoopBackOff" or (self.restart_count >= 3 and self.state != "running")


@dataclass(frozen=True, kw_only=True)
class AgentLog(Observation):
    """The last lines of an agent container's log (`GET pods/<name>/log?container=...&tailLines=N`)."""

    container: str = INIT_AGENT
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PodEvidence:
    """One pod: where it is, its workload (`owner` None: a bare pod, no controller recreates it),
    whether it opts in (`vault.hashicorp.com/agent-inject` true), whether it was injected (it has our
    agent containers), its agents' status and their last log lines."""

    namespace: str
    name: str
    created_at: float | None = None
    phase: str = ""
    terminating: bool = False  # it has a deletionTimestamp
    owner: Owner | None = None
    opted_in: bool = False
    injected: bool = False
    agents: tuple[AgentContainer, ...] = ()
    log: AgentLog | None = None

    @property
    def ours(self) -> bool:
        """Injected by vaultinject (not by HashiCorp's injector, whose containers have the same names)."""
        return any(agent.ours for agent in self.agents)

    @property
    def workload(self) -> str:
        if self.owner is None:
            return f"bare pod {self.namespace}/{self.name}"
        return f"{self.owner.kind} {self.namespace}/{self.owner.name}"

    @classmethod
    def from_pod(
        cls,
        pod: Json,
        *,
        owners: Mapping[tuple[str, str, str], Owner] | None = None,
        log: AgentLog | None = None,
    ) -> PodEvidence:
        """From a Pod object. `owners` maps (namespace, kind, name) of a controller to its own
        controller (a ReplicaSet to its Deployment), so pods group by the workload a person knows."""
        metadata = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        namespace = str(metadata.get("namespace") or "default")
        annotations = metadata.get("annotations") or {}
        owner = _controller(metadata.get("ownerReferences") or ())
        if owner is not None and owners:
            owner = owners.get((namespace, owner.kind, owner.name), owner)
        agents = _agents(spec, status)
        return cls(
            namespace=namespace,
            name=str(metadata.get("name") or ""),
            created_at=parse_time(metadata.get("creationTimestamp")),
            phase=str(status.get("phase") or ""),
            terminating=bool(metadata.get("deletionTimestamp")),
            owner=owner,
            opted_in=_opted_in(annotations.get(INJECT_ANNOTATION)),
            injected=bool(agents) or annotations.get(STATUS_ANNOTATION) == "injected",
            agents=agents,
            log=log,
        )


@dataclass(frozen=True, kw_only=True)
class Pods(Observation):
    """Pods read in one listing (`source` e.g. "pods in all namespaces")."""

    items: tuple[PodEvidence, ...] = ()


# -- the injector -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoints(Observation):
    """The webhook Service's endpoints: how many addresses are ready and not ready."""

    service: str = ""
    ready: int | None = None
    not_ready: int | None = None


@dataclass(frozen=True, kw_only=True)
class WebhookCertificate(Observation):
    """The webhook's serving certificate: whether the MutatingWebhookConfiguration's caBundle trusts it
    (`trusted`, None: unknown), and its not-after (epoch seconds)."""

    configuration: str = ""
    trusted: bool | None = None
    not_after: float | None = None


# -- all of it ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Everything gathered for one diagnosis; a None field was not gathered."""

    vault_health: VaultHealth | None = None
    vault_leader: VaultLeader | None = None
    placement: VaultPlacement | None = None
    auth_mount: AuthMount | None = None
    auth_config: AuthConfig | None = None
    cluster: ClusterIdentity | None = None
    host_reach: HostReach | None = None
    canary: Canary | None = None
    auth_delegator: AuthDelegator | None = None
    pods: Pods | None = None
    webhook_endpoints: WebhookEndpoints | None = None
    webhook_certificate: WebhookCertificate | None = None


# -- helpers ------------------------------------------------------------------------------------


def parse_time(value: object) -> float | None:
    """An RFC 3339 timestamp (Kubernetes' `2026-12-08T02:00:00Z`) as epoch seconds; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opted_in(raw: object) -> bool:
    if not isinstance(raw, str):
        return False
    try:
        return parse_bool(raw)
    except ValueError:
        return False


def _controller(references: object) -> Owner | None:
    if not isinstance(references, list | tuple):
        return None
    for reference in references:
        if isinstance(reference, Mapping) and reference.get("controller"):
            return Owner(str(reference.get("kind") or ""), str(reference.get("name") or ""))
    return None


def _agents(spec: Json, status: Json) -> tuple[AgentContainer, ...]:
    statuses = {
        str(s.get("name")): s
        for key in ("initContainerStatuses", "containerStatuses")
        for s in status.get(key) or ()
        if isinstance(s, Mapping)
    }
    found = []
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or ():
            name = container.get("name") if isinstance(container, Mapping) else None
            if name not in AGENT_CONTAINERS:
                continue
            if key == "containers":
                kind = "sidecar"
            else:
                kind = "native" if container.get("restartPolicy") == "Always" else "init"
            ours = container.get("command") == list(OUR_AGENT_COMMAND)
            found.append(_agent(str(name), kind, statuses.get(str(name)), ours))
    return tuple(found)


def _agent(name: str, kind: str, status: Json | None, ours: bool) -> AgentContainer:
    if status is None:
        return AgentContainer(name=name, kind=kind, ours=ours)
    state = status.get("state") or {}
    for state_name in ("terminated", "running", "waiting"):
        detail = state.get(state_name)
        if isinstance(detail, Mapping):
            break
    else:
        state_name, detail = "absent", {}
    since = _state_since(state_name, detail, status)
    exit_code = detail.get("exitCode")
    return AgentContainer(
        name=name,
        kind=kind,
        state=state_name,
        since=since,
        reason=str(detail.get("reason") or ""),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        restart_count=int(status.get("restartCount") or 0),
        started=_bool(status.get("started")),
        ours=ours,
    )


def _state_since(state_name: str, detail: Json, status: Json) -> float | None:
    """When the state began: a run's start, an exit's finish, a wait's previous exit (None: unknown)."""
    if state_name == "running":
        return parse_time(detail.get("startedAt"))
    if state_name == "terminated":
        return parse_time(detail.get("finishedAt"))
    last = (status.get("lastState") or {}).get("terminated") or {}
    return parse_time(last.get("finishedAt"))
