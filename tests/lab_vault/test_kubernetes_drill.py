"""The node-loss drill against the lab Kubernetes API server: real bound tokens, real pod deletion.

A stored reviewer token copied from `vault-0` dies with that pod; every login then fails with a bare 403.
Dropping the stored token so the server reads its (new) local token fixes logins with no other change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.lab.vault.harness import ThreadVault, vault_thread


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with in_process_kube(tmp_path / "kube") as server:
        server.ensure_namespace("vault")
        server.ensure_namespace("demo")
        yield server


def grant_auth_delegator(kube: LabKube) -> None:
    kube.grant("system:auth-delegator", "vault", "vault")


def vault_0_token(kube: LabKube) -> str:
    """Create pod vault-0 and return its projected token (what the kubelet writes into the pod)."""
    pod = kube.create_pod("vault", "vault-0", service_account="vault")
    return kube.mint_token("vault", "vault", pod=pod)


def test_reviewer_token_of_a_deleted_pod_fails_logins_until_the_config_drops_it(
    kube: LabKube, tmp_path: Path
) -> None:
    grant_auth_delegator(kube)
    token_file = tmp_path / "vault-sa" / "token"
    token_file.parent.mkdir()
    with vault_thread(local_sa_token_file=token_file, local_ca_cert_file=kube.ca_file) as vault:
        client = hvac.Client(url=vault.url, token=vault.root_token)
        client.sys.enable_auth_method("kubernetes")
        copied = vault_0_token(kube)
        token_file.write_text(copied)
        # The runbook: copy vault-0's own token into the config.
        client.auth.kubernetes.configure(kubernetes_host=kube.url, token_reviewer_jwt=copied)
        client.write_data(
            "auth/kubernetes/role/app",
            data={
                "bound_service_account_names": "app",
                "bound_service_account_namespaces": "demo",
                "audience": "vault",
                "token_policies": "app",
            },
        )
        app_pod = kube.create_pod("demo", "web", service_account="app")
        app_jwt = kube.mint_token("demo", "app", pod=app_pod, audiences=["vault"])
        assert login(vault, app_jwt)[0] == 200

        # Node loss: vault-0 is deleted and the StatefulSet recreates it with a new UID and token.
        kube.call("DELETE", "/api/v1/namespaces/vault/pods/vault-0", {"gracePeriodSeconds": 0})
        token_file.write_text(vault_0_token(kube))
        for _ in range(3):
            assert login(vault, app_jwt) == (403, {"errors": ["permission denied"]})

        # The fix: a config without a stored reviewer token; the server uses its current local token.
        client.auth.kubernetes.configure(kubernetes_host=kube.url)
        assert client.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is False
        assert login(vault, app_jwt)[0] == 200


def test_a_reviewer_without_auth_delegator_fails_every_login(kube: LabKube, tmp_path: Path) -> None:
    """The API server answers 403 to the TokenReview itself; Vault turns it into a bare 403."""
    token_file = tmp_path / "token"
    token_file.write_text(vault_0_token(kube))
    with vault_thread(local_sa_token_file=token_file, local_ca_cert_file=kube.ca_file) as vault:
        client = hvac.Client(url=vault.url, token=vault.root_token)
        client.sys.enable_auth_method("kubernetes")
        client.auth.kubernetes.configure(kubernetes_host=kube.url)
        client.write_data(
            "auth/kubernetes/role/app",
            data={
                "bound_service_account_names": "app",
                "bound_service_account_namespaces": "demo",
                "audience": "vault",
            },
        )
        app_jwt = kube.mint_token(
            "demo", "app", pod=kube.create_pod("demo", "web", service_account="app"), audiences=["vault"]
        )
        assert login(vault, app_jwt) == (403, {"errors": ["permission denied"]})
        grant_auth_delegator(kube)
        assert login(vault, app_jwt)[0] == 200


def login(vault: ThreadVault, jwt: str) -> tuple[int, object]:
    return vault.api("POST", "auth/kubernetes/login", {"role": "app", "jwt": jwt}, token="")
