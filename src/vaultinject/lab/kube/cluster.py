"""Object semantics, independent of HTTP: create, replace, patch, delete and list with the API server's
rules (defaults, admission, validation, generation, optimistic concurrency, finalizers, grace periods)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import yaml

from vaultinject.lab import httpbody
from vaultinject.lab.kube import defaults, patching, plugins, shapes, validation, views
from vaultinject.lab.kube.clock import Clock, rfc3339
from vaultinject.lab.kube.deletion import Deleter, finished_deleting
from vaultinject.lab.kube.model import Admission, AdmissionRequest, DeleteOptions, Operation, clone
from vaultinject.lab.kube.resources import REGISTRY, Registry, ResourceType
from vaultinject.lab.kube.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    field_set,
    supported_fields,
)
from vaultinject.lab.kube.status import (
    ApiError,
    GoLiteral,
    already_exists,
    bad_request,
    conflict,
    invalid,
    invalid_value,
    not_found,
    required,
    unprocessable_patch,
    unsupported_media_type,
)
from vaultinject.lab.kube.store import AlreadyExists, Conflict, NotFound, Store
from vaultinject.lab.network import ipam

JSON = dict[str, Any]
log = logging.getLogger(__name__)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH, STRATEGIC_PATCH]
_SYSTEM_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
    "managedFields",
)
_MAX_RETRIES = 16


class Cluster:
    """The API server's object semantics over a Store."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        registry: Registry = REGISTRY,
        admission: Admission | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.registry = registry
        self.admission = admission
        self.after_create: list[Callable[[ResourceType, JSON], None]] = []
        self.deleter = Deleter(self)
        self.default_toleration_seconds = (300, 300)
        """--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds."""

    # --- reads ---

    def get(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        obj = self.store.get(rt.storage_key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise not_found(rt.group_resource, name)
        return views.from_storage(rt, obj)

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> JSON:
        """A `<Kind>List` with selectors and `limit`/`continue` pagination applied."""
        matches = self.matcher(rt, label_selector, field_selector)
        items, rv = self.store.list_objects(rt.storage_key, namespace if rt.namespaced else None)
        start_after: tuple[str, str] | None = None
        if continue_token:
            rv, start_after = _decode_continue(continue_token)
        selected = [o for o in items if matches(o) and (start_after is None or _object_key(o) > start_after)]
        metadata: JSON = {"resourceVersion": str(rv)}
        if limit and limit > 0 and len(selected) > limit:
            metadata["continue"] = _encode_continue(rv, _object_key(selected[limit - 1]))
            metadata["remainingItemCount"] = len(selected) - limit
            selected = selected[:limit]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": metadata,
            "items": [_strip_type(views.from_storage(rt, o)) for o in selected],
        }

    def matcher(self, rt: ResourceType, label_selector: str, field_selector: str) -> Callable[[JSON], bool]:
        """A predicate over stored objects for the given selectors (400 if they do not parse)."""
        try:
            labels = LabelSelector.parse(label_selector)
            fields = FieldSelector.parse(field_selector, supported_fields(rt.storage_key))
        except SelectorError as error:
            raise bad_request(str(error)) from None

        def matches(obj: JSON) -> bool:
            if not labels.matches(obj["metadata"].get("labels")):
                return False
            return not fields.requirements or fields.matches(field_set(rt.storage_key, obj))

        return matches

    # --- create ---

    def create(self, rt: ResourceType, namespace: str, body: Any, op: Operation) -> JSON:
        """Create an object through defaults, admission, name generation and validation."""
        try:
            return self._create(rt, namespace, body, op)
        except (AttributeError, TypeError, KeyError) as error:
            log.debug("malformed %s rejected", rt.kind, exc_info=True)
            raise shapes.malformed(rt, error) from None

    def _create(self, rt: ResourceType, namespace: str, body: Any, op: Operation) -> JSON:
        obj = self._decode(rt, namespace, body)
        for key in _SYSTEM_METADATA:
            obj["metadata"].pop(key, None)
        if rt.has_status and rt.plural != "nodes":
            obj.pop("status", None)
        if views.is_view(rt):
            _raise_invalid(rt, obj, validation.events_v1_errors(obj))
        obj = views.to_storage(rt, obj)
        self._default(rt, obj)
        if rt.plural == "pods":
            obj["status"] = {"phase": "Pending", "qosClass": defaults.qos_class(obj.get("spec") or {})}
        if op.admit:
            plugins.namespace_lifecycle(self.store, rt, namespace, obj)
            if rt.storage_key == "pods":
                plugins.service_account(self.store, obj)
                plugins.default_toleration_seconds(obj, *self.default_toleration_seconds)
            obj = self.admit("CREATE", rt, "", obj, None, op=op, options_kind="CreateOptions")
        for attempt in range(_MAX_RETRIES):
            candidate = clone(obj) if attempt else obj
            self._prepare_for_create(rt, candidate)
            _raise_invalid(rt, candidate, validation.validate(rt.storage_key, candidate))
            if op.dry_run:
                candidate["metadata"].pop("resourceVersion", None)
                return views.from_storage(rt, candidate)
            try:
                created = self.store.create(rt.storage_key, candidate)
            except AlreadyExists:
                if obj["metadata"].get("name"):
                    raise already_exists(rt.group_resource, candidate["metadata"]["name"]) from None
                continue
            for hook in self.after_create:
                hook(rt, created)
            return views.from_storage(rt, created)
        raise already_exists(rt.group_resource, obj["metadata"].get("generateName", ""))

    def _decode(self, rt: ResourceType, namespace: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        if body.get("kind") not in (None, "", rt.kind):
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"the kind of the provided object ({body['kind']}) is not {rt.kind}"
            )
        if body.get("apiVersion") not in (None, "", rt.api_version):
            raise bad_request(
                f"the API version in the data ({body['apiVersion']}) does not match the expected API version "
                f"({rt.api_version})"
            )
        shapes.check(rt, body)
        obj: JSON = clone(body)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        metadata = obj["metadata"]
        if rt.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        return obj

    def _default(self, rt: ResourceType, obj: JSON) -> None:
        try:
            defaults.normalize_times(obj)
            if rt.storage_key == "secrets":
                _check_base64(obj)
        except ValueError as error:
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: {error}'
            ) from None
        defaults.apply_defaults(rt.storage_key, obj)
        if rt.storage_key == "events":
            for key in ("eventTime", "firstTimestamp", "lastTimestamp"):
                obj.setdefault(key, None)
            obj.setdefault("reportingComponent", "")
            obj.setdefault("reportingInstance", "")

    def _prepare_for_create(self, rt: ResourceType, obj: JSON) -> None:
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + plugins.random_suffix()
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = rfc3339(self.clock.now())
        if rt.tracks_generation:
            metadata["generation"] = 1
        if rt.storage_key == "namespaces":
            obj["status"] = {"phase": "Active"}
            metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata.get("name", "")
        if rt.storage_key == "jobs.batch":
            _job_selector(obj)
        if rt.storage_key == "services":
            self._allocate_cluster_ip(obj)

    def _allocate_cluster_ip(self, service: JSON) -> None:
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            return
        requested = spec.get("clusterIP")
        if requested and not ipam.in_service_range(str(requested)):
            detail = f"failed to allocate IP {requested}: {ipam.service_range_error()}"
            value = GoLiteral(f'[]string{{"{requested}"}}')
            error = invalid_value("spec.clusterIPs", value, detail)
            raise invalid("Service", "", service["metadata"].get("name", ""), [error])
        if not requested:
            services = self.store.list_objects("services")[0]
            used = [str((s.get("spec") or {}).get("clusterIP")) for s in services]
            spec["clusterIP"] = ipam.next_cluster_ip(used)
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")

    def admit(
        self,
        operation: str,
        rt: ResourceType,
        subresource: str,
        obj: JSON | None,
        old: JSON | None,
        *,
        op: Operation,
        options_kind: str,
    ) -> JSON:
        source = obj if obj is not None else old
        assert source is not None
        if self.admission is None or not op.admit:
            return source
        view_obj = views.from_storage(rt, obj) if obj is not None else None
        view_old = views.from_storage(rt, old) if old is not None else None
        request = AdmissionRequest(
            operation,
            rt,
            subresource,
            source["metadata"].get("namespace", ""),
            source["metadata"].get("name", ""),
            view_obj,
            view_old,
            op,
            {"apiVersion": "meta.k8s.io/v1", "kind": options_kind},
        )
        admitted = self.admission.admit(request)
        if admitted is None or obj is None:
            return source
        return views.to_storage(rt, admitted)

    # --- replace and patch ---

    def replace(
        self, rt: ResourceType, namespace: str, name: str, body: Any, *, op: Operation, subresource: str = ""
    ) -> JSON:
        """PUT: replace the object (or only its status), optimistic on `metadata.resourceVersion`."""
        candidate = self._decode(rt, namespace, body)
        if candidate["metadata"].get("name") not in (None, "", name):
            raise bad_request(
                f"the name of the object ({candidate['metadata']['name']}) "
                f"does not match the name on the URL ({name})"
            )
        candidate["metadata"]["name"] = name
        precondition = candidate["metadata"].get("resourceVersion") or None
        for _ in range(_MAX_RETRIES):
            current = self.current(rt, namespace, name)
            try:
                return self._update(
                    rt, current, clone(candidate), op=op, subresource=subresource, precondition=precondition
                )
            except Conflict:
                if precondition is not None:
                    raise conflict(rt.group_resource, name) from None
        raise conflict(rt.group_resource, name)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: bytes,
        content_type: str,
        *,
        op: Operation,
        subresource: str = "",
        field_manager: str = "",
    ) -> tuple[JSON, bool]:
        """PATCH in any of the four flavours; returns the object and whether it was created (apply)."""
        if content_type not in PATCH_TYPES:
            raise unsupported_media_type(content_type, PATCH_TYPES)
        patch_body = _parse_patch(content_type, body)
        if content_type == APPLY_PATCH:
            if not field_manager:
                raise invalid_apply()
            if (
                self.store.get(rt.storage_key, namespace if rt.namespaced else "", name) is None
                and not subresource
            ):
                applied = dict(patch_body)
                applied.setdefault("metadata", {})["name"] = name
                return self.create(rt, namespace, applied, op), True
        for _ in range(_MAX_RETRIES):
            current = self.current(rt, namespace, name)
            patched = self._apply_patch(rt, current, patch_body, content_type)
            shapes.check(rt, patched)
            wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"].get("resourceVersion"):
                raise conflict(rt.group_resource, name)
            if not isinstance(patched.get("metadata"), dict) or patched["metadata"].get("name") != name:
                raise bad_request(
                    "metadata.name: Invalid value: the name of the object cannot be changed by a patch"
                )
            try:
                updated = self._update(
                    rt,
                    current,
                    patched,
                    op=op,
                    subresource=subresource,
                    precondition=None,
                    options_kind="PatchOptions",
                )
                return updated, False
            except Conflict:
                continue
        raise conflict(rt.group_resource, name)

    def _apply_patch(self, rt: ResourceType, current: JSON, patch_body: Any, content_type: str) -> JSON:
        document = views.from_storage(rt, clone(current))
        return _patched(document, patch_body, content_type, rt.storage_key, rt.kind)

    def patch_document(self, document: JSON, body: bytes, content_type: str) -> JSON:
        """Apply a patch request body to a standalone document (such as a Scale)."""
        if content_type not in PATCH_TYPES:
            raise unsupported_media_type(content_type, PATCH_TYPES)
        return _patched(
            clone(document), _parse_patch(content_type, body), content_type, "", document.get("kind", "")
        )

    def current(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        """The stored object, or the API server's 404."""
        current = self.store.get(rt.storage_key, namespace if rt.namespaced else "", name)
        if current is None:
            raise not_found(rt.group_resource, name)
        return current

    def _update(
        self,
        rt: ResourceType,
        current: JSON,
        candidate: JSON,
        *,
        op: Operation,
        subresource: str,
        precondition: str | None,
        options_kind: str = "UpdateOptions",
    ) -> JSON:
        if precondition is not None and precondition != current["metadata"].get("resourceVersion"):
            raise conflict(rt.group_resource, current["metadata"]["name"])
        shapes.check(rt, candidate)
        try:
            return self._update_checked(
                rt, current, candidate, op=op, subresource=subresource, options_kind=options_kind
            )
        except (AttributeError, TypeError, KeyError) as error:
            log.debug("malformed %s update rejected", rt.kind, exc_info=True)
            raise shapes.malformed(rt, error) from None

    def _update_checked(
        self,
        rt: ResourceType,
        current: JSON,
        candidate: JSON,
        *,
        op: Operation,
        subresource: str,
        options_kind: str,
    ) -> JSON:
        candidate = views.to_storage(rt, candidate)
        candidate["apiVersion"], candidate["kind"] = current["apiVersion"], current["kind"]
        if subresource == "status":
            candidate = {**clone(current), "status": candidate.get("status")}
            if candidate["status"] is None:
                candidate.pop("status")
        else:
            self._keep_system_fields(rt, current, candidate)
        self._default(rt, candidate)
        if rt.storage_key == "pods" and not subresource and op.admit:
            plugins.default_toleration_seconds(candidate, *self.default_toleration_seconds)
        candidate = self.admit(
            "UPDATE", rt, subresource, candidate, current, op=op, options_kind=options_kind
        )
        _raise_invalid(rt, candidate, validation.validate(rt.storage_key, candidate, current))
        if rt.tracks_generation and _spec_of(candidate) != _spec_of(current):
            candidate["metadata"]["generation"] = int(current["metadata"].get("generation") or 0) + 1
        if _same(candidate, current):
            return views.from_storage(rt, current)
        if op.dry_run:
            return views.from_storage(rt, candidate)
        expected = current["metadata"].get("resourceVersion")
        if finished_deleting(candidate):
            return views.from_storage(rt, self.remove(rt, candidate, expected))
        return views.from_storage(rt, self.store.update(rt.storage_key, candidate, expected))

    def _keep_system_fields(self, rt: ResourceType, current: JSON, candidate: JSON) -> None:
        metadata, old = candidate["metadata"], current["metadata"]
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old:
                metadata[key] = old[key]
            else:
                metadata.pop(key, None)
        metadata["namespace"] = old.get("namespace", "")
        if not rt.namespaced:
            metadata.pop("namespace")
        metadata.pop("managedFields", None)
        metadata["resourceVersion"] = old.get("resourceVersion")
        if rt.has_status:
            if "status" in current:
                candidate["status"] = clone(current["status"])
            else:
                candidate.pop("status", None)
        if rt.storage_key == "namespaces":
            candidate["spec"] = clone(current.get("spec") or {})

    def remove(self, rt: ResourceType, obj: JSON, expected: str | None) -> JSON:
        """Write the final state of an object, then delete it (watchers see both)."""
        metadata = obj["metadata"]
        try:
            self.store.update(rt.storage_key, obj, expected)
            return self.store.delete(rt.storage_key, metadata.get("namespace", ""), metadata["name"])
        except NotFound:
            raise not_found(rt.group_resource, metadata["name"]) from None

    # --- delete (see deletion.py) ---

    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions, op: Operation
    ) -> tuple[JSON, bool]:
        """Delete, honouring grace periods, finalizers and propagation; returns (object, still present)."""
        return self.deleter.delete(rt, namespace, name, options, op)

    def finish_deletion(self, rt: ResourceType, namespace: str, name: str) -> None:
        """Complete a graceful deletion whose grace period is over (the kubelet's final delete)."""
        self.deleter.finish(rt, namespace, name)

    def remove_finalizer(self, rt: ResourceType, obj: JSON, finalizer: str) -> None:
        """Drop one finalizer (a controller's last step); the object goes once none are left."""
        self.deleter.remove_finalizer(rt, obj, finalizer)


