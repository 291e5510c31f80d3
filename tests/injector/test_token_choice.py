"""The agent logs in with the pod's Kubernetes service-account token, never an EKS IRSA or Pod Identity one.

The pod shapes are the ones the EKS pod identity webhook writes (its volume at `/spec/volumes/0`, its
mount appended to each container) after the ServiceAccount admission plugin's `kube-api-access-*`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.injector.podcheck import assert_valid_pod
from vaultinject.injector import SpecError, inject
from vaultinject.spec import Settings

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
KUBE_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
OWN_TOKEN = "/var/run/secrets/vault.hashicorp.com/serviceaccount/token"

KUBE_API_ACCESS = {
    "name": "kube-api-access-7xk2p",
    "projected": {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {
                "downwardAPI": {
                    "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                }
            },
        ],
    },
}
KUBE_MOUNT = {"name": "kube-api-access-7xk2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
              "readOnly": True}  # fmt: skip

# IRSA: amazon-eks-pod-identity-webhook with its defaults (audience sts.amazonaws.com, 86400 s).
IRSA_VOLUME = {
    "name": "aws-iam-token",
    "projected": {
        "defaultMode": 420,
        "sources": [{"serviceAccountToken": {"audience": "sts.amazonaws.com", "expirationSeconds": 86400,
                                             "path": "token"}}],
    },
}  # fmt: skip
IRSA_MOUNT = {"name": "aws-iam-token", "mountPath": "/var/run/secrets/eks.amazonaws.com/serviceaccount",
              "readOnly": True}  # fmt: skip
IRSA_ENV = [
    {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
    {"name": "AWS_DEFAULT_REGION", "value": "eu-west-1"},
    {"name": "AWS_REGION", "value": "eu-west-1"},
    {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::111122223333:role/web"},
    {
        "name": "AWS_WEB_IDENTITY_TOKEN_FILE",
        "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    },
]

# EKS Pod Identity: the same webhook's container-credentials mode.
POD_IDENTITY_VOLUME = {
    "name": "eks-pod-identity-token",
    "projected": {
        "defaultMode": 420,
        "sources": [{"serviceAccountToken": {"audience": "pods.eks.amazonaws.com", "expirationSeconds": 83254,
                                             "path": "eks-pod-identity-token"}}],
    },
}  # fmt: skip
POD_IDENTITY_MOUNT = {"name": "eks-pod-identity-token", "readOnly": True,
                      "mountPath": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount"}  # fmt: skip
POD_IDENTITY_ENV = [
    {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": "http://169.254.170.23/v1/credentials"},
    {"name": "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
     "value": "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"},
]  # fmt: skip

SHAPES = {
    "irsa": ([IRSA_VOLUME], [IRSA_MOUNT], IRSA_ENV),
    "pod-identity": ([POD_IDENTITY_VOLUME], [POD_IDENTITY_MOUNT], POD_IDENTITY_ENV),
    "both": (
        [IRSA_VOLUME, POD_IDENTITY_VOLUME],
        [IRSA_MOUNT, POD_IDENTITY_MOUNT],
        IRSA_ENV + POD_IDENTITY_ENV,
    ),
}


def eks_pod(
    shape: str, *, kube_token: bool = True, eks_first: bool = True, **annotations: str
) -> dict[str, Any]:
    """A pod as the API server hands it to our webhook after the EKS webhook mutated it."""
    volumes, mounts, env = copy.deepcopy(SHAPES[shape])
    kube_volumes = [copy.deepcopy(KUBE_API_ACCESS)] if kube_token else []
    kube_mounts = [dict(KUBE_MOUNT)] if kube_token else []
    container_mounts = mounts + kube_mounts if eks_first else kube_mounts + mounts
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "labels": {"eks.amazonaws.com/pod-identity": "enabled"} if "identity" in shape else {},
            "annotations": {
                VAULT + "agent-inject": "true",
                VAULT + "role": "web",
                VAULT + "agent-inject-secret-db": "database/creds/web",
                **annotations,
            },
        },
        "spec": {
            "serviceAccountName": "web",
            "automountServiceAccountToken": kube_token,
            "volumes": volumes + kube_volumes,  # the EKS webhook adds its volume at /spec/volumes/0
            "containers": [
                {"name": "web", "image": "nginx", "env": list(env), "volumeMounts": container_mounts},
                {
                    "name": "worker",
                    "image": "worker",
                    "env": list(env),
                    "volumeMounts": list(container_mounts),
                },
            ],
        },
    }


def agent_token(pod: dict[str, Any], settings: Settings = SETTINGS) -> tuple[str, dict[str, Any]]:
    """The token file the agent logs in with (VAULTINJECT_TOKEN_PATH, else the default) and its mount."""
    (agent,) = [c for c in pod["spec"]["initContainers"] if c["name"] == "vault-agent"]
    env = {e["name"]: e.get("value") for e in agent["env"]}
    file = env.get("VAULTINJECT_TOKEN_PATH", settings.token_path)
    (mount,) = [m for m in agent["volumeMounts"] if file.startswith(m["mountPath"].rstrip("/") + "/")]
    return file, mount


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("eks_first", [True, False], ids=["eks-mount-first", "eks-mount-last"])
def test_the_agent_logs_in_with_the_kubernetes_token_beside_an_eks_one(shape: str, eks_first: bool) -> None:
    pod = eks_pod(shape, eks_first=eks_first)
    result = inject(pod, SETTINGS).pod
    file, mount = agent_token(result)
    assert file == KUBE_TOKEN
    assert mount["name"] == "kube-api-access-7xk2p"
    assert "vault-agent-token" not in {v["name"] for v in result["spec"]["volumes"]}
    assert_valid_pod(result)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_with_only_an_eks_token_the_agent_gets_its_own(shape: str) -> None:
    result = inject(eks_pod(shape, kube_token=False), SETTINGS).pod
    file, mount = agent_token(result)
    assert (file, mount["name"]) == (OWN_TOKEN, "vault-agent-token")
    (own,) = [v for v in result["spec"]["volumes"] if v["name"] == "vault-agent-token"]
    assert "audience" not in own["projected"]["sources"][0]["serviceAccountToken"]
    assert_valid_pod(result)


def test_a_legacy_secret_token_volume_is_the_kubernetes_token() -> None:
    pod = eks_pod("irsa", kube_token=False)
    pod["spec"]["volumes"].append(
        {"name": "default-token-x7q2", "secret": {"secretName": "default-token-x7q2"}}
    )
    legacy = {"name": "default-token-x7q2", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount/"}
    for container in pod["spec"]["containers"]:
        container["volumeMounts"].append(dict(legacy))
    file, mount = agent_token(inject(pod, SETTINGS).pod)
    assert (file, mount["name"]) == (KUBE_TOKEN, "default-token-x7q2")


def test_with_an_expected_audience_a_projected_token_with_that_audience_is_chosen() -> None:
    pod = eks_pod("both")
    pod["spec"]["volumes"].append(
        {
            "name": "vault-aud",
            "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "path": "t"}}]},
        }
    )
    pod["spec"]["containers"][1]["volumeMounts"].append({"name": "vault-aud", "mountPath": "/var/run/tokens"})
    pod["metadata"]["annotations"]["vaultinject.io/token-audience"] = "vault"
    file, mount = agent_token(inject(pod, SETTINGS).pod)
    assert (file, mount["name"]) == ("/var/run/tokens/t", "vault-aud")


def test_with_an_expected_audience_and_no_such_token_the_agent_gets_its_own() -> None:
    """The kube-api-access token carries the API server's audience, which a role expecting `vault` refuses."""
    settings = SETTINGS._replace(token_audience="vault")
    result = inject(eks_pod("irsa"), settings).pod
    file, mount = agent_token(result, settings)
    assert (file, mount["name"]) == (OWN_TOKEN, "vault-agent-token")
    (own,) = [v for v in result["spec"]["volumes"] if v["name"] == "vault-agent-token"]
    assert own["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "vault"


def test_a_projected_token_without_audience_serves_when_no_audience_is_expected() -> None:
    pod = eks_pod("pod-identity", kube_token=False)
    pod["spec"]["volumes"].append(
        {"name": "sa", "projected": {"sources": [{"serviceAccountToken": {"path": "jwt"}}]}}
    )
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "sa", "mountPath": "/var/run/sa"})
    file, mount = agent_token(inject(pod, SETTINGS).pod)
    assert (file, mount["name"]) == ("/var/run/sa/jwt", "sa")


