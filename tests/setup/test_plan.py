"""The pure planner of `vault-setup`: evidence in, steps (or refusals) out."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from vaultinject.setup.actions import FromSecret, KubeCreate, VaultWrite
from vaultinject.setup.plan import (
    IN_CLUSTER,
    OUTSIDE,
    Detection,
    Evidence,
    Need,
    Options,
    PolicyRequest,
    Reviewer,
    RoleRequest,
    decide_mode,
    make_plan,
    missing,
    parse_version,
    plan_json,
    read_only_policy,
)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
GOOD_CONFIG: dict[str, Any] = {
    "kubernetes_host": "https://kubernetes.default.svc",
    "kubernetes_ca_cert": "",
    "pem_keys": [],
    "issuer": "",
    "disable_iss_validation": True,
    "disable_local_ca_jwt": False,
    "token_reviewer_jwt_set": False,
    "use_annotations_as_alias_metadata": False,
}
IN = Options(vault_in_cluster=True, healer=None)  # the healer's access: tests/setup/test_healer_access.py
OUT = Options(vault_in_cluster=False, healer=None)


def evidence(**changes: Any) -> Evidence:
    base = Evidence(
        vault_version="1.17.5",
        detection=Detection("https://vault.example.com:8200", ()),
        auth_mounts={"token/": "token", "kubernetes/": "kubernetes"},
        config=GOOD_CONFIG,
        vault_can_review=True,
        kube_server="https://api.example.com:6443",
        kube_ca_pem=PEM,
    )
    return dataclasses.replace(base, **changes)


def writes(plan: Any) -> list[VaultWrite]:
    return [step.action for step in plan.steps if isinstance(step.action, VaultWrite)]


# -- where Vault runs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "detection", "mode", "reason"),
    [
        (True, Detection("https://1.2.3.4"), IN_CLUSTER, "--vault-in-cluster was given"),
        (False, Detection("https://vault.vault.svc:8200", ("vault-0",)), OUTSIDE, "--vault-outside-cluster"),
        (None, Detection("https://1.2.3.4", ("vault-0", "vault-1")), IN_CLUSTER, "pods vault-0, vault-1"),
        (
            None,
            Detection("https://vault.vault.svc:8200", ()),
            IN_CLUSTER,
            "vault.vault.svc is a cluster Service",
        ),
        (
            None,
            Detection("http://vault.vault.svc.cluster.local:8200", ()),
            IN_CLUSTER,
            "cluster Service name",
        ),
        (
            None,
            Detection("https://vault.example.com", ()),
            OUTSIDE,
            "no pod labelled app.kubernetes.io/name=vault",
        ),
        (
            None,
            Detection("https://vault.example.com", None, "forbidden"),
            OUTSIDE,
            "could not be listed (forbidden)",
        ),
    ],
)
def test_mode(flag: bool | None, detection: Detection, mode: str, reason: str) -> None:
    decided, why = decide_mode(flag, detection, Options())
    assert decided == mode
    assert reason in why


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("1.17.5", (1, 17, 5)),
        ("v1.9.3+ent", (1, 9, 3)),
        ("1.15.0-rc1", (1, 15, 0)),
        ("1.10", (1, 10, 0)),
        ("x", None),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == version


# -- in the cluster --------------------------------------------------------------------------------


def test_fresh_vault_enables_the_mount_and_writes_host_only() -> None:
    plan = make_plan(IN, evidence(auth_mounts={"token/": "token"}, config=None))
    assert not plan.refusals
    enable, config = writes(plan)
    assert (enable.path, enable.body, enable.sudo) == ("sys/auth/kubernetes", {"type": "kubernetes"}, True)
    assert config.path == "auth/kubernetes/config"
    assert config.body == {
        "kubernetes_host": "https://kubernetes.default.svc",
        "kubernetes_ca_cert": "",
        "disable_local_ca_jwt": False,
        "pem_keys": [],
        "issuer": "",
        "disable_iss_validation": True,
        "use_annotations_as_alias_metadata": False,
    }
    assert "token_reviewer_jwt" not in config.body  # absent: the write clears whatever was stored


def test_a_good_config_plans_nothing() -> None:
    plan = make_plan(IN, evidence())
    assert plan.steps == ()
    assert plan.refusals == ()
    assert "already has kubernetes_host https://kubernetes.default.svc only" in plan.notes[0]


def test_stored_reviewer_token_and_ca_are_cleared_and_purposeful_fields_kept() -> None:
    fragile = {
        **GOOD_CONFIG,
        "kubernetes_host": "https://10.0.0.1:443",
        "token_reviewer_jwt_set": True,
        "kubernetes_ca_cert": PEM,
        "issuer": "https://oidc.eks.example/id/X",
        "disable_iss_validation": False,
        "pem_keys": ["-----BEGIN PUBLIC KEY-----\nk\n-----END PUBLIC KEY-----"],
    }
    plan = make_plan(IN, evidence(config=fragile))
    (step,) = plan.steps
    body = step.action.body
    assert body["kubernetes_host"] == "https://10.0.0.1:443"  # an existing host is kept
    assert body["kubernetes_ca_cert"] == ""
    assert "token_reviewer_jwt" not in body
    assert body["issuer"] == "https://oidc.eks.example/id/X"
    assert body["disable_iss_validation"] is False
    assert body["pem_keys"] == fragile["pem_keys"]
    assert "a pod's bound token dies with its pod" in step.why
    assert "goes stale when the cluster CA rotates" in step.why
    assert "kept as set: pem_keys=" in step.why
    assert "disable_iss_validation=False" in step.why


def test_host_flag_wins_and_disabled_local_token_is_turned_back_on() -> None:
    options = dataclasses.replace(IN, kubernetes_host="https://kubernetes.default.svc:443")
    plan = make_plan(options, evidence(config={**GOOD_CONFIG, "disable_local_ca_jwt": True}))
    (step,) = plan.steps
    assert step.action.body["kubernetes_host"] == "https://kubernetes.default.svc:443"
    assert step.action.body["disable_local_ca_jwt"] is False
    assert "disable_local_ca_jwt is true" in step.why
    assert "kubernetes_host is" in step.why


def test_vault_before_1_16_cannot_say_so_the_config_is_written() -> None:
    old = {key: value for key, value in GOOD_CONFIG.items() if key != "token_reviewer_jwt_set"}
    (step,) = make_plan(IN, evidence(vault_version="1.12.0", config=old)).steps
    assert "token_reviewer_jwt_set came with Vault 1.16" in step.why


@pytest.mark.parametrize("version", ["1.9.2", "1.8.12", "0.11.0"])
def test_old_vault_is_refused_in_the_cluster(version: str) -> None:
    plan = make_plan(IN, evidence(vault_version=version))
    (refusal,) = plan.refusals
    assert f"Vault {version} is older than 1.9.3" in refusal.cause
    assert "local token reload came with Vault 1.9.3" in refusal.cause
    assert "upgrade Vault" in refusal.fix


def test_old_vault_outside_the_cluster_is_only_noted() -> None:
    plan = make_plan(
        OUT, evidence(vault_version="1.8.0", reviewer=_reviewer_ready(), config=_outside_config())
    )
    assert plan.refusals == ()
    assert any("older than 1.9.3" in note for note in plan.notes)


def test_unreadable_version_is_refused() -> None:
    assert "no version I can read" in make_plan(IN, evidence(vault_version="")).refusals[0].cause


def test_a_mount_of_another_type_is_refused() -> None:
    plan = make_plan(IN, evidence(auth_mounts={"kubernetes/": "jwt"}))
    assert "auth/kubernetes/ is a 'jwt' auth method" in plan.refusals[0].cause


FIX = (
    "kubectl create clusterrolebinding vaultinject-auth-delegator-vault-vault "
    "--clusterrole=system:auth-delegator --serviceaccount=vault:vault"
)


def test_missing_auth_delegator_is_refused_with_the_kubectl_fix() -> None:
    (refusal,) = make_plan(IN, evidence(vault_can_review=False)).refusals
    assert refusal.cause.startswith(
        "service account vault/vault is not allowed to create tokenreviews.authentication.k8s.io"
    )
    assert refusal.fix.startswith(FIX)


def test_an_unchecked_auth_delegator_is_refused_too() -> None:
    (refusal,) = make_plan(IN, evidence(vault_can_review=None)).refusals
    assert refusal.cause.startswith(
        "cannot check whether service account vault/vault may create tokenreviews"
    )
    assert "may not create subjectaccessreviews" in refusal.cause
    assert FIX in refusal.fix


def test_grant_flag_binds_auth_delegator() -> None:
    plan = make_plan(dataclasses.replace(IN, grant_auth_delegator=True), evidence(vault_can_review=False))
    (step,) = plan.steps
    assert isinstance(step.action, KubeCreate)
    assert step.action.kind == "ClusterRoleBinding"
    assert step.action.body["roleRef"]["name"] == "system:auth-delegator"
    assert step.action.body["subjects"] == [{"kind": "ServiceAccount", "name": "vault", "namespace": "vault"}]


# -- outside the cluster ---------------------------------------------------------------------------


def _reviewer_ready() -> Reviewer:
    return Reviewer(True, True, True, True, True)


def _outside_config() -> dict[str, Any]:
    return {**GOOD_CONFIG, "kubernetes_host": "https://api.example.com:6443", "kubernetes_ca_cert": PEM,
            "token_reviewer_jwt_set": True}  # fmt: skip


def test_outside_creates_the_reviewer_and_stores_its_secret_token() -> None:
    plan = make_plan(OUT, evidence(auth_mounts={}, config=None, reviewer=Reviewer(namespace_exists=True)))
    kinds = [
        step.action.kind if isinstance(step.action, KubeCreate) else step.action.path for step in plan.steps
    ]
    assert kinds == [
        "sys/auth/kubernetes",
        "ServiceAccount",
        "ClusterRoleBinding",
        "Secret",
        "auth/kubernetes/config",
    ]
    secret = plan.steps[3].action
    assert isinstance(secret, KubeCreate)
    assert secret.wait_for_token
    assert secret.body["type"] == "kubernetes.io/service-account-token"
    assert secret.body["metadata"]["annotations"] == {
        "kubernetes.io/service-account.name": "vault-token-reviewer"
    }
    config = plan.steps[4].action
    assert isinstance(config, VaultWrite)
    assert config.body["token_reviewer_jwt"] == FromSecret("vault", "vault-token-reviewer-token", "token")
    assert config.body["kubernetes_host"] == "https://api.example.com:6443"
    assert config.body["kubernetes_ca_cert"] == PEM
    assert "a pod's bound token dies with its pod" in plan.steps[3].why


def test_outside_without_a_kubeconfig_ca_takes_the_secrets() -> None:
    plan = make_plan(
        OUT, evidence(config=None, kube_ca_pem=None, reviewer=Reviewer(True, True, True, True, True))
    )
    config = writes(plan)[-1]
    assert config.body["kubernetes_ca_cert"] == FromSecret("vault", "vault-token-reviewer-token", "ca.crt")


def test_outside_already_set_up_plans_nothing_and_says_what_it_cannot_check() -> None:
    plan = make_plan(OUT, evidence(config=_outside_config(), reviewer=_reviewer_ready()))
    assert plan.steps == ()
    assert "Vault never returns the token" in plan.notes[0]


def test_outside_namespace_and_an_unbound_existing_account() -> None:
    reviewer = Reviewer(namespace_exists=False, service_account_exists=True, can_review=False)
    plan = make_plan(OUT, evidence(config=_outside_config(), reviewer=reviewer))
    kinds = [step.action.kind for step in plan.steps if isinstance(step.action, KubeCreate)]
    assert kinds == ["Namespace", "ClusterRoleBinding", "Secret"]
    assert plan.refusals == ()  # the reviewer is ours: binding it needs no --grant-auth-delegator


# -- roles and policies ----------------------------------------------------------------------------


ROLE = RoleRequest("app", ("app",), ("shop", "shop-canary"), ("app-read",), 3600, None)


def test_a_new_role_is_written_with_a_note_about_its_audience() -> None:
    plan = make_plan(dataclasses.replace(IN, roles=(ROLE,)), evidence())
    (step,) = plan.steps
    assert step.action.path == "auth/kubernetes/role/app"  # type: ignore[union-attr]
    assert step.action.body == {
        "bound_service_account_names": ["app"],
        "bound_service_account_namespaces": ["shop", "shop-canary"],
        "token_policies": ["app-read"],
        "token_ttl": 3600,
    }
    assert any("role app has no audience" in note for note in plan.notes)


def test_an_equal_role_in_another_order_plans_nothing() -> None:
    current = {"bound_service_account_names": ["app"], "bound_service_account_namespaces": ["shop-canary", "shop"],
               "token_policies": ["app-read"], "token_ttl": 3600, "token_max_ttl": 0}  # fmt: skip
    plan = make_plan(dataclasses.replace(IN, roles=(ROLE,)), evidence(roles={"app": current}))
    assert plan.steps == ()


def test_a_changed_role_says_what_differs() -> None:
    current = {"bound_service_account_names": ["app"], "bound_service_account_namespaces": ["shop"],
               "token_policies": ["default"], "token_ttl": 3600}  # fmt: skip
    (step,) = make_plan(dataclasses.replace(IN, roles=(ROLE,)), evidence(roles={"app": current})).steps
    assert "bound_service_account_namespaces is ['shop']" in step.why
    assert "token_policies is ['default'], wanted ['app-read']" in step.why


def test_policies_are_written_only_when_they_differ() -> None:
    text = read_only_policy("app", ("secret/data/shop/*",))
    assert 'path "secret/data/shop/*" {\n  capabilities = ["read"]\n}' in text
    options = dataclasses.replace(IN, policies=(PolicyRequest("app-read", text, "generated"),))
    assert make_plan(options, evidence(policies={"app-read": text + "\n"})).steps == ()
    (step,) = make_plan(options, evidence(policies={"app-read": "old"})).steps
    assert step.why == "policy app-read differs from the requested text"
    (step,) = make_plan(options, evidence(policies={"app-read": None})).steps
    assert step.action.path == "sys/policies/acl/app-read"  # type: ignore[union-attr]


# -- permissions and rendering ---------------------------------------------------------------------


def test_missing_capabilities() -> None:
    config = Need("auth/kubernetes/config", ("update",), why="write the config")
    enable = Need("sys/auth/kubernetes", ("update",), sudo=True)
    assert (
        missing([config, enable], {"auth/kubernetes/config": ["root"], "sys/auth/kubernetes": ["root"]}) == []
    )
    assert missing([config], {"auth/kubernetes/config": ["read", "update"]}) == []
    (refusal,) = missing([config], {"auth/kubernetes/config": ["read"]})
    assert refusal.cause == (
        "the Vault token may not write the config: it needs update on auth/kubernetes/config (it has: read)"
    )
    assert (
        refusal.fix
        == 'add to the token\'s policy: path "auth/kubernetes/config" { capabilities = ["update"] }'
    )
    (refusal,) = missing([enable], {"sys/auth/kubernetes": ["update"]})
    assert "update and sudo on sys/auth/kubernetes" in refusal.cause
    assert '["update", "sudo"]' in refusal.fix
    assert len(missing([config], {"auth/kubernetes/config": ["deny", "update"]})) == 1


def test_the_rendered_plan_never_holds_a_token_or_a_pem() -> None:
    plan = make_plan(OUT, evidence(config=None, reviewer=Reviewer(namespace_exists=True)))
    document = json.dumps(plan_json(plan))
    assert "<token of Secret vault/vault-token-reviewer-token>" in document
    assert "MIIB" not in document
    assert "<PEM, 1 block>" in document
    text = writes(plan)[-1].describe()
    assert "<token of Secret" in text
    assert "MIIB" not in text
