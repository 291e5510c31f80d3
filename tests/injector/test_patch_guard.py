"""`agent-json-patch` and `agent-init-json-patch` may change an agent container, but not what injection needs.

Upstream applies the patch blindly: `replace /name` gives a pod with two containers named `app`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.injector import SpecError, inject
from vaultinject.spec import Settings

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
AGENTS = ("vault-agent", "vault-agent-init")
OUR_VOLUMES = ("kube-api-access-abc", "vault-agent-state", "vault-agent-podinfo", "vault-secrets")


def make_pod(mode: str = "native", **patches: str) -> dict[str, Any]:
    sa = {"name": "kube-api-access-abc", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "app",
            "namespace": "demo",
            "annotations": {
                VAULT + "agent-inject": "true",
                VAULT + "role": "app",
                VAULT + "agent-inject-secret-db": "database/creds/app",
                "vaultinject.io/mode": mode,
                **{VAULT + key.replace("_", "-"): value for key, value in patches.items()},
            },
        },
        "spec": {
            "containers": [{"name": "app", "image": "app", "volumeMounts": [sa]}],
            "volumes": [
                {
                    "name": "kube-api-access-abc",
                    "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
                },
                {"name": "extra", "emptyDir": {}},
            ],
        },
    }


def agent(pod: dict[str, Any], name: str = "vault-agent") -> dict[str, Any]:
    everything: list[dict[str, Any]] = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    (found,) = [c for c in everything if c["name"] == name]
    return found


def rejection(mode: str = "native", **patches: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        inject(make_pod(mode, **{key: json.dumps(value) for key, value in patches.items()}), SETTINGS)
    return caught.value


REJECTED = [
    ([{"op": "replace", "path": "/name", "value": "app"}], "operation 0 (replace /name)", "name"),
    ([{"op": "add", "path": "/env/-", "value": {"name": "X", "value": "1"}},
      {"op": "replace", "path": "/name", "value": "vault-agent-init"}], "operation 1 (replace /name)", "name"),
    ([{"op": "replace", "path": "/args/1", "value": "init"}], "operation 0 (replace /args/1)", "args"),
    ([{"op": "remove", "path": "/restartPolicy"}], "(remove /restartPolicy)", "restartPolicy"),
    ([{"op": "remove", "path": "/startupProbe"}], "(remove /startupProbe)", "startupProbe command"),
    ([{"op": "replace", "path": "/readinessProbe/exec/command/2", "value": "/tmp/x"}],
     "(replace /readinessProbe/exec/command/2)", "readinessProbe command"),
    ([{"op": "remove", "path": "/lifecycle"}], "(remove /lifecycle)", "postStart hook"),
    ([{"op": "replace", "path": "/lifecycle/postStart/exec/command/2", "value": "0"}],
     "(replace /lifecycle/postStart/exec/command/2)", "postStart hook"),
    ([{"op": "remove", "path": "/volumeMounts/1"}], "(remove /volumeMounts/1)", "volume mount vault-agent-state"),
    ([{"op": "replace", "path": "/volumeMounts/1/mountPath", "value": "/tmp"}],
     "(replace /volumeMounts/1/mountPath)", "volume mount vault-agent-state"),
    ([{"op": "add", "path": "/volumeMounts/-", "value": {"name": "extra", "mountPath": "//home/vault/"}}],
     "(add /volumeMounts/-)", "volume mount vault-agent-state"),
    ([{"op": "move", "from": "/volumeMounts/0", "path": "/env/-"}],
     "(move /volumeMounts/0 to /env/-)", "volume mount kube-api-access-abc"),
    ([{"op": "add", "path": "/env/-", "value": {"name": "VAULTINJECT_LOG_LEVEL", "value": "trace"}},
      {"op": "add", "path": "/env/-", "value": {"name": "POD_NAME", "value": "other"}}],
     "operation 1 (add /env/-)", "env POD_NAME"),
]  # fmt: skip


@pytest.mark.parametrize(("patch", "operation", "field"), REJECTED, ids=[r[1] for r in REJECTED])
def test_a_patch_that_changes_what_injection_relies_on_is_rejected(
    patch: list[dict[str, Any]], operation: str, field: str
) -> None:
    error = rejection(agent_json_patch=patch)
    assert error.annotation == VAULT + "agent-json-patch"
    assert operation in error.message
    assert f"container's {field}, which the injection relies on" in error.message


def test_the_init_patch_may_not_rename_the_init_agent() -> None:
    error = rejection("classic", agent_init_json_patch=[{"op": "replace", "path": "/name", "value": "app"}])
    assert error.annotation == VAULT + "agent-init-json-patch"
    assert "the vault-agent-init container's name" in error.message


ACCEPTED: list[list[dict[str, Any]]] = [
    [{"op": "replace", "path": "/image", "value": "registry.local/agent:1"}],
    [{"op": "add", "path": "/resources/limits", "value": {"cpu": "1"}}],
    [{"op": "add", "path": "/securityContext/runAsUser", "value": 2000}],
    [{"op": "add", "path": "/env/-", "value": {"name": "HTTPS_PROXY", "value": "http://proxy:3128"}}],
    [{"op": "add", "path": "/volumeMounts/-", "value": {"name": "extra", "mountPath": "/extra"}}],
    [{"op": "replace", "path": "/startupProbe/failureThreshold", "value": 600}],
    # a field removed and put back leaves the container as injection needs it
    [{"op": "remove", "path": "/volumeMounts/1"},
     {"op": "add", "path": "/volumeMounts/1", "value": {"name": "vault-agent-state", "mountPath": "/home/vault"}}],
]  # fmt: skip


@pytest.mark.parametrize("patch", ACCEPTED, ids=[p[0]["path"] for p in ACCEPTED])
def test_a_patch_of_other_fields_applies(patch: list[dict[str, Any]]) -> None:
    result = inject(make_pod(agent_json_patch=json.dumps(patch)), SETTINGS).pod
    assert agent(result)["name"] == "vault-agent"


# Property: whatever patch is accepted, the agents keep what injection relies on.

POINTERS = ["", "/name", "/image", "/args", "/args/0", "/args/1", "/command", "/command/0", "/restartPolicy",
            "/startupProbe", "/startupProbe/exec", "/startupProbe/periodSeconds", "/readinessProbe",
            "/readinessProbe/exec/command/2", "/env/0", "/env/-", "/env/4", "/volumeMounts/0", "/volumeMounts/1",
            "/volumeMounts/-", "/volumeMounts/1/mountPath", "/volumeMounts/2/name", "/volumeMounts/3/readOnly",
            "/resources", "/resources/limits", "/securityContext/runAsUser", "/workingDir"]  # fmt: skip
VALUES = st.sampled_from(
    ["app", "vault-agent", "vault-agent-init", "x", 5, None, "Always", ["sh"], {}, "//home/vault",
     {"name": "EXTRA", "value": "1"}, {"name": "VAULTINJECT_TOKEN_PATH", "value": "/x"},
     {"name": "extra", "mountPath": "//home/vault"}, {"name": "extra", "mountPath": "/vault//secrets/"},
     {"name": "vault-agent-state", "mountPath": "/tmp"}, {"name": "extra", "mountPath": "/extra"},
     {"name": "app", "image": "app"}]
)  # fmt: skip
operations = st.one_of(
    st.builds(lambda op, path, value: {"op": op, "path": path, "value": value},
              st.sampled_from(["add", "replace", "test"]), st.sampled_from(POINTERS), VALUES),
    st.builds(lambda path: {"op": "remove", "path": path}, st.sampled_from(POINTERS)),
    st.builds(lambda op, source, path: {"op": op, "from": source, "path": path},
              st.sampled_from(["move", "copy"]), st.sampled_from(POINTERS), st.sampled_from(POINTERS)),
)  # fmt: skip


def clean(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def must_keep(container: dict[str, Any]) -> dict[str, Any]:
    """Stated plainly: identity, mode, probes' commands, our mounts alone at their paths, our env."""
    kept: dict[str, Any] = {key: container.get(key) for key in ("name", "command", "args", "restartPolicy")}
    for probe in ("startupProbe", "readinessProbe"):
        kept[probe] = (
            (container.get(probe) or {}).get("exec") if isinstance(container.get(probe), dict) else None
        )
    mounts = [m for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    ours = {m["name"]: clean(m["mountPath"]) for m in mounts if m.get("name") in OUR_VOLUMES}
    kept["mounts"] = sorted(
        (str(m.get("name")), clean(str(m.get("mountPath"))), bool(m.get("readOnly")))
        for m in mounts
        if m.get("name") in ours
        or (isinstance(m.get("mountPath"), str) and clean(m["mountPath"]) in ours.values())
    )
    env: dict[str, Any] = {}
    for variable in container.get("env") or []:
        if isinstance(variable, dict):
            env[str(variable.get("name"))] = variable
    kept["env"] = env
    return kept


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["native", "classic", "init-only"]), st.lists(operations, min_size=1, max_size=4),
       st.booleans())  # fmt: skip
def test_no_accepted_patch_renames_duplicates_or_breaks_an_agent(
    mode: str, patch: list[dict[str, Any]], init_patch: bool
) -> None:
    annotation = "agent-init-json-patch" if init_patch else "agent-json-patch"
    baseline = inject(make_pod(mode), SETTINGS).pod
    try:
        result = inject(make_pod(mode, **{annotation: json.dumps(patch)}), SETTINGS).pod
    except SpecError as caught:
        error: SpecError | None = caught
    else:
        error = None
    event("rejected" if error else "accepted")
    if error is not None:
        assert error.annotation == VAULT + annotation
        return
    everything = result["spec"].get("initContainers", []) + result["spec"]["containers"]
    names = [c["name"] for c in everything]
    assert len(names) == len(set(names)), names
    for name in AGENTS:
        if name in [
            c["name"] for c in baseline["spec"].get("initContainers", []) + baseline["spec"]["containers"]
        ]:
            kept, expected = must_keep(agent(result, name)), must_keep(agent(baseline, name))
            assert {k: v for k, v in kept.items() if k != "env"} == {
                k: v for k, v in expected.items() if k != "env"
            }
            assert all(kept["env"].get(key) == value for key, value in expected["env"].items())
