"""Service-account tokens: TokenRequest claims, JWKS, TokenReview, and the bound-token invalidation rules
with the API server's exact texts."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vaultinject.lab.kube.harness import LabKube

INVALIDATED = "[invalid bearer token, service account token has been invalidated]"
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def decode(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = decode(token.split(".")[1])
    return payload


def review_status(kube: LabKube, token: str, audiences: list[str] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = kube.review_token(token, audiences)["status"]
    return status


def test_token_request_claims_bind_the_pod_and_its_node(kube: LabKube, namespace: str) -> None:
    node = kube.call("POST", "/api/v1/nodes", {"metadata": {"name": f"node-{namespace}"}})
    pod = kube.create_pod(namespace, "app-0", service_account="app", node_name=node["metadata"]["name"])
    account = kube.call("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/app")
    body = {
        "spec": {
            "audiences": ["vault"],
            "expirationSeconds": 3600,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": "app-0",
                "uid": pod["metadata"]["uid"],
            },
        }
    }
    answer = kube.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/app/token", body)
    assert answer["kind"] == "TokenRequest"
    assert answer["spec"]["boundObjectRef"]["uid"] == pod["metadata"]["uid"]
    token = answer["status"]["token"]
    claims = claims_of(token)
    assert set(claims) == {"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}
    assert claims["aud"] == ["vault"]
    assert claims["iat"] == claims["nbf"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert re.fullmatch(r"[0-9a-f-]{36}", claims["jti"])
    assert claims["sub"] == f"system:serviceaccount:{namespace}:app"
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "app", "uid": account["metadata"]["uid"]},
        "pod": {"name": "app-0", "uid": pod["metadata"]["uid"]},
        "node": {"name": node["metadata"]["name"], "uid": node["metadata"]["uid"]},
    }
    assert answer["status"]["expirationTimestamp"].endswith("Z")


def test_tokens_verify_against_the_published_jwks(kube: LabKube, namespace: str) -> None:
    token = kube.mint_token(namespace, "default")
    header, payload, signature = token.split(".")
    status, discovery = kube.request("GET", "/.well-known/openid-configuration", token="")
    assert status == 200
    assert discovery["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert discovery["jwks_uri"] == f"{kube.url}/openid/v1/jwks"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = kube.call("GET", "/openid/v1/jwks")
    (key,) = jwks["keys"]
    assert decode(header) == {"alg": "RS256", "kid": key["kid"]}
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(base64.urlsafe_b64decode(key["e"] + "=="), "big"),
        int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=="), "big"),
    )
    numbers.public_key().verify(
        base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_kubelet_style_request_gets_a_year_and_warnafter(kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "p", node_name="n1")
    claims = claims_of(kube.mint_token(namespace, "default", pod=pod, expiration_seconds=3607))
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
    assert claims["kubernetes.io"]["node"] == {"name": "n1"}


def test_token_request_validation(kube: LabKube, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token"
    status, body = kube.request("POST", path, {"spec": {"expirationSeconds": 599}})
    assert status == 422
    assert body["message"] == (
        'TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: Invalid value: 599: '
        "may not specify a duration less than 10 minutes"
    )
    ghost = {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "ghost"}}}
    assert kube.request("POST", path, ghost)[1]["message"] == 'pods "ghost" not found'
    pod = kube.create_pod(namespace, "other-sa", service_account="other")
    wrong = {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other-sa"}}}
    status, body = kube.request("POST", path, wrong)
    assert status == 400
    assert body["message"] == (
        'cannot bind token for serviceaccount "default" to pod running with different serviceaccount name.'
    )
    stale = {
        "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other-sa", "uid": "old"}}
    }
    status, body = kube.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/other/token", stale)
    assert status == 409
    assert body["message"] == (
        'Operation cannot be fulfilled on Pod "other-sa": the UID in the bound object reference (old) does not '
        "match the UID in record. The object might have been deleted and then recreated"
    )
    assert pod["metadata"]["uid"] != "old"
    missing = kube.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/nobody/token", {"spec": {}}
    )
    assert missing == (
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'serviceaccounts "nobody" not found',
            "reason": "NotFound",
            "details": {"name": "nobody", "kind": "serviceaccounts"},
            "code": 404,
        },
    )


def test_token_review_of_a_pod_token(kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "app-0", service_account="app", node_name="node-a")
    token = kube.mint_token(namespace, "app", pod=pod, audiences=["vault"])
    review = kube.review_token(token, ["vault"])
    account = kube.call("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/app")
    assert review["kind"] == "TokenReview"
    assert review["metadata"] == {"creationTimestamp": None}
    assert review["spec"] == {"token": token, "audiences": ["vault"]}
    status = review["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == ["vault"]
    user = status["user"]
    assert user["username"] == f"system:serviceaccount:{namespace}:app"
    assert user["uid"] == account["metadata"]["uid"]
    assert user["groups"] == [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["app-0"]
    assert user["extra"]["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    assert user["extra"]["authentication.kubernetes.io/node-name"] == ["node-a"]
    assert user["extra"]["authentication.kubernetes.io/credential-id"] == [f"JTI={claims_of(token)['jti']}"]


def test_token_review_defaults_to_the_api_audiences(kube: LabKube, namespace: str) -> None:
    token = kube.mint_token(namespace, "default")
    status = review_status(kube, token)
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert review_status(kube, token, ["vault"]) == {
        "user": {},
        "error": '[invalid bearer token, token audiences ["https://kubernetes.default.svc.cluster.local"] '
        'is invalid for the target audiences ["vault"]]',
    }


def test_pod_token_dies_with_its_pod(kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "app-0")
    token = kube.mint_token(namespace, "default", pod=pod, audiences=["vault"])
    assert review_status(kube, token, ["vault"])["authenticated"] is True
    kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/app-0")
    assert review_status(kube, token, ["vault"]) == {"user": {}, "error": INVALIDATED}


def test_pod_token_dies_when_the_pod_is_recreated_under_the_same_name(kube: LabKube, namespace: str) -> None:
    old = kube.create_pod(namespace, "vault-0")
    token = kube.mint_token(namespace, "default", pod=old)
    kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/vault-0")
    new = kube.create_pod(namespace, "vault-0")
    assert review_status(kube, token) == {
        "user": {},
        "error": f"[invalid bearer token, pod UID ({new['metadata']['uid']}) does not match service account pod "
        f"ref claim ({old['metadata']['uid']})]",
    }


def test_pod_token_survives_the_first_minute_of_graceful_deletion(tmp_path: Any) -> None:
    from vaultinject.lab.kube.harness import in_process_kube

    with in_process_kube(tmp_path / "k", reap_pods=False) as kube:
        assert kube.server is not None
        kube.ensure_namespace("d")
        pod = kube.create_pod("d", "app-0", node_name="node-1")
        token = kube.mint_token("d", "default", pod=pod)
        deleting = kube.call("DELETE", "/api/v1/namespaces/d/pods/app-0")
        assert deleting["metadata"]["deletionGracePeriodSeconds"] == 30
        kube.server.clock.advance(89)  # deletionTimestamp is 30 s ahead; the leeway is 60 s more
        assert review_status(kube, token)["authenticated"] is True
        kube.server.clock.advance(2)
        assert review_status(kube, token) == {"user": {}, "error": INVALIDATED}


def test_node_deletion_does_not_invalidate_a_pod_token(kube: LabKube, namespace: str) -> None:
    node = f"node-del-{namespace}"
    kube.call("POST", "/api/v1/nodes", {"metadata": {"name": node}})
    pod = kube.create_pod(namespace, "app-0", node_name=node)
    token = kube.mint_token(namespace, "default", pod=pod)
    kube.call("DELETE", f"/api/v1/nodes/{node}")
    assert review_status(kube, token)["authenticated"] is True


def test_expired_and_not_yet_valid_tokens(private_kube: LabKube) -> None:
    kube = private_kube
    assert kube.server is not None
    kube.ensure_namespace("t")
    short = kube.mint_token("t", "default", expiration_seconds=600)
    kube.server.clock.advance(600 + 59)
    assert review_status(kube, short)["authenticated"] is True
    kube.server.clock.advance(2)
    assert review_status(kube, short) == {
        "user": {},
        "error": "[invalid bearer token, service account token has expired]",
    }
    kube.server.clock.advance(120)
    future = kube.mint_token("t", "default")
    kube.server.clock.advance(-120)
    assert review_status(kube, future) == {
        "user": {},
        "error": "[invalid bearer token, service account token is not valid yet]",
    }


def test_service_account_deleted_or_recreated(kube: LabKube, namespace: str) -> None:
    old = kube.ensure_service_account(namespace, "app")
    token = kube.mint_token(namespace, "app")
    kube.call("DELETE", f"/api/v1/namespaces/{namespace}/serviceaccounts/app")
    assert review_status(kube, token)["error"] == '[invalid bearer token, serviceaccounts "app" not found]'
    new = kube.ensure_service_account(namespace, "app")
    assert review_status(kube, token)["error"] == (
        f"[invalid bearer token, service account UID ({new['metadata']['uid']}) does not match claim "
        f"({old['metadata']['uid']})]"
    )


def test_secret_bound_and_legacy_secret_tokens(kube: LabKube, namespace: str) -> None:
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    secret = kube.call("POST", secrets, {"metadata": {"name": "bound"}})
    body = {"spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "bound"}}}
    bound = kube.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/default/token", body)[
        "status"
    ]["token"]
    assert claims_of(bound)["kubernetes.io"]["secret"] == {"name": "bound", "uid": secret["metadata"]["uid"]}
    legacy = kube.call(
        "POST",
        secrets,
        {
            "metadata": {"name": "legacy", "annotations": {"kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token",
        },
    )
    filled = kube.call("GET", f"{secrets}/legacy")
    assert legacy["metadata"]["uid"] == filled["metadata"]["uid"]
    legacy_token = base64.b64decode(filled["data"]["token"]).decode()
    assert claims_of(legacy_token)["iss"] == "kubernetes/serviceaccount"
    assert review_status(kube, bound)["authenticated"] is True
    assert review_status(kube, legacy_token)["authenticated"] is True
    kube.call("DELETE", f"{secrets}/bound")
    kube.call("DELETE", f"{secrets}/legacy")
    assert review_status(kube, bound) == {"user": {}, "error": INVALIDATED}
    assert review_status(kube, legacy_token)["error"] == "[invalid bearer token, token has been invalidated]"


def test_garbage_and_forged_tokens_are_not_authenticated(kube: LabKube, namespace: str) -> None:
    assert review_status(kube, "not-a-jwt") == {"user": {}, "error": "invalid bearer token"}
    header, payload, _ = kube.mint_token(namespace, "default").split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 256).decode().rstrip('=')}"
    assert review_status(kube, forged) == {
        "user": {},
        "error": "[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]",
    }


def test_empty_token_review_is_a_bad_request(kube: LabKube) -> None:
    status, body = kube.request(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {"token": ""}}
    )
    assert status == 400
    assert body["message"] == "token is required for TokenReview in authentication"


def test_invalid_bearer_is_401_unauthorized(kube: LabKube, namespace: str) -> None:
    assert kube.request("GET", "/api/v1/namespaces", token="nonsense") == (401, UNAUTHORIZED)
    pod = kube.create_pod(namespace, "reviewer")
    reviewer = kube.mint_token(namespace, "default", pod=pod)
    kube.call("DELETE", f"/api/v1/namespaces/{namespace}/pods/reviewer")
    review = {"spec": {"token": reviewer}}
    status, body = kube.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review, token=reviewer)
    assert (status, body) == (401, UNAUTHORIZED)


def test_token_reviews_need_the_auth_delegator_role(kube: LabKube, namespace: str) -> None:
    reviewer = kube.mint_token(namespace, "default")
    subject = kube.mint_token(namespace, "default")
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    status, body = kube.request("POST", path, {"spec": {"token": subject}}, token=reviewer)
    assert status == 403
    assert body["message"] == (
        f'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:{namespace}:default" '
        'cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope'
    )
    assert body["details"] == {"group": "authentication.k8s.io", "kind": "tokenreviews"}
    kube.call(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {
            "metadata": {"name": f"delegator-{namespace}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}],
        },
    )
    status, body = kube.request("POST", path, {"spec": {"token": subject}}, token=reviewer)
    assert status == 201
    assert body["status"]["authenticated"] is True


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/openid/v1/jwks", "/version", "/healthz"]
)
def test_public_paths_need_no_token(kube: LabKube, path: str) -> None:
    assert kube.request("GET", path, token="")[0] == 200


def test_anonymous_requests_are_authorized_by_rbac(kube: LabKube) -> None:
    status, body = kube.request("GET", "/api/v1/namespaces", token="")
    assert status == 403
    assert body["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
        "at the cluster scope"
    )


def test_official_client_token_request_and_review(api_client: Any, kube: LabKube, namespace: str) -> None:
    from tests.lab_kube.k8s import client

    pod = kube.create_pod(namespace, "vault-0", service_account="vault")
    core, authn = client.CoreV1Api(api_client), client.AuthenticationV1Api(api_client)
    request = {
        "spec": {
            "audiences": ["vault"],
            "expirationSeconds": 600,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": "vault-0",
                "uid": pod["metadata"]["uid"],
            },
        }
    }
    issued = core.create_namespaced_service_account_token("vault", namespace, request)
    assert issued.status.expiration_timestamp is not None
    review = authn.create_token_review({"spec": {"token": issued.status.token, "audiences": ["vault"]}})
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:vault"
    assert review.status.audiences == ["vault"]


def test_harness_grant_lets_a_reviewer_review(kube: LabKube, namespace: str) -> None:
    kube.ensure_service_account(namespace, "vault")
    reviewer = kube.mint_token(namespace, "vault")
    subject = kube.mint_token(namespace, "default", audiences=["vault"])
    path = "/apis/authentication.k8s.io/v1/tokenreviews"
    assert kube.request("POST", path, {"spec": {"token": subject}}, token=reviewer)[0] == 403
    kube.grant("system:auth-delegator", namespace, "vault")
    review = kube.review_token(subject, ["vault"], as_token=reviewer)
    assert review["status"]["authenticated"] is True
