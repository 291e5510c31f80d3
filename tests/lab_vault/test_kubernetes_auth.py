"""Kubernetes auth against a real HTTPS TokenReview endpoint (reference A4–A6, auth-failure §1–3, §5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from vaultinject.lab.tls import CertificateAuthority
from vaultinject.lab.vault.harness import ThreadVault, vault_thread

from .helpers import client_for, raw
from .kube_stub import API_AUDIENCE, FakeKubernetes

PERMISSION_DENIED = ["permission denied"]


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes(tmp_path)
    yield fake
    fake.stop()


@pytest.fixture
def local_files(tmp_path: Path) -> tuple[Path, Path]:
    """Where this server looks for its own service-account token and CA (inside a pod: the projected volume)."""
    return tmp_path / "sa" / "token", tmp_path / "sa" / "ca.crt"


@pytest.fixture
def vault(local_files: tuple[Path, Path]) -> Iterator[ThreadVault]:
    token_file, ca_file = local_files
    with vault_thread(local_sa_token_file=token_file, local_ca_cert_file=ca_file) as server:
        yield server


@pytest.fixture
def client(vault: ThreadVault) -> hvac.Client:
    return client_for(vault, vault.root_token)


def vault_pod_token(kube: FakeKubernetes) -> str:
    """The Vault server pod's own projected token: audience is the API server's."""
    return kube.issue("vault", "vault", audiences=(API_AUDIENCE,), pod="vault-0")


def configure(client: hvac.Client, kube: FakeKubernetes, **config: object) -> None:
    client.sys.enable_auth_method("kubernetes")
    body = {"kubernetes_host": kube.url, "kubernetes_ca_cert": kube.ca_pem, **config}
    client.write_data("auth/kubernetes/config", data=body)
    client.write_data(
        "auth/kubernetes/role/app",
        data={
            "bound_service_account_names": "app",
            "bound_service_account_namespaces": "demo",
            "token_policies": "app-read",
            "token_ttl": "1h",
            "audience": "vault",
        },
    )


def login(vault: ThreadVault, jwt: str, role: str = "app") -> tuple[int, object]:
    return vault.api("POST", "auth/kubernetes/login", {"role": role, "jwt": jwt}, token="")


def test_a_valid_service_account_token_logs_in_through_hvac(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    jwt = kube.issue("demo", "app")
    app = client_for(vault)

    response = app.auth.kubernetes.login(role="app", jwt=jwt)

    auth = response["auth"]
    uid = kube.accounts[("demo", "app")]
    assert auth["policies"] == ["app-read", "default"]
    assert auth["token_policies"] == ["app-read", "default"]
    assert auth["metadata"] == {
        "role": "app",
        "service_account_name": "app",
        "service_account_namespace": "demo",
        "service_account_secret_name": "",
        "service_account_uid": uid,
    }
    assert (auth["lease_duration"], auth["renewable"], auth["orphan"]) == (3600, True, True)
    assert auth["entity_id"]
    assert response["mount_type"] == "kubernetes"
    me = app.auth.token.lookup_self()["data"]
    assert (me["display_name"], me["path"]) == ("kubernetes-demo-app", "auth/kubernetes/login")


def test_the_token_review_request_is_the_plugins_exact_call(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    reviewer = vault_pod_token(kube)
    configure(client, kube, token_reviewer_jwt=reviewer)
    jwt = kube.issue("demo", "app")

    assert login(vault, jwt)[0] == 200

    [review] = kube.reviews
    assert review.bearer == reviewer
    assert json.loads(review.raw) == {
        "metadata": {"creationTimestamp": None},
        "spec": {"token": jwt, "audiences": ["vault"]},
        "status": {"user": {}},
    }


def test_a_dead_stored_reviewer_token_fails_every_login_until_the_config_drops_it(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes, local_files: tuple[Path, Path]
) -> None:
    """The runbook outage: the stored reviewer JWT's pod is gone, so the API server answers 401."""
    stored = vault_pod_token(kube)
    configure(client, kube, token_reviewer_jwt=stored)
    assert login(vault, kube.issue("demo", "app"))[0] == 200

    kube.invalidate(stored)  # vault-0 rescheduled: its old bound token is rejected
    for _ in range(3):
        status, body = login(vault, kube.issue("demo", "app"))
        assert (status, body) == (403, {"errors": PERMISSION_DENIED})
    assert client.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is True

    token_file, _ = local_files
    token_file.parent.mkdir(parents=True, exist_ok=True)
    current = vault_pod_token(kube)  # the new vault-0's projected token
    token_file.write_text(current)
    client.auth.kubernetes.configure(kubernetes_host=kube.url, kubernetes_ca_cert=kube.ca_pem)

    assert client.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is False
    status, body = login(vault, kube.issue("demo", "app"))
    assert status == 200, body
    assert kube.reviews[-1].bearer == current


