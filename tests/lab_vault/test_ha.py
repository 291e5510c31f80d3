"""HA mode: server processes on one storage, one active (the lock holder), standbys that forward; hvac is the
judge of the wire behaviour (cluster-fidelity 6.1, 6.2; wire-formats A2)."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import pytest

from vaultinject.lab.vault.config import ServerConfig
from vaultinject.lab.vault.harness import VaultCluster, VaultProcess, make_tls, vault_cluster
from vaultinject.lab.vault.server import VaultServer

ROOT = "lab-root"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[VaultCluster]:
    with vault_cluster(2, root_token=ROOT, workdir=tmp_path) as running:
        running.active()
        yield running


def client(cluster: VaultCluster, node: VaultProcess, token: str | None = ROOT) -> hvac.Client:
    return hvac.Client(url=node.url, token=token, verify=str(cluster.ca_file))


def exchange(
    cluster: VaultCluster,
    node: VaultProcess,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    source: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTPS exchange that never follows redirects; `source` picks the client's address."""
    url = urlsplit(node.url)
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    connection = http.client.HTTPSConnection(
        url.hostname or "",
        url.port,
        context=context,
        timeout=10,
        source_address=(source, 0) if source else None,
    )
    try:
        payload = None if body is None else json.dumps(body).encode()
        connection.request(method, target, body=payload, headers={"X-Vault-Token": ROOT, **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_hvac_writes_and_reads_through_a_standby(cluster: VaultCluster) -> None:
    active = cluster.active()
    (standby,) = cluster.standbys()
    through_standby = client(cluster, standby)
    through_standby.secrets.kv.v2.create_or_update_secret("app", {"pw": "forwarded"})
    through_standby.sys.create_or_update_acl_policy(
        "app", 'path "secret/data/app" { capabilities = ["read"] }'
    )
    token = through_standby.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]

    reader = client(cluster, active, token)
    assert reader.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]["data"] == {
        "pw": "forwarded"
    }
    assert client(cluster, standby, token).auth.token.lookup_self()["data"]["policies"] == ["app", "default"]
    # The standby relays the active node's answer unchanged: an error keeps its status and body.
    with pytest.raises(hvac.exceptions.Forbidden):
        client(cluster, standby, token).secrets.kv.v2.create_or_update_secret("app", {"pw": "x"})
    status, _, body = exchange(cluster, standby, "GET", "/v1/secret/data/missing")
    assert (status, json.loads(body)) == (404, {"errors": []})


def test_health_and_leader_on_the_active_node_and_a_standby(cluster: VaultCluster) -> None:
    active = cluster.active()
    (standby,) = cluster.standbys()
    assert active.health() == 200
    status, _, body = exchange(cluster, standby, "GET", "/v1/sys/health")
    health = json.loads(body)
    assert (status, health["standby"], health["sealed"], health["initialized"]) == (429, True, False, True)
    assert exchange(cluster, standby, "GET", "/v1/sys/health?standbyok=true")[0] == 200
    assert exchange(cluster, standby, "HEAD", "/v1/sys/health")[0] == 429
    assert client(cluster, active).sys.read_health_status(method="GET")["standby"] is False

    active_url = urlsplit(active.url)
    cluster_address = f"https://{active_url.hostname}:{(active_url.port or 0) + 1}"
    on_active = client(cluster, active).sys.read_leader_status()
    on_standby = client(cluster, standby).sys.read_leader_status()
    assert on_active["ha_enabled"]
    assert on_active["is_self"]
    assert on_active["active_time"] != "0001-01-01T00:00:00Z"
    assert on_standby["ha_enabled"]
    assert not on_standby["is_self"]
    for leader in (on_active, on_standby):
        assert (leader["leader_address"], leader["leader_cluster_address"]) == (active.url, cluster_address)


def test_no_request_forwarding_header_gets_a_307_to_the_active_node(cluster: VaultCluster) -> None:
    active = cluster.active()
    (standby,) = cluster.standbys()
    headers = {"X-Vault-No-Request-Forwarding": "true"}
    status, answer, body = exchange(cluster, standby, "GET", "/v1/secret/data/app?version=2", headers=headers)
    assert (status, answer["location"], body) == (307, f"{active.url}/v1/secret/data/app?version=2", b"")
    status, answer, _ = exchange(
        cluster, standby, "PUT", "/v1/secret/data/app", headers=headers, body={"data": {"a": "1"}}
    )
    assert (status, answer["location"]) == (307, f"{active.url}/v1/secret/data/app")
    # Local endpoints are never redirected.
    assert exchange(cluster, standby, "GET", "/v1/sys/seal-status", headers=headers)[0] == 200