@pytest.mark.parametrize(
    ("audience", "volume_path"),
    [(None, "//var/run/secrets/kubernetes.io/serviceaccount/"), ("vault", "/var/run/tokens/.")],
)
def test_a_secrets_volume_on_the_token_mount_is_rejected(audience: str | None, volume_path: str) -> None:
    pod = eks_pod("irsa")
    pod["metadata"]["annotations"][VAULT + "secret-volume-path"] = volume_path
    pod["spec"]["volumes"].append(
        {
            "name": "vault-aud",
            "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "path": "t"}}]},
        }
    )
    pod["spec"]["containers"][1]["volumeMounts"].append({"name": "vault-aud", "mountPath": "/var/run/tokens"})
    with pytest.raises(SpecError, match="the agent would mount both") as caught:
        inject(pod, SETTINGS._replace(token_audience=audience or ""))
    assert caught.value.annotation == VAULT + "secret-volume-path"


@settings(max_examples=examples(100), deadline=None)
@given(st.sampled_from(list(SHAPES)), st.randoms(use_true_random=False), st.booleans())
def test_any_order_of_volumes_and_mounts_gives_the_kubernetes_token(
    shape: str, rng: Any, kube_token: bool
) -> None:
    pod = eks_pod(shape, kube_token=kube_token)
    rng.shuffle(pod["spec"]["volumes"])
    for container in pod["spec"]["containers"]:
        rng.shuffle(container["volumeMounts"])
    rng.shuffle(pod["spec"]["containers"])
    result = inject(pod, SETTINGS).pod
    file, mount = agent_token(result)
    assert file == (KUBE_TOKEN if kube_token else OWN_TOKEN)
    assert "eks.amazonaws.com" not in mount["mountPath"]
    assert_valid_pod(result)
