"""Validation of the built-in kinds (k8s.io/kubernetes/pkg/apis/*/validation), as field errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from vaultinject.lab.kube.status import (
    FieldError,
    GoLiteral,
    duplicate,
    field_forbidden,
    invalid_value,
    not_supported,
    required,
)

JSON = dict[str, Any]
Errors = list[FieldError]

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_CONFIG_KEY = r"[-._a-zA-Z0-9]+"

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    f"'{_SUBDOMAIN}')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    f"'{_LABEL}')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    f"validation is '{_DNS1035}')"
)
_NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    f"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    f"'{_QUALIFIED}')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    f"for validation is '{_LABEL_VALUE}')"
)
_CONFIG_KEY_MESSAGE = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    f"'KEY_NAME',  or 'key-name', regex used for validation is '{_CONFIG_KEY}')"
)


def _matches(pattern: str, value: str, limit: int) -> bool:
    return len(value) <= limit and re.fullmatch(pattern, value) is not None


def subdomain_errors(value: str, path: str) -> Errors:
    if _matches(_SUBDOMAIN, value, 253):
        return []
    return [invalid_value(path, value, SUBDOMAIN_MESSAGE)]


def label_errors(value: str, path: str) -> Errors:
    if _matches(_LABEL, value, 63):
        return []
    return [invalid_value(path, value, LABEL_MESSAGE)]


def _path_segment_errors(value: str, path: str) -> Errors:
    if value in {".", ".."}:
        return [invalid_value(path, value, f"may not be '{value}'")]
    for bad in ("/", "%"):
        if bad in value:
            return [invalid_value(path, value, f"may not contain '{bad}'")]
    return []


def _qualified_name_errors(key: str, path: str) -> Errors:
    prefix, _, name = key.rpartition("/")
    errors: Errors = []
    if "/" in key and not _matches(_SUBDOMAIN, prefix, 253):
        errors.append(invalid_value(path, key, "prefix part " + SUBDOMAIN_MESSAGE))
    if not _matches(_QUALIFIED, name, 63):
        errors.append(invalid_value(path, key, _NAME_PART_MESSAGE))
    return errors


_NAME_RULES: dict[str, Callable[[str, str], Errors]] = {
    "namespaces": label_errors,
    "services": lambda v, p: [] if _matches(_DNS1035, v, 63) else [invalid_value(p, v, DNS1035_MESSAGE)],
    "roles.rbac.authorization.k8s.io": _path_segment_errors,
    "rolebindings.rbac.authorization.k8s.io": _path_segment_errors,
    "clusterroles.rbac.authorization.k8s.io": _path_segment_errors,
    "clusterrolebindings.rbac.authorization.k8s.io": _path_segment_errors,
}


def metadata_errors(storage: str, obj: JSON) -> Errors:
    """Name, label and annotation checks common to every kind."""
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or ""
    errors: Errors = []
    if not name:
        errors.append(required("metadata.name", "name or generateName is required"))
    else:
        errors += _NAME_RULES.get(storage, subdomain_errors)(name, "metadata.name")
    for key, value in (metadata.get("labels") or {}).items():
        errors += _qualified_name_errors(key, "metadata.labels")
        if not isinstance(value, str) or not _matches(_LABEL_VALUE, value, 63):
            errors.append(invalid_value("metadata.labels", value, _LABEL_VALUE_MESSAGE))
    for key in metadata.get("annotations") or {}:
        errors += _qualified_name_errors(key.lower(), "metadata.annotations")
    for reference in metadata.get("ownerReferences") or []:
        errors += _owner_reference_errors(reference)
    return errors


def _owner_reference_errors(reference: JSON) -> Errors:
    """ValidateOwnerReferences: each reference names its owner completely."""
    errors: Errors = []
    for field, noun in (("apiVersion", "version"), ("kind", "kind"), ("name", "name"), ("uid", "uid")):
        if not reference.get(field):
            errors.append(invalid_value(f"metadata.ownerReferences.{field}", "", f"{noun} must not be empty"))
    return errors


# --- pods ---

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]


def _container_errors(container: Any, path: str, init: bool, volumes: set[str]) -> Errors:
    if not isinstance(container, dict):
        return [invalid_value(path, container, "must be an object")]
    errors: Errors = []
    name = container.get("name") or ""
    errors += [required(f"{path}.name")] if not name else label_errors(name, f"{path}.name")
    if not container.get("image"):
        errors.append(required(f"{path}.image"))
    restart = container.get("restartPolicy")
    if restart is not None and not init:
        errors.append(field_forbidden(f"{path}.restartPolicy", "may not be set for non-init containers"))
    elif restart is not None and restart != "Always":
        errors.append(not_supported(f"{path}.restartPolicy", restart, ["Always"]))
    if init and restart != "Always":
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if container.get(probe) is not None:
                errors.append(
                    field_forbidden(
                        f"{path}.{probe}", "may not be set for init containers without restartPolicy=Always"
                    )
                )
    mount_paths: set[str] = set()
    for index, mount in enumerate(container.get("volumeMounts") or []):
        mount_path = f"{path}.volumeMounts[{index}]"
        if mount.get("name") not in volumes:
            errors.append(FieldError("FieldValueNotFound", f"{mount_path}.name", "", mount.get("name")))
        if not mount.get("mountPath"):
            errors.append(required(f"{mount_path}.mountPath"))
        elif mount["mountPath"] in mount_paths:
            errors.append(invalid_value(f"{mount_path}.mountPath", mount["mountPath"], "must be unique"))
        mount_paths.add(mount.get("mountPath") or "")
    return errors


def pod_spec_errors(spec: Any, path: str, claims: frozenset[str] = frozenset()) -> Errors:
    """Validate a PodSpec found at `path` (`spec` or `spec.template.spec`); containers may also mount
    `claims` (a StatefulSet's volumeClaimTemplates)."""
    if not isinstance(spec, dict):
        return [required(path)]
    errors: Errors = []
    volumes: set[str] = set(claims)
    for index, volume in enumerate(spec.get("volumes") or []):
        name = (volume or {}).get("name") or ""
        if not name:
            errors.append(required(f"{path}.volumes[{index}].name"))
        elif name in volumes:
            errors.append(duplicate(f"{path}.volumes[{index}].name", name))
        volumes.add(name)
    if not spec.get("containers"):
        errors.append(required(f"{path}.containers"))
    names: set[str] = set()
    for kind, init in (("initContainers", True), ("containers", False)):
        for index, container in enumerate(spec.get(kind) or []):
            errors += _container_errors(container, f"{path}.{kind}[{index}]", init, volumes)
            name = (container or {}).get("name") if isinstance(container, dict) else None
            if name and name in names:
                errors.append(duplicate(f"{path}.{kind}[{index}].name", name))
            names.add(name or "")
    restart = spec.get("restartPolicy")
    if restart not in _RESTART_POLICIES:
        errors.append(not_supported(f"{path}.restartPolicy", restart, _RESTART_POLICIES))
    return errors


_POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _mutable_pod_fields_masked(spec: JSON) -> JSON:
    masked: JSON = json.loads(json.dumps(spec))
    for key in ("activeDeadlineSeconds", "terminationGracePeriodSeconds", "tolerations", "schedulingGates"):
        masked.pop(key, None)
    for kind in ("initContainers", "containers"):
        for container in masked.get(kind) or []:
            container.pop("image", None)
    return masked


def _pod(obj: JSON, old: JSON | None) -> Errors:
    errors = pod_spec_errors(obj.get("spec"), "spec")
    if old is not None and _mutable_pod_fields_masked(obj.get("spec") or {}) != _mutable_pod_fields_masked(
        old.get("spec") or {}
    ):
        errors.append(field_forbidden("spec", _POD_UPDATE_MESSAGE))
    return errors


# --- workloads ---


def _go_map(labels: dict[str, Any]) -> GoLiteral:
    return GoLiteral(
        "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
    )


def _go_selector(selector: Any) -> GoLiteral:
    labels = (selector or {}).get("matchLabels") or {}
    expressions = "MatchExpressions:[]v1.LabelSelectorRequirement(nil)"
    return GoLiteral(f"v1.LabelSelector{{MatchLabels:{_go_map(labels)}, {expressions}}}")


def _selector_matches_template(obj: JSON) -> Errors:
    from vaultinject.lab.kube.selectors import LabelSelector, SelectorError

    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        return [required("spec.selector")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    try:
        matches = LabelSelector.from_json(selector).matches(labels)
    except SelectorError as error:
        return [invalid_value("spec.selector", _go_selector(selector), str(error))]
    if not matches:
        return [
            invalid_value(
                "spec.template.metadata.labels",
                _go_map(labels),
                "`selector` does not match template `labels`",
            )
        ]
    return []


def _workload(
    restart_policies: list[str], selector_required: bool = True
) -> Callable[[JSON, JSON | None], Errors]:
    def validate(obj: JSON, old: JSON | None) -> Errors:
        spec = obj.get("spec") or {}
        errors: Errors = _selector_matches_template(obj) if selector_required else []
        template_spec = (spec.get("template") or {}).get("spec")
        errors += pod_spec_errors(template_spec, "spec.template.spec", _claim_names(spec))
        restart = (template_spec or {}).get("restartPolicy")
        if restart not in restart_policies and not any(
            e.field == "spec.template.spec.restartPolicy" for e in errors
        ):
            errors.append(not_supported("spec.template.spec.restartPolicy", restart, restart_policies))
        replicas = spec.get("replicas")
        if isinstance(replicas, int) and replicas < 0:
            errors.append(invalid_value("spec.replicas", replicas, "must be greater than or equal to 0"))
        if (
            old is not None
            and selector_required
            and spec.get("selector") != (old.get("spec") or {}).get("selector")
        ):
            errors.append(
                invalid_value("spec.selector", _go_selector(spec.get("selector")), "field is immutable")
            )
        return errors

    return validate


def _claim_names(spec: JSON) -> frozenset[str]:
    templates = spec.get("volumeClaimTemplates")
    if not isinstance(templates, list):
        return frozenset()
    names = ((t.get("metadata") or {}).get("name") for t in templates if isinstance(t, dict))
    return frozenset(name for name in names if isinstance(name, str) and name)


def _job(obj: JSON, old: JSON | None) -> Errors:
    return _workload(["OnFailure", "Never"], selector_required=False)(obj, old)


def _cron_job(obj: JSON, old: JSON | None) -> Errors:
    del old
    spec = obj.get("spec") or {}
    errors: Errors = [] if spec.get("schedule") else [required("spec.schedule")]
    template_spec = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec")
    errors += pod_spec_errors(template_spec, "spec.jobTemplate.spec.template.spec")
    return errors


# --- config ---


def _keys(obj: JSON, field: str) -> Errors:
    return [
        invalid_value(f"{field}[{key}]", key, _CONFIG_KEY_MESSAGE)
        for key in obj.get(field) or {}
        if not _matches(_CONFIG_KEY, key, 253)
    ]


def _immutable_data(obj: JSON, old: JSON | None) -> Errors:
    if old is None or not old.get("immutable"):
        return []
    errors: Errors = []
    for field in ("data", "binaryData"):
        if obj.get(field) != old.get(field):
            errors.append(field_forbidden(field, "field is immutable when `immutable` is set"))
    if not obj.get("immutable"):
        errors.append(field_forbidden("immutable", "field is immutable when `immutable` is set"))
    return errors


def _secret(obj: JSON, old: JSON | None) -> Errors:
    errors = _keys(obj, "data") + _immutable_data(obj, old)
    if old is not None and obj.get("type") != old.get("type"):
        errors.append(invalid_value("type", obj.get("type"), "field is immutable"))
    return errors


def _config_map(obj: JSON, old: JSON | None) -> Errors:
    return _keys(obj, "data") + _keys(obj, "binaryData") + _immutable_data(obj, old)


# --- events ---


def _core_event(obj: JSON, old: JSON | None) -> Errors:
    del old
    namespace = (obj.get("metadata") or {}).get("namespace", "")
    involved = (obj.get("involvedObject") or {}).get("namespace", "")
    errors: Errors = []
    if not obj.get("eventTime"):
        if (not involved and namespace not in {"", "default"}) or (involved and involved != namespace):
            errors.append(
                invalid_value("involvedObject.namespace", involved, "does not match event.namespace")
            )
        return errors
    for field in ("reportingComponent", "reportingInstance", "action", "reason"):
        if not obj.get(field):
            errors.append(required(field))
    return errors


def events_v1_errors(view: JSON) -> Errors:
    """The strict events.k8s.io/v1 rules, checked on the events.k8s.io form of the object."""
    errors: Errors = []
    if not view.get("eventTime"):
        errors.append(required("eventTime"))
    if view.get("type") not in {"Normal", "Warning"}:
        errors.append(not_supported("type", view.get("type") or "", ["Normal", "Warning"]))
    for field in (
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "deprecatedCount",
        "deprecatedSource",
    ):
        if view.get(field):
            errors.append(invalid_value(field, view[field], "needs to be unset"))
    controller = view.get("reportingController") or ""
    errors += (
        [required("reportingController")]
        if not controller
        else _qualified_name_errors(controller, "reportingController")
    )
    for field in ("reportingInstance", "action", "reason"):
        value = view.get(field) or ""
        if not value:
            errors.append(required(field))
        elif len(value) > 128:
            errors.append(FieldError("FieldValueTooLong", field, "must have at most 128 bytes"))
    if len(view.get("note") or "") > 1024:
        errors.append(FieldError("FieldValueTooLong", "note", "must have at most 1024 bytes"))
    series = view.get("series")
    if isinstance(series, dict) and int(series.get("count") or 0) < 2:
        errors.append(invalid_value("series.count", series.get("count") or 0, "should be at least 2"))
    return errors


# --- the rest ---


def _lease(obj: JSON, old: JSON | None) -> Errors:
    del old
    spec = obj.get("spec") or {}
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        return [invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0")]
    return []


def _service(obj: JSON, old: JSON | None) -> Errors:
    del old
    spec = obj.get("spec") or {}
    if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        return [required("spec.ports")]
    return []


_FAILURE_POLICIES = ["Fail", "Ignore"]
_SIDE_EFFECTS = ["None", "NoneOnDryRun"]


def _webhook_errors(webhook: Any, path: str, names: set[str]) -> Errors:
    if not isinstance(webhook, dict):
        return [invalid_value(path, webhook, "must be an object")]
    errors: Errors = []
    name = webhook.get("name") or ""
    if not name:
        errors.append(required(f"{path}.name"))
    elif len(name.split(".")) < 3 or subdomain_errors(name, ""):
        errors.append(
            invalid_value(
                f"{path}.name", name, "should be a domain with at least three segments separated by dots"
            )
        )
    elif name in names:
        errors.append(duplicate(f"{path}.name", name))
    names.add(name)
    client = webhook.get("clientConfig") or {}
    if bool(client.get("url")) == bool(client.get("service")):
        errors.append(required(f"{path}.clientConfig", "exactly one of url or service is required"))
    if webhook.get("sideEffects") is None:
        errors.append(required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun"))
    elif webhook["sideEffects"] not in _SIDE_EFFECTS:
        errors.append(not_supported(f"{path}.sideEffects", webhook["sideEffects"], _SIDE_EFFECTS))
    if not webhook.get("admissionReviewVersions"):
        errors.append(required(f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1"))
    if webhook.get("failurePolicy") not in _FAILURE_POLICIES:
        errors.append(not_supported(f"{path}.failurePolicy", webhook.get("failurePolicy"), _FAILURE_POLICIES))
    timeout = webhook.get("timeoutSeconds")
    if not isinstance(timeout, int) or not 1 <= timeout <= 30:
        errors.append(
            invalid_value(
                f"{path}.timeoutSeconds", timeout, "the timeout value must be between 1 and 30 seconds"
            )
        )
    return errors


def _webhook_configuration(obj: JSON, old: JSON | None) -> Errors:
    del old
    names: set[str] = set()
    errors: Errors = []
    for index, webhook in enumerate(obj.get("webhooks") or []):
        errors += _webhook_errors(webhook, f"webhooks[{index}]", names)
    return errors


def _rules(obj: JSON, old: JSON | None) -> Errors:
    del old
    errors: Errors = []
    for index, rule in enumerate(obj.get("rules") or []):
        if not rule.get("verbs"):
            errors.append(required(f"rules[{index}].verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs") and (rule.get("resources") or rule.get("apiGroups")):
            errors.append(
                invalid_value(
                    f"rules[{index}].nonResourceURLs",
                    rule["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        elif not rule.get("nonResourceURLs") and not rule.get("apiGroups"):
            errors.append(
                required(f"rules[{index}].apiGroups", "resource rules must supply at least one api group")
            )
    return errors


def _binding(cluster_scoped: bool) -> Callable[[JSON, JSON | None], Errors]:
    def validate(obj: JSON, old: JSON | None) -> Errors:
        ref = obj.get("roleRef") or {}
        errors: Errors = []
        kinds = ["ClusterRole"] if cluster_scoped else ["Role", "ClusterRole"]
        if ref.get("kind") not in kinds:
            errors.append(not_supported("roleRef.kind", ref.get("kind") or "", kinds))
        if not ref.get("name"):
            errors.append(required("roleRef.name"))
        if ref.get("apiGroup") != "rbac.authorization.k8s.io":
            errors.append(
                not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", ["rbac.authorization.k8s.io"])
            )
        for index, subject in enumerate(obj.get("subjects") or []):
            if subject.get("kind") not in {"User", "Group", "ServiceAccount"}:
                errors.append(
                    not_supported(
                        f"subjects[{index}].kind",
                        subject.get("kind") or "",
                        ["ServiceAccount", "User", "Group"],
                    )
                )
            if not subject.get("name"):
                errors.append(required(f"subjects[{index}].name"))
            if subject.get("kind") == "ServiceAccount" and cluster_scoped and not subject.get("namespace"):
                errors.append(required(f"subjects[{index}].namespace"))
        if old is not None and old.get("roleRef") != obj.get("roleRef"):
            errors.append(invalid_value("roleRef", ref, "cannot change roleRef"))
        return errors

    return validate


VALIDATORS: dict[str, Callable[[JSON, JSON | None], Errors]] = {
    "pods": _pod,
    "deployments.apps": _workload(["Always"]),
    "replicasets.apps": _workload(["Always"]),
    "statefulsets.apps": _workload(["Always"]),
    "daemonsets.apps": _workload(["Always"]),
    "jobs.batch": _job,
    "cronjobs.batch": _cron_job,
    "secrets": _secret,
    "configmaps": _config_map,
    "events": _core_event,
    "leases.coordination.k8s.io": _lease,
    "services": _service,
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
    "validatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
    "roles.rbac.authorization.k8s.io": _rules,
    "clusterroles.rbac.authorization.k8s.io": _rules,
    "rolebindings.rbac.authorization.k8s.io": _binding(cluster_scoped=False),
    "clusterrolebindings.rbac.authorization.k8s.io": _binding(cluster_scoped=True),
}


def validate(storage: str, obj: JSON, old: JSON | None = None) -> Errors:
    """Every validation error of `obj` (a create when `old` is None, else an update)."""
    errors = metadata_errors(storage, obj)
    validator = VALIDATORS.get(storage)
    if validator is not None:
        errors += validator(obj, old)
    return errors
