"""Evidence of a healthy cluster, built from the JSON Vault and the API server return, for tests to
break one piece at a time with `dataclasses.replace`."""

from __future__ import annotations

from typing import Any

from vaultinject.diagnosis.evidence import (
    AgentLog,
    AuthConfig,
    AuthDelegator,
    AuthMount,
    Canary,
    ClusterIdentity,
    Evidence,
    HostReach,
    PodEvidence,
    Pods,
    TokenReviewAnswer,
    VaultAnswer,
    VaultHealth,
    VaultLeader,
    VaultPlacement,
    WebhookCertificate,
    WebhookEndpoints,
)

NOW = 1_800_000_000.0
AT = NOW - 2
DAY = 86400.0
CLUSTER_CA = "-----BEGIN CERTIFICATE-----\nMIIBclusterCA\nAAAA\n-----END CERTIFICATE-----\n"
OTHER_CA = "-----BEGIN CERTIFICATE-----\nMIIBotherCA\n-----END CERTIFICATE-----\n"
ISSUER = "https://kubernetes.default.svc.cluster.local"
HOST = "https://kubernetes.default.svc"
LOGIN = "POST /v1/auth/kubernetes/login (role vaultinject-canary)"
REVIEW = "POST tokenreviews (canary token)"


def stamp(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health(**body: Any) -> VaultHealth:
    document = {"initialized": True, "sealed": False, "standby": False, "version": "1.17.5", **body}
    status = 503 if document["sealed"] else 200
    return VaultHealth.from_response(
        status, document, address="https://vault.vault.svc:8200", source="GET /v1/sys/health", at=AT
    )


def config(**data: Any) -> AuthConfig:
    document = {
        "kubernetes_host": HOST,
        "kubernetes_ca_cert": "",
        "pem_keys": [],
        "issuer": "",
        "disable_iss_validation": True,
        "disable_local_ca_jwt": False,
        "token_reviewer_jwt_set": False,
        "use_annotations_as_alias_metadata": False,
        **data,
    }
    return AuthConfig.from_response(200, {"data": document}, source="GET /v1/auth/kubernetes/config", at=AT)


def login(status: int, *errors: str) -> VaultAnswer:
    body: dict[str, Any] = {"errors": list(errors)} if errors else {"auth": {"policies": ["default"]}}
    return VaultAnswer.from_response(status, body, source=LOGIN, at=AT)


def review_ok(audiences: tuple[str, ...] = (HOST,)) -> TokenReviewAnswer:
    body = {
        "kind": "TokenReview",
        "status": {
            "authenticated": True,
            "user": {"username": "system:serviceaccount:vaultinject:vaultinject-canary"},
            "audiences": list(audiences),
        },
    }
    return TokenReviewAnswer.from_response(201, body, source=REVIEW, at=AT)


def review_refused(message: str = "Unauthorized") -> TokenReviewAnswer:
    body = {"kind": "Status", "status": "Failure", "message": message, "reason": "Unauthorized", "code": 401}
    return TokenReviewAnswer.from_response(401, body, source=REVIEW, at=AT)


def review_invalid(error: str) -> TokenReviewAnswer:
    body = {"kind": "TokenReview", "status": {"user": {}, "error": error}}
    return TokenReviewAnswer.from_response(201, body, source=REVIEW, at=AT)


def canary(
    answer: VaultAnswer | None = None, review: TokenReviewAnswer | None = None, **fields: Any
) -> Canary:
    return Canary(
        role="vaultinject-canary",
        login=answer or login(200),
        review=review or review_ok(),
        role_audience=fields.get("role_audience", ""),
        token_audiences=fields.get("token_audiences", (HOST,)),
    )


def pod_json(
    name: str,
    *,
    namespace: str = "default",
    age: float = 600,
    owner: tuple[str, str] | None = ("ReplicaSet", "app-7d9f8c6b5"),
    opted_in: bool = True,
    agent: str | None = "init",
    agent_state: dict[str, Any] | None = None,
    restarts: int = 0,
    started: bool | None = None,
    ours: bool = True,
) -> dict[str, Any]:
    """A Pod object as the API server returns it; `agent` is init, native, or None (not injected);
    `ours`: injected by vaultinject, else by HashiCorp's injector (same container names)."""
    created = NOW - age
    annotations = {"vault.hashicorp.com/agent-inject": "true"} if opted_in else {}
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "creationTimestamp": stamp(created),
        "annotations": annotations,
    }
    if owner is not None:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": "x", "controller": True}
        ]
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "app"}], "initContainers": []}
    status: dict[str, Any] = {"phase": "Pending", "initContainerStatuses": [], "containerStatuses": []}
    if agent is not None:
        annotations["vault.hashicorp.com/agent-inject-status"] = "injected"
        container: dict[str, Any] = {"name": "vault-agent-init", "image": "vaultinject"}
        if agent == "native":
            container = {"name": "vault-agent", "image": "vaultinject", "restartPolicy": "Always"}
        container["command"] = ["vaultinject-agent"] if ours else ["/bin/sh", "-ec"]
        spec["initContainers"].append(container)
        state = agent_state or {"running": {"startedAt": stamp(created + 1)}}
        entry: dict[str, Any] = {"name": container["name"], "state": state, "restartCount": restarts}
        if started is not None:
            entry["started"] = started
        status["initContainerStatuses"].append(entry)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}