def test_a_standby_refuses_to_seal_and_vouches_for_the_client_address(cluster: VaultCluster) -> None:
    active = cluster.active()
    (standby,) = cluster.standbys()
    status, _, body = exchange(cluster, standby, "PUT", "/v1/sys/seal")
    assert (status, json.loads(body)["errors"]) == (
        500,
        ["vault cannot seal when in standby mode; please restart instead"],
    )
    # A token bound to 127.0.0.5 works through the standby from 127.0.0.5, because the standby tells the
    # active node who the client is; a client cannot claim an address by sending that header itself.
    root = client(cluster, active)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle("bound", token_bound_cidrs=["127.0.0.5/32"])
    role_id = root.auth.approle.read_role_id("bound")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("bound")["data"]["secret_id"]
    login = {"role_id": role_id, "secret_id": secret_id}
    status, _, body = exchange(
        cluster, standby, "POST", "/v1/auth/approle/login", body=login, source="127.0.0.5"
    )
    assert status == 200, body
    bound = json.loads(body)["auth"]["client_token"]
    lookup = {"X-Vault-Token": bound}
    assert (
        exchange(cluster, standby, "GET", "/v1/auth/token/lookup-self", headers=lookup, source="127.0.0.5")[0]
        == 200
    )
    assert (
        exchange(cluster, standby, "GET", "/v1/auth/token/lookup-self", headers=lookup, source="127.0.0.6")[0]
        == 403
    )
    spoofed = {**lookup, "X-Vault-Lab-Forwarded-For": "127.0.0.5", "X-Vault-Lab-Forwarding-Key": "guess"}
    assert (
        exchange(cluster, active, "GET", "/v1/auth/token/lookup-self", headers=spoofed, source="127.0.0.6")[0]
        == 403
    )


def test_killing_the_active_node_promotes_a_standby_that_sees_every_write(tmp_path: Path) -> None:
    with vault_cluster(3, root_token=ROOT, workdir=tmp_path) as running:
        active = running.active()
        writer = client(running, running.standbys()[0])
        for index in range(20):
            writer.secrets.kv.v2.create_or_update_secret(f"app/{index}", {"n": str(index)})
        writer.sys.enable_secrets_engine("kv", path="kv1")
        writer.write("kv1/config", value="v1")
        token = writer.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]

        active.kill()
        killed_at = time.monotonic()
        successor = running.active(timeout=5)
        assert time.monotonic() - killed_at < 5
        assert successor is not active
        assert "acquired lock, enabling active operation" in successor.log_file.read_text()

        (other,) = [node for node in running.standbys() if node is not successor]
        for node in (successor, other):
            reader = client(running, node)
            for index in range(20):
                secret = reader.secrets.kv.v2.read_secret_version(
                    f"app/{index}", raise_on_deleted_version=True
                )
                assert secret["data"]["data"] == {"n": str(index)}
            assert reader.read("kv1/config")["data"] == {"value": "v1"}
            assert client(running, node, token).auth.token.lookup_self()["data"]["ttl"] > 0
        assert client(running, other).sys.read_leader_status()["leader_address"] == successor.url

        # The killed node comes back (auto-unseal) as an unsealed standby of the new active node.
        active.start()
        assert active.health() == 429
        assert client(running, active).secrets.kv.v2.read_secret_version(
            "app/0", raise_on_deleted_version=True
        )["data"]["data"] == {"n": "0"}


def test_step_down_hands_over_to_the_other_node(cluster: VaultCluster) -> None:
    active = cluster.active()
    (standby,) = cluster.standbys()
    client(cluster, active).sys.step_down()
    deadline = time.monotonic() + 5
    while standby.health() != 200:
        assert time.monotonic() < deadline, "the standby did not take over after sys/step-down"
        time.sleep(0.05)
    assert active.health() == 429
    assert client(cluster, active).sys.read_leader_status()["leader_address"] == standby.url
    client(cluster, active).secrets.kv.v2.create_or_update_secret("after", {"step": "down"})
    assert client(cluster, standby).secrets.kv.v2.read_secret_version("after", raise_on_deleted_version=True)[
        "data"
    ]["data"] == {"step": "down"}