def test_the_local_token_file_is_read_again_when_it_changes(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes, local_files: tuple[Path, Path]
) -> None:
    token_file, _ = local_files
    token_file.parent.mkdir(parents=True, exist_ok=True)
    first = vault_pod_token(kube)
    token_file.write_text(first)
    configure(client, kube)
    assert login(vault, kube.issue("demo", "app"))[0] == 200

    kube.invalidate(first)
    assert login(vault, kube.issue("demo", "app"))[0] == 403
    token_file.write_text(vault_pod_token(kube) + "\n")  # the kubelet rotates the projected token

    assert login(vault, kube.issue("demo", "app"))[0] == 200


def test_without_reviewer_or_local_token_the_clients_own_token_is_the_bearer(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, disable_local_ca_jwt=True)
    client.write_data(
        "auth/kubernetes/role/any-audience",
        data={"bound_service_account_names": "app", "bound_service_account_namespaces": "demo"},
    )
    jwt = kube.issue("demo", "app", audiences=(API_AUDIENCE,))

    assert login(vault, jwt, role="any-audience")[0] == 200
    assert kube.reviews[-1].bearer == jwt
    assert json.loads(kube.reviews[-1].raw)["spec"]["audiences"] == [API_AUDIENCE]


def test_a_token_the_api_server_no_longer_accepts_is_a_bare_permission_denied(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    jwt = kube.issue("demo", "app")
    kube.invalidate(jwt)
    with pytest.raises(hvac.exceptions.Forbidden) as raised:
        client_for(vault).auth.kubernetes.login(role="app", jwt=jwt)
    assert raised.value.errors == PERMISSION_DENIED


def test_a_ca_that_does_not_match_the_api_server_is_a_bare_permission_denied(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    other_ca = CertificateAuthority.create("some other cluster").cert_pem.decode()
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube), kubernetes_ca_cert=other_ca)
    assert login(vault, kube.issue("demo", "app")) == (403, {"errors": PERMISSION_DENIED})


def test_the_local_ca_file_is_used_when_no_ca_is_configured(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes, local_files: tuple[Path, Path]
) -> None:
    _, ca_file = local_files
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube), kubernetes_ca_cert="")
    assert login(vault, kube.issue("demo", "app")) == (
        500,
        {"errors": [f"open {ca_file}: no such file or directory"]},
    )
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca_file.write_text(kube.ca_pem)
    assert login(vault, kube.issue("demo", "app"))[0] == 200


@pytest.mark.parametrize(
    "case",
    [
        ({"jwt": "x"}, 400, ["missing role"]),
        ({"role": "app"}, 400, ["missing jwt"]),
        ({"role": "nope", "jwt": "x"}, 400, ['invalid role name "nope"']),
        ({"role": "app", "jwt": "not-a-jwt"}, 403, PERMISSION_DENIED),
    ],
)
def test_login_input_errors(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes, case: tuple[dict[str, str], int, list[str]]
) -> None:
    body, status, errors = case
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    assert vault.api("POST", "auth/kubernetes/login", body, token="") == (status, {"errors": errors})


