"""The injector: decision flow, modes, volumes, mounts, agent containers, and the patch."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch as reference
import pytest

from tests.injector.podcheck import assert_valid_pod
from vaultinject.injector import Injection, SpecError, inject
from vaultinject.spec import Mode, Settings

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
SA_MOUNT = {
    "name": "kube-api-access-abc",
    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    "readOnly": True,
}


def make_pod(annotations: dict[str, str] | None = None, *, init: bool = True, **spec: Any) -> dict[str, Any]:
    """A pod as the API server hands it to the webhook: SA token mounted by the admission plugin."""
    body: dict[str, Any] = {
        "containers": [
            {"name": "web", "image": "nginx", "volumeMounts": [dict(SA_MOUNT)]},
            {"name": "metrics", "image": "exporter", "volumeMounts": [dict(SA_MOUNT)]},
        ],
        "volumes": [
            {
                "name": "kube-api-access-abc",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
            }
        ],
    }
    if init:
        body["initContainers"] = [{"name": "web-init", "image": "busybox", "volumeMounts": [dict(SA_MOUNT)]}]
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "demo",
            "annotations": annotations if annotations is not None else opted_in(),
        },
        "spec": body,
    }


def opted_in(**extra: str) -> dict[str, str]:
    return {
        VAULT + "agent-inject": "true",
        VAULT + "role": "web",
        VAULT + "agent-inject-secret-db": "database/creds/web",
        **{VAULT + key.replace("_", "-"): value for key, value in extra.items()},
    }


def run(pod: dict[str, Any], settings: Settings = SETTINGS, namespace: str | None = None) -> Injection:
    original = copy.deepcopy(pod)
    result = inject(pod, settings, namespace)
    assert pod == original, "inject must not modify its input"
    assert reference.apply_patch(pod, result.patch) == result.pod, "the patch must yield the mutated pod"
    if result.injected:
        assert_valid_pod(result.pod)
    return result


def names(containers: list[dict[str, Any]] | None) -> list[str]:
    return [c["name"] for c in containers or []]


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    everything: list[dict[str, Any]] = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    (found,) = [c for c in everything if c["name"] == name]
    return found


def mount_paths(pod: dict[str, Any], name: str) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in container(pod, name).get("volumeMounts", [])}


# The decision flow: upstream's ShouldInject table, plus system namespaces.


@pytest.mark.parametrize(
    ("inject_value", "status", "phase", "injects"),
    [("true", "", "Pending", True), ("false", "", "Pending", False), ("true", "injected", "Pending", False),
     ("false", "injected", "Pending", False), ("true", "update", "Pending", True), ("true", "", "Running", False),
     ("true", "", "Succeeded", False), ("true", "", "Failed", False), ("true", "update", "Running", False),
     ("true", "", None, True)],
)  # fmt: skip
def test_should_inject_table(inject_value: str, status: str, phase: str | None, injects: bool) -> None:
    annotations = opted_in(agent_inject=inject_value)
    if status:
        annotations[VAULT + "agent-inject-status"] = status
    pod = make_pod(annotations)
    if phase:
        pod["status"] = {"phase": phase}
    assert run(pod).injected is injects


def test_a_pod_without_the_annotation_passes_untouched() -> None:
    result = run(make_pod({}))
    assert (result.injected, result.patch) == (False, [])
    assert "no vault.hashicorp.com/agent-inject annotation" in result.reason


@pytest.mark.parametrize("value", ["yes", "tRuE"])
def test_an_invalid_inject_annotation_rejects_the_pod(value: str) -> None:
    with pytest.raises(SpecError, match="error checking if should inject agent"):
        run(make_pod(opted_in(agent_inject=value)))


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public"])
def test_system_namespaces_are_refused_once_the_pod_opts_in(namespace: str) -> None:
    with pytest.raises(SpecError, match=f"cannot inject into system namespace {namespace}"):
        run(make_pod(), namespace=namespace)
    assert run(make_pod({}), namespace=namespace).injected is False


def test_the_request_namespace_wins_over_the_pods_own() -> None:
    pod = make_pod()
    pod["metadata"]["namespace"] = "kube-system"
    assert run(pod, namespace="demo").injected


# Modes.


def test_native_mode_injects_one_agent_as_a_restartable_init_container() -> None:
    pod = run(make_pod()).pod
    assert names(pod["spec"]["initContainers"]) == ["web-init", "vault-agent"]
    assert names(pod["spec"]["containers"]) == ["web", "metrics"]
    agent = container(pod, "vault-agent")
    assert agent["restartPolicy"] == "Always"
    assert agent["args"] == ["--mode", "native"]
    assert agent["startupProbe"]["exec"]["command"] == ["test", "-e", "/home/vault/.vaultinject-started"]
    assert agent["readinessProbe"]["exec"]["command"] == ["test", "-e", "/home/vault/.vaultinject-ready"]
    # The app starts as the first render completes, not at the next startup probe.
    hook = agent["lifecycle"]["postStart"]["exec"]["command"]
    assert hook == ["vaultinject-agent", "--wait-for-start", "20", "/home/vault/.vaultinject-started"]


def test_classic_mode_injects_init_and_sidecar_sharing_a_private_state_volume() -> None:
    pod = run(make_pod(), SETTINGS._replace(mode=Mode.CLASSIC)).pod
    assert names(pod["spec"]["initContainers"]) == ["web-init", "vault-agent-init"]
    assert names(pod["spec"]["containers"]) == ["web", "metrics", "vault-agent"]
    init, sidecar = container(pod, "vault-agent-init"), container(pod, "vault-agent")
    assert (init["args"], sidecar["args"]) == (["--mode", "init"], ["--mode", "sidecar"])
    assert mount_paths(pod, "vault-agent-init")["vault-agent-state"] == "/home/vault"
    assert mount_paths(pod, "vault-agent")["vault-agent-state"] == "/home/vault"
    assert "vault-agent-state" not in mount_paths(pod, "web")
    assert "restartPolicy" not in sidecar
    assert "startupProbe" not in init
    assert "lifecycle" not in init
    assert "lifecycle" not in sidecar
    assert "readinessProbe" in sidecar


def test_classic_mode_without_pre_populate_has_only_the_sidecar() -> None:
    pod = run(make_pod(opted_in(agent_pre_populate="false"))).pod
    assert names(pod["spec"]["initContainers"]) == ["web-init"]
    assert names(pod["spec"]["containers"]) == ["web", "metrics", "vault-agent"]
    assert "vault-secrets" not in mount_paths(pod, "web-init")


def test_init_only_mode_for_jobs() -> None:
    pod = run(make_pod(opted_in(agent_pre_populate_only="true"))).pod
    assert names(pod["spec"]["initContainers"]) == ["web-init", "vault-agent-init"]
    assert names(pod["spec"]["containers"]) == ["web", "metrics"]
    assert container(pod, "vault-agent-init")["args"] == ["--mode", "init"]


@pytest.mark.parametrize("mode", list(Mode))
def test_init_first_puts_the_agent_before_user_init_containers(mode: Mode) -> None:
    pod = run(make_pod(opted_in(agent_init_first="true") | {"vaultinject.io/mode": mode.value})).pod
    assert pod["spec"]["initContainers"][0]["name"] in {"vault-agent", "vault-agent-init"}
    assert pod["spec"]["initContainers"][1]["name"] == "web-init"


def test_a_pod_without_init_containers_gets_a_new_list() -> None:
    result = run(make_pod(init=False))
    assert names(result.pod["spec"]["initContainers"]) == ["vault-agent"]
    assert {
        "op": "add",
        "path": "/spec/initContainers",
        "value": result.pod["spec"]["initContainers"],
    } in result.patch


# Volumes and mounts.


def test_volumes_are_in_memory_and_named_as_upstream() -> None:
    pod = run(
        make_pod(
            opted_in(**{"secret-volume-path-cert": "/etc/tls", "agent-inject-secret-cert": "pki/issue/web"})
        )
    ).pod
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["vault-secrets"] == {"name": "vault-secrets", "emptyDir": {"medium": "Memory"}}
    assert volumes["vault-secrets-custom-0"]["emptyDir"] == {"medium": "Memory"}
    assert volumes["vault-agent-state"]["emptyDir"]["medium"] == "Memory"
    assert volumes["vault-agent-podinfo"]["downwardAPI"]["items"] == [
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}
    ]
    assert mount_paths(pod, "web")["vault-secrets"] == "/vault/secrets"
    assert mount_paths(pod, "web")["vault-secrets-custom-0"] == "/etc/tls"
    assert mount_paths(pod, "vault-agent")["vault-secrets-custom-0"] == "/etc/tls"


def test_the_secret_volume_path_annotation_moves_the_mount() -> None:
    pod = run(make_pod(opted_in(secret_volume_path="/etc/secrets"))).pod
    assert mount_paths(pod, "web")["vault-secrets"] == "/etc/secrets"


def test_only_the_named_containers_get_secrets_but_all_user_init_containers_do() -> None:
    result = run(make_pod(opted_in(agent_inject_containers="web, ghost")))
    assert "vault-secrets" in mount_paths(result.pod, "web")
    assert "vault-secrets" not in mount_paths(result.pod, "metrics")
    assert "vault-secrets" in mount_paths(result.pod, "web-init")
    assert any("no container named ghost" in w for w in result.warnings)


def test_extra_and_tls_secrets_are_mounted_read_only_in_the_agents() -> None:
    pod = run(make_pod(opted_in(agent_extra_secret="extra", tls_secret="vault-tls"))).pod
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["extra-secrets"]["secret"] == {"secretName": "extra"}
    assert volumes["vault-tls-secrets"]["secret"] == {"secretName": "vault-tls"}
    mounts = {m["name"]: m for m in container(pod, "vault-agent")["volumeMounts"]}
    assert mounts["extra-secrets"] == {
        "name": "extra-secrets",
        "mountPath": "/vault/custom",
        "readOnly": True,
    }
    assert mounts["vault-tls-secrets"] == {
        "name": "vault-tls-secrets",
        "mountPath": "/vault/tls",
        "readOnly": True,
    }


def test_copy_volume_mounts_skips_service_account_mounts() -> None:
    pod = make_pod(opted_in(agent_copy_volume_mounts="web"))
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/data"})
    pod["spec"]["volumes"].append({"name": "data", "emptyDir": {}})
    mounts = mount_paths(run(pod).pod, "vault-agent")
    assert mounts["data"] == "/data"
    assert list(mounts).count("kube-api-access-abc") == 1


def test_a_mount_path_clash_in_an_app_container_is_rejected() -> None:
    pod = make_pod()
    pod["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "kube-api-access-abc", "mountPath": "/vault/secrets"}
    )
    with pytest.raises(SpecError, match="'web' already mounts something at /vault/secrets"):
        run(pod)


# The service-account token the agent logs in with.


def test_the_agent_reuses_the_apps_token_mount() -> None:
    agent = container(run(make_pod()).pod, "vault-agent")
    assert SA_MOUNT in agent["volumeMounts"]
    assert not any(e["name"] == "VAULTINJECT_TOKEN_PATH" for e in agent["env"])


def test_without_a_token_mount_the_agent_gets_its_own_projected_token() -> None:
    pod = make_pod(opted_in(), automountServiceAccountToken=False)
    for item in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        item["volumeMounts"] = []
    pod["spec"]["volumes"] = []
    result = run(pod, SETTINGS._replace(token_audience="vault", token_expiration_seconds=1800)).pod
    volume = {v["name"]: v for v in result["spec"]["volumes"]}["vault-agent-token"]
    assert volume["projected"]["sources"] == [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 1800, "audience": "vault"}}
    ]
    agent = container(result, "vault-agent")
    assert (
        mount_paths(result, "vault-agent")["vault-agent-token"]
        == "/var/run/secrets/vault.hashicorp.com/serviceaccount"
    )
    assert {
        "name": "VAULTINJECT_TOKEN_PATH",
        "value": "/var/run/secrets/vault.hashicorp.com/serviceaccount/token",
    } in agent["env"]
    assert "vault-agent-token" not in mount_paths(result, "web")


def test_a_named_token_volume_mounted_by_the_app_is_reused_with_its_path() -> None:
    pod = make_pod(opted_in(agent_service_account_token_volume_name="vault-token"))
    pod["spec"]["volumes"].append(
        {
            "name": "vault-token",
            "projected": {"sources": [{"serviceAccountToken": {"path": "jwt", "audience": "vault"}}]},
        }
    )
    pod["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "vault-token", "mountPath": "/var/run/vault"}
    )
    agent = container(run(pod).pod, "vault-agent")
    assert {"name": "vault-token", "mountPath": "/var/run/vault", "readOnly": True} in agent["volumeMounts"]
    assert {"name": "VAULTINJECT_TOKEN_PATH", "value": "/var/run/vault/jwt"} in agent["env"]


def test_a_named_token_volume_not_mounted_by_the_app_is_mounted_at_the_default_path() -> None:
    pod = make_pod(opted_in(agent_service_account_token_volume_name="vault-token"))
    pod["spec"]["volumes"].append(
        {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
    )
    agent = container(run(pod).pod, "vault-agent")
    assert {
        "name": "VAULTINJECT_TOKEN_PATH",
        "value": "/var/run/secrets/vault.hashicorp.com/serviceaccount/t",
    } in agent["env"]


@pytest.mark.parametrize(
    ("volume", "fragment"),
    [(None, "failed to find service account volume 'vault-token'"),
     ({"name": "vault-token", "emptyDir": {}}, "failed to find tokenPath for projected volume 'vault-token'")],
)  # fmt: skip
def test_a_bad_named_token_volume_is_rejected(volume: dict[str, Any] | None, fragment: str) -> None:
    pod = make_pod(opted_in(agent_service_account_token_volume_name="vault-token"))
    if volume:
        pod["spec"]["volumes"].append(volume)
    with pytest.raises(SpecError, match=fragment) as caught:
        run(pod)
    assert caught.value.annotation == VAULT + "agent-service-account-token-volume-name"


# Security context, identity, resources.


def test_agents_meet_the_restricted_pod_security_profile() -> None:
    context = container(run(make_pod()).pod, "vault-agent")["securityContext"]
    assert context == {
        "runAsUser": 100,
        "runAsGroup": 1000,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@pytest.mark.parametrize(
    ("user", "group", "non_root"), [("0", "1000", False), ("1000", "0", False), ("1000", "1000", True)]
)
def test_run_as_non_root_is_false_for_uid_or_gid_zero(user: str, group: str, non_root: bool) -> None:
    pod = run(make_pod(opted_in(agent_run_as_user=user, agent_run_as_group=group))).pod
    assert container(pod, "vault-agent")["securityContext"]["runAsNonRoot"] is non_root


def test_no_security_context_when_disabled() -> None:
    assert "securityContext" not in container(
        run(make_pod(opted_in(agent_set_security_context="false"))).pod, "vault-agent"
    )


def test_run_as_same_user_copies_container_zeros_uid() -> None:
    pod = make_pod(opted_in(agent_run_as_same_user="true"))
    pod["spec"]["containers"][0]["securityContext"] = {"runAsUser": 2000}
    assert container(run(pod).pod, "vault-agent")["securityContext"]["runAsUser"] == 2000


@pytest.mark.parametrize(
    ("context", "fragment"),
    [(None, "No SecurityContext found for Container 0"), ({}, "RunAsUser is nil"), ({"runAsUser": 0}, "not allowed to run as root")],
)  # fmt: skip
def test_run_as_same_user_errors(context: dict[str, Any] | None, fragment: str) -> None:
    pod = make_pod(opted_in(agent_run_as_same_user="true"))
    if context is not None:
        pod["spec"]["containers"][0]["securityContext"] = context
    with pytest.raises(SpecError, match=fragment):
        run(pod)


def test_resources_default_to_the_measured_sizes_without_a_cpu_limit() -> None:
    resources = container(run(make_pod()).pod, "vault-agent")["resources"]
    assert resources == {"requests": {"cpu": "5m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}


def test_resources_from_annotations_apply_to_both_agents() -> None:
    pod = run(
        make_pod(
            opted_in(agent_limits_cpu="500m", agent_requests_mem="") | {"vaultinject.io/mode": "classic"}
        )
    ).pod
    for name in ("vault-agent-init", "vault-agent"):
        assert container(pod, name)["resources"] == {
            "requests": {"cpu": "5m"},
            "limits": {"cpu": "500m", "memory": "64Mi"},
        }


def test_share_process_namespace_is_set_in_every_mode() -> None:
    pod = run(make_pod(opted_in(agent_share_process_namespace="true", agent_pre_populate="false"))).pod
    assert pod["spec"]["shareProcessNamespace"] is True


def test_share_process_namespace_cannot_override_an_explicit_false() -> None:
    with pytest.raises(SpecError, match="explicitly disabled on the pod"):
        run(make_pod(opted_in(agent_share_process_namespace="true"), shareProcessNamespace=False))


# Agent configuration reaches the agent through the pod's annotations and VAULTINJECT_* variables.


def test_the_agent_reads_annotations_from_a_downward_api_volume_and_settings_from_env() -> None:
    settings = SETTINGS._replace(auth_path="auth/k8s", default_template="json")
    agent = container(run(make_pod(), settings).pod, "vault-agent")
    env = {e["name"]: e.get("value") for e in agent["env"]}
    assert env["VAULTINJECT_VAULT_ADDR"] == "https://vault.vault.svc:8200"
    assert env["VAULTINJECT_AUTH_PATH"] == "auth/k8s"
    assert env["VAULTINJECT_DEFAULT_TEMPLATE"] == "json"
    assert "VAULTINJECT_IMAGE" not in env
    assert "VAULTINJECT_CPU_REQUEST" not in env
    assert {"NAMESPACE", "POD_NAME", "HOST_IP", "POD_IP"} <= set(env)
    assert mount_paths(run(make_pod()).pod, "vault-agent")["vault-agent-podinfo"] == "/vault/podinfo"


def test_agent_json_patches_apply_to_their_containers() -> None:
    patch = '[{"op":"add","path":"/env/-","value":{"name":"EXTRA","value":"1"}},{"op":"replace","path":"/image","value":"mine"}]'
    init_patch = '[{"op":"add","path":"/workingDir","value":"/tmp"}]'
    pod = run(
        make_pod(
            opted_in(agent_json_patch=patch, agent_init_json_patch=init_patch)
            | {"vaultinject.io/mode": "classic"}
        )
    ).pod
    sidecar = container(pod, "vault-agent")
    assert sidecar["image"] == "mine"
    assert {"name": "EXTRA", "value": "1"} in sidecar["env"]
    assert container(pod, "vault-agent-init")["workingDir"] == "/tmp"


def test_a_json_patch_that_does_not_apply_names_its_annotation() -> None:
    with pytest.raises(SpecError, match="cannot be applied to the vault-agent container") as caught:
        run(make_pod(opted_in(agent_json_patch='[{"op":"remove","path":"/nothing"}]')))
    assert caught.value.annotation == VAULT + "agent-json-patch"


# Idempotence and re-injection.


@pytest.mark.parametrize("mode", list(Mode))
def test_injecting_twice_equals_injecting_once(mode: Mode) -> None:
    settings = SETTINGS._replace(mode=mode)
    once = run(make_pod(), settings)
    twice = run(once.pod, settings)
    assert (twice.injected, twice.patch, twice.pod) == (False, [], once.pod)
    assert once.pod["metadata"]["annotations"][VAULT + "agent-inject-status"] == "injected"


def test_status_update_re_injects_cleanly() -> None:
    once = run(make_pod()).pod
    once["metadata"]["annotations"][VAULT + "agent-inject-status"] = "update"
    once["metadata"]["annotations"][VAULT + "agent-inject-secret-api"] = "kv/api"
    again = run(once).pod
    assert names(again["spec"]["initContainers"]) == ["web-init", "vault-agent"]
    assert [m["name"] for m in container(again, "web")["volumeMounts"]].count("vault-secrets") == 1


def test_a_user_container_with_an_agent_name_is_refused() -> None:
    pod = make_pod()
    pod["spec"]["containers"].append({"name": "vault-agent", "image": "x"})
    with pytest.raises(SpecError, match="already has a container named vault-agent"):
        run(pod)


def test_a_pod_without_annotations_map_gets_one() -> None:
    pod = make_pod({VAULT + "agent-inject": "true", VAULT + "role": "r"})
    result = run(pod)
    assert result.pod["metadata"]["annotations"][VAULT + "agent-inject-status"] == "injected"


def test_warnings_from_the_spec_are_returned() -> None:
    assert any("go-max-procs has no effect" in w for w in run(make_pod(opted_in(go_max_procs="4"))).warnings)


def test_sidecar_only_on_a_pod_without_init_containers_adds_no_init_list() -> None:
    result = run(make_pod(opted_in(agent_pre_populate="false"), init=False))
    assert "initContainers" not in result.pod["spec"]
    assert names(result.pod["spec"]["containers"])[-1] == "vault-agent"


@pytest.mark.parametrize(
    ("template", "fragment"),
    [("{{ with secret \"kv/db\" }}{{ .Data.password }}", "line 1, column 45: unexpected EOF"),
     ("line one\n{{ if }}", "line 2, column 6: missing value for if"),
     ('{{ plugin "script" }}', "templates cannot run programs"),
     ("{{ .Data | nosuchfunc }}", 'function "nosuchfunc" not defined')],
)  # fmt: skip
def test_a_template_that_does_not_parse_rejects_the_pod_naming_line_and_column(
    template: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        run(make_pod(opted_in(agent_inject_template_db=template)))
    assert caught.value.annotation == VAULT + "agent-inject-template-db"
    assert fragment in caught.value.message


def test_custom_delimiters_are_used_to_check_the_template() -> None:
    pod = make_pod(
        opted_in(
            agent_inject_template_db="[[ .Data.x ]] {{ not parsed",
            agent_template_left_delim_db="[[",
            agent_template_right_delim_db="]]",
        )
    )
    assert run(pod).injected


def test_template_syntax_errors_are_reported_with_the_other_bad_annotations() -> None:
    annotations = {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "web",
        "vault.hashicorp.com/agent-limits-mem": "lots",
        "vault.hashicorp.com/agent-inject-secret-a": "kv/a",
        "vault.hashicorp.com/agent-inject-template-a": "{{ .Data",
        "vault.hashicorp.com/agent-inject-secret-b": "kv/b",
        "vault.hashicorp.com/agent-inject-template-b": "<< end >>",  # fine with its own delimiters
        "vault.hashicorp.com/agent-template-left-delim-b": "<<",
        "vault.hashicorp.com/agent-template-right-delim-b": ">>",
    }
    pod = {
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
    with pytest.raises(SpecError) as rejected:
        inject(pod, Settings(vault_addr="https://vault:8200"))
    named = [error.annotation for error in rejected.value.errors]
    assert named == ["vault.hashicorp.com/agent-limits-mem", "vault.hashicorp.com/agent-inject-template-a"]
    assert "line 1, column" in str(rejected.value.errors[1])
