"""The kind registry: every resource the lab serves, with its group, version, scope and subresources."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from vaultinject.lab.kube.status import GroupResource

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE_ONLY = ("create",)


@dataclass(frozen=True)
class Subresource:
    """A subresource as discovery lists it (`pods/log`); group/version/kind only when they differ."""

    name: str
    verbs: tuple[str, ...]
    kind: str = ""
    group: str | None = None
    version: str | None = None


STATUS = Subresource("status", ("get", "patch", "update"))
SCALE = Subresource("scale", ("get", "patch", "update"), "Scale", "autoscaling", "v1")


@dataclass(frozen=True)
class ResourceType:
    """One served resource. `storage` names where objects live (two views may share it)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    storage: str = ""
    tracks_generation: bool = False
    returns_deleted_object: bool = False
    orphans_by_default: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> GroupResource:
        return GroupResource(self.group, self.plural)

    @property
    def storage_key(self) -> str:
        return self.storage or (f"{self.plural}.{self.group}" if self.group else self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def virtual(self) -> bool:
        """Create-only review kinds that are answered and never stored."""
        return self.verbs == CREATE_ONLY

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)


_core = partial(ResourceType, "", "v1")
_apps = partial(ResourceType, "apps", "v1", namespaced=True, tracks_generation=True, categories=("all",))
_batch = partial(ResourceType, "batch", "v1", namespaced=True, tracks_generation=True, categories=("all",))
_rbac = partial(ResourceType, "rbac.authorization.k8s.io", "v1")
_authn = partial(ResourceType, "authentication.k8s.io", "v1", namespaced=False, verbs=CREATE_ONLY)
_authz = partial(ResourceType, "authorization.k8s.io", "v1", verbs=CREATE_ONLY)
_admission = partial(
    ResourceType, "admissionregistration.k8s.io", "v1", namespaced=False, tracks_generation=True
)

RESOURCES: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", False, ("ns",), (STATUS,), returns_deleted_object=True),
    _core(
        "Pod",
        "pods",
        True,
        ("po",),
        (
            STATUS,
            Subresource("log", ("get",)),
            Subresource("eviction", ("create",), "Eviction", "policy", "v1"),
            Subresource("binding", ("create",), "Binding"),
        ),
        categories=("all",),
        tracks_generation=True,
        returns_deleted_object=True,
    ),
    _core(
        "ServiceAccount",
        "serviceaccounts",
        True,
        ("sa",),
        (Subresource("token", ("create",), "TokenRequest", "authentication.k8s.io", "v1"),),
    ),
    _core("Secret", "secrets", True),
    _core("ConfigMap", "configmaps", True, ("cm",)),
    _core("Node", "nodes", False, ("no",), (STATUS,)),
    _core("Event", "events", True, ("ev",)),
    _core("Service", "services", True, ("svc",), (STATUS,), categories=("all",)),
    _core("Endpoints", "endpoints", True, ("ep",)),
    ResourceType("events.k8s.io", "v1", "Event", "events", True, ("ev",), storage="events"),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    _apps(kind="Deployment", plural="deployments", short_names=("deploy",), subresources=(STATUS, SCALE)),
    _apps(kind="ReplicaSet", plural="replicasets", short_names=("rs",), subresources=(STATUS, SCALE)),
    _apps(kind="StatefulSet", plural="statefulsets", short_names=("sts",), subresources=(STATUS, SCALE)),
    _apps(kind="DaemonSet", plural="daemonsets", short_names=("ds",), subresources=(STATUS,)),
    _batch(kind="Job", plural="jobs", subresources=(STATUS,), orphans_by_default=True),
    _batch(kind="CronJob", plural="cronjobs", short_names=("cj",), subresources=(STATUS,)),
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), (STATUS,)),
    _admission(kind="MutatingWebhookConfiguration", plural="mutatingwebhookconfigurations"),
    _admission(kind="ValidatingWebhookConfiguration", plural="validatingwebhookconfigurations"),
    _rbac(kind="Role", plural="roles", namespaced=True),
    _rbac(kind="RoleBinding", plural="rolebindings", namespaced=True),
    _rbac(kind="ClusterRole", plural="clusterroles", namespaced=False),
    _rbac(kind="ClusterRoleBinding", plural="clusterrolebindings", namespaced=False),
    _authn(kind="TokenReview", plural="tokenreviews"),
    _authn(kind="SelfSubjectReview", plural="selfsubjectreviews"),
    _authz(kind="SubjectAccessReview", plural="subjectaccessreviews", namespaced=False),
    _authz(kind="SelfSubjectAccessReview", plural="selfsubjectaccessreviews", namespaced=False),
    _authz(kind="LocalSubjectAccessReview", plural="localsubjectaccessreviews", namespaced=True),
)


class Registry:
    """Look resources up by URL coordinates, by apiVersion and kind, or by storage key."""

    def __init__(self, resources: Iterable[ResourceType]) -> None:
        self.resources = tuple(resources)
        self._by_path = {(r.group, r.version, r.plural): r for r in self.resources}
        self._by_kind = {(r.api_version, r.kind): r for r in self.resources}

    def by_path(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((api_version, kind))

    def by_storage(self, storage_key: str) -> ResourceType:
        """The canonical (first registered) view of a storage key."""
        return next(r for r in self.resources if r.storage_key == storage_key)

    def group_versions(self) -> list[tuple[str, str]]:
        """(group, version) pairs in registration order, core first."""
        seen: dict[tuple[str, str], None] = {}
        for r in self.resources:
            seen.setdefault((r.group, r.version), None)
        return list(seen)

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self.resources if r.group == group and r.version == version]

    def storage_keys(self) -> list[str]:
        return list(dict.fromkeys(r.storage_key for r in self.resources if not r.virtual))


REGISTRY = Registry(RESOURCES)
