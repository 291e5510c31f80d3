"""Reading Kubernetes manifests and finding the pod templates inside them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

Json = dict[str, Any]

# Where each workload kind keeps its pod template.
TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A manifest that cannot be read; the message names the file."""


class PodRef(NamedTuple):
    """A pod, or a workload's pod template, found in a manifest."""

    kind: str
    name: str
    namespace: str
    template: Json  # the object holding `metadata` and `spec`: the Pod itself or its template

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def as_pod(self) -> Json:
        """The pod the API server would create from this template (what the webhook sees)."""
        if self.kind == "Pod":
            return self.template
        metadata = dict(self.template.get("metadata") or {})
        metadata.setdefault("name", self.name)
        metadata.setdefault("namespace", self.namespace)
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": self.template.get("spec") or {},
        }

    def update(self, pod: Json) -> None:
        """Write an injected pod back into the template it came from."""
        if self.kind == "Pod":
            self.template.clear()
            self.template.update(pod)
            return
        annotations = (pod.get("metadata") or {}).get("annotations")
        if annotations is not None:
            self.template.setdefault("metadata", {})["annotations"] = annotations
        self.template["spec"] = pod["spec"]


def read_documents(sources: list[str]) -> list[Json]:
    """Every non-empty document in the given files, directories or `-` (stdin), `List` kinds flattened."""
    documents: list[Json] = []
    for source in sources or ["-"]:
        for name, text in _read_sources(source):
            documents += _flatten(_parse(name, text), name)
    return documents


def _read_sources(source: str) -> Iterator[tuple[str, str]]:
    if source == "-":
        yield "<stdin>", sys.stdin.read()
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
        for file in files:
            yield str(file), file.read_text()
        return
    try:
        yield source, path.read_text()
    except OSError as exc:
        raise ManifestError(f"{source}: {exc.strerror or exc}") from None


def _parse(name: str, text: str) -> list[Any]:
    if text.lstrip().startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{name}: invalid YAML: {exc}") from None


def _flatten(documents: list[Any], name: str) -> list[Json]:
    flat: list[Json] = []
    for document in documents:
        if not isinstance(document, dict) or not isinstance(document.get("kind"), str):
            raise ManifestError(f"{name}: every document must be a Kubernetes object with a kind")
        if document["kind"].endswith("List") and isinstance(document.get("items"), list):
            flat += _flatten(document["items"], name)
        else:
            flat.append(document)
    return flat


def pod_ref(document: Json, default_namespace: str) -> PodRef | None:
    """The pod or pod template inside `document`, or None for other kinds."""
    kind = document["kind"]
    metadata = document.get("metadata") or {}
    namespace = metadata.get("namespace") or default_namespace
    name = metadata.get("name") or metadata.get("generateName") or "<unnamed>"
    if kind == "Pod":
        return PodRef(kind, name, namespace, document)
    path = TEMPLATE_PATHS.get(kind)
    if path is None:
        return None
    template: Any = document
    for key in path:
        template = template.get(key) if isinstance(template, dict) else None
    return PodRef(kind, name, namespace, template) if isinstance(template, dict) else None


def dump(documents: list[Json], output: str) -> str:
    """One object as itself; several as multi-document YAML or a JSON `v1 List`."""
    if output == "json":
        body: Any = (
            documents[0] if len(documents) == 1 else {"apiVersion": "v1", "kind": "List", "items": documents}
        )
        return json.dumps(body, indent=2) + "\n"
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
