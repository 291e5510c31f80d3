"""Hypothesis strategies for pods and annotations, well-formed or not."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from vaultinject.spec.parser import KNOWN_KEYS, PER_SECRET_PREFIXES, SECRET_PREFIXES

VAULT = "vault.hashicorp.com/"

secret_names = st.sampled_from(["db", "DB", "api", "a.b", "x-y_z", "token", "cfg"])
values = st.one_of(
    st.sampled_from(["true", "false", "", "1", "0", "yes", "500m", "64Mi", "128mb", "/vault/secrets", "/etc/x",
                     "../x", "x", "map", "json", "native", "classic", "init-only", "10s", "1m", "0400", "null",
                     '[{"op":"add","path":"/env/-","value":{"name":"A","value":"1"}}]', "[{}]", "kubernetes",
                     "jwt", "approle", "aws", "web", "1000", "0", "-1", "a,b", "auto-auth"]),
    st.text(max_size=12),
)  # fmt: skip
keys = st.one_of(
    st.sampled_from(sorted(KNOWN_KEYS)).map(lambda key: VAULT + key),
    st.tuples(st.sampled_from(SECRET_PREFIXES + PER_SECRET_PREFIXES), secret_names).map(
        lambda kv: VAULT + kv[0] + kv[1]
    ),
    st.sampled_from(
        [
            "vaultinject.io/mode",
            "vaultinject.io/token-audience",
            "vaultinject.io/other",
            VAULT + "auth-config-role",
        ]
    ),
)
annotation_maps = st.dictionaries(keys, values, max_size=12).map(
    lambda found: {VAULT + "agent-inject": "true", VAULT + "role": "web", **found}
)


# Malformed pods: each field may hold a value of any type.

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def shaped(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A mapping with some of `fields` (each maybe of a wrong type), or any JSON value at all."""
    return st.one_of(st.fixed_dictionaries({}, optional=fields), json_values)


def list_of(item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(item, max_size=3), json_values)


mount_like = shaped(
    {
        "name": st.one_of(st.sampled_from(["sa", "data", "vault-secrets"]), json_values),
        "mountPath": st.one_of(
            st.sampled_from(["/var/run/secrets/kubernetes.io/serviceaccount", "/data", "/vault/secrets"]),
            json_values,
        ),
        "readOnly": st.one_of(st.booleans(), json_values),
    }
)
container_like = shaped(
    {
        "name": st.one_of(st.sampled_from(["app", "x", "vault-agent"]), json_values),
        "image": st.just("app"),
        "volumeMounts": list_of(mount_like),
        "env": list_of(shaped({"name": st.text(max_size=3), "value": json_values})),
        "securityContext": shaped({"runAsUser": st.one_of(st.integers(), json_values)}),
    }
)
volume_like = shaped(
    {
        "name": st.one_of(st.sampled_from(["sa", "data", "vault-secrets"]), json_values),
        "projected": shaped(
            {"sources": list_of(shaped({"serviceAccountToken": shaped({"path": json_values})}))}
        ),
    }
)
pod_like = st.fixed_dictionaries(
    {},
    optional={
        "metadata": shaped(
            {
                "name": json_values,
                "namespace": st.one_of(st.sampled_from(["default", "kube-system"]), json_values),
                "annotations": st.one_of(
                    annotation_maps,
                    st.dictionaries(keys, json_values, max_size=4).map(
                        lambda found: {VAULT + "agent-inject": "true", VAULT + "role": "web", **found}
                    ),
                    json_values,
                ),
            }
        ),
        "spec": shaped(
            {
                "containers": list_of(container_like),
                "initContainers": list_of(container_like),
                "volumes": list_of(volume_like),
                "shareProcessNamespace": st.one_of(st.booleans(), json_values),
                "serviceAccountName": json_values,
            }
        ),
        "status": shaped({"phase": st.one_of(st.just("Pending"), json_values)}),
    },
)
