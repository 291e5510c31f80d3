"""Properties over arbitrary annotations: a SpecError or a valid pod, an exact patch, idempotence."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch as reference
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.injector.podcheck import assert_valid_pod
from vaultinject.injector import SpecError, inject
from vaultinject.spec import Settings
from vaultinject.spec.parser import KNOWN_KEYS, PER_SECRET_PREFIXES, SECRET_PREFIXES

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault:8200")

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


def a_pod(annotations: dict[str, str], with_init: bool, with_token: bool) -> dict[str, Any]:
    mounts = (
        [{"name": "sa", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}] if with_token else []
    )
    spec: dict[str, Any] = {
        "containers": [
            {"name": "app", "image": "app", "volumeMounts": list(mounts)},
            {"name": "x", "image": "x"},
        ],
        "volumes": [{"name": "sa", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
        if with_token
        else [],
    }
    if with_init:
        spec["initContainers"] = [{"name": "init", "image": "busybox"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations},
        "spec": spec,
    }


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_maps, st.booleans(), st.booleans())
def test_any_annotations_give_a_spec_error_or_a_valid_pod_with_an_exact_patch(
    annotations: dict[str, str], with_init: bool, with_token: bool
) -> None:
    pod = a_pod(annotations, with_init, with_token)
    original = copy.deepcopy(pod)
    try:
        result = inject(pod, SETTINGS)
    except SpecError as caught:
        error: SpecError | None = caught
    else:
        error = None
    assert pod == original, "inject must never modify its input"
    event("rejected" if error else "injected")
    if error is not None:
        assert error.annotation.startswith((VAULT, "vaultinject.io/"))
        assert error.message
        return
    assert reference.apply_patch(pod, result.patch) == result.pod
    if result.injected:
        assert_valid_pod(result.pod)
        again = inject(result.pod, SETTINGS)
        assert (again.injected, again.patch, again.pod) == (False, [], result.pod)