def test_claim_and_binding_failures_carry_their_own_403_text(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    cases = {
        kube.issue("demo", "intruder"): "service account name not authorized",
        kube.issue("other", "app"): "namespace not authorized",
        kube.issue("demo", "app", audiences=("elsewhere",)): (
            "invalid audience (aud) claim: audience claim does not match any expected audience"
        ),
        kube.issue("demo", "app", expires_in=-3600): "invalid expiration time (exp) claim: token is expired",
        kube.issue(
            "demo", "app", claims={"nbf": 4102444800}
        ): "invalid not before (nbf) claim: token not yet valid",
    }
    for jwt, message in cases.items():
        assert login(vault, jwt) == (403, {"errors": [message]}), message
    assert kube.reviews == []  # none of them reached the TokenReview


def test_login_without_a_config_is_a_500(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    client.sys.enable_auth_method("kubernetes")
    client.write_data(
        "auth/kubernetes/role/app",
        data={"bound_service_account_names": "app", "bound_service_account_namespaces": "demo"},
    )
    with pytest.raises(hvac.exceptions.InternalServerError) as raised:
        client_for(vault).auth.kubernetes.login(role="app", jwt=kube.issue("demo", "app"))
    assert raised.value.errors == ["could not load backend configuration"]


def test_pem_keys_check_signatures_locally(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    from .kube_stub import sign

    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube), pem_keys=[kube.public_key_pem])
    assert login(vault, kube.issue("demo", "app"))[0] == 200

    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = sign(
        {
            "aud": ["vault"],
            "kubernetes.io": {"namespace": "demo", "serviceaccount": {"name": "app", "uid": "x"}},
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    assert login(vault, forged) == (403, {"errors": PERMISSION_DENIED})


def test_a_namespace_selector_admits_labelled_namespaces(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    kube.namespace_labels.update({"team-a": {"vault": "yes"}, "team-b": {"vault": "no"}})
    client.write_data(
        "auth/kubernetes/role/selected",
        data={
            "bound_service_account_names": "*",
            "bound_service_account_namespace_selector": '{"matchLabels": {"vault": "yes"}}',
            "audience": "vault",
        },
    )
    assert login(vault, kube.issue("team-a", "svc"), role="selected")[0] == 200
    assert login(vault, kube.issue("team-b", "svc"), role="selected") == (
        403,
        {"errors": ["namespace not authorized"]},
    )


def test_alias_name_source_decides_the_entity(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    first = login(vault, kube.issue("demo", "app"))[1]
    second = login(vault, kube.issue("demo", "app"))[1]
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert first["auth"]["entity_id"] == second["auth"]["entity_id"]
    client.write_data("auth/kubernetes/role/app", data={"alias_name_source": "serviceaccount_name"})
    third = login(vault, kube.issue("demo", "app"))[1]
    assert isinstance(third, dict)
    assert third["auth"]["entity_id"] != first["auth"]["entity_id"]


def test_bound_cidrs_that_exclude_the_client_deny_the_login(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    client.write_data("auth/kubernetes/role/app", data={"token_bound_cidrs": "10.0.0.0/8"})
    assert login(vault, kube.issue("demo", "app")) == (403, {"errors": PERMISSION_DENIED})


def test_renewal_uses_the_roles_current_ttls_and_needs_the_role(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt=vault_pod_token(kube))
    app = client_for(vault)
    app.auth.kubernetes.login(role="app", jwt=kube.issue("demo", "app"))
    client.write_data("auth/kubernetes/role/app", data={"token_ttl": "20m", "token_max_ttl": "30m"})

    renewed = app.auth.token.renew_self()
    assert renewed["auth"]["lease_duration"] == 1200
    capped = app.auth.token.renew_self(increment="2h")
    assert capped["auth"]["lease_duration"] <= 1800
    assert capped["warnings"][0].startswith('TTL of "2h0m0s" exceeded the effective max_ttl of "')

    client.delete("auth/kubernetes/role/app")
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        app.auth.token.renew_self()
    assert raised.value.errors == ["role app does not exist during renewal"]


# -- configuration and roles -------------------------------------------------------------------------------


def test_config_reads_back_every_field_and_never_the_reviewer_token(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    client.sys.enable_auth_method("kubernetes")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.auth.kubernetes.read_config()
    client.auth.kubernetes.configure(
        kubernetes_host=kube.url, kubernetes_ca_cert=kube.ca_pem, token_reviewer_jwt="secret-jwt"
    )
    config = client.auth.kubernetes.read_config()
    assert config == {
        "kubernetes_host": kube.url,
        "kubernetes_ca_cert": kube.ca_pem,
        "pem_keys": [],
        "issuer": "",
        "disable_iss_validation": True,
        "disable_local_ca_jwt": False,
        "token_reviewer_jwt_set": True,
        "use_annotations_as_alias_metadata": False,
    }
    response = raw(vault, "GET", "/v1/auth/kubernetes/config", headers={"X-Vault-Token": "root"})
    assert b"secret-jwt" not in response.body


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kubernetes_host": ""}, "no host provided"),
        ({"kubernetes_ca_cert": "not a pem"}, "The provided CA PEM data contains no valid certificates"),
        ({"pem_keys": "garbage"}, "data does not contain any valid RSA or ECDSA public keys"),
    ],
)
def test_config_validation_errors(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes, config: dict[str, str], message: str
) -> None:
    client.sys.enable_auth_method("kubernetes")
    body = {"kubernetes_host": kube.url, **config}
    assert vault.api("POST", "auth/kubernetes/config", body) == (400, {"errors": [message]})


def test_a_config_write_replaces_the_whole_config(
    vault: ThreadVault, client: hvac.Client, kube: FakeKubernetes
) -> None:
    configure(client, kube, token_reviewer_jwt="jwt", disable_iss_validation=False, issuer="x")
    client.write_data("auth/kubernetes/config", data={"kubernetes_host": kube.url})
    config = client.auth.kubernetes.read_config()
    assert (config["token_reviewer_jwt_set"], config["disable_iss_validation"], config["issuer"]) == (
        False,
        True,
        "",
    )


def test_a_role_without_audience_is_written_with_vaults_warning(
    vault: ThreadVault, client: hvac.Client
) -> None:
    client.sys.enable_auth_method("kubernetes")
    status, body = vault.api(
        "POST",
        "auth/kubernetes/role/Web",
        {"bound_service_account_names": "web", "bound_service_account_namespaces": "demo"},
    )
    assert status == 200
    assert body["warnings"] == [
        "Role web does not have an audience configured. While audiences are not required, consider specifying "
        "one if your use case would benefit from additional JWT claim verification."
    ]
    with_audience = {
        "bound_service_account_names": "web",
        "bound_service_account_namespaces": "demo",
        "audience": "v",
    }
    assert vault.api("POST", "auth/kubernetes/role/web", with_audience) == (204, None)


def test_hvac_role_calls_use_the_deprecated_fields_and_read_them_back(
    vault: ThreadVault, client: hvac.Client
) -> None:
    client.sys.enable_auth_method("kubernetes")
    client.auth.kubernetes.create_role(
        name="web",
        bound_service_account_names=["web", "web-*"],
        bound_service_account_namespaces="demo,prod",
        ttl="1h",
        max_ttl="2h",
        policies=["Web"],
        audience="vault",
    )
    role = client.auth.kubernetes.read_role("web")
    assert role["bound_service_account_names"] == ["web", "web-*"]
    assert role["bound_service_account_namespaces"] == ["demo", "prod"]
    assert role["audience"] == "vault"
    assert role["alias_name_source"] == "serviceaccount_uid"
    assert (role["token_ttl"], role["token_max_ttl"], role["token_policies"]) == (3600, 7200, ["web"])
    assert (role["ttl"], role["max_ttl"], role["policies"]) == (3600, 7200, ["web"])
    assert "period" not in role
    assert client.auth.kubernetes.list_roles()["keys"] == ["web"]
    client.auth.kubernetes.delete_role("web")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.auth.kubernetes.read_role("web")


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ({"bound_service_account_namespaces": "demo"}, '"bound_service_account_names" can not be empty'),
        (
            {"bound_service_account_names": "*,web", "bound_service_account_namespaces": "d"},
            'can not mix "*" with values',
        ),
        (
            {"bound_service_account_names": "web"},
            '"bound_service_account_namespaces" can not be empty if '
            '"bound_service_account_namespace_selector" is not set',
        ),
        (
            {"bound_service_account_names": "w", "bound_service_account_namespace_selector": "[1, 2"},
            'invalid "bound_service_account_namespace_selector" configured',
        ),
        (
            {
                "bound_service_account_names": "w",
                "bound_service_account_namespaces": "d",
                "token_ttl": 60,
                "token_max_ttl": 30,
            },
            "token ttl should not be greater than token max ttl",
        ),
    ],
)
def test_role_validation_errors(
    vault: ThreadVault, client: hvac.Client, role: dict[str, object], message: str
) -> None:
    client.sys.enable_auth_method("kubernetes")
    assert vault.api("POST", "auth/kubernetes/role/r", role) == (400, {"errors": [message]})


def test_the_cause_of_a_bare_403_goes_to_the_server_log(
    kube: FakeKubernetes, local_files: tuple[Path, Path]
) -> None:
    events: list[dict[str, object]] = []
    token_file, ca_file = local_files
    with vault_thread(
        local_sa_token_file=token_file, local_ca_cert_file=ca_file, log=events.append
    ) as server:
        admin = client_for(server, server.root_token)
        stored = vault_pod_token(kube)
        configure(admin, kube, token_reviewer_jwt=stored)
        kube.invalidate(stored)
        assert login(server, kube.issue("demo", "app"))[0] == 403
    [event] = [event for event in events if event.get("msg") == "login unauthorized"]
    assert event["err"] == (
        "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token"
    )
    assert event["role"] == "app"
    assert stored not in str(events)
