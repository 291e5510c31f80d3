"""Field defaults the API server fills in on decode (k8s.io/kubernetes/pkg/apis/*/v1/defaults.go), plus
timestamp normalisation. Every function changes the object it is given, which must be a private copy."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from vaultinject.lab.kube.clock import micro_time, parse_time, rfc3339

JSON = dict[str, Any]

_TIME_FIELDS = {
    "lastTransitionTime",
    "lastProbeTime",
    "lastHeartbeatTime",
    "lastUpdateTime",
    "startTime",
    "startedAt",
    "finishedAt",
    "firstTimestamp",
    "lastTimestamp",
    "completionTime",
    "lastScheduleTime",
    "lastSuccessfulTime",
    "expirationTimestamp",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
}
_MICRO_TIME_FIELDS = {"acquireTime", "renewTime", "eventTime", "lastObservedTime"}


def normalize_times(value: Any) -> None:
    """Re-render known timestamp fields as the API server would (UTC; MicroTime with 6 digits).

    Raises ValueError with Go's parse error for a timestamp without a zone."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and key in _TIME_FIELDS:
                value[key] = rfc3339(parse_time(item))
            elif isinstance(item, str) and key in _MICRO_TIME_FIELDS:
                value[key] = micro_time(parse_time(item))
            elif key != "metadata":
                normalize_times(item)
    elif isinstance(value, list):
        for item in value:
            normalize_times(item)


def _set(obj: JSON, key: str, value: Any) -> None:
    if obj.get(key) is None:
        obj[key] = value


def _probe(probe: JSON | None) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        _set(probe, key, value)
    if isinstance(probe.get("httpGet"), dict):
        _set(probe["httpGet"], "path", "/")
        _set(probe["httpGet"], "scheme", "HTTP")


def _image_pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _container(container: JSON) -> None:
    if not isinstance(container, dict):
        return
    _set(container, "terminationMessagePath", "/dev/termination-log")
    _set(container, "terminationMessagePolicy", "File")
    _set(container, "imagePullPolicy", _image_pull_policy(str(container.get("image") or "")))
    _set(container, "resources", {})
    for port in container.get("ports") or []:
        _set(port, "protocol", "TCP")
    for env in container.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict):
            _set(field_ref, "apiVersion", "v1")
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        _probe(container.get(probe))


def _volume(volume: JSON) -> None:
    for source in ("secret", "configMap", "projected", "downwardAPI"):
        if isinstance(volume.get(source), dict):
            _set(volume[source], "defaultMode", 420)
    for item in (volume.get("downwardAPI") or {}).get("items") or []:
        if isinstance(item.get("fieldRef"), dict):
            _set(item["fieldRef"], "apiVersion", "v1")
    for projection in (volume.get("projected") or {}).get("sources") or []:
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict):
            _set(token, "expirationSeconds", 3600)
        for item in (projection.get("downwardAPI") or {}).get("items") or []:
            if isinstance(item.get("fieldRef"), dict):
                _set(item["fieldRef"], "apiVersion", "v1")


def pod_spec(spec: JSON) -> None:
    """PodSpec defaults (of pods and of the pod templates of workloads)."""
    for key, value in (
        ("restartPolicy", "Always"),
        ("terminationGracePeriodSeconds", 30),
        ("dnsPolicy", "ClusterFirst"),
        ("securityContext", {}),
        ("schedulerName", "default-scheduler"),
        ("enableServiceLinks", True),
        ("priority", 0),
        ("preemptionPolicy", "PreemptLowerPriority"),
    ):
        _set(spec, key, value)
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            _container(container)
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict):
            _volume(volume)


def qos_class(spec: JSON) -> str:
    """The pod's QoS class from its containers' requests and limits."""
    containers = [
        c for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) if isinstance(c, dict)
    ]
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        all((r.get("limits") or {}).get(k) is not None for k in ("cpu", "memory"))
        and all(
            (r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k)) == (r.get("limits") or {}).get(k)
            for k in ("cpu", "memory")
        )
        for r in resources
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _pod(obj: JSON) -> None:
    pod_spec(obj.setdefault("spec", {}))


def _template(obj: JSON) -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    pod_spec(template.setdefault("spec", {}))
    template.setdefault("metadata", {})


def _deployment(obj: JSON) -> None:
    _template(obj)
    spec = obj["spec"]
    _set(spec, "replicas", 1)
    strategy = spec.setdefault("strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)


def _replica_set(obj: JSON) -> None:
    _template(obj)
    _set(obj["spec"], "replicas", 1)


def _stateful_set(obj: JSON) -> None:
    _template(obj)
    spec = obj["spec"]
    _set(spec, "replicas", 1)
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _set(strategy.setdefault("rollingUpdate", {}), "partition", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})


def _daemon_set(obj: JSON) -> None:
    _template(obj)
    spec = obj["spec"]
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)


def _job_spec(spec: JSON) -> None:
    template = spec.setdefault("template", {})
    pod_spec(template.setdefault("spec", {}))
    template.setdefault("metadata", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "podReplacementPolicy", "TerminatingOrFailed")


def _job(obj: JSON) -> None:
    _job_spec(obj.setdefault("spec", {}))


def _cron_job(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.setdefault("jobTemplate", {})
    job_spec = job_template.setdefault("spec", {})
    pod_spec(job_spec.setdefault("template", {}).setdefault("spec", {}))
    _set(job_spec, "backoffLimit", 6)
    _set(job_spec, "completionMode", "NonIndexed")
    _set(job_spec, "suspend", False)


def _namespace(obj: JSON) -> None:
    obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
        "metadata"
    ].get("name", "")
    _set(obj.setdefault("spec", {}), "finalizers", ["kubernetes"])


def _secret(obj: JSON) -> None:
    _set(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _service(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        _set(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):  # zero means unset, as in SetDefaults_Service
            port["targetPort"] = port.get("port")


def _webhook_configuration(obj: JSON) -> None:
    for webhook in obj.get("webhooks") or []:
        if not isinstance(webhook, dict):
            continue
        _set(webhook, "failurePolicy", "Fail")
        _set(webhook, "matchPolicy", "Equivalent")
        _set(webhook, "namespaceSelector", {})
        _set(webhook, "objectSelector", {})
        _set(webhook, "timeoutSeconds", 10)
        if obj.get("kind") == "MutatingWebhookConfiguration":
            _set(webhook, "reinvocationPolicy", "Never")
        for rule in webhook.get("rules") or []:
            _set(rule, "scope", "*")
        service = (webhook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            _set(service, "port", 443)


def _pod_disruption_budget(obj: JSON) -> None:
    obj.setdefault("spec", {})


DEFAULTERS: dict[str, Callable[[JSON], None]] = {
    "pods": _pod,
    "namespaces": _namespace,
    "secrets": _secret,
    "services": _service,
    "deployments.apps": _deployment,
    "replicasets.apps": _replica_set,
    "statefulsets.apps": _stateful_set,
    "daemonsets.apps": _daemon_set,
    "jobs.batch": _job,
    "cronjobs.batch": _cron_job,
    "poddisruptionbudgets.policy": _pod_disruption_budget,
    "mutatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
    "validatingwebhookconfigurations.admissionregistration.k8s.io": _webhook_configuration,
}


def apply_defaults(storage: str, obj: JSON) -> None:
    """Fill in the defaults of `obj`'s kind."""
    defaulter = DEFAULTERS.get(storage)
    if defaulter is not None:
        defaulter(obj)
