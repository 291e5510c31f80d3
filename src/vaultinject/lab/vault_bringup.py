"""`lab up --vault`: apply the lab Vault's objects, then initialize it as an operator would.

The objects come from `vault_workload`. The serving certificate is issued by a CA kept in
`<data-dir>/vault/` for the lab's life, for every Service's names and ClusterIPs. Once the pods run, Vault
is initialized through its Service (one key share); the root token is written to
`<data-dir>/vault/root-token` (mode 0600, never printed) and the unseal key to `unseal-keys.json` (0600).
With auto-unseal every replica unseals itself; without it they are unsealed here, and stay sealed when
restarted, as Shamir-sealed Vaults do.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vaultinject.lab import vault_workload as workload
from vaultinject.lab.controllers.replicaset import is_ready
from vaultinject.lab.kube.harness import wait_for
from vaultinject.lab.kube.resources import REGISTRY
from vaultinject.lab.kubelet.api import ApiClient, ApiError
from vaultinject.lab.tls import CertificateAuthority, client_context

JSON = dict[str, Any]
T = TypeVar("T")


class VaultUpError(Exception):
    """The lab Vault could not be brought up; the message says where it stopped."""


@dataclass(frozen=True)
class VaultAccess:
    """How the host reaches the lab Vault."""

    addr: str
    ca_file: Path
    root_token_file: Path


def bring_up(
    api: ApiClient,
    data_dir: Path,
    say: Callable[[str], None],
    *,
    replicas: int = 2,
    auto_unseal: bool = True,
    timeout: float = 60,
) -> VaultAccess:
    """Apply the objects, wait for the pods, initialize and unseal; return VAULT_ADDR and the files."""
    started = time.monotonic()
    directory = data_dir / "vault"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    objects = workload.manifests(replicas, auto_unseal)
    stateful_set = objects.pop()
    for document in objects:
        apply(api, document)
    service_ips = [_cluster_ip(api, name) for name in ("vault", "vault-active", "vault-standby")]
    ca = _lab_ca(directory)
    leaf = ca.issue(workload.server_names(service_ips), common_name="vault.vault.svc")
    apply(api, workload.tls_secret(leaf.cert_pem, leaf.key_pem, ca.cert_pem), replace=True)
    apply(api, stateful_set)
    say(f"  vault: applied the StatefulSet and Services in namespace {workload.NAMESPACE}")
    pods = [f"{workload.NAME}-{ordinal}" for ordinal in range(replicas)]
    addresses = _wait_running(api, pods, started + timeout)
    access = VaultAccess(
        f"https://{service_ips[0]}:{workload.PORT}", directory / "ca.crt", directory / "root-token"
    )
    context = client_context(ca.cert_pem)
    keys = _initialize(access, context, directory, say, started + timeout)
    if not auto_unseal:
        # Each replica by its pod IP, which the certificate does not name: trusted by the CA alone.
        by_ip = client_context(ca.cert_pem)
        by_ip.check_hostname = False
        for address in addresses:
            _unseal(f"https://{address}:{workload.PORT}", by_ip, keys)
    _wait_ready(api, pods, started + timeout)
    say(f"  vault: {replicas} replica(s) Ready, initialized and unsealed ({time.monotonic() - started:.1f}s)")
    return access


def apply(api: ApiClient, document: JSON, replace: bool = False) -> None:
    """Create `document`; one that exists is kept (or replaced, when `replace`)."""
    metadata = document["metadata"]
    collection = _collection(document)
    try:
        api.post_json(collection, document)
    except ApiError as error:
        if error.status != 409:
            raise VaultUpError(f"cannot create {document['kind']} {metadata['name']}: {error}") from None
        if replace:
            api.put_json(f"{collection}/{metadata['name']}", document)


def _collection(document: JSON) -> str:
    """The URL path of the collection `document` belongs to, from the lab API server's own registry."""
    resource = REGISTRY.by_kind(document["apiVersion"], document["kind"])
    if resource is None:
        raise VaultUpError(f"the lab serves no {document['apiVersion']} {document['kind']}")
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    scope = f"/namespaces/{document['metadata']['namespace']}" if resource.namespaced else ""
    return f"{prefix}{scope}/{resource.plural}"