def test_without_auto_unseal_a_restarted_node_comes_back_sealed(tmp_path: Path) -> None:
    keys_file = tmp_path / "unseal.json"
    with vault_cluster(
        2, root_token=ROOT, auto_unseal=False, unseal_key_file=keys_file, workdir=tmp_path
    ) as c:
        first, second = c.nodes
        assert first.health() == 200  # it initialized the storage itself, so it is unsealed
        assert second.health() == 503
        key = json.loads(keys_file.read_text())["keys"][0]
        assert client(c, second).sys.submit_unseal_key(key)["sealed"] is False
        assert _eventually(lambda: second.health() == 429)

        second.restart()
        assert second.health() == 503
        status = client(c, second).sys.read_seal_status()
        assert (status["initialized"], status["sealed"]) == (True, True)
        client(c, second).sys.submit_unseal_key(key)
        assert _eventually(lambda: second.health() == 429)


def test_initialization_on_a_standby_is_seen_by_every_node(tmp_path: Path) -> None:
    with vault_cluster(2, root_token=None, workdir=tmp_path) as c:
        first, second = c.nodes
        assert (first.health(), second.health()) == (501, 501)
        init = client(c, second, None).sys.initialize(recovery_shares=1, recovery_threshold=1)
        assert client(c, first, None).sys.is_initialized()
        with pytest.raises(hvac.exceptions.InvalidRequest, match="already initialized"):
            client(c, first, None).sys.initialize(recovery_shares=1, recovery_threshold=1)
        # With auto-unseal both nodes unseal as soon as the storage is initialized; one of them is active.
        assert _eventually(lambda: sorted((first.health(), second.health())) == [200, 429])
        root = client(c, first, init["root_token"])
        root.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        root.secrets.kv.v2.create_or_update_secret("app", {"init": "once"})
        assert client(c, second, init["root_token"]).secrets.kv.v2.read_secret_version(
            "app", raise_on_deleted_version=True
        )["data"]["data"] == {"init": "once"}


def _eventually(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def thread_node(directory: Path, data_dir: Path, host: str, **settings: Any) -> Iterator[VaultServer]:
    """An HA node in this process (a second node on the same storage takes its own lock file handle)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = make_tls(directory, hosts=(host,))
    config = ServerConfig(
        listen_host=host,
        tls_cert=files.cert_file,
        tls_key=files.key_file,
        data_dir=data_dir,
        root_token=ROOT,
        auto_unseal=True,
        ha=True,
        ca_cert=files.ca_file,
        **settings,
    )
    server = VaultServer(config, log=lambda _event: None)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_when_forwarding_fails_the_standby_redirects_and_hvac_follows(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with thread_node(tmp_path / "a", data_dir, "127.0.0.21") as first:
        assert _eventually(first.core.serving)
        # The second node trusts a CA that did not sign the first node's certificate: forwarding fails.
        with thread_node(tmp_path / "b", data_dir, "127.0.0.22") as second:
            assert _eventually(lambda: not second.core.seal.sealed)
            assert first.config.ca_cert is not None
            assert second.config.ca_cert is not None
            bundle = tmp_path / "both-cas.pem"
            bundle.write_bytes(first.config.ca_cert.read_bytes() + second.config.ca_cert.read_bytes())
            connection = http.client.HTTPSConnection(
                "127.0.0.22",
                int(second.url.rsplit(":", 1)[1]),
                context=ssl.create_default_context(cafile=bundle),
            )
            connection.request("GET", "/v1/secret/data/app", headers={"X-Vault-Token": ROOT})
            answer = connection.getresponse()
            assert (answer.status, answer.getheader("Location")) == (307, f"{first.url}/v1/secret/data/app")
            connection.close()
            hvac_client = hvac.Client(url=second.url, token=ROOT, verify=str(bundle))
            hvac_client.secrets.kv.v2.create_or_update_secret("app", {"via": "redirect"})
            secret = hvac_client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)
            assert secret["data"]["data"] == {"via": "redirect"}


def test_a_standby_with_no_active_node_answers_500(tmp_path: Path) -> None:
    with thread_node(tmp_path, tmp_path / "data", "127.0.0.23", step_down_wait=30.0) as node:
        assert _eventually(node.core.serving)
        trusted = str(node.config.ca_cert)
        hvac.Client(url=node.url, token=ROOT, verify=trusted).sys.step_down()
        assert _eventually(lambda: not node.core.serving())
        answer = hvac.Client(url=node.url, token=ROOT, verify=trusted).adapter.get(
            "/v1/secret/data/app", raise_exception=False
        )
        assert (answer.status_code, answer.json()) == (
            500,
            {"errors": ["local node not active but active cluster node not found"]},
        )
        leader = hvac.Client(url=node.url, verify=trusted).sys.read_leader_status()
        assert (leader["is_self"], leader["leader_address"]) == (False, "")