def invalid_apply() -> ApiError:
    return invalid(
        "PatchOptions",
        "meta.k8s.io",
        "",
        [required("fieldManager", "is required for apply patch")],
    )


def _parse_patch(content_type: str, body: bytes) -> Any:
    try:
        if content_type == APPLY_PATCH:
            parsed = httpbody.decode_yaml(body.decode(errors="replace") or "{}")
            if not isinstance(parsed, dict):
                raise ValueError("the apply patch must be an object")
            return parsed
        return httpbody.decode_json(body or b"null")
    except (ValueError, yaml.YAMLError) as error:
        raise bad_request(f"error decoding patch: {error}") from None


def _patched(document: JSON, patch_body: Any, content_type: str, storage: str, kind: str) -> JSON:
    try:
        if content_type == JSON_PATCH:
            result = patching.json_patch(document, patch_body)
        elif content_type == MERGE_PATCH:
            result = patching.merge_patch(document, patch_body)
        else:
            result = patching.strategic_merge(document, patch_body, patching.merge_schema(storage))
    except patching.MalformedPatch as error:
        raise bad_request(str(error)) from None
    except patching.PatchError as error:
        if content_type == JSON_PATCH:
            raise unprocessable_patch() from None
        raise bad_request(str(error)) from None
    if not isinstance(result, dict):
        raise bad_request(f"the patched object is not a {kind}")
    return result