def _cluster_ip(api: ApiClient, name: str) -> str:
    service = api.get_json(f"/api/v1/namespaces/{workload.NAMESPACE}/services/{name}") or {}
    return str(service.get("spec", {}).get("clusterIP") or "")


def _lab_ca(directory: Path) -> CertificateAuthority:
    """The lab Vault's CA, made once per data directory (clients keep trusting it across restarts)."""
    cert, key = directory / "ca.crt", directory / "ca.key"
    if cert.exists() and key.exists():
        return CertificateAuthority.load(cert.read_bytes(), key.read_bytes())
    ca = CertificateAuthority.create("vaultinject lab Vault CA")
    ca.pair.write(directory, "ca")
    return ca


def _wait_running(api: ApiClient, pods: list[str], deadline: float) -> list[str]:
    """The pods' IPs once each one's container has started."""

    def addresses() -> list[str]:
        found = [_pod(api, name).get("status", {}) for name in pods]
        return [str(s["podIP"]) for s in found] if all(map(_started, found)) else []

    return _until(addresses, deadline, f"pods {', '.join(pods)} running")


def _started(status: JSON) -> bool:
    containers = status.get("containerStatuses") or []
    return bool(status.get("podIP")) and any("running" in (c.get("state") or {}) for c in containers)


def _wait_ready(api: ApiClient, pods: list[str], deadline: float) -> None:
    _until(lambda: all(is_ready(_pod(api, name)) for name in pods), deadline, f"pods {', '.join(pods)} Ready")


def _pod(api: ApiClient, name: str) -> JSON:
    return api.get_json(f"/api/v1/namespaces/{workload.NAMESPACE}/pods/{name}") or {}


def _until(predicate: Callable[[], T], deadline: float, what: str) -> T:
    try:
        return wait_for(predicate, timeout=max(0.0, deadline - time.monotonic()), interval=0.2)
    except TimeoutError:
        raise VaultUpError(f"the lab Vault did not come up: waited for {what}") from None


def _initialize(
    access: VaultAccess, context: ssl.SSLContext, directory: Path, say: Callable[[str], None], deadline: float
) -> list[str]:
    """Initialize once (the keys and root token go to files); later runs read the keys back."""
    keys_file = directory / "unseal-keys.json"

    def init_status() -> JSON:
        status, body = _call(access.addr, context, "GET", "/v1/sys/init")
        return body if status == 200 else {}

    body = _until(init_status, deadline, "Vault to answer sys/init")
    if body.get("initialized"):
        return list(json.loads(keys_file.read_text())["keys"]) if keys_file.exists() else []
    status, body = _call(
        access.addr, context, "PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}
    )
    if status != 200:
        raise VaultUpError(f"Vault refused to initialize: HTTP {status} {body.get('errors')}")
    _write_private(keys_file, json.dumps({"keys": body["keys"], "keys_base64": body["keys_base64"]}) + "\n")
    _write_private(access.root_token_file, body["root_token"] + "\n")
    say(f"  vault: initialized; root token in {access.root_token_file} (mode 0600)")
    return list(body["keys"])


def _unseal(addr: str, context: ssl.SSLContext, keys: list[str]) -> None:
    for key in keys:
        status, body = _call(addr, context, "PUT", "/v1/sys/unseal", {"key": key})
        if status != 200:
            raise VaultUpError(f"{addr} refused its unseal key: HTTP {status} {body.get('errors')}")


def _call(
    addr: str, context: ssl.SSLContext, method: str, path: str, body: JSON | None = None
) -> tuple[int, JSON]:
    host, port = addr.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=5)
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as error:
        return 0, {"errors": [str(error)]}
    finally:
        connection.close()
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError:
        answer = {}
    return response.status, answer if isinstance(answer, dict) else {}


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
