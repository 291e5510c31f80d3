"""Templates compiled once, rendered against the store, fetching from Vault only what is missing."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from vaultinject import templates
from vaultinject.agent.config import ConfigError
from vaultinject.agent.logs import Logger
from vaultinject.agent.sink import write_atomic
from vaultinject.agent.store import Dependency, Store, decode_document, dependency_key
from vaultinject.records import Record
from vaultinject.spec import InjectionSpec, SecretSpec
from vaultinject.vault import NotFound, VaultClient, VaultError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EMPTY_LIST = b'{"data": {"keys": []}}'


class MissingSecret(VaultError):
    """A template reads a path where Vault holds no secret (or only a deleted KV v2 version)."""

    cause = "missing-secret"
    hint = "check the path in the template; KV v2 reads go to <mount>/data/<path>"


class Compiled(Record):
    """A secret's parsed template."""

    secret: SecretSpec
    template: templates.Template


class Rendered(Record):
    """The outcome of one render: whether the file changed, and the dependencies it read."""

    changed: bool
    keys: frozenset[str]


def compile_templates(spec: InjectionSpec) -> list[Compiled]:
    """Parse every template once; a syntax error names the annotation, line and column."""
    compiled = []
    for secret in spec.secrets:
        text = secret.contents()
        if text is None:
            text = _read_template_file(secret)
        try:
            template = templates.parse(
                text,
                name=secret.template_annotation,
                left_delim=secret.left_delim,
                right_delim=secret.right_delim,
            )
        except templates.TemplateSyntaxError as exc:
            raise ConfigError(str(exc)) from None
        compiled.append(Compiled(secret, template))
    return compiled


def _read_template_file(secret: SecretSpec) -> str:
    path = secret.template_file or ""
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except OSError as exc:
        raise ConfigError(
            f"{secret.template_annotation}: cannot read template file {path}: {exc.strerror}"
        ) from None


class Renderer:
    """Renders templates; every Vault call a template needs goes through `fetch`, into the store."""

    def __init__(self, store: Store, client: VaultClient, logger: Logger) -> None:
        self.store = store
        self.client = client
        self.logger = logger
        self._parsed: dict[str, tuple[float, Any]] = {}

    def render(self, compiled: Compiled) -> Rendered:
        """Render one template and write its file if the content changed."""
        source = _Source(self)
        try:
            output = compiled.template.render(
                source, error_on_missing_key=compiled.secret.error_on_missing_key
            )
        except templates.TemplateExecError as exc:
            raise RenderError(str(exc)) from None
        secret = compiled.secret
        changed = write_atomic(
            secret.destination,
            output.encode("utf-8", "surrogateescape"),
            secret.perms,
            inside=secret.mount_path,
        )
        return Rendered(changed, frozenset(source.used))

    def dependency(self, op: str, path: str, params: Mapping[str, str] | None) -> Dependency:
        """The stored dependency, fetched from Vault when absent."""
        key = dependency_key(op, path, params)
        found = self.store.dependencies.get(key)
        return found if found is not None else self.fetch(op, path, params)

    def fetch(self, op: str, path: str, params: Mapping[str, str] | None) -> Dependency:
        """Ask Vault, store the answer, and teach the logger its secret values."""
        try:
            if op == "read":
                body = self.client.request_raw("GET", path)
            elif op == "list":
                body = self.client.request_raw("LIST", path)
            else:
                body = self.client.request_raw("PUT", path, dict(params or {}))
        except NotFound as exc:
            if op == "list":
                body = EMPTY_LIST
            else:
                raise MissingSecret(
                    f"no secret at {path}", status=404, method=exc.method, path=path
                ) from None
        dependency = Dependency(op, path, params, body or b"{}", time.time())
        self.learn(dependency)
        self.store.dependencies[dependency.key] = dependency
        return dependency

    def parsed(self, dependency: Dependency) -> Any:
        """The template value of a dependency, parsed once per fetch."""
        cached = self._parsed.get(dependency.key)
        if cached is not None and cached[0] == dependency.fetched_at:
            return cached[1]
        if dependency.op == "list":
            value: Any = list((dependency.document.get("data") or {}).get("keys") or [])
        else:
            value = templates.Secret.from_json(dependency.body)
            if dependency.op == "pki" and value is not None:
                value = templates.PemEncoded.from_secret(value)
        self._parsed[dependency.key] = (dependency.fetched_at, value)
        return value

    def learn(self, dependency: Dependency) -> None:
        """Teach the logger a dependency's secret values (numbers as their literal text), its lease
        id, and any token and accessor it carries, so no log line can show them."""
        document = decode_document(dependency.body, templates.JSONNumber)
        self.logger.add_secret([document.get("data"), document.get("lease_id")])
        for block in (document.get("auth"), document.get("wrap_info")):
            if isinstance(block, dict):
                self.logger.add_secret([block.get(key) for key in ("client_token", "token", "accessor")])


class RenderError(Exception):
    """A template failed while rendering (missing key, bad function call)."""

    cause = "render"
    hint = "fix the template, or the data it reads"


class _Source:
    """The `templates.SecretSource` of one render: records which dependencies it read."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.used: set[str] = set()

    def _get(self, op: str, path: str, params: Mapping[str, str] | None) -> Any:
        dependency = self.renderer.dependency(op, path, params)
        self.used.add(dependency.key)
        return self.renderer.parsed(dependency)

    def secret(self, path: str, params: Mapping[str, str] | None) -> Any:
        return self._get("write" if params else "read", path, params)

    def secrets(self, path: str) -> list[str]:
        keys: list[str] = self._get("list", path, None)
        return keys

    def pki_cert(self, path: str, params: Mapping[str, str]) -> Any:
        return self._get("pki", path, params)

    def env(self, name: str) -> str | None:
        return os.environ.get(name)