def _raise_invalid(rt: ResourceType, obj: JSON, errors: list[Any]) -> None:
    if errors:
        raise invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), errors)


def _check_base64(secret: JSON) -> None:
    for value in (secret.get("data") or {}).values():
        try:
            base64.b64decode(str(value), validate=True)
        except binascii.Error:
            position = next((i for i, c in enumerate(str(value)) if not (c.isalnum() or c in "+/=")), 0)
            raise ValueError(f"illegal base64 data at input byte {position}") from None


def _job_selector(job: JSON) -> None:
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    generated = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    labels.update(generated)


def _spec_of(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in {"metadata", "status", "apiVersion", "kind"}}


def _same(candidate: JSON, current: JSON) -> bool:
    left = {
        **candidate,
        "metadata": {k: v for k, v in candidate["metadata"].items() if k != "resourceVersion"},
    }
    right = {**current, "metadata": {k: v for k, v in current["metadata"].items() if k != "resourceVersion"}}
    return left == right


def _strip_type(obj: JSON) -> JSON:
    return {k: v for k, v in obj.items() if k not in {"apiVersion", "kind"}}


def _object_key(obj: JSON) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": "/".join(key) + "\x00"})
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = decoded["start"].rstrip("\x00").partition("/")
        return int(decoded["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise bad_request(f"continue key is not valid: {token!r}") from None
