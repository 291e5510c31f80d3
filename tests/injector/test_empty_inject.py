"""`agent-inject: ""` is false, as upstream's ParseBool reads it: the pod passes untouched."""

from __future__ import annotations

import copy

from vaultinject.injector import inject
from vaultinject.spec import Settings

VAULT = "vault.hashicorp.com/"


def test_an_empty_inject_annotation_leaves_the_pod_untouched() -> None:
    pod = {
        "metadata": {"name": "p", "annotations": {VAULT + "agent-inject": "", VAULT + "role": "app"}},
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
    original = copy.deepcopy(pod)
    result = inject(pod, Settings(vault_addr="https://vault:8200"))
    assert (result.injected, result.patch, result.pod) == (False, [], original)
    assert result.reason == f"{VAULT}agent-inject is ''"
