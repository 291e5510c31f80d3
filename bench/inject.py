"""Mutations per second of the pure core (spec + injector) on a realistic pod.

Run: .venv/bin/python bench/inject.py
Prints per-call times for parsing annotations, a full injection (parse, check templates, mutate,
patch) with the spec and template caches warm as across a rollout's pods, and cold, and,
as a yardstick measured in the same run, one JSON round trip of the same pod.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from vaultinject.injector import inject
from vaultinject.spec import Settings, parse
from vaultinject.spec import parser as parser_module
from vaultinject.templates import template as template_module

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")


def realistic_pod() -> dict[str, Any]:
    """A Deployment's pod as the API server sends it: 12 env vars, probes, projected token, 3 secrets."""
    annotations = {
        VAULT + "agent-inject": "true",
        VAULT + "role": "orders",
        VAULT + "agent-inject-secret-db.env": "database/creds/orders",
        VAULT + "agent-inject-template-db.env": '{{- with secret "database/creds/orders" -}}\n'
        'export DB_USER="{{ .Data.username }}"\nexport DB_PASSWORD="{{ .Data.password }}"\n{{- end }}\n',
        VAULT + "agent-inject-perms-db.env": "0400",
        VAULT + "agent-inject-secret-payment-api": "secret/data/shop/payment-api",
        VAULT + "agent-inject-command-payment-api": "kill -HUP 1",
        VAULT + "agent-inject-secret-tls": "pki/issue/orders",
        VAULT + "secret-volume-path-tls": "/etc/tls",
        "kubectl.kubernetes.io/restartedAt": "2026-11-23T10:00:00Z",
    }
    sa_mount = {
        "name": "kube-api-access-7x2k",
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "orders-7d9c8b6f5-",
            "namespace": "shop",
            "labels": {"app": "orders", "pod-template-hash": "7d9c8b6f5"},
            "annotations": annotations,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "orders-7d9c8b6f5", "uid": "5c1e"}
            ],
        },
        "spec": {
            "serviceAccountName": "orders",
            "containers": [
                {
                    "name": "orders",
                    "image": "registry.example.com/shop/orders:1.42.0",
                    "env": [{"name": f"SETTING_{i}", "value": f"value-{i}"} for i in range(12)],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
                    "livenessProbe": {"httpGet": {"path": "/livez", "port": 8080}, "periodSeconds": 10},
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                    "volumeMounts": [sa_mount],
                }
            ],
            "volumes": [
                {
                    "name": "kube-api-access-7x2k",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                            {
                                "downwardAPI": {
                                    "items": [
                                        {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                                    ]
                                }
                            },
                        ]
                    },
                }
            ],
        },
    }


def per_call_seconds(function: Callable[[], object], seconds: float = 1.5) -> float:
    """Median seconds per call over several timed batches."""
    batch, samples = 200, list[float]()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 5:
        start = time.perf_counter()
        for _ in range(batch):
            function()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def main() -> None:
    pod = realistic_pod()
    annotations = pod["metadata"]["annotations"]
    size = len(json.dumps(pod))
    result = inject(pod, SETTINGS)
    assert result.injected
    round_trip = per_call_seconds(lambda: json.loads(json.dumps(pod)))

    def parse_afresh() -> None:
        parser_module._PARSED.clear()
        parse(annotations, SETTINGS)

    parsing = per_call_seconds(parse_afresh)
    injection = per_call_seconds(lambda: inject(pod, SETTINGS))

    def uncached() -> None:
        template_module._cache.clear()  # what a pod with annotations never seen before pays
        parser_module._PARSED.clear()
        inject(pod, SETTINGS)

    first_sight = per_call_seconds(uncached)
    print(f"pod: {size} bytes JSON, {len(annotations)} annotations, patch of {len(result.patch)} operations")
    print(f"json round trip (yardstick): {round_trip * 1e6:8.1f} us")
    print(f"parse annotations:           {parsing * 1e6:8.1f} us   {1 / parsing:10,.0f} /s")
    print(f"inject (parse+mutate+patch): {injection * 1e6:8.1f} us   {1 / injection:10,.0f} /s")
    print(f"  same, annotations not seen:{first_sight * 1e6:8.1f} us   {1 / first_sight:10,.0f} /s")
    print(f"inject / json round trip:    {injection / round_trip:8.1f} x")


if __name__ == "__main__":
    main()
