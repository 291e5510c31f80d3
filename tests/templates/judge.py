"""Differential testing against Go: render the same case with Go's text/template and with ours.

The Go side is ``gorender`` (built once per session); it runs as one long-lived process
that answers JSON lines, so thousands of cases cost one process start.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vaultinject import templates
from vaultinject.templates.values import (
    Byte,
    JSONNumber,
    NilMap,
    NilStrList,
    PemEncoded,
    Secret,
    StrList,
    StrMap,
)

GORENDER_DIR = Path(__file__).parent / "gorender"


class VaultJSON(str):
    """Test data standing for a *dependency.Secret decoded from this Vault response text."""

    __slots__ = ()


@dataclass
class Case:
    """One template rendering, with everything both engines need."""

    template: str
    data: object = None
    delims: tuple[str, str] | None = None
    missingkey: str = "zero"
    secrets: Mapping[str, str] = field(default_factory=dict)
    lists: Mapping[str, list[str]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """Output bytes, or the error text in Go's format (``template: ...``)."""

    ok: bool
    out: bytes
    err: str


def tag(value: object) -> object:
    """The tagged JSON form gorender decodes into typed Go values."""
    if isinstance(value, VaultJSON):
        return {"$t": "secret", "v": str(value)}
    if isinstance(value, JSONNumber):
        return {"$t": "num", "v": str.__str__(value)}
    if isinstance(value, bool) or value is None or type(value) is str:
        return value
    if isinstance(value, Byte):
        return {"$t": "byte", "v": str(int(value))}
    if isinstance(value, int):
        return {"$t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"$t": "float", "v": repr(value)}
    if isinstance(value, NilStrList):
        return {"$t": "nilstrs", "v": None}
    if isinstance(value, StrList):
        return {"$t": "strs", "v": list(value)}
    if isinstance(value, NilMap):
        return {"$t": "nilmap", "v": None}
    if isinstance(value, StrMap):
        return {"$t": "strmap", "v": dict(value)}
    if isinstance(value, dict):
        return {key: tag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tag(item) for item in value]
    raise TypeError(f"cannot tag {type(value).__name__}")


def to_model(value: object) -> object:
    """The same test data as our engine's value model."""
    if isinstance(value, VaultJSON):
        return Secret.from_json(value)
    if isinstance(value, dict) and not isinstance(value, (StrMap, NilMap)):
        return {key: to_model(item) for key, item in value.items()}
    if type(value) is list:
        return [to_model(item) for item in value]
    return value


class FakeSource:
    """A SecretSource answering from the case's fixed responses."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.calls: list[tuple[str, str, object]] = []

    def secret(self, path: str, params: Mapping[str, str] | None) -> Secret | None:
        self.calls.append(("secret", path, params))
        text = self.case.secrets.get(path)
        return Secret.from_json(text) if text is not None else None

    def secrets(self, path: str) -> list[str]:
        self.calls.append(("secrets", path, None))
        return list(self.case.lists.get(path, []))

    def pki_cert(self, path: str, params: Mapping[str, str]) -> Secret | PemEncoded | None:
        self.calls.append(("pkiCert", path, params))
        text = self.case.secrets.get(path)
        return Secret.from_json(text) if text is not None else None

    def env(self, name: str) -> str | None:
        return self.case.env.get(name)


def render_ours(case: Case) -> Outcome:
    """Our engine's outcome, errors formatted as Go formats them."""
    left, right = case.delims or ("", "")
    try:
        tpl = templates.parse(
            case.template, name="", left_delim=left, right_delim=right, allow_else_with=False
        )
    except templates.TemplateSyntaxError as exc:
        return Outcome(False, b"", f"template: :{exc.line}: {exc.message}")
    try:
        out = tpl.render(FakeSource(case), data=to_model(case.data), missing_key=case.missingkey)
    except templates.TemplateExecError as exc:
        return Outcome(False, b"", f"template: {exc}")
    return Outcome(True, out.encode("utf-8", "surrogateescape"), "")


class GoJudge:
    """A running gorender process."""

    def __init__(self, binary: Path) -> None:
        self.proc = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )
        self.next_id = 0
        self.cases_run = 0

    def render(self, case: Case) -> Outcome:
        """Go's outcome for one case."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.next_id += 1
        request = {
            "id": self.next_id,
            "template": case.template,
            "data": tag(case.data),
            "delims": list(case.delims) if case.delims else None,
            "missingkey": case.missingkey,
            "secrets": dict(case.secrets),
            "Lists": {k: list(v) for k, v in case.lists.items()},
            "env": dict(case.env),
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert answer["id"] == self.next_id
        self.cases_run += 1
        return Outcome(answer["ok"], base64.b64decode(answer["out_b64"]), answer["err"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def build_gorender(workdir: Path) -> Path | None:
    """Build the harness with a private Go cache; None when no Go toolchain is installed."""
    go = shutil.which("go")
    if go is None:
        return None
    env = dict(os.environ)
    env.update(
        GOCACHE=str(workdir / "gocache"),
        GOPATH=str(workdir / "gopath"),
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        GO111MODULE="on",
        CGO_ENABLED="0",
    )
    binary = workdir / "gorender"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=GORENDER_DIR, env=env, check=True, timeout=300)
    return binary
