"""Reading Kubernetes manifests and finding the pod templates inside them."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from vaultinject.spec.values import JSON_MAX_DEPTH, decode_json

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
        metadata = self.template.get("metadata")
        if isinstance(metadata, dict) or metadata is None:
            metadata = {"name": self.name, "namespace": self.namespace, **(metadata or {})}
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
            self.template["metadata"] = {**(self.template.get("metadata") or {}), "annotations": annotations}
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
        yield "<stdin>", _read_stdin()
        return
    path = Path(source)
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            for file in files:
                yield str(file), _decoded(str(file), file.read_bytes())
            return
        yield source, _decoded(source, path.read_bytes())
    except OSError as exc:
        raise ManifestError(f"{exc.filename or source}: {exc.strerror or exc}") from None


def _read_stdin() -> str:
    binary = getattr(sys.stdin, "buffer", None)  # a StringIO (in tests) has none
    return sys.stdin.read() if binary is None else _decoded("<stdin>", binary.read())


def _decoded(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{name}: not UTF-8 text (byte {exc.start})") from None


class _Loader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: a date such as 2024-01-01 stays a string (kubectl sends it as one)."""


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SCALAR_FORMS: dict[str, list[Any]] = {}
for _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.values():
    for _tag, _regexp in _resolvers:
        _SCALAR_FORMS.setdefault(_tag, []).append(_regexp)


def _checked_scalar(tag: str, construct: Any) -> Any:
    """PyYAML builds an explicitly tagged scalar (`!!bool x`) without checking its form, and crashes."""

    def construct_checked(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
        if not any(form.match(value) for form in _SCALAR_FORMS[tag]):
            short = tag.rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"{value!r} is not a valid !!{short}", node.start_mark
            )
        return value if tag == _TIMESTAMP else construct(loader, node)

    return construct_checked


for _tag in _SCALAR_FORMS.keys() & yaml.SafeLoader.yaml_constructors.keys():  # not merge and value
    _Loader.add_constructor(_tag, _checked_scalar(_tag, yaml.SafeLoader.yaml_constructors[_tag]))


MAX_MANIFEST_CHARS = 64 << 20
# Every value is counted as often as YAML aliases repeat it, so an alias bomb stops here.
MAX_MANIFEST_VALUES = 1_000_000


def _parse(name: str, text: str) -> list[Any]:
    if text.lstrip().startswith(("{", "[")):
        try:
            documents = [decode_json(text, MAX_MANIFEST_CHARS)]
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except ValueError as exc:  # a limit of decode_json
            raise ManifestError(f"{name}: {exc}") from None
    else:
        documents = _parse_yaml(name, text)
    _check_size(name, documents)
    return documents


def _parse_yaml(name: str, text: str) -> list[Any]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{name}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ManifestError(f"{name}: YAML nested more than {JSON_MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # PyYAML's int() of a number longer than Python converts
        raise ManifestError(f"{name}: invalid YAML: {exc}") from None


def _check_size(name: str, documents: list[Any]) -> None:
    """Refuse what the API server could not take: values JSON lacks, deep nesting, alias bombs."""
    budget = MAX_MANIFEST_VALUES
    stack: list[tuple[Any, int]] = [(document, 1) for document in documents]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise ManifestError(f"{name}: more than {MAX_MANIFEST_VALUES} values (a YAML alias bomb?)")
        if depth > JSON_MAX_DEPTH:
            raise ManifestError(f"{name}: nested more than {JSON_MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack += [(item, depth + 1) for item in value.values()]
        elif isinstance(value, list):
            stack += [(item, depth + 1) for item in value]
        elif not isinstance(value, str | int | float | None):
            tag = type(value).__name__  # an explicit tag, such as !!binary, !!set or !!timestamp
            raise ManifestError(f"{name}: a YAML {tag} value has no JSON form; write it as a string")


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
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}  # injection's shape check reports a malformed one
    namespace = _text(metadata.get("namespace")) or default_namespace
    name = _text(metadata.get("name")) or _text(metadata.get("generateName")) or "<unnamed>"
    if kind == "Pod":
        return PodRef(kind, name, namespace, document)
    path = TEMPLATE_PATHS.get(kind)
    if path is None:
        return None
    template: Any = document
    for key in path:
        template = template.get(key) if isinstance(template, dict) else None
    return PodRef(kind, name, namespace, template) if isinstance(template, dict) else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def dump(documents: list[Json], output: str) -> str:
    """One object as itself; several as multi-document YAML or a JSON `v1 List`."""
    if output == "json":
        body: Any = (
            documents[0] if len(documents) == 1 else {"apiVersion": "v1", "kind": "List", "items": documents}
        )
        return json.dumps(body, indent=2) + "\n"
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
