"""JWT auth: the login path that does not go through the Kubernetes auth mount (no TokenReview)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import client_for
from .kube_stub import FakeKubernetes, sign


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes(tmp_path)
    yield fake
    fake.stop()


def healer_role(client: hvac.Client, **extra: object) -> None:
    client.auth.jwt.create_role(
        name="healer",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=["vault"],
        bound_subject="system:serviceaccount:ops:healer",
        allowed_redirect_uris=[],
        token_policies=["heal"],
        token_ttl="10m",
        **extra,
    )


@pytest.fixture
def jwt_mount(client: hvac.Client) -> hvac.Client:
    client.sys.enable_auth_method("jwt")
    return client


def test_login_with_the_clusters_jwks(
    vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes
) -> None:
    jwt_mount.auth.jwt.configure(
        jwks_url=kube.url + "/openid/v1/jwks", jwks_ca_pem=kube.ca_pem, bound_issuer=kube.issuer
    )
    healer_role(jwt_mount)
    token = kube.issue("ops", "healer")

    response = client_for(vault).auth.jwt.jwt_login(role="healer", jwt=token)

    auth = response["auth"]
    assert auth["policies"] == ["default", "heal"]
    assert auth["metadata"] == {"role": "healer"}
    assert (auth["lease_duration"], auth["orphan"]) == (600, True)
    assert kube.reviews == []


def test_login_with_oidc_discovery(vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes) -> None:
    kube.issuer = kube.url
    jwt_mount.auth.jwt.configure(oidc_discovery_url=kube.url, oidc_discovery_ca_pem=kube.ca_pem)
    healer_role(jwt_mount)
    assert client_for(vault).auth.jwt.jwt_login(role="healer", jwt=kube.issue("ops", "healer"))["auth"]


def test_login_with_static_public_keys(
    vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes
) -> None:
    jwt_mount.auth.jwt.configure(jwt_validation_pubkeys=[kube.public_key_pem])
    healer_role(jwt_mount, claim_mappings={"/kubernetes.io/namespace": "namespace"})
    response = client_for(vault).auth.jwt.jwt_login(role="healer", jwt=kube.issue("ops", "healer"))
    assert response["auth"]["metadata"]["role"] == "healer"


@pytest.mark.parametrize(
    ("token_claims", "message"),
    [
        (
            {"sub": "system:serviceaccount:ops:other"},
            "error validating claims: go-jose/go-jose/jwt: validation failed, invalid subject claim (sub)",
        ),
        ({"aud": ["elsewhere"]}, "error validating claims: aud claim does not match any bound audience"),
        (
            {"iss": "https://evil"},
            "error validating claims: go-jose/go-jose/jwt: validation failed, invalid issuer claim (iss)",
        ),
        (
            {"exp": 1000, "iat": 900, "nbf": 900},
            "error validating claims: go-jose/go-jose/jwt: validation failed, token is expired (exp)",
        ),
    ],
)
def test_claim_checks_fail_with_the_plugins_text(
    vault: ThreadVault,
    jwt_mount: hvac.Client,
    kube: FakeKubernetes,
    token_claims: dict[str, object],
    message: str,
) -> None:
    jwt_mount.auth.jwt.configure(
        jwks_url=kube.url + "/openid/v1/jwks", jwks_ca_pem=kube.ca_pem, bound_issuer=kube.issuer
    )
    healer_role(jwt_mount)
    token = kube.issue("ops", "healer", claims=token_claims)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client_for(vault).auth.jwt.jwt_login(role="healer", jwt=token)
    assert raised.value.errors == [message]


def test_a_token_signed_by_another_key_is_refused(
    vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    jwt_mount.auth.jwt.configure(jwks_url=kube.url + "/openid/v1/jwks", jwks_ca_pem=kube.ca_pem)
    healer_role(jwt_mount)
    forged = sign(
        {"sub": "system:serviceaccount:ops:healer", "aud": "vault", "iat": 1, "exp": 4102444800},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )
    status, body = vault.api("POST", "auth/jwt/login", {"role": "healer", "jwt": forged}, token="")
    assert (status, body) == (400, {"errors": ["error verifying token: failed to verify id token signature"]})


def test_bound_claims_match_exactly_or_as_globs(
    vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes
) -> None:
    jwt_mount.auth.jwt.configure(jwt_validation_pubkeys=[kube.public_key_pem])
    healer_role(jwt_mount, bound_claims={"/kubernetes.io/namespace": "op*"}, bound_claims_type="glob")
    assert (
        vault.api("POST", "auth/jwt/login", {"role": "healer", "jwt": kube.issue("ops", "healer")}, token="")[
            0
        ]
        == 200
    )
    jwt_mount.write_data("auth/jwt/role/healer", data={"bound_claims_type": "string"})
    status, body = vault.api(
        "POST", "auth/jwt/login", {"role": "healer", "jwt": kube.issue("ops", "healer")}, token=""
    )
    assert (status, body["errors"]) == (
        400,
        [
            'error validating claims: claim "/kubernetes.io/namespace" does not match any associated bound claim values'
        ],
    )


def test_configuration_and_role_errors(
    vault: ThreadVault, jwt_mount: hvac.Client, kube: FakeKubernetes
) -> None:
    assert vault.api("POST", "auth/jwt/config", {"bound_issuer": "x"}) == (
        400,
        {
            "errors": [
                "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set"
            ]
        },
    )
    status, body = vault.api("POST", "auth/jwt/config", {"jwks_url": "https://127.0.0.1:1/jwks"})
    assert status == 400
    assert body["errors"][0].startswith("error checking jwks URL: ")
    assert vault.api("POST", "auth/jwt/role/r", {"role_type": "jwt", "bound_audiences": "v"}) == (
        400,
        {"errors": ["a user claim must be defined on the role"]},
    )
    assert vault.api("POST", "auth/jwt/role/r", {"role_type": "jwt", "user_claim": "sub"}) == (
        400,
        {"errors": ["must have at least one bound constraint when creating/updating a role"]},
    )
    assert vault.api("POST", "auth/jwt/login", {"role": "x", "jwt": "y"}, token="") == (
        400,
        {"errors": ["could not load configuration"]},
    )
    jwt_mount.auth.jwt.configure(jwt_validation_pubkeys=[kube.public_key_pem])
    assert vault.api("POST", "auth/jwt/login", {"role": "nope", "jwt": "y"}, token="") == (
        400,
        {"errors": ['role "nope" could not be found']},
    )


def test_roles_read_back_with_token_fields(jwt_mount: hvac.Client) -> None:
    healer_role(jwt_mount)
    role = jwt_mount.auth.jwt.read_role("healer")["data"]
    assert (role["role_type"], role["user_claim"], role["bound_audiences"]) == ("jwt", "sub", ["vault"])
    assert (role["token_policies"], role["token_ttl"]) == (["heal"], 600)
    assert jwt_mount.auth.jwt.list_roles()["data"]["keys"] == ["healer"]
