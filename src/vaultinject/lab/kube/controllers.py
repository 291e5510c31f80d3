"""Small controllers that run inline after a create, as kube-controller-manager would shortly after:
every namespace gets its `default` ServiceAccount and `kube-root-ca.crt` ConfigMap, and legacy
`kubernetes.io/service-account-token` Secrets get their token."""

from __future__ import annotations

import base64
import logging
from typing import Any

from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.model import SYSTEM, Operation, clone
from vaultinject.lab.kube.resources import REGISTRY, ResourceType
from vaultinject.lab.kube.status import ApiError
from vaultinject.lab.kube.tokens import TokenService

JSON = dict[str, Any]
log = logging.getLogger(__name__)
_SA_TOKEN_TYPE = "kubernetes.io/service-account-token"


def _internal() -> Operation:
    return Operation(SYSTEM, admit=False)


class NamespaceDefaults:
    """The service-account and root-CA publisher controllers."""

    def __init__(self, cluster: Cluster, ca_pem: bytes) -> None:
        self.cluster = cluster
        self.ca_pem = ca_pem

    def __call__(self, rt: ResourceType, obj: JSON) -> None:
        if rt.storage_key == "namespaces":
            self.ensure(obj["metadata"]["name"])

    def ensure(self, namespace: str) -> None:
        store = self.cluster.store
        if store.get("serviceaccounts", namespace, "default") is None:
            self._create("serviceaccounts", namespace, {"metadata": {"name": "default"}})
        if store.get("configmaps", namespace, "kube-root-ca.crt") is None:
            body = {
                "metadata": {
                    "name": "kube-root-ca.crt",
                    "annotations": {"kubernetes.io/description": _ROOT_CA_DESCRIPTION},
                },
                "data": {"ca.crt": self.ca_pem.decode()},
            }
            self._create("configmaps", namespace, body)

    def _create(self, plural: str, namespace: str, body: JSON) -> None:
        rt = REGISTRY.by_path("", "v1", plural)
        assert rt is not None
        try:
            self.cluster.create(rt, namespace, body, _internal())
        except ApiError as error:
            if error.code != 409:
                log.warning("could not create %s in %s: %s", plural, namespace, error.message)


_ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
    "such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)


class TokenSecrets:
    """The legacy token controller: fills `data.token`, `ca.crt` and `namespace` of token Secrets."""

    def __init__(self, cluster: Cluster, tokens: TokenService, ca_pem: bytes) -> None:
        self.cluster = cluster
        self.tokens = tokens
        self.ca_pem = ca_pem

    def __call__(self, rt: ResourceType, obj: JSON) -> None:
        if rt.storage_key != "secrets" or obj.get("type") != _SA_TOKEN_TYPE:
            return
        metadata = obj["metadata"]
        annotations = metadata.get("annotations") or {}
        account = self.cluster.store.get(
            "serviceaccounts",
            metadata["namespace"],
            annotations.get("kubernetes.io/service-account.name", ""),
        )
        if account is None or (obj.get("data") or {}).get("token"):
            return
        filled = clone(obj)
        filled["metadata"].setdefault("annotations", {})["kubernetes.io/service-account.uid"] = account[
            "metadata"
        ]["uid"]
        token = self.tokens.issue_legacy(account, metadata["name"])
        filled["data"] = {
            **(obj.get("data") or {}),
            "token": _b64(token.encode()),
            "ca.crt": _b64(self.ca_pem),
            "namespace": _b64(metadata["namespace"].encode()),
        }
        try:
            self.cluster.store.update("secrets", filled, metadata.get("resourceVersion"))
        except Exception:
            log.warning("could not fill token secret %s/%s", metadata["namespace"], metadata["name"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
