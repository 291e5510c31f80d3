"""Bad client input is a clear 4xx with a message, never a 500 or a dropped connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.lab.vault.harness import ThreadVault, vault_thread

from .helpers import raw

FIELD_NAMES = [
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "num_uses",
    "renewable",
    "meta",
    "no_parent",
    "explicit_max_ttl",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "token_policies",
    "token_ttl",
    "audience",
    "alias_name_source",
    "data",
    "options",
    "type",
    "config",
    "policy",
    "lease_id",
    "increment",
    "common_name",
    "alt_names",
    "ip_sans",
    "db_name",
    "default_ttl",
    "role_id",
    "secret_id",
    "jwt",
    "role",
    "versions",
    "max_versions",
    "cas_required",
    "custom_metadata",
    "paths",
    "token",
    "key",
    "secret_shares",
    "kubernetes_host",
    "kubernetes_ca_cert",
    "pem_keys",
    "token_bound_cidrs",
    "bound_audiences",
    "user_claim",
    "bound_claims",
    "allowed_domains",
    "metadata",
    "secret_id_ttl",
    "allowed_roles",
    "plugin_name",
]
ENDPOINTS = [
    "auth/token/create",
    "auth/token/renew-self",
    "auth/token/lookup",
    "auth/kubernetes/role/r",
    "auth/kubernetes/config",
    "auth/kubernetes/login",
    "auth/jwt/role/r",
    "auth/jwt/login",
    "auth/approle/role/r",
    "auth/approle/role/r/secret-id",
    "auth/approle/login",
    "secret/data/x",
    "secret/metadata/x",
    "secret/delete/x",
    "secret/config",
    "database/config/db",
    "database/roles/r",
    "pki/roles/r",
    "pki/issue/r",
    "pki/root/generate/internal",
    "sys/mounts/newmount",
    "sys/auth/newauth",
    "sys/policies/acl/p",
    "sys/capabilities-self",
    "sys/leases/renew",
    "sys/leases/lookup",
    "sys/wrapping/unwrap",
    "sys/audit/f",
    "sys/mounts/secret/tune",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False), st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
bodies = st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=5)

# 500s that Vault itself returns for these inputs (missing configuration), not crashes.
DOCUMENTED_500 = ("could not load backend configuration", "failed to find entry for connection")


@pytest.fixture(scope="module")
def shared_vault() -> Iterator[ThreadVault]:
    with vault_thread() as server:
        for kind in ("kubernetes", "jwt", "approle"):
            server.api("POST", f"sys/auth/{kind}", {"type": kind})
        for kind in ("database", "pki"):
            server.api("POST", f"sys/mounts/{kind}", {"type": kind})
        server.api("POST", "pki/root/generate/internal", {"common_name": "root", "key_type": "ec"})
        yield server


@settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies, method=st.sampled_from(["POST", "GET", "DELETE"]))
def test_random_input_never_causes_a_server_error(
    shared_vault: ThreadVault, endpoint: str, body: dict[str, Any], method: str
) -> None:
    if endpoint.startswith("sys/audit") and isinstance(body.get("options"), dict):
        body["options"] = {}  # do not let the test write files to random paths
    response = raw(
        shared_vault,
        method,
        f"/v1/{endpoint}",
        body if method == "POST" else None,
        {"X-Vault-Token": "root", "Content-Type": "application/json"},
    )
    assert (
        response.headers.get("content-type", "application/json") == "application/json"
        or endpoint == "pki/ca/pem"
    )
    if response.status >= 500:
        errors = response.json["errors"]
        assert any(text in " ".join(errors) for text in DOCUMENTED_500), (endpoint, body, errors)
    if response.status >= 400:
        assert isinstance(response.json["errors"], list)


def test_non_object_json_bodies_are_400(shared_vault: ThreadVault) -> None:
    for body in (b"[1, 2]", b'"text"', b"42"):
        response = raw(shared_vault, "POST", "/v1/secret/data/x", body, {"X-Vault-Token": "root"})
        assert (response.status, response.json) == (400, {"errors": ["error parsing JSON"]})
