"""Regenerate src/vaultinject/lab/kube/schemas.json from Kubernetes' own sources.

Usage: python tools/gen_kube_schemas.py API_CHECKOUT APIMACHINERY_CHECKOUT

Both checkouts at the release the lab imitates (release-1.32). Field numbers and wire types come from the
generated.proto files; from the Go structs in the same packages only what the .proto cannot say: the JSON
name, `omitempty`, `,inline` and whether the field is a pointer (presence matters for `replicas: 0`).
Only messages reachable from a kind the lab serves are kept.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from vaultinject.lab.kube.resources import REGISTRY

OUT = Path(__file__).resolve().parent.parent / "src/vaultinject/lab/kube/schemas.json"
_MACHINERY = {
    "k8s.io.apimachinery.pkg.apis.meta.v1": "pkg/apis/meta/v1",
    "k8s.io.apimachinery.pkg.api.resource": "pkg/api/resource",
    "k8s.io.apimachinery.pkg.util.intstr": "pkg/util/intstr",
    "k8s.io.apimachinery.pkg.runtime": "pkg/runtime",
    "k8s.io.apimachinery.pkg.runtime.schema": "pkg/runtime/schema",
}
# Messages with a JSON form of their own (a string, a number or a raw object), decoded specially.
_WELL_KNOWN = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Duration",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
}
_SCALARS = {"string", "int32", "int64", "bool", "bytes", "double", "float"}
_FIELD = re.compile(
    r"^\s*(optional|repeated)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+);|^\s*map<string,\s*([\w.]+)>\s+(\w+)\s*=\s*(\d+);"
)


@dataclass
class ProtoField:
    number: int
    name: str
    type: str
    mode: str  # "", "[]" repeated, "{}" map of string to type
    comment: list[str]


@dataclass
class Message:
    package: str
    name: str
    comment: list[str]
    fields: list[ProtoField] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.package}.{self.name}"


@dataclass(frozen=True)
class GoField:
    json_name: str
    pointer: bool
    omitempty: bool
    inline: bool


def _definition_name(package: str) -> str:
    """`k8s.io.api.core.v1` -> `io.k8s.api.core.v1`, the OpenAPI definition prefix."""
    return "io.k8s." + package.removeprefix("k8s.io.")


def parse_proto(text: str) -> list[Message]:
    package = re.search(r"^package ([\w.]+);", text, re.M)
    assert package is not None
    messages: list[Message] = []
    comment: list[str] = []
    current: Message | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            comment.append(stripped[2:].strip())
            continue
        if stripped.startswith("message "):
            current = Message(package.group(1), stripped.split()[1], comment)
            messages.append(current)
        elif current is not None and (match := _FIELD.match(line)):
            if match.group(1):
                mode = "[]" if match.group(1) == "repeated" else ""
                type_, name, number = match.group(2), match.group(3), match.group(4)
            else:
                mode, type_, name, number = "{}", match.group(5), match.group(6), match.group(7)
            current.fields.append(ProtoField(int(number), name, type_.lstrip("."), mode, comment))
        elif stripped == "}":
            current = None
        comment = []
    return messages


_STRUCT = re.compile(r"^type (\w+) struct \{$")
_TAG = re.compile(r'(\w+):"([^"]*)"')


def parse_go(text: str) -> dict[tuple[str, str], GoField]:
    """(struct, proto field name) -> what the JSON encoding of that field needs."""
    out: dict[tuple[str, str], GoField] = {}
    struct = ""
    for line in text.splitlines():
        if match := _STRUCT.match(line):
            struct = match.group(1)
            continue
        if line.startswith("}"):
            struct = ""
            continue
        if not struct or "`" not in line:
            continue
        declaration, tags_text = line.split("`", 1)
        tags = dict(_TAG.findall(tags_text))
        if "protobuf" not in tags or "json" not in tags:
            continue
        tokens = declaration.split()
        # an embedded struct's tag may leave the name out: it is the type's, lower-camel
        unnamed = tokens[0][0].lower() + tokens[0][1:]
        proto_name = next((p[5:] for p in tags["protobuf"].split(",") if p.startswith("name=")), unnamed)
        go_type = tokens[-1]
        json_parts = tags["json"].split(",")
        out[(struct, proto_name)] = GoField(
            json_name=json_parts[0],
            pointer=go_type.startswith("*"),
            omitempty="omitempty" in json_parts,
            inline="inline" in json_parts,
        )
    return out


def _embeds_type_meta(text: str) -> set[str]:
    typed, struct = set(), ""
    for line in text.splitlines():
        if match := _STRUCT.match(line):
            struct = match.group(1)
        elif struct and re.match(r"^\s*metav1\.TypeMeta\s+`|^\s*TypeMeta\s+`", line):
            typed.add(struct)
    return typed


def _description(comment: list[str]) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in comment:
        if line.startswith("+") or line.startswith("---"):
            continue
        if not line:
            if current:
                paragraphs.append(" ".join(current))
            current = []
        else:
            current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _root_messages() -> list[tuple[str, str, str, str]]:
    """(group, version, kind, proto package) of every kind the lab serves, subresource kinds included."""
    roots: dict[tuple[str, str, str], None] = {}
    for rt in REGISTRY.resources:
        roots[(rt.group, rt.version, rt.kind)] = None
        for sub in rt.subresources:
            if sub.kind:
                group = rt.group if sub.group is None else sub.group
                roots[(group, sub.version or rt.version, sub.kind)] = None
    return [(g, v, k, f"k8s.io.api.{g.split('.')[0] or 'core'}.{v}") for g, v, k in roots]


def main(api: Path, machinery: Path) -> None:
    messages: dict[str, Message] = {}
    go: dict[tuple[str, str, str], GoField] = {}
    typed: set[str] = set()
    sources = [(p, p.parent) for p in sorted(api.glob("*/*/generated.proto"))]
    sources += [(machinery / d / "generated.proto", machinery / d) for d in _MACHINERY.values()]
    for proto, directory in sources:
        if not proto.exists():
            continue
        parsed = parse_proto(proto.read_text())
        for message in parsed:
            messages[message.key] = message
        package = parsed[0].package if parsed else ""
        for source in directory.glob("*.go"):
            if source.name.endswith("_test.go") or source.name.startswith("zz_"):
                continue
            text = source.read_text()
            go.update({(package, s, f): g for (s, f), g in parse_go(text).items()})
            typed.update(f"{package}.{s}" for s in _embeds_type_meta(text))

    kinds: dict[str, list[str]] = {}
    queue = []
    for group, version, kind, package in _root_messages():
        key = f"{package}.{kind}"
        if key in messages:
            kinds.setdefault(_definition_name(key), []).append(f"{group}/{version}/{kind}")
            queue.append(key)
    delete_options = "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    queue.append(delete_options)
    kinds[_definition_name(delete_options)] = ["*/*/DeleteOptions"]

    out: dict[str, dict[str, object]] = {}
    missing: list[str] = []
    while queue:
        key = queue.pop()
        definition = _definition_name(key)
        if definition in out:
            continue
        message = messages[key]
        fields = []
        for f in message.fields:
            type_key = f.type if f.type in _SCALARS or "." in f.type else f"{message.package}.{f.type}"
            if type_key not in _SCALARS:
                queue.append(type_key)
                type_key = _definition_name(type_key)
            info = go.get((message.package, message.name, f.name))
            json_name = info.json_name if info and info.json_name else f.name
            flags = ""
            if (
                info is None
                and definition not in _WELL_KNOWN
                and "+protobuf.nullable=true" not in message.comment
            ):
                missing.append(f"{definition}.{f.name}")
            if info:
                flags += "p" * info.pointer + "o" * info.omitempty + "i" * info.inline
                optional = info.omitempty or "+optional" in f.comment
                flags += "q" * (not optional and not info.inline)
            fields.append([f.number, json_name, f.mode + type_key, flags, _description(f.comment)])
        entry: dict[str, object] = {"d": _description(message.comment), "f": fields}
        if key in typed:
            entry["t"] = 1
        if "+protobuf.nullable=true" in message.comment:
            entry["a"] = 1  # a named []string: JSON is the list of its items
        out[definition] = entry
    if missing:
        raise SystemExit(f"no Go struct field for {missing}")
    document = {"kinds": kinds, "messages": dict(sorted(out.items()))}
    OUT.write_text(json.dumps(document, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"{len(out)} messages, {OUT.stat().st_size} bytes -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
