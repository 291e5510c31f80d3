"""Container env: expansion vectors from Kubernetes' expansion tests, valueFrom, envFrom, Service links, errors."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from vaultinject.lab.kubelet.env import (
    ConfigError,
    container_env,
    expand,
    expand_args,
    field_value,
    format_map,
    quantity,
    service_env,
)

JSON = dict[str, Any]
CONTEXT = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("$$$(VAR_A)", "$A"),
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$(VAR_REF)", "$(VAR_A)"),
        ("$(VAR_EMPTY)", ""),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$", "$"),
        ("foo$()bar", "foo$()bar"),
        ("$$", "$"),
        ("foo$", "foo$"),
        ("$(VAR_A)$", "A$"),
        ("$(VAR_A)$$(VAR_B)", "A$(VAR_B)"),
    ],
)
def test_expansion(text: str, want: str) -> None:
    assert expand(text, CONTEXT) == want


def test_expand_args() -> None:
    assert expand_args(["echo", "$(VAR_A)", "$$(VAR_A)"], CONTEXT) == ["echo", "A", "$(VAR_A)"]


class Api:
    def __init__(self, objects: dict[str, JSON]) -> None:
        self.objects = objects

    def get_json(self, path: str) -> JSON | None:
        return self.objects.get(path)

    def post_json(self, path: str, body: JSON) -> JSON:  # noqa: ARG002
        raise AssertionError(path)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


POD: JSON = {
    "metadata": {"name": "app-0", "namespace": "demo", "uid": "u-1", "labels": {"app": "web"}},
    "spec": {"nodeName": "node-1", "serviceAccountName": "app"},
    "status": {"hostIP": "127.0.1.1", "podIP": "127.244.0.2", "podIPs": [{"ip": "127.244.0.2"}]},
}
API = Api(
    {
        "/api/v1/namespaces/demo/secrets/db": {"data": {"password": b64("pw"), "user": b64("u")}},
        "/api/v1/namespaces/demo/configmaps/cfg": {"data": {"mode": "fast", "1bad": "x", "ok.key": "y"}},
    }
)


def test_container_env_sources_and_order() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"configMapRef": {"name": "cfg"}}],
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "GREETING", "value": "hi $(POD) on $(KUBERNETES_SERVICE_HOST) $(CFG_mode) $(LATER)"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}},
            {"name": "LATER", "value": "x"},
        ],
        "resources": {"limits": {"memory": "64Mi"}, "requests": {"cpu": "250m"}},
    }
    services = service_env(
        [
            {
                "metadata": {"name": "kubernetes", "namespace": "default"},
                "spec": {"clusterIP": "127.96.0.1", "ports": [{"name": "https", "port": 443}]},
            }
        ],
        namespace="demo",
    )
    invalid: list[str] = []
    env = container_env(POD, container, API, services, invalid_keys=invalid)
    assert env["GREETING"] == "hi app-0 on 127.96.0.1 fast $(LATER)"
    assert env["PW"] == "pw"
    assert env["APP"] == "web"
    assert env["IPS"] == "127.244.0.2"
    assert env["MEM"] == "64"
    assert env["CPU"] == "250"
    assert "GONE" not in env
    assert env["CFG_mode"] == "fast"
    assert env["ok.key"] == "y"
    assert invalid == ["1bad"]
    assert env["KUBERNETES_PORT_443_TCP"] == "tcp://127.96.0.1:443"
    assert list(env)[-1].startswith("KUBERNETES_")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}, 'secret "nope" not found'),
        ({"valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}, 'configmap "nope" not found'),
        (
            {"valueFrom": {"secretKeyRef": {"name": "db", "key": "token"}}},
            "couldn't find key token in Secret demo/db",
        ),
        (
            {"valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
            "couldn't find key k in ConfigMap demo/cfg",
        ),
    ],
)
def test_errors(env: JSON, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        container_env(POD, {"env": [{"name": "X", **env}]}, API, {})
    assert err.value.message == message


def test_optional_missing_key_and_envfrom() -> None:
    container = {
        "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k", "optional": True}}}],
    }
    assert container_env(POD, container, API, {}) == {}
    with pytest.raises(ConfigError, match=r'^secret "nope" not found$'):
        container_env(POD, {"envFrom": [{"secretRef": {"name": "nope"}}]}, API, {})


def test_service_links() -> None:
    svc = {
        "metadata": {"name": "vault-ui", "namespace": "demo"},
        "spec": {
            "clusterIP": "127.96.0.9",
            "ports": [{"name": "http-api", "port": 8200}, {"port": 8201, "protocol": "UDP"}],
        },
    }
    headless = {
        "metadata": {"name": "h", "namespace": "demo"},
        "spec": {"clusterIP": "None", "ports": [{"port": 1}]},
    }
    other = {
        "metadata": {"name": "x", "namespace": "other"},
        "spec": {"clusterIP": "127.96.0.5", "ports": [{"port": 1}]},
    }
    env = service_env([svc, headless, other], namespace="demo")
    assert env == {
        "VAULT_UI_SERVICE_HOST": "127.96.0.9",
        "VAULT_UI_SERVICE_PORT": "8200",
        "VAULT_UI_SERVICE_PORT_HTTP_API": "8200",
        "VAULT_UI_PORT": "tcp://127.96.0.9:8200",
        "VAULT_UI_PORT_8200_TCP": "tcp://127.96.0.9:8200",
        "VAULT_UI_PORT_8200_TCP_PROTO": "tcp",
        "VAULT_UI_PORT_8200_TCP_PORT": "8200",
        "VAULT_UI_PORT_8200_TCP_ADDR": "127.96.0.9",
        "VAULT_UI_PORT_8201_UDP": "udp://127.96.0.9:8201",
        "VAULT_UI_PORT_8201_UDP_PROTO": "udp",
        "VAULT_UI_PORT_8201_UDP_PORT": "8201",
        "VAULT_UI_PORT_8201_UDP_ADDR": "127.96.0.9",
    }
    assert service_env([svc], namespace="demo", enable_service_links=False) == {}


def test_fields_and_quantities() -> None:
    assert field_value(POD, "spec.nodeName") == "node-1"
    assert field_value(POD, "metadata.annotations['none']") == ""
    assert format_map({"b": 'say "hi"\n', "a": "1"}) == 'a="1"\nb="say \\"hi\\"\\n"'
    assert quantity("1Gi") == 2**30
    assert quantity("1e3") == 1000
    assert quantity("1.5") * 1000 == 1500
    with pytest.raises(ConfigError, match="unsupported fieldPath"):
        field_value(POD, "spec.bogus")