def agent_log(*lines: str, container: str = "vault-agent-init", pod: str = "app-1") -> AgentLog:
    return AgentLog(
        source=f"GET pods/{pod}/log?container={container}&tailLines=20",
        at=AT,
        container=container,
        lines=lines,
    )


def pods(*items: PodEvidence) -> Pods:
    return Pods(source="pods in all namespaces", at=AT, items=items)


def running_pod(name: str = "app-1", **fields: Any) -> PodEvidence:
    """An injected pod whose init agent finished and whose app runs."""
    done = {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": stamp(NOW - 590)}}
    return PodEvidence.from_pod(pod_json(name, agent_state=done, **fields))


def healthy() -> Evidence:
    return Evidence(
        vault_health=health(),
        vault_leader=VaultLeader.from_response(
            {"ha_enabled": True, "is_self": True, "leader_address": "https://vault-0.vault-internal:8200"},
            source="GET /v1/sys/leader",
            at=AT,
        ),
        placement=VaultPlacement(
            source="pods labelled app.kubernetes.io/name=vault in namespace vault",
            at=AT,
            in_cluster=True,
            reason="pods vault-0, vault-1 run as vault/vault",
        ),
        auth_mount=AuthMount.from_mounts(
            {"data": {"kubernetes/": {"type": "kubernetes"}, "token/": {"type": "token"}}},
            path="kubernetes",
            source="GET /v1/sys/auth",
            at=AT,
        ),
        auth_config=config(),
        cluster=ClusterIdentity(
            source="ConfigMap kube-root-ca.crt; GET /.well-known/openid-configuration",
            at=AT,
            ca_pem=CLUSTER_CA,
            issuer=ISSUER,
            api_audiences=(HOST,),
        ),
        host_reach=HostReach(source="Vault's TokenReview of the canary", at=AT, host=HOST, reachable=True),
        canary=canary(),
        auth_delegator=AuthDelegator.from_response(
            {
                "status": {
                    "allowed": True,
                    "reason": "RBAC: allowed by ClusterRoleBinding vault-server-binding",
                }
            },
            service_account="vault/vault",
            source="POST subjectaccessreviews (vault/vault create tokenreviews)",
            at=AT,
        ),
        pods=pods(running_pod("app-1"), running_pod("app-2")),
        webhook_endpoints=WebhookEndpoints(
            source="GET endpoints vaultinject/vaultinject", at=AT, service="vaultinject/vaultinject", ready=2
        ),
        webhook_certificate=WebhookCertificate(
            source="TLS handshake with the webhook; MutatingWebhookConfiguration vaultinject",
            at=AT,
            configuration="vaultinject",
            trusted=True,
            not_after=NOW + 300 * DAY,
        ),
    )
